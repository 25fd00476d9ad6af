# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.
"""Unit tests of osdk_metric's arguments and request body."""

import unittest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.operator_sdk.util.plugins.modules.osdk_metric import ARG_SPEC, payload


def validate(params):
    """Return (validated params, error messages) as AnsibleModule would see them."""
    result = ArgumentSpecValidator(ARG_SPEC).validate(params)
    return result.validated_parameters, result.error_messages


class ArgumentsTest(unittest.TestCase):

    def test_valid_arguments_with_defaults(self):
        params, errors = validate({"name": "myapp_replicas", "description": "Replicas", "gauge": {"set": "3"},
                                   "labels": {"resource": "ns/name"}})
        self.assertEqual(errors, [])
        self.assertEqual(params["address"], "http://localhost:5050/metrics")
        self.assertEqual(params["gauge"]["set"], 3.0)
        self.assertIsNone(params["gauge"]["increment"])
        self.assertIsNone(params["counter"])

    def test_invalid_arguments_are_named(self):
        for params, want in [
            ({"description": "d"}, "missing required arguments: name"),
            ({"name": "n", "description": "d", "counter": {"add": "many"}}, "add"),
            ({"name": "n", "description": "d", "gauge": {"inc": True}}, "inc"),
            ({"name": "n", "description": "d", "histogram": {"observe": [1]}}, "observe"),
            ({"name": "n", "description": "d", "labels": ["a"]}, "labels"),
        ]:
            with self.subTest(want=want):
                _, errors = validate(params)
                self.assertTrue(any(want in e for e in errors), errors)


class PayloadTest(unittest.TestCase):

    def test_upstream_keys_and_labels_as_text(self):
        params, errors = validate({"name": "n", "description": "d", "counter": {"increment": True},
                                   "labels": {"shard": 2, "zone": "a"}})
        self.assertEqual(errors, [])
        self.assertEqual(payload(params), {
            "name": "n", "description": "d",
            "counter": {"increment": True, "add": None},
            "labels": {"shard": "2", "zone": "a"},
        })

    def test_no_kind_and_no_labels(self):
        params, _ = validate({"name": "n", "description": "d"})
        self.assertEqual(payload(params), {"name": "n", "description": "d"})


if __name__ == "__main__":
    unittest.main()
