"""The route of a real message, read from its headers into a :class:`~mailhops.journey.Journey`.

Every server that accepts a message prepends a ``Received`` header (RFC 5321 §4.4), so reading them
from the bottom up replays the journey: hop 1 is the bottom-most (oldest) header. :func:`analyze`
takes a whole message or only its header block (str, bytes or a path), tolerates what copy and paste
does to headers (CRLF or LF, folded lines that lost their indentation, an mbox ``From`` line, a
missing blank line before the body) and never raises on what it reads: a header it cannot read is
returned with its ``raw`` text and a list of ``problems``. For a bounce (an RFC 3464 delivery status
notification), ``summary["returned_message"]`` adds why it failed and the route of the returned message,
read from the headers it carries. Nothing leaves the machine: no name or address found is looked up.

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

import email
import email.policy
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import MailhopsError
from ..journey import Hop, Journey, Outcome, format_utc
from .auth import analyze_auth
from .dates import parse_date
from .received import parse_received

__all__ = ["analyze", "hops_from_received", "split_headers", "journey_table", "to_json_dict", "MAX_HOPS"]

#: Received headers beyond this many are kept raw, not parsed: no real path is that long
#: (RFC 5321 §6.3 asks for a hop limit of at least 100), so it is a loop or an attack.
MAX_HOPS = 500
#: Header names counted as hops by the lessons (Sendmail's rule: Received, Via, X400-Received, Mail-From).
HOP_HEADERS = ("received", "via", "x400-received", "mail-from")

_FIELD = re.compile(r"([!-9;-~]{1,100})[ \t]*:")
_CONTINUES_TRACE = re.compile(
    r"(?:from|by|via|with|id|for)\s|[(;\[]|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b|\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\b",
    re.IGNORECASE,
)
_TRACE_NAMES = frozenset({"received", "x-received", "authentication-results", "arc-authentication-results",
                          "arc-seal", "arc-message-signature", "dkim-signature", "received-spf"})


def _read_source(source: str | bytes | os.PathLike[str]) -> tuple[str, bytes | None, list[str]]:
    """``(text, original bytes, notes)`` from a str, bytes or path."""
    if isinstance(source, os.PathLike):
        path = Path(source)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MailhopsError(f"The file {path} does not exist.") from None
        except IsADirectoryError:
            raise MailhopsError(f"{path} is a folder, not a message file.") from None
        except OSError as err:
            raise MailhopsError(f"The file {path} could not be read ({err.strerror or err}).") from None
        source = data
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        try:
            return data.decode("utf-8"), data, []
        except UnicodeDecodeError:
            return data.decode("latin-1"), data, ["the message is not UTF-8; read as Latin-1"]
    if isinstance(source, str):
        if "\n" not in source and ":" not in source and 0 < len(source) < 4096:
            # a lone word: a file name rather than a header block
            if os.path.isfile(source):
                return _read_source(Path(source))
            return "", None, [f"{source!r} looks like a file name, but there is no such file"]
        return source, None, []
    return "", None, [f"cannot read a {type(source).__name__}; expected text, bytes or a path"]


def split_headers(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The header fields of a message as ``(name, value)`` pairs, top first, plus what was repaired.

    The stdlib :mod:`email` parser stops at the first line that is neither a field nor indented, which
    loses the rest of a pasted header block whose folded lines lost their indentation; this splitter
    re-attaches such lines to a trace header they continue, and otherwise takes them as the start of
    the body (a missing blank line).

    >>> split_headers("From alice@example.org Mon Mar  2 09:00:00 2026\\nReceived: from a.example.org\\nby b.example.org; "
    ...               "2 Mar 2026 09:00:05 +0000\\nSubject: hi\\nHello Bob")
    ([('Received', 'from a.example.org by b.example.org; 2 Mar 2026 09:00:05 +0000'), ('Subject', 'hi')], ['a folded line lost its indentation', 'no blank line between the headers and the body'])
    """
    problems: list[str] = []
    headers: list[tuple[str, list[str]]] = []  # (name, value parts): parts joined once at the end
    text = text.lstrip("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and lines[i].startswith("From ") and not _FIELD.match(lines[i]):
        i += 1  # mbox separator line
    lost = False
    for line in lines[i:]:
        if not line.strip():
            if headers:
                break
            continue
        if line[0] in " \t":
            if headers:
                headers[-1][1].append(line.strip())
            else:
                problems.append("the header block starts with an indented line")
                headers.append(("", [line.strip()]))
            continue
        m = _FIELD.match(line)
        if m:
            headers.append((m.group(1), [line[m.end():].strip()]))
            continue
        if headers and headers[-1][0].lower() in _TRACE_NAMES and _CONTINUES_TRACE.match(line):
            headers[-1][1].append(line.strip())
            lost = True
            continue
        if headers:
            problems.append("no blank line between the headers and the body")
        else:
            if "the text does not start with a header field" not in problems:
                problems.append("the text does not start with a header field")
            continue
        break
    if lost:
        problems.insert(0, "a folded line lost its indentation")
    return [(name, " ".join(parts)) for name, parts in headers if name], problems


def hops_from_received(values_top_first: list[str]) -> list[Hop]:
    """Hops, oldest first, from Received header values as they appear in a message (newest on top).

    Each hop's ``delay_s`` is the time since the previous dated hop (the first hop has none, as in a
    simulated journey); a negative delay is kept and flagged in the hop's problems.

    >>> hops = hops_from_received(["from b.example.net by c.example.net; 2 Mar 2026 09:00:00 +0000",
    ...                            "from a.example.org by b.example.net; 2 Mar 2026 09:00:30 +0000"])
    >>> [(h.n, h.by_name, h.delay_s) for h in hops], hops[1].problems
    ([(1, 'b.example.net', None), (2, 'c.example.net', -30.0)], ['dated 30 s before hop 1 (clock skew between the servers)'])
    """
    hops: list[Hop] = []
    for k, value in enumerate(reversed(values_top_first)):
        if k >= MAX_HOPS:
            hops.append(Hop(n=k + 1, raw=" ".join(value.split())[:2000],
                            problems=[f"not parsed: more than {MAX_HOPS} Received headers (a mail loop?)"]))
        else:
            hops.append(parse_received(value, n=k + 1))
    previous = None
    previous_label = ""
    for hop in hops:
        if hop.date is None:
            continue
        if previous is not None:
            hop.delay_s = (hop.date - previous).total_seconds()
            if hop.delay_s < 0:
                hint = (" (a pull by fetchmail/getmail, or clock skew)" if hop.mta in ("fetchmail", "getmail")
                        else " (clock skew between the servers)")
                hop.problems.append(f"dated {-hop.delay_s:.0f} s before {previous_label}{hint}")
        previous = hop.date
        previous_label = f"hop {hop.n}"
    return hops


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
    text, data, notes = _read_source(source)
    try:
        return _analyze_text(text, data, notes)
    except Exception as err:  # never a traceback from a message's contents  # noqa: BLE001
        journey = Journey(source="analyzed", message=data)
        journey.notes = [*notes, f"the headers could not be analyzed ({type(err).__name__}: {err})"]
        journey.summary = {"hops": 0, "received": 0, "transit_s": None, "problems": 1,
                           "message_problems": journey.notes[-1:]}
        return journey


def _analyze_text(text: str, data: bytes | None, notes: list[str]) -> Journey:
    headers, message_problems = split_headers(text)
    message_problems = notes + message_problems
    received = [value for name, value in headers if name.lower() == "received"]
    if not received:
        message_problems.append("no Received header: the message has not crossed any server (or only its body was given)")
    hops = hops_from_received(received)
    newest_first_by = [h.by_name for h in reversed(hops)]

    date_header = next((v for name, v in headers if name.lower() == "date"), None)
    written, date_problems = parse_date(date_header) if date_header else (None, [])
    if date_header and written is None:
        message_problems.append(f"the Date header could not be read: {date_problems[0] if date_problems else date_header}")

    x_received = [parse_received(v, n=k + 1) for k, v in enumerate(reversed(
        [value for name, value in headers if name.lower() == "x-received"][:MAX_HOPS]))]

    dated = [h.date for h in hops if h.date is not None]
    # from the oldest dated stamp to the newest (the sum of the hop delays; negative if the clocks disagree)
    transit = (dated[-1] - dated[0]).total_seconds() if dated else None
    hop_count = sum(1 for name, _ in headers if name.lower() in HOP_HEADERS)
    auth = analyze_auth(headers, newest_first_by)

    journey = Journey(hops=hops, source="analyzed", message=data if data is not None else text.encode("utf-8", "replace"))
    journey.envelope_from = _angle(next((v for name, v in headers if name.lower() == "return-path"), None))
    journey.envelope_to = _angle(next((v for name, v in headers if name.lower() in ("delivered-to", "x-original-to")), None))
    if hops:
        journey.outcome = Outcome("delivered", "2.0.0", "The message reached the mailbox this copy was taken from.",
                                  mailbox=journey.envelope_to, server=hops[-1].by_name)
    journey.auth = auth
    returned = _returned_message(headers, text)
    if returned is not None and returned.get("problem"):
        message_problems.append(returned.pop("problem"))
    journey.notes = list(message_problems)
    hop_problems = sum(len(h.problems) for h in hops)
    journey.summary = {
        "hops": hop_count,
        "received": len(received),
        "x_received": [_hop_json(h) for h in x_received],
        "first_utc": format_utc(min(dated)) if dated else None,
        "last_utc": format_utc(max(dated)) if dated else None,
        "transit_s": transit,
        "date_header_utc": format_utc(written),
        "since_date_header_s": (max(dated) - written).total_seconds() if dated and written else None,
        "date_header_to_first_hop_s": (hops[0].date - written).total_seconds() if hops and hops[0].date and written else None,
        "negative_delays": sum(1 for h in hops if h.delay_s is not None and h.delay_s < 0),
        "mtas": sorted({h.mta for h in hops if h.mta}),
        "problems": hop_problems + len(message_problems),
        "message_problems": message_problems,
        "unparsed": sum(1 for h in hops if not (h.from_name or h.ip or h.by_name or h.date)),
    }
    if returned is not None:
        journey.summary["returned_message"] = returned
    return journey


_DSN_FIELDS = {"final-recipient": "final_recipient", "original-recipient": "original_recipient", "action": "action",
               "status": "status", "diagnostic-code": "diagnostic", "remote-mta": "remote_mta", "reporting-mta": "reporting_mta"}


def _returned_message(headers: list[tuple[str, str]], text: str) -> dict[str, Any] | None:
    """For a bounce (RFC 3464 ``multipart/report``): the delivery status and the route of the returned message.

    The returned message's headers travel inside the bounce (``message/rfc822`` or ``text/rfc822-headers``),
    so its own Received headers tell where the original went before it failed.
    """
    content_type = next((v for name, v in headers if name.lower() == "content-type"), "")
    if "multipart/report" not in content_type.lower() or len(text) > 10_000_000:
        return None
    if text.count("\n--") > 1000:  # a report has a handful of parts; thousands are an attack, not a bounce
        return {"problem": "the bounce's report has too many parts to be read"}
    result: dict[str, Any] = {}
    try:
        msg = email.message_from_string(text, policy=email.policy.compat32)
        for part in msg.walk():
            kind = part.get_content_type()
            if kind == "message/delivery-status":
                blocks = part.get_payload()
                for block in blocks if isinstance(blocks, list) else []:
                    for name, key in _DSN_FIELDS.items():
                        value = block.get(name)
                        if value is not None and key not in result:
                            result[key] = " ".join(str(value).split())
            elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers") and "hops" not in result:
                if kind == "message/rfc822" and isinstance(part.get_payload(), list) and part.get_payload():
                    inner = part.get_payload()[0]
                    received = [str(v) for v in inner.get_all("Received", [])]
                else:
                    payload = part.get_payload(decode=True) or b""
                    inner_headers, _ = split_headers(payload.decode("utf-8", "replace"))
                    received = [v for name, v in inner_headers if name.lower() == "received"]
                result["received"] = len(received)
                result["hops"] = [_hop_json(h) for h in hops_from_received(received)]
    except Exception as err:  # a malformed report is a problem to show, not a crash  # noqa: BLE001
        result["problem"] = f"the bounce's report could not be read ({type(err).__name__})"
    return result or None


def _angle(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split()).strip()
    if value.startswith("<>"):
        return ""  # the null reverse-path: a bounce
    if "<" in value:
        value = value[value.find("<") + 1:value.rfind(">") if ">" in value else None]
    return value or None


_HOP_KEYS = ("n", "from_name", "helo", "rdns", "ip", "by_name", "by_ip", "with", "tls", "auth", "id", "for", "via",
             "date_utc", "delay_s", "mta", "envelope_from", "raw", "problems")


def _hop_json(hop: Hop) -> dict[str, Any]:
    d = hop.to_dict()
    return {k: d[k] for k in _HOP_KEYS}


def to_json_dict(journey: Journey) -> dict[str, Any]:
    """The ``mailhops analyze --format json`` document: ``{"hops": [...], "auth": {...}, "summary": {...}}``.

    >>> sorted(to_json_dict(analyze("Received: from a.example.org by b.example.org; 2 Mar 2026 09:00:05 +0000")))
    ['auth', 'hops', 'summary']
    """
    return {"hops": [_hop_json(h) for h in journey.hops], "auth": journey.auth, "summary": journey.summary}


def _fmt_delay(seconds: float | None) -> str:
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
    rows = [["n", "from", "ip", "by", "with", "id", "date (UTC)", "delay"]]
    for h in journey.hops:
        rows.append([str(h.n), h.from_name or "-", h.ip or "-", h.by_name or h.by_ip or "-", h.with_ or h.via or "-",
                     h.id or "-", h.date_utc or "-", _fmt_delay(h.delay_s)])
    rows = [[cell if len(cell) <= width else cell[: width - 1] + "…" for cell in row] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    problems = [(h.n, p) for h in journey.hops for p in h.problems]
    if problems:
        lines.append("")
        lines.append("Problems:")
        lines.extend(f"  hop {n}: {p}" for n, p in problems[:50])
        if len(problems) > 50:
            lines.append(f"  ... and {len(problems) - 50} more")
    s = journey.summary
    lines.append("")
    count = s.get("hops", len(journey.hops))
    transit = s.get("transit_s")
    lines.append(f"{count} hop{'s' if count != 1 else ''}, transit time {_fmt_delay(transit) if transit is not None else 'unknown'}."
                 + (f" Message problems: {'; '.join(s['message_problems'])}." if s.get("message_problems") else ""))
    returned = s.get("returned_message")
    if returned:
        status = " ".join(x for x in (returned.get("action"), returned.get("status")) if x)
        who = (returned.get("final_recipient") or "").split(";")[-1].strip()
        why = returned.get("diagnostic")
        what = "a bounce" if (returned.get("action") or "failed").lower() == "failed" else "a delivery report"
        lines.append(f"This is {what} ({status or 'no delivery status'}{' for ' + who if who else ''})"
                     + (f": {why}." if why else "."))
        if returned.get("hops"):
            last = returned["hops"][-1]
            lines.append(f"The returned message had crossed {len(returned['hops'])} hop(s), the last one into "
                         f"{last.get('by_name') or 'an unnamed server'}.")
    a = journey.auth or {}
    lines.append(f"Authentication: {a.get('conclusion', 'not analyzed')}")
    if a.get("results") or a.get("untrusted"):
        lines.append(f"  {a.get('note', '')}")
    return "\n".join(lines)


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

