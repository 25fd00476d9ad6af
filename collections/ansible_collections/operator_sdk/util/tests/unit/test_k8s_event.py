# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.
"""Unit tests of k8s_event's Event building, with a recording fake client."""

import unittest

from ansible_collections.operator_sdk.util.plugins.module_utils.k8s_client import K8sError
from ansible_collections.operator_sdk.util.plugins.modules.k8s_event import desired, event_name, involved

NOW = "2026-11-21T05:01:00Z"
OLD = "2026-11-21T05:00:00Z"


def params(**kw):
    p = {"name": "backup", "namespace": "ns", "message": "Backup written", "reason": "BackupTaken",
         "type": "Normal", "appendTimestamp": False, "reportingComponent": None, "source": None,
         "involvedObject": None}
    p.update(kw)
    return p


class FakeClient(object):
    """Serves find_resource from resources and GET from objects; records the paths read."""

    def __init__(self, resources, objects):
        self.resources, self.objects, self.paths = resources, objects, []

    def find_resource(self, api_version, kind):
        return self.resources[(api_version, kind)]

    def request(self, method, path, body=None, content_type=None):
        self.paths.append((method, path))
        if path not in self.objects:
            raise K8sError("not found", status=404)
        return self.objects[path]


MCROUTERS = {"path": "/apis/mcrouter.example.com/v1alpha3", "name": "mcrouters", "kind": "Mcrouter", "namespaced": True}
NODES = {"path": "/api/v1", "name": "nodes", "kind": "Node", "namespaced": False}


class EventNameTest(unittest.TestCase):

    def test_names(self):
        self.assertEqual(event_name(params(), 255), "backup")
        self.assertEqual(event_name(params(appendTimestamp=True), 255), "backup.ff")


class DesiredTest(unittest.TestCase):

    def test_new_event(self):
        ref = {"apiVersion": "v1", "kind": "Node", "name": "n1"}
        got = desired(params(reportingComponent="op", source={"component": "op"}), "backup", None, ref, NOW)
        self.assertEqual(got, {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": "backup", "namespace": "ns"},
            "message": "Backup written", "reason": "BackupTaken", "type": "Normal",
            "count": 1, "firstTimestamp": NOW, "lastTimestamp": NOW,
            "reportingComponent": "op", "source": {"component": "op"}, "involvedObject": ref,
        })

    def test_same_reason_counts_on(self):
        prior = {"reason": "BackupTaken", "count": 4, "firstTimestamp": OLD}
        got = desired(params(), "backup", prior, None, NOW)
        self.assertEqual((got["count"], got["firstTimestamp"], got["lastTimestamp"]), (5, OLD, NOW))
        self.assertNotIn("involvedObject", got)

    def test_other_reason_starts_again(self):
        prior = {"reason": "BackupFailed", "count": 4, "firstTimestamp": OLD}
        got = desired(params(), "backup", prior, None, NOW)
        self.assertEqual((got["count"], got["firstTimestamp"]), (1, NOW))


class InvolvedTest(unittest.TestCase):

    def test_existing_object_gets_uid_and_resource_version(self):
        path = "/apis/mcrouter.example.com/v1alpha3/namespaces/ns/mcrouters/m"
        client = FakeClient({("mcrouter.example.com/v1alpha3", "mcrouter"): MCROUTERS},
                            {path: {"metadata": {"uid": "u1", "resourceVersion": "7"}}})
        got = involved(client, params(involvedObject={"apiVersion": "mcrouter.example.com/v1alpha3",
                                                      "kind": "mcrouter", "name": "m", "namespace": None}))
        self.assertEqual(got, {"apiVersion": "mcrouter.example.com/v1alpha3", "kind": "Mcrouter", "name": "m",
                               "namespace": "ns", "uid": "u1", "resourceVersion": "7"})
        self.assertEqual(client.paths, [("GET", path)])

    def test_missing_object_is_named_without_uid(self):
        client = FakeClient({("v1", "Node"): NODES}, {})
        got = involved(client, params(involvedObject={"apiVersion": "v1", "kind": "Node", "name": "n1",
                                                      "namespace": "ignored"}))
        self.assertEqual(got, {"apiVersion": "v1", "kind": "Node", "name": "n1"})
        self.assertEqual(client.paths, [("GET", "/api/v1/nodes/n1")])

    def test_no_involved_object(self):
        self.assertIsNone(involved(FakeClient({}, {}), params()))

    def test_other_errors_fail(self):
        class Failing(FakeClient):
            def request(self, method, path, body=None, content_type=None):
                raise K8sError("forbidden", status=403)
        with self.assertRaises(K8sError):
            involved(Failing({("v1", "Node"): NODES}, {}),
                     params(involvedObject={"apiVersion": "v1", "kind": "Node", "name": "n1"}))


if __name__ == "__main__":
    unittest.main()
