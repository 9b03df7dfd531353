"""The route of a real message, read from its headers into a :class:`~mailhops.journey.Journey`.

Every server that accepts a message prepends a ``Received`` header (RFC 5321 §4.4), so reading them
from the bottom up replays the journey: hop 1 is the bottom-most (oldest) header. :func:`analyze`
takes a whole message or only its header block (str, bytes or a path), tolerates what copy and paste
does to headers (CRLF or LF, folded lines that lost their indentation, an mbox ``From`` line, a
missing blank line before the body) and never raises on what it reads: a header it cannot read is
returned with its ``raw`` text and a list of ``problems``. For a bounce (an RFC 3464 delivery status
notification), ``summary["returned_message"]`` adds why it failed and the route of the returned message,
read from the headers it carries. Nothing leaves the machine: no name or address found is looked up.

:func:`analyze` only composes the steps of the other modules: :mod:`.headers` reads the source and splits
its fields, :mod:`.hops` reads the Received chain, :mod:`.auth` the authentication results and
:mod:`.bounce` a delivery report; this module adds the envelope, the summary and the text table.

>>> j = analyze('''Received: from mx.example.net (mx.example.net [192.0.2.20])
...  by mailbox.example.net (Postfix) with LMTP id 7F3A2B; Mon, 2 Mar 2026 09:00:07 +0000
... Received: from smtp.example.org (smtp.example.org [192.0.2.10])
...  by mx.example.net (Postfix) with ESMTPS id 21A046B0260 for <bob@example.net>;
...  Mon, 2 Mar 2026 09:00:05 +0000
... Subject: hello
... ''')
>>> [(h.n, h.from_name, h.by_name, h.with_, h.delay_s) for h in j.hops]
[(1, 'smtp.example.org', 'mx.example.net', 'ESMTPS', None), (2, 'mx.example.net', 'mailbox.example.net', 'LMTP', 2.0)]
>>> j.summary["hops"], j.summary["transit_s"]
(2, 2.0)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..journey import Hop, Journey, Outcome, format_utc
from .auth import analyze_auth
from .bounce import describe_returned, read_returned_message
from .dates import parse_date
from .headers import first_value, read_source, split_headers, values
from .hops import MAX_HOPS, hop_json, hops_from_received
from .received import parse_received

__all__ = ["analyze", "hops_from_received", "split_headers", "journey_table", "to_json_dict", "MAX_HOPS"]

#: Header names counted as hops by the lessons (Sendmail's rule: Received, Via, X400-Received, Mail-From).
HOP_HEADERS = ("received", "via", "x400-received", "mail-from")


def analyze(source: str | bytes | os.PathLike[str]) -> Journey:
    """The journey of a real message, from its headers: hops oldest first, authentication, summary.

    ``source`` is the message (or only its header block) as text or bytes, or a path to a file
    (an :class:`os.PathLike`, or a one-word string naming an existing file). A missing file given as a
    path raises :class:`~mailhops.errors.MailhopsError`; anything else gives a journey, with problems
    listed rather than raised.

    >>> j = analyze(b"Received: from [192.0.2.7] (helo=laptop) by smtp.example.org with esmtpsa (Exim 4.98) "
    ...             b"id 1wERYT-0000000Fbcq-0WDP; Mon, 02 Mar 2026 10:00:05 +0100\\r\\n\\r\\nbody")
    >>> h = j.hops[0]
    >>> h.from_name, h.ip, h.with_, h.mta, h.date_utc, j.source
    ('laptop', '192.0.2.7', 'ESMTPSA', 'exim', '2026-03-02T09:00:05Z', 'analyzed')
    """
    text, data, notes = read_source(source)
    try:
        return _analyze_text(text, data, notes)
    except Exception as err:  # never a traceback from a message's contents  # noqa: BLE001
        journey = Journey(source="analyzed", message=data)
        journey.notes = [*notes, f"the headers could not be analyzed ({type(err).__name__}: {err})"]
        journey.summary = {"hops": 0, "received": 0, "transit_s": None, "problems": 1,
                           "message_problems": journey.notes[-1:]}
        return journey


def _analyze_text(text: str, data: bytes | None, notes: list[str]) -> Journey:
    """The steps of :func:`analyze`: fields, hops, Date header, envelope, authentication, bounce, summary.

    ``message_problems`` collects what concerns the message rather than one hop, in that order.
    """
    headers, split_problems = split_headers(text)
    message_problems = notes + split_problems
    received = values(headers, "received")
    if not received:
        message_problems.append("no Received header: the message has not crossed any server (or only its body was given)")
    hops = hops_from_received(received)
    written = _read_date_header(headers, message_problems)
    journey = Journey(hops=hops, source="analyzed", message=data if data is not None else text.encode("utf-8", "replace"))
    _read_envelope(journey, headers)
    journey.auth = analyze_auth(headers, [h.by_name for h in reversed(hops)])
    returned = read_returned_message(headers, text)
    if returned is not None and returned.get("problem"):
        message_problems.append(returned.pop("problem"))
    journey.notes = list(message_problems)
    journey.summary = _summary(headers, hops, written, message_problems)
    if returned is not None:
        journey.summary["returned_message"] = returned
    return journey


def _read_date_header(headers: list[tuple[str, str]], message_problems: list[str]) -> datetime | None:
    """When the sender's program says it wrote the message (the ``Date`` header), if it can be read."""
    date_header = first_value(headers, "date")
    written, date_problems = parse_date(date_header) if date_header else (None, [])
    if date_header and written is None:
        message_problems.append(f"the Date header could not be read: {date_problems[0] if date_problems else date_header}")
    return written


def _read_envelope(journey: Journey, headers: list[tuple[str, str]]) -> None:
    """The envelope the final delivery recorded (``Return-Path``, ``Delivered-To``/``X-Original-To``), and
    the outcome: a message with hops reached the mailbox it was taken from."""
    journey.envelope_from = _angle(first_value(headers, "return-path"))
    journey.envelope_to = _angle(first_value(headers, "delivered-to", "x-original-to"))
    if journey.hops:
        journey.outcome = Outcome("delivered", "2.0.0", "The message reached the mailbox this copy was taken from.",
                                  mailbox=journey.envelope_to, server=journey.hops[-1].by_name)


def _summary(headers: list[tuple[str, str]], hops: list[Hop], written: datetime | None,
             message_problems: list[str]) -> dict[str, Any]:
    """The ``summary`` of an analyzed journey: counts, times, families, problems, the X-Received hops."""
    x_received = [parse_received(v, n=k + 1) for k, v in enumerate(reversed(values(headers, "x-received")[:MAX_HOPS]))]
    dated = [h.date for h in hops if h.date is not None]
    # from the oldest dated stamp to the newest (the sum of the hop delays; negative if the clocks disagree)
    transit = (dated[-1] - dated[0]).total_seconds() if dated else None
    return {
        "hops": sum(1 for name, _ in headers if name.lower() in HOP_HEADERS),
        "received": len(values(headers, "received")),
        "x_received": [hop_json(h) for h in x_received],
        "first_utc": format_utc(min(dated)) if dated else None,
        "last_utc": format_utc(max(dated)) if dated else None,
        "transit_s": transit,
        "date_header_utc": format_utc(written),
        "since_date_header_s": (max(dated) - written).total_seconds() if dated and written else None,
        "date_header_to_first_hop_s": (hops[0].date - written).total_seconds() if hops and hops[0].date and written else None,
        "negative_delays": sum(1 for h in hops if h.delay_s is not None and h.delay_s < 0),
        "mtas": sorted({h.mta for h in hops if h.mta}),
        "problems": sum(len(h.problems) for h in hops) + len(message_problems),
        "message_problems": message_problems,
        "unparsed": sum(1 for h in hops if not (h.from_name or h.ip or h.by_name or h.date)),
    }


def _angle(value: str | None) -> str | None:
    """The address in a ``Return-Path`` or ``Delivered-To`` value; ``""`` for the null reverse-path ``<>``."""
    if value is None:
        return None
    value = " ".join(value.split()).strip()
    if value.startswith("<>"):
        return ""  # the null reverse-path: a bounce
    if "<" in value:
        value = value[value.find("<") + 1:value.rfind(">") if ">" in value else None]
    return value or None


def to_json_dict(journey: Journey) -> dict[str, Any]:
    """The ``mailhops analyze --format json`` document: ``{"hops": [...], "auth": {...}, "summary": {...}}``.

    >>> sorted(to_json_dict(analyze("Received: from a.example.org by b.example.org; 2 Mar 2026 09:00:05 +0000")))
    ['auth', 'hops', 'summary']
    """
    return {"hops": [hop_json(h) for h in journey.hops], "auth": journey.auth, "summary": journey.summary}


def journey_table(journey: Journey, width: int = 40) -> str:
    """A readable text table of the hops, then the authentication conclusions.

    >>> print(journey_table(analyze("Received: from a.example.org (a.example.org [192.0.2.1]) by b.example.org "
    ...       "with ESMTP id X1; 2 Mar 2026 09:00:05 +0000")))  # doctest: +NORMALIZE_WHITESPACE
    n  from           ip         by             with   id  date (UTC)            delay
    1  a.example.org  192.0.2.1  b.example.org  ESMTP  X1  2026-03-02T09:00:05Z  -
    <BLANKLINE>
    1 hop, transit time 0 s.
    Authentication: No authentication results from the receiving domain were found.
    """
    lines = _hop_rows(journey.hops, width)
    lines += _problem_lines(journey.hops)
    s = journey.summary
    lines.append("")
    count = s.get("hops", len(journey.hops))
    transit = s.get("transit_s")
    lines.append(f"{count} hop{'s' if count != 1 else ''}, transit time {_fmt_delay(transit) if transit is not None else 'unknown'}."
                 + (f" Message problems: {'; '.join(s['message_problems'])}." if s.get("message_problems") else ""))
    returned = s.get("returned_message")
    if returned:
        lines += describe_returned(returned)
    a = journey.auth or {}
    lines.append(f"Authentication: {a.get('conclusion', 'not analyzed')}")
    if a.get("results") or a.get("untrusted"):
        lines.append(f"  {a.get('note', '')}")
    lines += auth_lines(a)
    return "\n".join(lines)


def auth_lines(auth: dict[str, Any]) -> list[str]:
    """The authentication details under the conclusion: each DKIM signature, the ARC chain, the results each
    hop wrote (trusted or not) and, after ``--verify``, what the live check found. Nothing when there is none.

    >>> auth_lines({"dkim_signatures": [{"d": "example.org", "s": "mail", "a": "rsa-sha256", "h": ["from", "to"]}]})
    ['  DKIM-Signature: d=example.org s=mail a=rsa-sha256, signs from, to']
    """
    lines = []
    for sig in auth.get("dkim_signatures") or []:
        signed = ", ".join(sig.get("h") or []) or "?"
        lines.append(f"  DKIM-Signature: d={sig.get('d')} s={sig.get('s')} a={sig.get('a')}, signs {signed}")
    chain = auth.get("arc_chain") or {}
    if chain.get("instances"):
        sets = "; ".join(f"i={s.get('i')} sealed by {s.get('d')} cv={s.get('cv')}" for s in auth.get("arc_sets") or [])
        shape = "well formed" if chain.get("structure") == "well-formed" else "broken: " + "; ".join(chain.get("problems", []))
        lines.append(f"  ARC chain: {chain['instances']} set{'s' if chain['instances'] != 1 else ''} ({sets}), {shape}")
    for hop in auth.get("by_hop") or []:
        said = ", ".join(f"{m}={r}" for m, r in hop["results"].items()) or "nothing readable"
        where = f"hop {hop['hop']} ({hop['by_name']})" if hop.get("hop") else f"{hop.get('authserv_id') or 'unknown'}"
        lines.append(f"  {where} wrote: {said}{' <- trusted' if hop.get('trusted') else ''}")
    verification = auth.get("verification")
    if verification:
        lines.append(f"Verification (live DNS): {verification.get('summary', '')}")
    return lines


def _hop_rows(hops: list[Hop], width: int) -> list[str]:
    """The table of hops, one line each under a heading; cells longer than ``width`` are cut with "…"."""
    rows = [["n", "from", "ip", "by", "with", "id", "date (UTC)", "delay"]]
    for h in hops:
        rows.append([str(h.n), h.from_name or "-", h.ip or "-", h.by_name or h.by_ip or "-", h.with_ or h.via or "-",
                     h.id or "-", h.date_utc or "-", _fmt_delay(h.delay_s)])
    rows = [[cell if len(cell) <= width else cell[: width - 1] + "…" for cell in row] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def _problem_lines(hops: list[Hop]) -> list[str]:
    """The hops' problems, the first 50 of them; nothing when there are none."""
    problems = [(h.n, p) for h in hops for p in h.problems]
    if not problems:
        return []
    lines = ["", "Problems:"]
    lines.extend(f"  hop {n}: {p}" for n, p in problems[:50])
    if len(problems) > 50:
        lines.append(f"  ... and {len(problems) - 50} more")
    return lines


def _fmt_delay(seconds: float | None) -> str:
    """A delay for people: "5 s", "2 min 3 s", "1 h 4 min", "3.5 days"."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 60:
        return f"{sign}{s:g} s"
    if s < 3600:
        return f"{sign}{int(s // 60)} min {int(s % 60)} s"
    if s < 86400 * 2:
        return f"{sign}{int(s // 3600)} h {int(s % 3600 // 60)} min"
    return f"{sign}{s / 86400:.1f} days"


_COMMENT = re.compile(r"\([^()]*\)")
_CLAIMED_FROM = re.compile(r"(?:^|\s)from\s+(\S+)", re.IGNORECASE)
_CLAIMED_BY = re.compile(r"(?:^|\s)by\s+\S", re.IGNORECASE)
_CLAIMED_TIME = re.compile(r"\d{1,2}:\d\d")
_CLAIMED_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\d{4}-\d\d-\d\d|\d\d/\d\d/\d{4}",
                            re.IGNORECASE)


def field_yield(journeys: Iterable[Journey]) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """How well analyzed hops yield what their Received text contains: (seen, got, missed raw headers).

    A header *contains* a FROM or BY clause when the word stands outside comments, and a date when it has a
    time and a month (or an ISO/numeric date). ``seen[k]`` counts the headers containing clause ``k``,
    ``got[k]`` those whose hop yielded it (a sender address in FROM rightly gives no host name).

    >>> from mailhops.scenarios import run
    >>> seen, got, missed = field_yield([analyze(run("three-hops").message)])
    >>> seen == got == {"from": 3, "by": 3, "date": 3}, missed
    (True, [])
    """
    seen = {"from": 0, "by": 0, "date": 0}
    got = {"from": 0, "by": 0, "date": 0}
    missed: list[str] = []
    for journey in journeys:
        for hop in journey.hops:
            raw = hop.raw or ""
            outside = raw
            for _ in range(3):
                outside = _COMMENT.sub(" ", outside)
            ok = True
            m = _CLAIMED_FROM.search(outside)
            if m:
                seen["from"] += 1
                hit = bool(hop.from_name or hop.ip or "@" in m.group(1))
                got["from"] += hit
                ok &= hit
            if _CLAIMED_BY.search(outside):
                seen["by"] += 1
                hit = bool(hop.by_name or hop.by_ip)
                got["by"] += hit
                ok &= hit
            if _CLAIMED_TIME.search(raw) and _CLAIMED_MONTH.search(raw):
                seen["date"] += 1
                got["date"] += hop.date is not None
                ok &= hop.date is not None
            if not ok:
                missed.append(raw)
    return seen, got, missed

