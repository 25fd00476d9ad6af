# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.
"""Unit tests of requeue_after's Go duration parsing and formatting."""

import unittest

from ansible_collections.operator_sdk.util.plugins.modules.requeue_after import (
    format_duration,
    parse_duration,
)


class DurationTest(unittest.TestCase):

    def test_parse_and_format_as_go_does(self):
        # Outputs of Go's time.ParseDuration(in).String().
        for text, want in [
            ("30s", "30s"), ("1m", "1m0s"), ("1h30m", "1h30m0s"), ("1.5h", "1h30m0s"), ("90m", "1h30m0s"),
            ("250ms", "250ms"), ("1.5s", "1.5s"), ("1500us", "1.5ms"), (u"2\u00b5s", u"2\u00b5s"),
            ("999ns", "999ns"), ("+5s", "5s"), (" 5s ", "5s"), ("1h0.5s", "1h0m0.5s"), (".5s", "500ms"),
            ("2562047h47m16.854775807s", "2562047h47m16.854775807s"),
        ]:
            with self.subTest(text=text):
                self.assertEqual(format_duration(parse_duration(text)), want)

    def test_rejects(self):
        for text, want in [
            ("", "time is empty"),
            ("-5s", "is negative"),
            ("0s", "must be longer than 0"),
            ("5", "is not a duration such as 30s"),
            ("5d", "is not a duration such as 30s"),
            (".s", "is not a duration such as 30s"),
            ("2562048h", "is longer than the largest duration"),
        ]:
            with self.subTest(text=text):
                with self.assertRaises(ValueError) as caught:
                    parse_duration(text)
                self.assertIn(want, str(caught.exception))

    def test_format_zero(self):
        self.assertEqual(format_duration(0), "0s")


if __name__ == "__main__":
    unittest.main()
