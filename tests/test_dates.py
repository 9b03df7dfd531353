"""Dates as real MTAs write them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops.journey import format_utc
from mailhops.read.dates import find_date, parse_date


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("Thu, 12 Sep 2002 14:12:01 +0100", "2002-09-12T13:12:01Z"),
        ("12 Sep 2002 14:12:01 +0100", "2002-09-12T13:12:01Z"),  # no weekday
        ("Thu, 12 Sep 2002 14:12 +0100", "2002-09-12T13:12:00Z"),  # no seconds
        ("Tue, 3 Dec 2002 4:35:55 -0600", "2002-12-03T10:35:55Z"),  # single-digit hour
        ("Mon, 1 Jan 2018 12:00:00 -08:00", "2018-01-01T20:00:00Z"),  # colon in the offset
        ("Thu, 12 Sep 2002 14:12:01 +800", "2002-09-12T06:12:01Z"),  # three-digit offset
        ("Sun, 29 Jul 2001 23:30:41 -400 (EDT)", "2001-07-30T03:30:41Z"),
        ("Thu, 12 Sep 2002 06:12:01 PDT", "2002-09-12T13:12:01Z"),  # zone name
        ("Thu, 12 Sep 2002 14:12:01 UTC", "2002-09-12T14:12:01Z"),
        ("Thu, 12 Sep 2002 14:12:01 GMT", "2002-09-12T14:12:01Z"),
        ("Mon, 22 Jul 2002 2:00:11 PM +0200", "2002-07-22T12:00:11Z"),  # AM/PM
        ("Aug, 24 2002 12:05:29 AM +1200", "2002-08-23T12:05:29Z"),  # month first, 12 AM
        ("Fri, 15 Feb 2019 16:50:20.738 +0000 (UTC)", "2019-02-15T16:50:20Z"),  # fractional seconds
        ("2019-02-15 16:50:20.915566698 +0000 UTC m=+104627.848812178", "2019-02-15T16:50:20Z"),  # Go time (SendGrid)
        ("[Mon, 19 Aug 2002 12:11:45 +0100]", "2002-08-19T11:11:45Z"),  # in brackets
        ("(Mon, 19 Aug 2002 12:11:45 +0100)", "2002-08-19T11:11:45Z"),  # in parentheses
        ("Wed Aug 28 10:45:49 2002 +0100", "2002-08-28T09:45:49Z"),  # ctime with offset
        ("Fri, 9 Aug 02 10:49:25 +0100", "2002-08-09T09:49:25Z"),  # two-digit year
        ("Wed, 3 Jul 2002 01:19:18 +0200 (MET DST)", "2002-07-02T23:19:18Z"),
        ("Mon, 29 Jul 2002 10:50:04 +0100 for <list@example.net>", "2002-07-29T09:50:04Z"),
        ("Fri, 02 Aug 2002 03:19: 59 -0500", "2002-08-02T08:19:59Z"),  # a space inside the time
        ("12-Sep-2002 10:00:00 EST", "2002-09-12T15:00:00Z"),
        ("Thu, 12 September 2002 14:12:01 +0000", "2002-09-12T14:12:01Z"),
        ("Thu, 12 Sep 2002 14:12:01 -0000", "2002-09-12T14:12:01Z"),
        ("22/08/2002 10:04:10", "2002-08-22T10:04:10Z"),  # qmail-scanner, no zone
    ],
)
def test_real_world_dates(text: str, utc: str) -> None:
    when, problems = parse_date(text)
    assert when is not None, problems
    assert when.tzinfo is not None
    assert format_utc(when) == utc


def test_missing_zone_is_a_problem() -> None:
    when, problems = parse_date("31 May 2002 20:23:58")
    assert format_utc(when) == "2002-05-31T20:23:58Z"
    assert problems == ["the date has no time zone; UTC assumed"]


def test_zone_in_comment_used_only_without_offset() -> None:
    assert format_utc(parse_date("12 Sep 2002 06:12:01 (PDT)")[0]) == "2002-09-12T13:12:01Z"
    assert format_utc(parse_date("12 Sep 2002 06:12:01 +0000 (PDT)")[0]) == "2002-09-12T06:12:01Z"


def test_wrong_weekday_is_flagged() -> None:
    when, problems = parse_date("Mon, 12 Sep 2002 14:12:01 +0000")
    assert when is not None
    assert "the weekday does not match the date" in problems


@pytest.mark.parametrize("text", ["", "yesterday", "Thu, 31 Feb 2002 10:00:00 +0000", "Thu, 12 Foo 2002 10:00:00",
                                  "99:99:99", "12 Sep 2002", "\x00\x01"])
def test_unreadable_dates(text: str) -> None:
    when, problems = parse_date(text)
    assert when is None
    assert problems


def test_find_date_without_semicolon() -> None:
    text = "from a.example.org by b.example.org with ESMTP id F4G0l8M2 Thu, 05 Sep 2002 10:51:01 -0700 (PDT)"
    when, problems, start = find_date(text)
    assert format_utc(when) == "2002-09-05T17:51:01Z"
    assert text[start:].startswith("Thu, 05 Sep 2002")


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
       st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_rfc5322_round_trip(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset_minutes)))
    when, problems = parse_date(format_datetime(aware))
    assert when == aware
    assert problems == []


@settings(max_examples=300, deadline=1000)
@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    when, problems = parse_date(text)
    assert (when is None) == bool(problems) or when is not None
    if when is not None:
        assert when.utcoffset() is not None
