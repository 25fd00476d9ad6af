#!/usr/bin/python
# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: k8s_status
short_description: Write the status subresource of a Kubernetes object
description:
  - Sets custom keys and conditions in the status of a custom resource, for roles that
    implement the controller of that resource.
  - By default top-level status keys given in I(status) replace the object's keys of the
    same name, and I(conditions) are merged with the existing ones by C(type).
  - A given condition updates the existing one of its type field by field; the operator merges
    the conditions it writes by the same rule. The fields given are set (null removes one);
    C(reason) and C(message) left out are removed; other fields left out (C(observedGeneration),
    C(lastHeartbeatTime), the operator's C(ansibleResult), custom ones) are kept.
  - A condition's C(lastTransitionTime) is set to now when its C(status) changes (or when it
    is new) and kept otherwise, unless the task gives one.
  - Nothing is written, and the task reports C(changed=false), when the status already
    holds the requested values.
options:
  api_version:
    description: API group and version of the object, e.g. C(apps.example.com/v1alpha1).
    type: str
    default: v1
    aliases: [api, version]
  kind:
    description: Kind of the object (its plural, singular or short name also work).
    type: str
    required: true
  name:
    description: Name of the object.
    type: str
    required: true
  namespace:
    description: Namespace of the object (namespaced kinds only).
    type: str
  status:
    description:
      - Keys to set in the status. One of I(status) or I(conditions) is required.
    type: dict
  conditions:
    description:
      - Conditions to set, each with C(type) and C(status) (C(True), C(False) or C(Unknown))
        and optionally C(reason) (CamelCase), C(message), C(lastTransitionTime),
        C(lastHeartbeatTime) (RFC 3339) and C(observedGeneration).
    type: list
    elements: dict
  replace:
    description:
      - Replace the whole status with I(status) and I(conditions) instead of merging. The
        conditions the operator itself manages (C(Running), C(Successful), C(Failure)) are kept.
    type: bool
    default: false
    aliases: [force]
  kubeconfig:
    description: Path to a kubeconfig file, or its content as a dict. Env K8S_AUTH_KUBECONFIG.
    type: raw
  context:
    description: kubeconfig context. Env K8S_AUTH_CONTEXT.
    type: str
  host:
    description: API server URL. Env K8S_AUTH_HOST.
    type: str
  api_key:
    description: Bearer token. Env K8S_AUTH_API_KEY.
    type: str
  username:
    description: Basic-auth user. Env K8S_AUTH_USERNAME.
    type: str
  password:
    description: Basic-auth password. Env K8S_AUTH_PASSWORD.
    type: str
  validate_certs:
    description: Verify the API server certificate. Env K8S_AUTH_VALIDATE_CERTS.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description: CA bundle. Env K8S_AUTH_CA_CERT.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description: Client certificate. Env K8S_AUTH_CLIENT_CERT.
    type: path
    aliases: [cert_file]
  client_key:
    description: Client key. Env K8S_AUTH_CLIENT_KEY.
    type: path
    aliases: [key_file]
  proxy:
    description: HTTP proxy URL. Env K8S_AUTH_PROXY.
    type: str
  no_proxy:
    description: Hosts that bypass the proxy. Env K8S_AUTH_NO_PROXY.
    type: str
  persist_config:
    description: Write refreshed tokens back to the kubeconfig. Env K8S_AUTH_PERSIST_CONFIG.
    type: bool
  impersonate_user:
    description: User to act as (Impersonate-User header). Env K8S_AUTH_IMPERSONATE_USER.
    type: str
requirements:
  - python3-kubernetes
"""

EXAMPLES = r"""
- name: Report custom status keys
  operator_sdk.util.k8s_status:
    api_version: apps.example.com/v1alpha1
    kind: TestCR
    name: my-test
    namespace: testing
    status:
      endpoint: my-test.testing.svc:8080

- name: Set a custom condition
  operator_sdk.util.k8s_status:
    api_version: apps.example.com/v1alpha1
    kind: TestCR
    name: my-test
    namespace: testing
    conditions:
      - type: Available
        status: "False"
        reason: PingFailed
        message: The service did not answer
"""

RETURN = r"""
result:
  description: The object after the update (or as it would be, in check mode).
  returned: success
  type: dict
"""

import copy
import datetime
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.operator_sdk.util.plugins.module_utils.k8s_client import (
    AUTH_ARG_SPEC,
    Client,
    K8sError,
    object_path,
)

OPERATOR_CONDITIONS = ("Running", "Successful", "Failure")
CONDITION_KEYS = ("type", "status", "reason", "message", "lastTransitionTime",
                  "lastHeartbeatTime", "observedGeneration")
# The fields every writer of a condition states: left out, they are removed.
STATED_KEYS = ("reason", "message")
REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")
MAX_CONFLICT_RETRIES = 5


def validate_conditions(conditions):
    """Return the conditions normalised, or raise ValueError naming the bad entry."""
    out = []
    for index, condition in enumerate(conditions):
        where = "conditions[%d]" % index
        if not isinstance(condition, dict):
            raise ValueError("%s must be a mapping" % where)
        condition = dict(condition)
        unknown = sorted(set(condition) - set(CONDITION_KEYS))
        if unknown:
            raise ValueError("%s: unknown key(s) %s; allowed: %s"
                             % (where, ", ".join(unknown), ", ".join(CONDITION_KEYS)))
        if not condition.get("type"):
            raise ValueError("%s: type is required" % where)
        where = "%s (type %s)" % (where, condition["type"])
        if isinstance(condition.get("status"), bool):
            condition["status"] = "True" if condition["status"] else "False"
        if condition.get("status") not in ("True", "False", "Unknown"):
            raise ValueError("%s: status must be True, False or Unknown, got %r"
                             % (where, condition.get("status")))
        if condition.get("reason") and not REASON.match(str(condition["reason"])):
            raise ValueError("%s: reason must be one CamelCase word, got %r" % (where, condition["reason"]))
        for key in ("lastTransitionTime", "lastHeartbeatTime"):
            if condition.get(key) and not RFC3339.match(str(condition[key])):
                raise ValueError("%s: %s must be an RFC 3339 time, got %r" % (where, key, condition[key]))
        out.append(condition)
    return out


def merge_conditions(existing, given, now):
    """Merge given conditions into existing ones by type.

    The rule is the runtime's too (controller/status.go, applyConditions),
    written down once in docs/compatibility.md, "Condition merge": a given
    condition updates the existing one of its type field by field. Fields it
    gives are set (null removes one); reason and message are always the
    writer's, so left out they are removed; other fields it leaves out
    (observedGeneration, ansibleResult, custom ones) are kept.
    lastTransitionTime is the one given, else the existing one while status
    does not change, else now. New types are appended; the order is kept.
    """
    merged = [copy.deepcopy(c) for c in existing]
    index = dict((c.get("type"), i) for i, c in enumerate(merged) if isinstance(c, dict))
    for condition in given:
        old = merged[index[condition["type"]]] if condition["type"] in index else None
        new = dict((k, v) for k, v in (old or {}).items() if k not in STATED_KEYS)
        for key, value in condition.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        if not condition.get("lastTransitionTime"):
            if old and old.get("status") == new["status"] and old.get("lastTransitionTime"):
                new["lastTransitionTime"] = old["lastTransitionTime"]
            else:
                new["lastTransitionTime"] = now
        if old is None:
            index[new["type"]] = len(merged)
            merged.append(new)
        else:
            merged[index[new["type"]]] = new
    return merged


def desired_status(current, status, conditions, replace, now):
    """Return the status the object should have."""
    current = current or {}
    if replace:
        kept = [c for c in current.get("conditions") or [] if c.get("type") in OPERATOR_CONDITIONS]
        new = copy.deepcopy(status)
        merged = merge_conditions(current.get("conditions") or [], conditions, now)
        wanted = set(c["type"] for c in conditions) | set(c.get("type") for c in kept)
        new_conditions = [c for c in merged if c.get("type") in wanted]
        if new_conditions:
            new["conditions"] = new_conditions
        return new
    new = copy.deepcopy(current)
    new.update(copy.deepcopy(status))
    if conditions:
        new["conditions"] = merge_conditions(current.get("conditions") or [], conditions, now)
    return new


def parse_args(params):
    """Return (status, conditions) from the module arguments."""
    status = dict(params.get("status") or {})
    conditions = params.get("conditions")
    if "conditions" in status:
        if conditions:
            raise ValueError("give conditions either in status.conditions or in conditions, not both")
        conditions = status.pop("conditions")
        if not isinstance(conditions, list):
            raise ValueError("status.conditions must be a list")
    conditions = validate_conditions(conditions or [])
    if not status and not conditions and not params.get("replace"):
        raise ValueError("one of status or conditions is required")
    return status, conditions


def update(module, client, resource, status, conditions):
    """Read the object, write its new status when it differs; retry on conflict."""
    path = object_path(resource, module.params["name"], module.params.get("namespace"))
    for _attempt in range(MAX_CONFLICT_RETRIES):
        try:
            obj = client.request("GET", path)
        except K8sError as exc:
            if exc.status == 404:
                raise K8sError("%s %s not found in namespace %s" % (
                    resource["kind"], module.params["name"], module.params.get("namespace")), status=404)
            raise
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        new = desired_status(obj.get("status"), status, conditions, module.params["replace"], now)
        if new == (obj.get("status") or {}):
            return obj, False
        obj["status"] = new
        if module.check_mode:
            return obj, True
        try:
            return client.request("PUT", path + "/status", body=obj), True
        except K8sError as exc:
            if exc.status != 409:
                raise
    raise K8sError("status of %s %s kept changing: gave up after %d conflicts"
                   % (resource["kind"], module.params["name"], MAX_CONFLICT_RETRIES))


def main():
    argument_spec = dict(
        api_version=dict(type="str", default="v1", aliases=["api", "version"]),
        kind=dict(type="str", required=True),
        name=dict(type="str", required=True),
        namespace=dict(type="str"),
        status=dict(type="dict"),
        conditions=dict(type="list", elements="dict"),
        replace=dict(type="bool", default=False, aliases=["force"]),
    )
    argument_spec.update(copy.deepcopy(AUTH_ARG_SPEC))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        status, conditions = parse_args(module.params)
    except ValueError as exc:
        module.fail_json(msg="k8s_status: %s" % exc)
    what = "%s/%s %s" % (module.params["api_version"], module.params["kind"], module.params["name"])
    try:
        client = Client(module.params)
        resource = client.find_resource(module.params["api_version"], module.params["kind"])
        if not resource["has_status"]:
            module.fail_json(msg="k8s_status: %s %s has no status subresource; add "
                             "subresources.status to its CustomResourceDefinition"
                             % (module.params["api_version"], resource["kind"]))
        obj, changed = update(module, client, resource, status, conditions)
    except K8sError as exc:
        module.fail_json(msg="k8s_status: %s: %s" % (what, exc), status=exc.status)
    module.exit_json(changed=changed, result=obj)


if __name__ == "__main__":
    main()
