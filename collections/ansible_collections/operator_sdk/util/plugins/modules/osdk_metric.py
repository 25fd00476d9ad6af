#!/usr/bin/python
# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: osdk_metric
short_description: Publish a Prometheus metric through the operator
description:
  - Creates or updates a counter, gauge, histogram or summary that the operator serves with its own
    metrics on C(/metrics).
  - Sends one JSON request to the operator's user metrics endpoint (C(--user-metrics-bind-address),
    default C(127.0.0.1:5050)). The operator refuses, and the task fails with its message, an invalid
    name, a name of the operator's own metrics, a second type or label set for one name, and requests
    past its bounds.
  - A metric is created the first time its name is used; give exactly one of I(counter), I(gauge),
    I(histogram) or I(summary). An operation with nothing set only creates the series.
options:
  name:
    description: Metric name (letters, digits, C(_) and C(:); not starting with a digit).
    type: str
    required: true
  description:
    description: Help text of the metric (the first one given is kept).
    type: str
    required: true
  address:
    description: URL of the operator's user metrics endpoint.
    type: str
    default: http://localhost:5050/metrics
  labels:
    description:
      - Label names and values of the series to update. All requests for one name must give the same
        label names. Not in operator-framework's collection.
    type: dict
  counter:
    description: Operate on a counter. I(increment) wins over I(add).
    type: dict
    suboptions:
      increment:
        description: Add 1.
        type: bool
      add:
        description: Add this non-negative value.
        type: float
  gauge:
    description:
      - Operate on a gauge. The first option set wins, in the order I(increment), I(decrement), I(add),
        I(subtract), I(set), I(set_to_current_time).
    type: dict
    suboptions:
      set:
        description: Set the gauge to this value.
        type: float
      increment:
        description: Add 1.
        type: bool
      decrement:
        description: Subtract 1.
        type: bool
      add:
        description: Add this value.
        type: float
      subtract:
        description: Subtract this value.
        type: float
      set_to_current_time:
        description: Set the gauge to the current Unix time in seconds.
        type: bool
  histogram:
    description: Operate on a histogram (default buckets, 0.005 to 10).
    type: dict
    suboptions:
      observe:
        description: Add one observation.
        type: float
  summary:
    description: Operate on a summary (count and sum, no quantiles).
    type: dict
    suboptions:
      observe:
        description: Add one observation.
        type: float
"""

EXAMPLES = r"""
- name: Count the backups taken
  operator_sdk.util.osdk_metric:
    name: myapp_backups_total
    description: Backups taken
    counter:
      increment: true

- name: Report the replicas of this resource
  operator_sdk.util.osdk_metric:
    name: myapp_replicas
    description: Replicas asked for, by resource
    labels:
      resource: "{{ ansible_operator_meta.namespace }}/{{ ansible_operator_meta.name }}"
    gauge:
      set: "{{ size }}"

- name: Observe how long the migration took
  operator_sdk.util.osdk_metric:
    name: myapp_migration_seconds
    description: Duration of schema migrations
    histogram:
      observe: "{{ migration.delta_seconds }}"
"""

RETURN = r"""
msg:
  description: The operator's reason for refusing the metric.
  returned: failure
  type: str
status_code:
  description: HTTP status of the refusal (4xx); absent when the endpoint could not be reached.
  returned: failure
  type: int
"""

import copy
import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url
from ansible.module_utils._text import to_native

KINDS = ("counter", "gauge", "histogram", "summary")
ARG_SPEC = dict(
    name=dict(type="str", required=True),
    description=dict(type="str", required=True),
    address=dict(type="str", default="http://localhost:5050/metrics"),
    labels=dict(type="dict"),
    counter=dict(type="dict", options=dict(
        increment=dict(type="bool"),
        add=dict(type="float"),
    )),
    gauge=dict(type="dict", options=dict(
        set=dict(type="float"),
        increment=dict(type="bool"),
        decrement=dict(type="bool"),
        add=dict(type="float"),
        subtract=dict(type="float"),
        set_to_current_time=dict(type="bool"),
    )),
    histogram=dict(type="dict", options=dict(observe=dict(type="float"))),
    summary=dict(type="dict", options=dict(observe=dict(type="float"))),
)


def payload(params):
    """Return the request body: upstream's keys, plus labels when given."""
    body = {"name": params["name"], "description": params["description"]}
    if params.get("labels"):
        body["labels"] = dict((str(k), str(v)) for k, v in params["labels"].items())
    for kind in KINDS:
        if params.get(kind) is not None:
            body[kind] = params[kind]
    return body


def main():
    module = AnsibleModule(argument_spec=copy.deepcopy(ARG_SPEC))
    url = module.params["address"]
    what = "osdk_metric %s" % module.params["name"]
    try:
        open_url(url, data=json.dumps(payload(module.params)), method="POST",
                 headers={"Content-Type": "application/json"}, timeout=30,
                 use_proxy=False, follow_redirects="none")
    except HTTPError as exc:
        try:
            text = to_native(exc.read()).strip()
        except Exception:  # the body is only for the message
            text = ""
        module.fail_json(msg="%s: %s" % (what, text or exc.reason), status_code=exc.code)
    except Exception as exc:  # connection refused, timeouts, bad URLs
        module.fail_json(msg="%s: POST %s: %s; is the operator's user metrics endpoint on "
                             "(--user-metrics-bind-address)?" % (what, url, to_native(exc)))
    module.exit_json(changed=True)


if __name__ == "__main__":
    main()
