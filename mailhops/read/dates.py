"""Dates as real mail servers write them in ``Received`` headers, read into aware datetimes.

RFC 5322 §3.3 defines ``[day-of-week ","] day month year hour ":" minute [":" second] zone``, and its
obsolete syntax (§4.3) adds two-digit years and zone names. Real servers write more than that:
missing weekday or seconds, single-digit hours, ``-08:00`` and ``+800`` offsets, ``UTC``, AM/PM,
fractional seconds, ISO dates with Go's monotonic clock suffix (SendGrid:
``2019-02-15 16:50:20.915566698 +0000 UTC m=+104627.848812178``), month-first ``Aug, 24 2002``,
``dd/mm/yyyy``, ctime style ``Wed Aug 28 10:45:49 2002``. :func:`parse_date` reads all of them with
one linear tokenizer (no backtracking regex) and says what it had to assume.

>>> when, problems = parse_date("Thu, 12 Sep 2002 4:12:01 PM +800 (CST)")
>>> when.isoformat(), problems
('2002-09-12T16:12:01+08:00', [])
>>> parse_date("2019-02-15 16:50:20.915566698 +0000 UTC m=+104627.848812178")[0].isoformat()
'2019-02-15T16:50:20.915566+00:00'
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["parse_date", "find_date", "ZONE_NAMES"]

MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}

#: Zone abbreviations seen in mail, as hours east of UTC (RFC 5322 §4.3 lists the US ones).
ZONE_NAMES: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "ZULU": 0, "WET": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5, "AKST": -9, "AKDT": -8, "HST": -10,
    "BST": 1, "IST": 1, "CET": 1, "MET": 1, "MEZ": 1, "WEST": 1, "WAT": 1,
    "CEST": 2, "MEST": 2, "MESZ": 2, "EET": 2, "CAT": 2, "SAST": 2, "EEST": 3, "MSK": 3, "EAT": 3,
    "IDT": 3, "GST": 4, "PKT": 5, "WIB": 7, "ICT": 7, "HKT": 8, "SGT": 8, "AWST": 8, "PHT": 8, "WITA": 8,
    "JST": 9, "KST": 9, "ACST": 9.5, "AEST": 10, "ACDT": 10.5, "AEDT": 11, "NZST": 12, "NZDT": 13,
    "BRT": -3, "ART": -3, "CLT": -4,
}

# One pass, every alternative anchored on a distinct first character class: linear time.
_TOKEN = re.compile(
    r"(?P<iso>\d{4}-\d{1,2}-\d{1,2})(?:T(?=\d))?"
    r"|(?P<slash>\d{1,4}/\d{1,2}/\d{1,4})"
    r"|(?P<time>\d{1,2}:\d{1,2}(?:: ?\d{1,2})?(?:[.,]\d{1,12})?)"
    r"|(?P<off>[+-]\d{1,2}:\d{2}|[+-]\d{1,4})(?![\d.])"
    r"|(?P<num>\d{1,9})"
    r"|(?P<word>[A-Za-z]{1,20})"
)
# dd-Mon-yyyy (VMS, some gateways) -> dd Mon yyyy, so the dashes are not read as offsets.
_DASHED = re.compile(r"\b(\d{1,2})-([A-Za-z]{3,9})-(\d{2,4})\b")
# Where a date may start inside a longer text (used when the ``;`` before the date is missing).
_DATE_START = re.compile(
    r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]{0,6}\b"
    r"|\d{1,2}[ -](?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]{0,6}\b"
    r"|\d{4}-\d{1,2}-\d{1,2}\b"
    r"|\d{1,2}/\d{1,2}/\d{2,4}\b)",
    re.IGNORECASE,
)


def _strip_comments(text: str) -> tuple[str, str]:
    """Split ``text`` into (outside comments and <...>, inside comments), nesting-aware, linear."""
    outside: list[str] = []
    inside: list[str] = []
    depth = 0
    angle = False
    for ch in text:
        if ch == "(":
            depth += 1
            outside.append(" ")
        elif ch == ")" and depth:
            depth -= 1
            outside.append(" ")
        elif depth:
            inside.append(ch)
        elif ch == "<":
            angle = True
            outside.append(" ")
        elif ch == ">" and angle:
            angle = False
        elif angle:
            continue
        else:
            outside.append(ch)
    return "".join(outside), "".join(inside)


def _offset_minutes(tok: str) -> int | None:
    sign = -1 if tok[0] == "-" else 1
    body = tok[1:]
    if ":" in body:
        h, m = body.split(":")
        hours, minutes = int(h), int(m)
    elif len(body) <= 2:
        hours, minutes = int(body), 0
    else:  # +800 / +0800 / -400
        hours, minutes = int(body[:-2]), int(body[-2:])
    if hours > 14 or minutes > 59:
        return None
    return sign * (hours * 60 + minutes)


def parse_date(text: str, _nested: bool = False) -> tuple[datetime | None, list[str]]:
    """Read one date as mail servers write it; return ``(aware datetime or None, problems)``.

    Comments such as ``(PDT)`` or ``(envelope-from <x@example.org>)`` are ignored, except that a zone
    name in a comment is used when no numeric offset is given. A date without any zone is taken as
    UTC and says so in ``problems``.

    >>> parse_date("5 Sep 2002 11:37:56 -0000")[0].isoformat()
    '2002-09-05T11:37:56+00:00'
    >>> parse_date("Aug, 24 2002 11:05:29 AM +1200")[0].isoformat()
    '2002-08-24T11:05:29+12:00'
    >>> parse_date("31 May 2002 20:23:58")
    (datetime.datetime(2002, 5, 31, 20, 23, 58, tzinfo=datetime.timezone.utc), ['the date has no time zone; UTC assumed'])
    >>> parse_date("tomorrow")
    (None, ["no date found in 'tomorrow'"])
    """
    if not isinstance(text, str):
        return None, ["the date is not text"]
    text = text[:400]  # a date is short; never let a huge value cost time
    outside, inside = _strip_comments(text)
    parts = _DateParts()
    for m in _TOKEN.finditer(_DASHED.sub(r"\1 \2 \3", outside)):
        kind = m.lastgroup
        parts.read(kind, m.group(kind))  # type: ignore[arg-type]
    parts.settle_day_and_year()
    if parts.year is None or parts.month is None or parts.day is None or parts.hour is None or parts.minute is None:
        if inside.strip() and ":" in inside and not _nested:  # the whole date in parentheses
            return parse_date(inside, _nested=True)
        return None, [f"no date found in {text.strip()[:80]!r}"]
    parts.apply_am_pm()
    offset = parts.utc_offset(inside)
    try:
        when = datetime(parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second, parts.micro,
                        tzinfo=timezone(timedelta(minutes=offset)) if offset else timezone.utc)
    except ValueError as err:
        return None, [f"impossible date in {text.strip()[:80]!r} ({err})"]
    if parts.weekday is not None and when.weekday() != parts.weekday:
        parts.problems.append("the weekday does not match the date")
    return when, parts.problems


class _DateParts:
    """What the tokens of one date have said so far: the state of :func:`parse_date`'s single pass.

    >>> parts = _DateParts()
    >>> for kind, tok in [("word", "Mon"), ("num", "2"), ("word", "Mar"), ("num", "2026"), ("time", "09:00:05")]:
    ...     parts.read(kind, tok)
    >>> parts.settle_day_and_year()
    >>> parts.year, parts.month, parts.day, parts.hour, parts.weekday
    (2026, 3, 2, 9, 0)
    """

    __slots__ = ("year", "month", "day", "hour", "minute", "second", "micro", "ampm", "offset", "zone_name",
                 "weekday", "numbers", "time_seen", "problems")

    def __init__(self) -> None:
        self.year: int | None = None
        self.month: int | None = None
        self.day: int | None = None
        self.hour: int | None = None
        self.minute: int | None = None
        self.second = 0
        self.micro = 0
        self.ampm: str | None = None
        self.offset: int | None = None  # minutes east of UTC, from a numeric offset
        self.zone_name: float | None = None  # hours east of UTC, from a zone name
        self.weekday: int | None = None
        self.numbers: list[str] = []  # loose numbers: the day and year, once the pass is over
        self.time_seen = False
        self.problems: list[str] = []

    def read(self, kind: str, tok: str) -> None:
        """One token of :data:`_TOKEN`; the first of each kind wins."""
        if kind == "iso" and self.year is None:
            y, mo, d = tok.split("-")
            self.year, self.month, self.day = int(y), int(mo), int(d)
        elif kind == "slash" and self.year is None:
            self._read_slashed(tok)
        elif kind == "time" and not self.time_seen:
            self._read_time(tok)
        elif kind == "off":
            if self.offset is None and (self.time_seen or self.year is not None):
                self.offset = _offset_minutes(tok)
                if self.offset is None:
                    self.problems.append(f"impossible zone offset {tok}")
        elif kind == "num":
            if not self.time_seen or self.year is None or self.day is None:
                self.numbers.append(tok)
        elif kind == "word":
            self._read_word(tok)

    def _read_slashed(self, tok: str) -> None:
        """``yyyy/mm/dd``, ``dd/mm/yyyy`` or ``mm/dd/yyyy`` (day first when in doubt)."""
        a, b, c = (int(x) for x in tok.split("/"))
        if a > 31:  # yyyy/mm/dd
            self.year, self.month, self.day = a, b, c
        else:
            self.year = c
            if a > 12 or b <= 12:  # dd/mm (also when both could be months: qmail-scanner writes dd/mm)
                self.day, self.month = a, b
                if a <= 12 and b <= 12 and a != b:
                    self.problems.append("day and month order is ambiguous; read as day/month")
            else:
                self.month, self.day = a, b

    def _read_time(self, tok: str) -> None:
        """``h:mm``, ``hh:mm:ss``, with fractional seconds."""
        self.time_seen = True
        parts = re.split(r"[:.,]", tok.replace(" ", ""))
        self.hour, self.minute = int(parts[0]), int(parts[1])
        if len(parts) > 2:
            self.second = int(parts[2])
        if len(parts) > 3:
            self.micro = int(parts[3][:6].ljust(6, "0"))

    def _read_word(self, tok: str) -> None:
        """A month, a weekday, AM/PM after the time, or a zone name after the time or date."""
        w = tok.lower()
        if w[:3] in MONTHS and self.month is None and (len(w) == 3 or w in ("sept",) or _is_month_name(w)):
            self.month = MONTHS[w[:3]]
        elif w[:3] in WEEKDAYS and self.weekday is None and (len(w) == 3 or w.endswith("day") or w in ("tues", "thur", "thurs")):
            self.weekday = WEEKDAYS[w[:3]]
        elif w in ("am", "pm") and self.time_seen:
            self.ampm = w
        elif tok.upper() in ZONE_NAMES and self.zone_name is None and (self.time_seen or self.year is not None):
            self.zone_name = ZONE_NAMES[tok.upper()]

    def settle_day_and_year(self) -> None:
        """The day and year from the loose numbers, then two- and three-digit years widened (RFC 5322 §4.3)."""
        if self.year is None or self.day is None:
            for tok in self.numbers:
                v = int(tok)
                if self.day is None and len(tok) <= 2 and 1 <= v <= 31:
                    self.day = v
                elif self.year is None and (len(tok) in (2, 4)):
                    self.year = v
        if self.year is not None and self.year < 100:  # RFC 5322 §4.3: two-digit years
            self.year += 2000 if self.year < 50 else 1900
            self.problems.append("two-digit year")
        elif self.year is not None and 100 <= self.year < 1000:
            self.year += 1900
            self.problems.append("three-digit year")

    def apply_am_pm(self) -> None:
        """A 12-hour time turned into a 24-hour one; a leap second kept as :59 (datetime cannot hold it)."""
        assert self.hour is not None
        if self.ampm:
            if self.hour > 12:
                self.problems.append(f"AM/PM with hour {self.hour}")
            elif self.ampm == "pm" and self.hour < 12:
                self.hour += 12
            elif self.ampm == "am" and self.hour == 12:
                self.hour = 0
        if self.second == 60:
            self.second = 59

    def utc_offset(self, inside: str) -> int:
        """Minutes east of UTC: the numeric offset, else a zone name outside or ``inside`` comments, else
        UTC (and a problem)."""
        if self.offset is not None:
            return self.offset
        zone_name = self.zone_name
        if zone_name is None:
            words = [w.upper() for w in re.findall(r"[A-Za-z]+", inside)]
            zone_name = next((ZONE_NAMES[w] for w in words if w in ZONE_NAMES), None)
        if zone_name is None:
            self.problems.append("the date has no time zone; UTC assumed")
            return 0
        return int(zone_name * 60)


def _is_month_name(word: str) -> bool:
    return word in ("january", "february", "march", "april", "june", "july", "august", "september",
                    "october", "november", "december")


def find_date(text: str) -> tuple[datetime | None, list[str], int]:
    """Find a date inside a longer text (a header whose ``;`` is missing); returns (date, problems, start).

    Only a few places where a date can begin (a weekday, ``day Month``, an ISO or slashed date) are
    tried, last ones first, so the cost stays linear in the length of the text.

    >>> when, problems, start = find_date("by mta.example.org with SMTP id abc 2019-02-15 16:50:20 +0000 UTC")
    >>> when.isoformat(), start
    ('2019-02-15T16:50:20+00:00', 36)
    """
    starts = [m.start() for m in _DATE_START.finditer(text)]
    tried = starts[-4:]
    for k in range(len(tried) - 1, -1, -1):
        when, problems = parse_date(text[tried[k]:])
        if when is not None:
            start = tried[k]
            # an earlier anchor of the same date (a weekday before "day Month") marks its real start
            if k > 0 and tried[k] - tried[k - 1] <= 12:
                earlier, earlier_problems = parse_date(text[tried[k - 1]:])
                if earlier == when:
                    return earlier, earlier_problems, tried[k - 1]
            return when, problems, start
    return None, [], -1
