#!/usr/bin/python
# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: requeue_after
short_description: Ask the operator to reconcile the resource again after a period
description:
  - Returns C(requeue_after), a Go duration string, in the task result. The operator
    reading the run's events requeues the resource after that period (when several tasks
    set it, the last one wins). The task never reports a change.
options:
  time:
    description:
      - A positive Go-style duration such as C(30s), C(1m), C(1h30m) or C(1.5h)
        (units ns, us, ms, s, m, h).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check again in five minutes
  operator_sdk.util.requeue_after:
    time: 5m
"""

RETURN = r"""
requeue_after:
  description: The period, formatted as Go's time.Duration.String().
  returned: success
  type: str
  sample: 1h30m0s
"""

import re
from fractions import Fraction

from ansible.module_utils.basic import AnsibleModule

NANOSECOND = 1
MICROSECOND = 1000 * NANOSECOND
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
UNITS = {
    "ns": NANOSECOND, "us": MICROSECOND, u"\u00b5s": MICROSECOND, u"\u03bcs": MICROSECOND,
    "ms": MILLISECOND, "s": SECOND, "m": MINUTE, "h": HOUR,
}
MAX_DURATION = (1 << 63) - 1
TERM = re.compile(u"([0-9]*(?:\\.[0-9]*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
EXAMPLE = "a duration such as 30s, 1m or 1h30m (units ns, us, ms, s, m, h)"


def parse_duration(text):
    """Return the nanoseconds in a Go duration string, or raise ValueError."""
    original = text
    text = text.strip()
    if text.startswith("-"):
        raise ValueError("time %r is negative; give %s" % (original, EXAMPLE))
    if text.startswith("+"):
        text = text[1:]
    if not text:
        raise ValueError("time is empty; give %s" % EXAMPLE)
    total = Fraction(0)
    position = 0
    while position < len(text):
        match = TERM.match(text, position)
        if not match or match.group(1) in ("", "."):
            raise ValueError("time %r is not %s" % (original, EXAMPLE))
        total += Fraction(match.group(1)) * UNITS[match.group(2)]
        position = match.end()
    nanoseconds = int(total)
    if nanoseconds > MAX_DURATION:
        raise ValueError("time %r is longer than the largest duration (about 292 years)" % original)
    if nanoseconds <= 0:
        raise ValueError("time %r must be longer than 0" % original)
    return nanoseconds


def _fraction(value, digits):
    """Format value / 10**digits without trailing zeros, as Go does."""
    whole, rest = divmod(value, 10 ** digits)
    if rest == 0:
        return str(whole)
    return ("%d.%0*d" % (whole, digits, rest)).rstrip("0")


def format_duration(nanoseconds):
    """Format nanoseconds exactly like Go's time.Duration.String()."""
    if nanoseconds == 0:
        return "0s"
    if nanoseconds < MICROSECOND:
        return "%dns" % nanoseconds
    if nanoseconds < MILLISECOND:
        return _fraction(nanoseconds, 3) + u"\u00b5s"
    if nanoseconds < SECOND:
        return _fraction(nanoseconds, 6) + "ms"
    hours, rest = divmod(nanoseconds, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    seconds = _fraction(rest, 9) + "s"
    if hours:
        return "%dh%dm%s" % (hours, minutes, seconds)
    if minutes:
        return "%dm%s" % (minutes, seconds)
    return seconds


def main():
    module = AnsibleModule(
        argument_spec=dict(time=dict(type="str", required=True)),
        supports_check_mode=True,
    )
    try:
        nanoseconds = parse_duration(module.params["time"])
    except ValueError as exc:
        module.fail_json(msg="requeue_after: %s" % exc)
    module.exit_json(changed=False, requeue_after=format_duration(nanoseconds))


if __name__ == "__main__":
    main()
