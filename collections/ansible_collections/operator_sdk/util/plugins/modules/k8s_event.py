#!/usr/bin/python
# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: k8s_event
short_description: Create a Kubernetes Event about an object
description:
  - Creates a core/v1 Event, as C(kubectl describe) shows it, about the resource being reconciled or
    any other object.
  - An Event of that name that exists is updated; when its I(reason) is the same its C(count) goes up
    by one and its C(firstTimestamp) is kept, otherwise it starts again at 1.
  - The object named by I(involvedObject) is read to fill in its C(uid) and C(resourceVersion); an
    object that does not exist is named without them.
options:
  state:
    description: C(present) creates or updates the Event, C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  name:
    description: Name of the Event (with I(appendTimestamp), its prefix).
    type: str
    required: true
  namespace:
    description:
      - Namespace of the Event. Kubernetes requires it to be the involved object's namespace
        (C(default) for a cluster-scoped object).
    type: str
    required: true
  merge_type:
    description: Accepted for compatibility; unused.
    type: list
    elements: str
    choices: [json, merge, strategic-merge]
  message:
    description: Human-readable description of what happened.
    type: str
    required: true
  reason:
    description: Short, machine-readable reason (CamelCase), e.g. C(BackupTaken).
    type: str
    required: true
  reportingComponent:
    description: Name of the controller that emits the Event, e.g. C(mcrouter-operator).
    type: str
  type:
    description: C(Normal) or C(Warning).
    type: str
    choices: [Normal, Warning]
    default: Normal
  source:
    description: Event source.
    type: dict
    suboptions:
      component:
        description: Component reporting the Event (C(kubectl describe) shows it under From).
        type: str
        required: true
  involvedObject:
    description: The object the Event is about.
    type: dict
    suboptions:
      apiVersion:
        description: API version of the object, e.g. C(v1) or C(apps.example.com/v1alpha1).
        type: str
        required: true
      kind:
        description: Kind of the object.
        type: str
        required: true
      name:
        description: Name of the object.
        type: str
        required: true
      namespace:
        description: Namespace of the object; defaults to I(namespace) for a namespaced kind.
        type: str
  appendTimestamp:
    description:
      - Make the name unique by appending C(.<hexadecimal Unix time in nanoseconds>), as client-go
        names Events; a new Event is created every time.
    type: bool
    default: false
  kubeconfig:
    description: Connection arguments and C(K8S_AUTH_*) variables as for M(operator_sdk.util.k8s_status).
      Inside the operator the run's kubeconfig is already set.
    type: raw
requirements:
  - python3-kubernetes
"""

EXAMPLES = r"""
- name: Tell the resource's users that a backup was taken
  operator_sdk.util.k8s_event:
    name: "{{ ansible_operator_meta.name }}-backup"
    namespace: "{{ ansible_operator_meta.namespace }}"
    reason: BackupTaken
    message: "Backup {{ backup_name }} written"
    type: Normal
    reportingComponent: myapp-operator
    source:
      component: myapp-operator
    involvedObject:
      apiVersion: apps.example.com/v1alpha1
      kind: MyApp
      name: "{{ ansible_operator_meta.name }}"
      namespace: "{{ ansible_operator_meta.namespace }}"
"""

RETURN = r"""
result:
  description: The Event as the API server returned it (absent after a delete).
  returned: success
  type: dict
"""

import copy
import datetime
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.operator_sdk.util.plugins.module_utils.k8s_client import (
    AUTH_ARG_SPEC,
    Client,
    K8sError,
    object_path,
)

EVENTS = {"path": "/api/v1", "name": "events", "kind": "Event", "namespaced": True}

ARG_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    merge_type=dict(type="list", elements="str", choices=["json", "merge", "strategic-merge"]),
    message=dict(type="str", required=True),
    reason=dict(type="str", required=True),
    reportingComponent=dict(type="str"),
    type=dict(type="str", choices=["Normal", "Warning"], default="Normal"),
    source=dict(type="dict", options=dict(component=dict(type="str", required=True))),
    involvedObject=dict(type="dict", options=dict(
        apiVersion=dict(type="str", required=True),
        kind=dict(type="str", required=True),
        name=dict(type="str", required=True),
        namespace=dict(type="str"),
    )),
    appendTimestamp=dict(type="bool", default=False),
)


def event_name(params, now_ns):
    """Return the Event's name: a valid object name even with appendTimestamp."""
    if params["appendTimestamp"]:
        return "%s.%x" % (params["name"], now_ns)
    return params["name"]


def involved(client, params):
    """Return the involvedObject reference, with uid and resourceVersion when the object exists."""
    given = params.get("involvedObject")
    if not given:
        return None
    ref = dict((k, v) for k, v in given.items() if v is not None)
    resource = client.find_resource(ref["apiVersion"], ref["kind"])
    ref["kind"] = resource["kind"]
    if resource.get("namespaced"):
        ref.setdefault("namespace", params["namespace"])
    else:
        ref.pop("namespace", None)
    try:
        obj = client.request("GET", object_path(resource, ref["name"], ref.get("namespace")))
    except K8sError as exc:
        if exc.status != 404:
            raise
        return ref
    ref["uid"] = obj["metadata"]["uid"]
    ref["resourceVersion"] = obj["metadata"]["resourceVersion"]
    return ref


def desired(params, name, prior, ref, now):
    """Return the Event to write, counting on from prior when its reason is the same."""
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": params["namespace"]},
        "message": params["message"],
        "reason": params["reason"],
        "type": params["type"],
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
    }
    if params.get("reportingComponent"):
        event["reportingComponent"] = params["reportingComponent"]
    if params.get("source"):
        event["source"] = copy.deepcopy(params["source"])
    if ref:
        event["involvedObject"] = ref
    if prior and prior.get("reason") == params["reason"]:
        event["count"] = (prior.get("count") or 1) + 1
        event["firstTimestamp"] = prior.get("firstTimestamp") or now
    return event


def get(client, path):
    try:
        return client.request("GET", path)
    except K8sError as exc:
        if exc.status == 404:
            return None
        raise


def present(client, params):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = event_name(params, time.time_ns())
    path = object_path(EVENTS, name, params["namespace"])
    ref = involved(client, params)
    prior = None if params["appendTimestamp"] else get(client, path)
    event = desired(params, name, prior, ref, now)
    if prior is None:
        return client.request("POST", "/api/v1/namespaces/%s/events" % params["namespace"], body=event)
    return client.request("PATCH", path, body=event, content_type="application/merge-patch+json")


def absent(client, params):
    path = object_path(EVENTS, params["name"], params["namespace"])
    try:
        client.request("DELETE", path)
    except K8sError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def main():
    argument_spec = copy.deepcopy(ARG_SPEC)
    argument_spec.update(copy.deepcopy(AUTH_ARG_SPEC))
    module = AnsibleModule(argument_spec=argument_spec)
    what = "k8s_event %s/%s" % (module.params["namespace"], module.params["name"])
    try:
        client = Client(module.params)
        if module.params["state"] == "absent":
            module.exit_json(changed=absent(client, module.params))
        result = present(client, module.params)
    except K8sError as exc:
        module.fail_json(msg="%s: %s" % (what, exc), status=exc.status)
    module.exit_json(changed=True, result=result)


if __name__ == "__main__":
    main()
