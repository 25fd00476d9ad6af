# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.
"""Unit tests of k8s_status's pure functions (no API server)."""

import copy
import json
import os
import unittest

from ansible_collections.operator_sdk.util.plugins.modules.k8s_status import (
    desired_status,
    merge_conditions,
    parse_args,
    validate_conditions,
)

NOW = "2026-11-21T05:01:00Z"
OLD = "2026-11-21T05:00:00Z"
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "condition_merge.json")


class ValidateConditionsTest(unittest.TestCase):

    def test_normalises_boolean_status(self):
        got = validate_conditions([{"type": "Ready", "status": True}, {"type": "Done", "status": False}])
        self.assertEqual(got, [{"type": "Ready", "status": "True"}, {"type": "Done", "status": "False"}])

    def test_accepts_every_known_key(self):
        condition = {"type": "Ready", "status": "Unknown", "reason": "Pods_Pending:2", "message": "m",
                     "lastTransitionTime": "2026-11-21T05:00:00.5+01:00", "lastHeartbeatTime": OLD,
                     "observedGeneration": 3}
        self.assertEqual(validate_conditions([condition]), [condition])

    def test_errors_name_the_entry_and_the_key(self):
        for conditions, want in [
            (["Ready"], "conditions[0] must be a mapping"),
            ([{"type": "A", "status": "True"}, {"status": "True"}], "conditions[1]: type is required"),
            ([{"type": "A", "status": "True", "colour": "red"}], "conditions[0]: unknown key(s) colour; allowed: type"),
            ([{"type": "A", "status": "Maybe"}], "conditions[0] (type A): status must be True, False or Unknown, got 'Maybe'"),
            ([{"type": "A", "status": "True", "reason": "two words"}], "conditions[0] (type A): reason must be one CamelCase word"),
            ([{"type": "A", "status": "True", "lastHeartbeatTime": "yesterday"}],
             "conditions[0] (type A): lastHeartbeatTime must be an RFC 3339 time, got 'yesterday'"),
        ]:
            with self.subTest(want=want):
                with self.assertRaises(ValueError) as caught:
                    validate_conditions(conditions)
                self.assertIn(want, str(caught.exception))

    def test_does_not_modify_its_input(self):
        given = [{"type": "A", "status": True}]
        validate_conditions(given)
        self.assertEqual(given, [{"type": "A", "status": True}])


class MergeConditionsTest(unittest.TestCase):

    def test_shared_cases(self):
        """The cases the runtime's applyConditions runs too (controller/status_test.go)."""
        with open(FIXTURE) as f:
            fixture = json.load(f)
        for case in fixture["cases"]:
            with self.subTest(case["name"]):
                existing = copy.deepcopy(case["existing"])
                got = merge_conditions(existing, case["given"], fixture["now"])
                self.assertEqual(got, case["want"])
                self.assertEqual(existing, case["existing"], "input modified")

    def test_reason_and_message_left_out_are_removed(self):
        existing = [{"type": "Ready", "status": "False", "reason": "Waiting", "message": "pods pending",
                     "lastTransitionTime": OLD, "observedGeneration": 2}]
        got = merge_conditions(existing, [{"type": "Ready", "status": "True"}], NOW)
        self.assertEqual(got, [{"type": "Ready", "status": "True", "lastTransitionTime": NOW, "observedGeneration": 2}])

    def test_given_transition_time_wins(self):
        existing = [{"type": "Ready", "status": "False", "lastTransitionTime": OLD}]
        got = merge_conditions(existing, [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}], NOW)
        self.assertEqual(got[0]["lastTransitionTime"], "2020-01-01T00:00:00Z")

    def test_entries_without_a_type_are_kept(self):
        existing = ["not a condition", {"status": "True"}]
        got = merge_conditions(existing, [{"type": "Ready", "status": "True"}], NOW)
        self.assertEqual(got, ["not a condition", {"status": "True"},
                               {"type": "Ready", "status": "True", "lastTransitionTime": NOW}])


class DesiredStatusTest(unittest.TestCase):
    running = {"type": "Running", "status": "True", "reason": "Running", "lastTransitionTime": OLD}
    mine = {"type": "Mine", "status": "True", "lastTransitionTime": OLD}

    def test_merge_replaces_top_level_keys_whole_and_keeps_others(self):
        current = {"a": 1, "nested": {"x": 1}, "conditions": [self.running]}
        got = desired_status(current, {"nested": {"y": 2}}, [], False, NOW)
        self.assertEqual(got, {"a": 1, "nested": {"y": 2}, "conditions": [self.running]})

    def test_merge_of_conditions(self):
        got = desired_status({"conditions": [self.running]}, {}, [{"type": "Ready", "status": "True"}], False, NOW)
        self.assertEqual(got["conditions"], [self.running, {"type": "Ready", "status": "True", "lastTransitionTime": NOW}])

    def test_replace_keeps_only_the_operators_conditions_and_the_given_ones(self):
        current = {"a": 1, "conditions": [self.running, self.mine]}
        self.assertEqual(desired_status(current, {"b": 1}, [], True, NOW), {"b": 1, "conditions": [self.running]})
        got = desired_status(current, {}, [{"type": "Mine", "status": "True"}], True, NOW)
        self.assertEqual(got, {"conditions": [self.running, self.mine]})
        self.assertEqual(desired_status({"a": 1}, {}, [], True, NOW), {})

    def test_no_current_status(self):
        self.assertEqual(desired_status(None, {"a": 1}, [], False, NOW), {"a": 1})


class ParseArgsTest(unittest.TestCase):

    def test_conditions_from_status(self):
        status, conditions = parse_args({"status": {"a": 1, "conditions": [{"type": "A", "status": True}]}})
        self.assertEqual((status, conditions), ({"a": 1}, [{"type": "A", "status": "True"}]))

    def test_errors(self):
        for params, want in [
            ({"status": {"conditions": []}, "conditions": [{"type": "A", "status": "True"}]},
             "give conditions either in status.conditions or in conditions, not both"),
            ({"status": {"conditions": "A"}}, "status.conditions must be a list"),
            ({}, "one of status or conditions is required"),
        ]:
            with self.subTest(want=want):
                with self.assertRaises(ValueError) as caught:
                    parse_args(params)
                self.assertEqual(str(caught.exception), want)

    def test_replace_alone_empties_the_status(self):
        self.assertEqual(parse_args({"replace": True}), ({}, []))


if __name__ == "__main__":
    unittest.main()
