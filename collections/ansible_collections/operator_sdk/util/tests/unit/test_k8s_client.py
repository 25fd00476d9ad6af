# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.
"""Unit tests of the REST client's pure parts: settings, paths, discovery."""

import json
import os
import unittest
from unittest import mock

from ansible_collections.operator_sdk.util.plugins.module_utils import k8s_client
from ansible_collections.operator_sdk.util.plugins.module_utils.k8s_client import (
    Client,
    K8sError,
    object_path,
    resolve_auth,
)


class ResolveAuthTest(unittest.TestCase):

    def test_argument_then_environment(self):
        env = {"K8S_AUTH_KUBECONFIG": "/env/kc", "K8S_AUTH_CONTEXT": "env", "K8S_AUTH_VERIFY_SSL": "no",
               "K8S_AUTH_SSL_CA_CERT": "/env/ca", "K8S_AUTH_HOST": ""}
        with mock.patch.dict(os.environ, env, clear=True):
            got = resolve_auth({"context": "arg", "impersonate_user": None})
        self.assertEqual(got, {"kubeconfig": "/env/kc", "context": "arg", "validate_certs": False, "ca_cert": "/env/ca"})

    def test_own_name_before_the_clients_name(self):
        env = {"K8S_AUTH_VALIDATE_CERTS": "true", "K8S_AUTH_VERIFY_SSL": "false"}
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertEqual(resolve_auth({}), {"validate_certs": True})

    def test_boolean_environment_values(self):
        for value, want in [("0", False), ("False", False), ("no", False), ("1", True), ("yes", True)]:
            with self.subTest(value=value):
                with mock.patch.dict(os.environ, {"K8S_AUTH_PERSIST_CONFIG": value}, clear=True):
                    self.assertEqual(resolve_auth({}), {"persist_config": want})


class ObjectPathTest(unittest.TestCase):

    def test_paths(self):
        namespaced = {"path": "/apis/g/v1", "name": "things", "kind": "Thing", "namespaced": True}
        self.assertEqual(object_path(namespaced, "a", "ns"), "/apis/g/v1/namespaces/ns/things/a")
        self.assertEqual(object_path({"path": "/api/v1", "name": "nodes", "namespaced": False}, "n", "ns"),
                         "/api/v1/nodes/n")
        with self.assertRaises(K8sError) as caught:
            object_path(namespaced, "a", None)
        self.assertEqual(str(caught.exception), "Thing is namespaced: set namespace")


def fake_client(responses):
    """A Client whose request serves responses by path (K8sError 404 otherwise)."""
    client = Client.__new__(Client)

    def request(method, path, body=None, content_type="application/json"):
        if path not in responses:
            raise K8sError("%s %s: 404" % (method, path), status=404)
        return json.loads(json.dumps(responses[path]))
    client.request = request
    return client


class FindResourceTest(unittest.TestCase):
    listing = {"resources": [
        {"name": "mcrouters", "singularName": "mcrouter", "kind": "Mcrouter", "namespaced": True, "shortNames": ["mcr"]},
        {"name": "mcrouters/status", "kind": "Mcrouter", "namespaced": True},
        {"name": "plain", "singularName": "plain", "kind": "Plain", "namespaced": False},
    ]}

    def test_kind_plural_singular_or_short_name(self):
        client = fake_client({"/apis/mcrouter.example.com/v1alpha3": self.listing})
        for kind in ("Mcrouter", "mcrouters", "mcrouter", "mcr"):
            with self.subTest(kind=kind):
                got = client.find_resource("mcrouter.example.com/v1alpha3", kind)
                self.assertEqual((got["name"], got["path"], got["has_status"]),
                                 ("mcrouters", "/apis/mcrouter.example.com/v1alpha3", True))
        self.assertFalse(client.find_resource("mcrouter.example.com/v1alpha3", "Plain")["has_status"])

    def test_core_group_path(self):
        client = fake_client({"/api/v1": {"resources": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True}]}})
        self.assertEqual(client.find_resource("v1", "ConfigMap")["path"], "/api/v1")

    def test_errors(self):
        client = fake_client({"/apis/mcrouter.example.com/v1alpha3": self.listing})
        for api_version, kind, want in [
            ("mcrouter.example.com/v1", "Mcrouter", "the API server does not serve mcrouter.example.com/v1"),
            ("mcrouter.example.com/v1alpha3", "Other", "mcrouter.example.com/v1alpha3 does not serve a resource of kind Other"),
        ]:
            with self.subTest(want=want):
                with self.assertRaises(K8sError) as caught:
                    client.find_resource(api_version, kind)
                self.assertEqual((str(caught.exception), caught.exception.status), (want, 404))


class APIMessageTest(unittest.TestCase):

    def test_message_of_a_status_body_else_the_body(self):
        self.assertEqual(k8s_client._api_message('{"kind": "Status", "message": "denied"}'), "denied")
        self.assertEqual(k8s_client._api_message("plain text"), "plain text")
        self.assertIsNone(k8s_client._api_message(None))


if __name__ == "__main__":
    unittest.main()
