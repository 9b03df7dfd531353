"""One ``Received`` header, read into a :class:`~mailhops.journey.Hop`.

RFC 5321 §4.4 gives the shape every MTA follows more or less closely::

    from <helo> (<rdns> [<ip>]) by <host> (<software>) with <protocol> id <queue-id> for <rcpt>; <date>

The clauses are recognised only *outside* comments, so ``(from userid 1000)`` or ``(for x)`` give
nothing; the comments are then read for what each MTA family keeps there: the TCP information
(``(rdns [192.0.2.1])`` in Postfix, Sendmail and Gmail, ``([192.0.2.1]:port helo=...)`` in Exim,
``(HELO name) (192.0.2.1)`` in qmail, ``(192.0.2.1)`` in Exchange), TLS, the authenticated sender and
the software that names the MTA family. The parser splits on parentheses, ``;`` and white space with
``str`` methods and never backtracks, so its cost is linear in the length of the header, and it never
raises: what it cannot read goes into ``hop.problems``. It runs as named steps, in this order: set
the comments aside, find the date, cut the text into clauses, read FROM, BY, WITH/VIA, ID/FOR, the
other comments (TLS, envelope sender, software), then name the MTA family and tell which name is the
HELO argument and which the reverse DNS. The most common shapes (Postfix, Sendmail,
fetchmail, qmail, Exim 3) are first tried with a few regular expressions free of ambiguous repetition;
they give exactly what the general parser gives (the tests check it on every header of the development
corpus) and only save time.

>>> hop = parse_received("from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.net "
...     "(Postfix) with ESMTPS id 4ABC123 for <bob@example.net>; Mon, 2 Mar 2026 09:00:05 +0000")
>>> hop.from_name, hop.ip, hop.by_name, hop.with_, hop.id, hop.for_, hop.mta, hop.date_utc
('mail.example.org', '192.0.2.1', 'mx.example.net', 'ESMTPS', '4ABC123', 'bob@example.net', 'postfix', '2026-03-02T09:00:05Z')
>>> hop = parse_received("from [192.0.2.9] (port=4711 helo=laptop) by smtp.example.org with esmtpsa (TLS1.3) "
...     "tls TLS_AES_256_GCM_SHA384 (Exim 4.98) (envelope-from <a@example.org>) id 1wERYT-0000000Fbcq-0WDP "
...     "for b@example.net; Mon, 02 Mar 2026 10:00:05 +0100")
>>> hop.from_name, hop.ip, hop.helo, hop.with_, hop.tls, hop.mta, hop.envelope_from, hop.date_utc
('laptop', '192.0.2.9', 'laptop', 'ESMTPSA', 'TLS1.3', 'exim', 'a@example.org', '2026-03-02T09:00:05Z')
"""

from __future__ import annotations

import functools
import ipaddress
import re
from datetime import datetime, timedelta, timezone

from ..journey import Hop
from .dates import MONTHS, WEEKDAYS, ZONE_NAMES, find_date, parse_date

__all__ = ["parse_received", "merge_companion_stamps", "fast_date", "mta_family", "KEYWORDS", "MAX_READ"]

#: The clause names of RFC 5321 §4.4 (``Stamp``).
KEYWORDS = frozenset({"from", "by", "via", "with", "id", "for"})

_MARK = "\x00"  # stands for a comment in the top-level text: "\x00<index>"
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}\Z")
_IPV6 = re.compile(r"[0-9A-Fa-f:]{2,39}(?:\.\d{1,3}){0,3}(?:%\w{1,20})?\Z")
_TLS = re.compile(r"\b(TLS[v_ -]?\d(?:[._]\d)?|SSLv\d|TLS)\b", re.IGNORECASE)
#: what MTAs write in place of a reverse-DNS name they could not find
_NO_RDNS = frozenset({"unknown", "unverified"})
_QP = re.compile(r"(?:^|\s)qp \d")  # qmail-smtpd writes "(qp 4711)" after the host
_OTHER_FAMILIES = re.compile(
    r"\b(dovecot|cyrus|courier|mdaemon|communigate|domino|lotus|zimbra|mercury|smail|zmailer|haraka|sendgrid"
    r"|amazonses|amazonaws|mailgun|ecelerity|hmailserver|mailenable|sun java system messaging|netscape messaging"
    r"|pmdf|mailman|ntmail|sun internet mail|groupwise|imail|intermail|mirapoint|ironport|sophos)\b")
_OTHER_FAMILY_NAMES = {"lotus": "domino", "amazonses": "ses", "amazonaws": "ses", "sun java system messaging": "sun",
                       "netscape messaging": "sun", "sun internet mail": "sun"}
_DOVECOT_ID = re.compile(r"[A-Za-z0-9+/]{22}\Z")
# Sendmail stamps its version pair, "(8.15.2/8.15.2)", "(8.12.5/8.12.5/Submit)", "(SMI-8.6/SMI-SVR4)"
_SENDMAIL_VERSION = re.compile(r"(?:^|[\s(.-])[5-8]\.\d{1,2}(?:\.\d{1,2})?[\w.+-]*/[\w.+-]+")
# Gmail's internal queue ids: "x6mr1048328rvi.40.1242899443462", "v18cs7665fao", "n11so944457vch.33"
_GMAIL_ID = re.compile(r"[a-z]{1,3}\d{1,4}(?:mr|csp|cs|si|so|sor|ls)\d{3,}[a-z]{2,4}(?:\.|\Z)")


def parse_received(value: str, n: int = 0) -> Hop:
    """Read one Received header value (unfolded or not) into a :class:`Hop` numbered ``n``; never raises.

    >>> hop = parse_received("from EXCH01.example.org (2001:db8::5) by EXCH02.example.org (2001:db8::6) "
    ...     "with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) "
    ...     "id 15.20.8182.16 via Frontend Transport; Mon, 2 Mar 2026 09:00:05 +0000")
    >>> hop.from_name, hop.ip, hop.by_ip, hop.with_, hop.id, hop.via, hop.tls, hop.mta
    ('exch01.example.org', '2001:db8::5', '2001:db8::6', 'MICROSOFT SMTP SERVER', '15.20.8182.16', 'Frontend Transport', 'TLS1_2', 'exchange')
    >>> parse_received("(qmail 4711 invoked by uid 1000); 2 Mar 2026 09:00:05 -0000").from_name is None
    True
    """
    try:
        return _parse(value, n)
    except Exception as err:  # the analyzer never raises; say what happened instead  # noqa: BLE001
        raw = " ".join(str(value).split()) if isinstance(value, str) else repr(value)
        return Hop(n=n, raw=raw, problems=[f"could not read this header ({type(err).__name__}: {err})"])


def _parse(value: str, n: int, classic: bool = True) -> Hop:
    """The reader behind :func:`parse_received`, step by step; ``classic=False`` skips the fast paths.

    Each step reads one part of the header into ``hop`` and appends what it cannot read to
    ``hop.problems``, in the order the steps run.

    >>> _parse("from a.example.org (a.example.org [192.0.2.1]) by b.example.org; 2 Mar 2026 09:00:05 +0000",
    ...        1, classic=False).to_dict() == _parse("from a.example.org (a.example.org [192.0.2.1]) by b.example.org; "
    ...                                              "2 Mar 2026 09:00:05 +0000", 1).to_dict()
    True
    """
    raw = " ".join(value.split())  # unfold: line breaks and runs of white space become one space
    if classic and (raw[:5] == "from " or raw[:1] == "(") and _MARK not in raw:
        hop = _classic(raw, n)
        if hop is not None:
            return _finish(hop)
    hop = Hop(n=n, raw=raw)
    text, comments, unclosed = _strip_comments(raw, hop.problems)
    segments = text.split(";")
    date_seg, date_exact = _read_date(hop, segments, comments, unclosed)
    clauses, lead = _find_clauses(segments, date_seg, date_exact, hop.problems)
    info, from_marks = _read_from(hop, clauses.get("from"), comments)
    _read_by(hop, clauses.get("by"), comments)
    _read_with_and_via(hop, clauses)
    _read_id_and_for(hop, clauses)
    signature = _read_other_comments(hop, comments, from_marks, clauses)
    _check_leftovers(hop, lead, clauses)
    hop.mta = _family(hop, signature, from_marks, comments)
    _name_helo_and_rdns(hop, clauses.get("from"), info)
    return _finish(hop)


# --- Step 1: set the comments aside -------------------------------------------------------------

#: Longer Received headers are read only this far (real ones stay well under 2,000 characters);
#: the bound keeps every step linear and fast on hostile input. ``raw`` keeps the whole text.
MAX_READ = 8192

_FLAT_COMMENT = re.compile(r"\(([^()\\]*)\)")
_PARENS = re.compile(r"\\.|[()]")


def _strip_comments(raw: str, problems: list[str]) -> tuple[str, list[str], bool]:
    """Step 1: the unfolded header with each top-level comment replaced by a marker word.

    Returns ``(text, comments, unclosed)``: ``text`` holds ``"\\x00<k>"`` where comment ``k`` stood,
    ``unclosed`` tells that the last comment is never closed (it swallowed the rest of the header).
    A header wrapped whole in brackets is unwrapped, and only the first :data:`MAX_READ` characters are read.

    >>> _strip_comments("from a (x [192.0.2.1]) by b (Postfix); date", [])
    ('from a  \\x000  by b  \\x001 ; date', ['x [192.0.2.1]', 'Postfix'], False)
    """
    work = raw
    if work[:1] == "[" and work[-1:] == "]" and (work[1:6].lower() == "from " or work[1:4].lower() == "by "):
        work = work[1:-1]  # a whole header in brackets, as a few gateways quote the original
        problems.append("the whole header is wrapped in brackets")
    if len(work) > MAX_READ:
        work = work[:MAX_READ]
        problems.append(f"the header is {len(raw)} characters long; only the first {MAX_READ} were read")
    text, comments, comment_problems = _split_comments(work.replace(_MARK, " ") if _MARK in work else work)
    problems.extend(comment_problems)
    return text, comments, "never closed" in " ".join(comment_problems)


def _split_comments(value: str) -> tuple[str, list[str], list[str]]:
    """Replace each top-level comment by a marker word; return (text, comments, problems)."""
    if "(" not in value and ")" not in value:
        return value, [], []
    if "\\" not in value:
        flat = _split_flat_comments(value)
        if flat is not None:
            return flat[0], flat[1], []
    return _split_nested_comments(value)


def _split_flat_comments(value: str) -> tuple[str, list[str]] | None:
    """The fast path for a header without nested comments or escaped parentheses (almost every real
    header): ``(text, comments)``, or None when a parenthesis is left over."""
    flat: list[str] = []

    def mark(m: re.Match[str]) -> str:
        flat.append(m.group(1))
        return f" {_MARK}{len(flat) - 1} "

    text = _FLAT_COMMENT.sub(mark, value)
    if "(" not in text and ")" not in text:
        return text, flat
    return None


def _split_nested_comments(value: str) -> tuple[str, list[str], list[str]]:
    """The general path: one scan over the parentheses, counting the depth, honouring ``\\(``."""
    out: list[str] = []
    comments: list[str] = []
    problems: list[str] = []
    depth = 0
    last = 0
    start = 0
    for m in _PARENS.finditer(value):
        ch = m.group()
        if ch == "(":
            if depth == 0:
                out.append(value[last:m.start()])
                start = m.end()
            depth += 1
        elif ch == ")":
            if depth == 0:
                if not problems:
                    problems.append("a ')' closes no comment")
                out.append(value[last:m.start()] + " ")
                last = m.end()
                continue
            depth -= 1
            if depth == 0:
                out.append(f" {_MARK}{len(comments)} ")
                comments.append(value[start:m.start()])
                last = m.end()
    if depth:
        problems.append("a comment '(' is never closed")
        out.append(f" {_MARK}{len(comments)} ")
        comments.append(value[start:])
    else:
        out.append(value[last:])
    return "".join(out), comments, problems


# --- Step 2: find the date ------------------------------------------------------------------------

# The common RFC 5322 date, read without the general tokenizer (most headers take this path).
_FAST_DATE = re.compile(
    r"\s*(?:([A-Za-z]{3}),?\s+)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d\d):(\d\d)\s+([+-])(\d\d)(\d\d)"
    r"(?:\s+\([A-Za-z]{1,5}\)|\s+\x00\d{1,3})?\s*\Z"
)
# the same with a zone name instead of an offset ("... 20:11:32 GMT"), nothing after it but a comment
_FAST_DATE_NAMED = re.compile(
    r"\s*(?:([A-Za-z]{3}),?\s+)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d\d):(\d\d)\s+([A-Z]{1,5})"
    r"(?:\s+\([A-Za-z]{1,5}\)|\s+\x00\d{1,3})?\s*\Z"
)
_FAST_DATE_PREFIX = re.compile(
    r"\s*(?:([A-Za-z]{3}),?\s+)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d\d):(\d\d)\s+([+-])(\d\d)(\d\d)(?=\s|\Z)"
)
_AM_PM = re.compile(r"\b[AaPp][Mm]\b")
_ZONES: dict[str, timezone] = {}
_MONTH_ANY_CASE = {v: n for m, n in MONTHS.items() for v in (m, m.title(), m.upper())}
_WEEKDAY_ANY_CASE = {v: n for d, n in WEEKDAYS.items() for v in (d, d.title(), d.upper())}


def _read_date(hop: Hop, segments: list[str], comments: list[str], unclosed: bool) -> tuple[int, bool]:
    """Step 2: the date into ``hop.date``; returns ``(date segment, exact)``.

    The date is the first segment after a top-level ``;`` that reads as one (segment ``-1`` when it is
    elsewhere or absent); ``exact`` tells that this segment holds nothing but the date. A date found
    in the text before any ``;`` is cut off ``segments[0]``.
    """
    date_seg, date_exact, when, date_problems = _date_after_semicolon(segments, comments)
    if when is not None:
        hop.date = when
    elif hop.raw:
        date_problems = _date_elsewhere(hop, segments, comments, unclosed, date_problems)
    if date_problems:
        hop.problems.extend(date_problems)
    return date_seg, date_exact


def _date_after_semicolon(segments: list[str],
                          comments: list[str]) -> tuple[int, bool, datetime | None, list[str]]:
    """``(segment, exact, date, problems)`` of the first segment after a ``;`` that reads as a date;
    ``(-1, False, None, problems of the last one tried)`` when none does."""
    date_problems: list[str] = []
    for k in range(1, len(segments)):
        seg = segments[k]
        if not seg or seg.isspace():
            continue
        when, dprob = fast_date(seg)
        exact = when is not None and not dprob and _FAST_DATE.match(seg) is not None
        if when is None and _MARK in seg:
            when, dprob = parse_date(_restore(seg, comments))
        if when is not None:
            return k, exact, when, dprob
        date_problems = dprob
    return -1, False, None, date_problems


def _date_elsewhere(hop: Hop, segments: list[str], comments: list[str], unclosed: bool,
                    date_problems: list[str]) -> list[str]:
    """No date after a ``;``: look for one in the text, or in the comment that swallowed the rest of the
    header; otherwise say why there is none. Returns the date's problems, still to be added."""
    # SendGrid and a few others forget the ';' before the date: look for one in the text.
    when, dprob, start = find_date(segments[0])
    if when is not None:
        hop.date = when
        segments[0] = segments[0][:start]
        hop.problems.append("no ';' before the date")
        return dprob
    if comments and unclosed:
        # an unclosed comment swallowed the rest of the header, date included
        when, dprob, _ = find_date(comments[-1])
        if when is not None:
            hop.date = when
            return dprob
    if len(segments) > 1:
        hop.problems.append("the date after ';' could not be read" + (f": {date_problems[0]}" if date_problems else ""))
        return []
    hop.problems.append("no date")
    return date_problems


def fast_date(text: str) -> tuple[datetime | None, list[str]]:
    """:func:`mailhops.dates.parse_date` with a fast path for the plain RFC 5322 form.

    >>> fast_date(" Tue, 17 Sep 2002 22:54:27 -0700 (PDT)")[0].isoformat()
    '2002-09-17T22:54:27-07:00'
    """
    m = _FAST_DATE.match(text)
    if m:
        return _date_parts(*m.groups(), text)
    m = _FAST_DATE_NAMED.match(text)
    if m:
        wd, d, mon, y, hh, mi, ss, zone = m.groups()
        hours = ZONE_NAMES.get(zone)
        if hours is not None and zone not in ("AM", "PM"):
            minutes = int(hours * 60)
            return _date_parts(wd, d, mon, y, hh, mi, ss, "-" if minutes < 0 else "+", f"{abs(minutes) // 60:02d}",
                               f"{abs(minutes) % 60:02d}", text)
        return parse_date(text)
    m = _FAST_DATE_PREFIX.match(text)
    if m and not _AM_PM.search(text, m.end()):
        # a plain date followed by comments or words (envelope-from, a FOR clause): the general
        # reader ignores those too, so reading the date here gives the same result, faster
        return _date_parts(*m.groups(), text)
    return parse_date(text)


def _date_parts(wd: str | None, d: str, mon: str, y: str, hh: str, mi: str, ss: str, sign: str, oh: str, om: str,
                text: str) -> tuple[datetime | None, list[str]]:
    """The date from the fields a fast regex matched; the general reader decides anything unusual."""
    month = _MONTH_ANY_CASE.get(mon)
    if month is None or y[0] == "0":  # "0102": a Y2K bug's year 102, which the general reader explains
        return parse_date(text)
    key = sign + oh + om
    tz = _ZONES.get(key)
    if tz is None:
        if int(oh) > 14 or int(om) > 59:
            return parse_date(text)
        minutes = int(oh) * 60 + int(om)
        tz = _ZONES[key] = timezone.utc if minutes == 0 else timezone(timedelta(minutes=-minutes if sign == "-" else minutes))
    try:
        when = datetime(int(y), month, int(d), int(hh), int(mi), min(int(ss), 59), tzinfo=tz)
    except ValueError:
        return parse_date(text)
    if wd is not None:
        day = _WEEKDAY_ANY_CASE.get(wd)
        if day is not None and day != when.weekday():
            return when, ["the weekday does not match the date"]
    return when, []


# --- Step 3: cut the text into clauses ------------------------------------------------------------

_CLAUSE_SPLIT = re.compile(r"(?:^|(?<=\s))(from|by|via|with|id|for)(?=\s|$)", re.IGNORECASE)
_CLAUSE_LOW = re.compile(r" (?=[fbvwi])(from|by|via|with|id|for)(?= )")


def _find_clauses(segments: list[str], date_seg: int, date_exact: bool,
                  problems: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Step 3: the words of each clause, outside comments, keyed by the lower-case keyword; and the words
    before the first clause.

    The first FROM, BY, WITH... wins; ID and FOR keep one word each. A segment holding nothing but the
    date is skipped.

    >>> _find_clauses(["from a by b id X1 extra ", " 2 Mar 2026 09:00:05 +0000"], 1, True, [])
    ({'from': ['a'], 'by': ['b'], 'id': ['X1']}, [])
    """
    clauses: dict[str, list[str]] = {}
    lead: list[str] = []  # words before the first clause
    for k, seg in enumerate(segments):
        if k == date_seg and date_exact:
            continue
        parts = _split_clauses(seg)
        if k == 0:
            lead.extend(parts[0].split())
        for i in range(1, len(parts), 2):
            key = parts[i]
            words = parts[i + 1].split()
            if key in clauses:
                if key == "from" or key == "by":
                    problems.append(f"a second {key.upper()} clause was ignored")
                continue
            if key == "id" or key == "for":
                words = words[:1]  # one word each: what follows is not read
            clauses[key] = words
    return clauses, lead


def _split_clauses(seg: str) -> list[str]:
    """``[lead, key1, text1, key2, text2, ...]`` like ``re.split`` with the keyword group, keys lower-case."""
    padded = f" {seg} "
    low = padded.lower()
    if len(low) != len(padded):  # a few non-ASCII letters change length when lower-cased
        parts = _CLAUSE_SPLIT.split(seg)
        return [p.lower() if i % 2 else p for i, p in enumerate(parts)]
    parts: list[str] = []
    last = 0
    for m in _CLAUSE_LOW.finditer(low):
        parts.append(padded[last:m.start()])
        parts.append(m.group(1))
        last = m.end()
    parts.append(padded[last:])
    return parts


# --- Step 4: the FROM clause ----------------------------------------------------------------------

_SIMPLE_TCP = re.compile(r"([^\s\[\]()@]+) \[(\d{1,3}(?:\.\d{1,3}){3})\]\Z")


class _TcpInfo:
    """What the comments of the FROM clause tell about the connection."""

    __slots__ = ("ip_bracket", "ip_bare", "rdns", "helo", "first_name", "auth", "tls", "envelope_from", "ident")

    def __init__(self) -> None:
        self.ip_bracket: str | None = None  # the first "[ip]"
        self.ip_bare: str | None = None  # the first address without brackets (qmail, Exchange)
        self.rdns: str | None = None  # the name before the "[ip]"
        self.helo: str | None = None  # "helo=name" (Exim) or "HELO name" (qmail)
        self.first_name: str | None = None  # the first host name seen, for a FROM clause without one
        self.auth: str | None = None
        self.tls: str | None = None
        self.envelope_from: str | None = None
        self.ident: bool = False  # "ident=..." (Exim with RFC 1413 look-ups)


def _read_from(hop: Hop, from_words: list[str] | None, comments: list[str]) -> tuple[_TcpInfo, set[str]]:
    """Step 4: the sending host (name, IP, rDNS) and the TLS, authentication and envelope sender its
    comments carry. Returns what the comments told, and the marker words of those comments (they are
    not part of the software signature).

    >>> hop = Hop(n=1)
    >>> info, marks = _read_from(hop, ["a.example.org", "\\x000"], ["a.example.org [192.0.2.1]"])
    >>> hop.from_name, hop.ip, hop.rdns, sorted(marks)
    ('a.example.org', '192.0.2.1', 'a.example.org', ['\\x000'])
    """
    info = _TcpInfo()
    marks: set[str] = set()
    if not from_words:
        if from_words is not None:
            hop.problems.append("FROM clause is empty")
        return info, marks
    first, rest = from_words[0], from_words[1:]
    if first[0] == _MARK:
        first, rest = "", from_words
    extra_ip = None
    for w in rest:
        if w[0] == _MARK:
            marks.add(w)
            c = _comment(w, comments)
            m = _SIMPLE_TCP.match(c)
            if m and info.ip_bracket is None and m.group(1) != "HELO":  # "(rdns [ip])", the usual case, read
                # without the word loop; qmail's "(HELO [192.0.2.9])" is a HELO argument, not a host and its IP
                info.ip_bracket = m.group(2)
                info.rdns = m.group(1).rstrip(".").lower()
                if info.first_name is None:
                    info.first_name = info.rdns
            else:
                _read_from_comment(c, info)
        elif extra_ip is None:
            extra_ip = _ip_of(w)
    hop.from_name, first_ip = _from_host(first, info)
    hop.ip = info.ip_bracket or info.ip_bare or extra_ip or first_ip
    hop.rdns = info.rdns if info.rdns not in _NO_RDNS else None
    hop.auth = info.auth
    hop.tls = info.tls
    hop.envelope_from = info.envelope_from
    return info, marks


def _from_host(first: str, info: _TcpInfo) -> tuple[str | None, str | None]:
    """``(name, ip)`` from the first word of the FROM clause: a host name, ``name[ip]``, an address
    literal or a sender address (no host); without a name, the first one the comments gave."""
    if not first:
        return info.first_name, None
    if first[0] == "[":
        return info.first_name, _ip_of(first)
    if "@" in first:  # a sender address, not a host
        return None, _ip_of(first) if "[" in first else None
    name, _, tail = first.partition("[")
    if tail:
        return _clean_name(name), _ip_of("[" + tail)
    return _clean_name(name), _ip_of(name) if name[:1].isdigit() or ":" in name else None


def _read_from_comment(text: str, info: _TcpInfo) -> None:
    """Read one comment of the FROM clause: TCP info, HELO, authentication, TLS."""
    if not _read_session_comment(text, info):
        _read_tcp_words(text.split(), info)


def _read_session_comment(text: str, info: _TcpInfo) -> bool:
    """A comment about the session rather than the connection (TLS, authentication, envelope sender,
    a warning): read it and return True; False for anything else."""
    low = text.lower()
    stripped = text.strip()
    if low.startswith("using ") or low.startswith("version=") or "cipher" in low:
        m = _TLS.search(text)
        if m and info.tls is None:
            info.tls = m.group(1)
        return True
    if low.startswith("authenticated sender:"):
        info.auth = stripped.split(":", 1)[1].strip() or "yes"
        return True
    if low.startswith("authenticated") or low.startswith("auth:"):
        info.auth = info.auth or stripped
        return True
    if "authenticated user" in low:  # SquirrelMail: (SquirrelMail authenticated user jm)
        info.auth = stripped.rsplit(" ", 1)[-1]
        return True
    if low.startswith("envelope-sender") or low.startswith("envelope-from"):
        parts = stripped.split(None, 1)
        if len(parts) == 2 and info.envelope_from is None:
            info.envelope_from = _path(parts[1])
        return True
    return low in ("may be forged", "no client certificate requested") or low.startswith("client certificate")


def _read_tcp_words(words: list[str], info: _TcpInfo) -> None:
    """The words of a TCP-information comment: ``name [ip]``, ``[ip]:port``, ``helo=name``, ``HELO name``,
    a bare IP address, ``port=``/``ident=``/``proto=`` settings."""
    prev_name: str | None = None
    i = 0
    while i < len(words):
        w = words[i]
        lw = w.lower()
        if lw.startswith("helo="):
            val = w[5:]
            if info.helo is None:
                info.helo = _clean_name(val) if not val.startswith("[") else val
            if info.first_name is None and not val.startswith("[") and val:
                info.first_name = _clean_name(val)
        elif lw == "helo" and i + 1 < len(words):  # qmail: (HELO name)
            val = words[i + 1]
            if info.helo is None:
                info.helo = _clean_name(val) if not val.startswith("[") else val
            if info.first_name is None and not val.startswith("["):
                info.first_name = _clean_name(val)
            i += 2
            continue
        elif lw.startswith(("port=", "ident=", "proto=")):
            if lw.startswith("ident="):
                info.ident = True
        elif "[" in w:
            # "name [ip]", "[ip]", "[ip]:port", "user@name [ip]", "user@[ip]", "name[ip]"
            head, _, tail = w.partition("[")
            ip = _ip_of("[" + tail)
            if ip is not None:
                if head and head != "@" and not head.endswith("@"):
                    prev_name = head
                if info.ip_bracket is None:
                    info.ip_bracket = ip
                    if prev_name is not None:
                        name = prev_name.rpartition("@")[2].rpartition(":")[2]
                        info.rdns = _clean_name(name)
                        if info.first_name is None and info.rdns:
                            info.first_name = info.rdns
            prev_name = None
        else:
            ip = _ip_of(w)
            if ip is not None:
                if info.ip_bare is None:
                    info.ip_bare = ip
            elif lw not in ("may", "be", "forged"):
                prev_name = w
        i += 1


# --- Steps 5 to 7: the BY, WITH/VIA, ID and FOR clauses -------------------------------------------

def _read_by(hop: Hop, by_words: list[str] | None, comments: list[str]) -> None:
    """Step 5: the receiving host's name and, from the name or its first comment, its IP address.

    >>> hop = Hop(n=1)
    >>> _read_by(hop, ["mx.example.net", "\\x000"], ["192.0.2.25"])
    >>> hop.by_name, hop.by_ip
    ('mx.example.net', '192.0.2.25')
    """
    if not by_words:
        if by_words is not None:
            hop.problems.append("BY clause is empty")
        return
    first = by_words[0]
    if first[0] == _MARK:
        hop.problems.append("BY clause has no host name")
    elif first[0] == "[":
        hop.by_ip = _ip_of(first)
    else:
        name, _, tail = first.partition("[")
        hop.by_name = _clean_name(name)
        if tail:
            hop.by_ip = _ip_of("[" + tail)
    if hop.by_ip is None:
        for w in by_words[1:]:
            if w[0] == _MARK:
                c = _comment(w, comments)
                if c[:1].isdigit() or "[" in c or c.count(":") >= 2:
                    for cw in c.split():
                        ip = _ip_of(cw)
                        if ip:
                            hop.by_ip = ip
                            break
                break


def _read_with_and_via(hop: Hop, clauses: dict[str, list[str]]) -> None:
    """Step 6: the protocol (WITH, upper-cased) and the link (VIA).

    >>> hop = Hop(n=1)
    >>> _read_with_and_via(hop, {"with": ["Microsoft", "SMTP", "Server", "\\x000"], "via": ["Frontend", "Transport"]})
    >>> hop.with_, hop.via
    ('MICROSOFT SMTP SERVER', 'Frontend Transport')
    """
    for key in ("with", "via"):
        words = clauses.get(key)
        if words is None:
            continue
        taken = _protocol_words(words)
        if not taken:
            hop.problems.append(f"{key.upper()} clause is empty")
        elif key == "with":
            hop.with_ = " ".join(taken).upper()
        else:
            hop.via = " ".join(taken)


def _protocol_words(words: list[str]) -> list[str]:
    """The words up to the first comment or the next clause: one protocol word, or a few plain words
    ("Microsoft SMTP Server", "Frontend Transport"); version strings and the like ("v3.21", "$Revision:")
    end it."""
    taken: list[str] = []
    for w in words:
        if w[0] == _MARK:
            if taken:
                break
            continue
        if taken and (len(taken) >= 4 or not w.isalpha() or "." in taken[0]):
            break
        taken.append(w)
    return taken


def _read_id_and_for(hop: Hop, clauses: dict[str, list[str]]) -> None:
    """Step 7: the queue id and the recipient (FOR carries exactly one path), one word each.

    >>> hop = Hop(n=1)
    >>> _read_id_and_for(hop, {"id": ["4ABC123;"], "for": ["<bob@example.net>"]})
    >>> hop.id, hop.for_
    ('4ABC123', 'bob@example.net')
    """
    words = clauses.get("id")
    if words is not None:
        if words and words[0][0] != _MARK:
            hop.id = words[0].rstrip(",;")
        else:
            hop.problems.append("ID clause is empty")
    words = clauses.get("for")
    if words is not None:
        if words and words[0][0] != _MARK:
            hop.for_ = words[0].rstrip(",;").strip("<>") or None
        else:
            hop.problems.append("FOR clause is empty")


# --- Step 8: the other comments, and what is left over --------------------------------------------

def _read_other_comments(hop: Hop, comments: list[str], from_marks: set[str],
                         clauses: dict[str, list[str]]) -> str:
    """Step 8: every comment outside the FROM clause, for the envelope sender and TLS; returns the
    *signature*, the lower-cased text (those comments and the BY, WITH and VIA words) that names the
    MTA family.

    >>> hop = Hop(n=1)
    >>> _read_other_comments(hop, ["Postfix", "using TLSv1.3"], set(), {"by": ["mx.example.net"]})
    'postfix using tlsv1.3 mx.example.net'
    >>> hop.tls
    'TLSv1.3'
    """
    signature_parts: list[str] = []
    skip = {int(w[1:]) for w in from_marks if w[1:].isdigit()}
    for i, c in enumerate(comments):
        if i in skip:
            continue
        signature_parts.append(c)
        lc = c.lower()
        if lc.startswith(("envelope-from", "envelope-sender")):
            if hop.envelope_from is None and " " in c.strip():
                hop.envelope_from = _path(c.split(None, 1)[1])
        elif hop.tls is None and (lc.startswith(("tls", "ssl", "using ", "version=")) or "cipher" in lc):
            m = _TLS.search(c)
            if m:
                hop.tls = m.group(1)
    for key in ("by", "with", "via"):
        words = clauses.get(key)
        if words:
            signature_parts.extend(w for w in words if w[0] != _MARK)
    return " ".join(signature_parts).lower()


def _check_leftovers(hop: Hop, lead: list[str], clauses: dict[str, list[str]]) -> None:
    """Step 9: a problem for text before the first clause, and for a header with neither clauses nor date."""
    if lead:
        words_lead = [w for w in lead if w[0] != _MARK]
        if words_lead:
            hop.problems.append(f"unexpected text before the first clause: {' '.join(words_lead)[:60]!r}")
    if not clauses and hop.date is None:
        hop.problems.append("no FROM, BY or date found")


# --- Step 10: the MTA family, and which name is the HELO and which the reverse DNS ----------------

def _family(hop: Hop, signature: str, from_marks: set[str], comments: list[str]) -> str | None:
    """Step 10: the MTA family from the signature (:func:`mta_family`); failing that, from how the FROM
    comments spell the HELO name: qmail writes ``(HELO name)`` in upper case, Exim ``helo=name``."""
    family = mta_family(signature, hop.by_name, hop.with_, hop.via)
    if family is None and from_marks:
        from_comments = " ".join(_comment(w, comments) for w in from_marks)
        if "HELO " in from_comments:
            return "qmail"
        if "helo=" in from_comments:
            return "exim"
    return family


def _name_helo_and_rdns(hop: Hop, from_words: list[str] | None, info: _TcpInfo) -> None:
    """Step 11: which name of the FROM clause is the HELO argument and which the reverse DNS name:
    it depends on the family.

    >>> hop = Hop(n=1, from_name="mail.example.org", mta="exim")
    >>> info = _TcpInfo(); info.ip_bracket = "192.0.2.9"; info.helo = "laptop"
    >>> _name_helo_and_rdns(hop, ["mail.example.org", "\\x000"], info)
    >>> hop.rdns, hop.helo
    ('mail.example.org', 'laptop')
    """
    if from_words and hop.from_name and from_words[0][0] not in ("[", _MARK) and "@" not in from_words[0]:
        name = hop.from_name
        if hop.mta == "exim" or (info.helo is None and info.ident):
            # Exim: "from <rdns> ([ip] helo=<helo>)"; no helo= means the HELO name equalled the rDNS name
            if info.ip_bracket is not None or info.ip_bare is not None:
                hop.rdns = name
            hop.helo = info.helo or name
        elif info.helo is not None or hop.mta == "qmail":
            # qmail and its kin: "from <rdns> (HELO <helo>) (<ip>)"; no HELO part means they were equal
            hop.rdns = name if name not in _NO_RDNS else None
            hop.helo = info.helo or name
        else:
            # Postfix, Sendmail, Gmail, Exchange...: "from <helo> (<rdns> [<ip>])"
            hop.helo = name
    elif info.helo is not None:
        hop.helo = info.helo
    elif from_words and from_words[0][0] == "[" and (info.ip_bracket or info.ip_bare) and hop.mta not in ("exim", "qmail"):
        hop.helo = from_words[0]  # "from [192.0.2.9] (rdns [ip])": the literal was the HELO argument


@functools.lru_cache(maxsize=4096)  # the same servers write the same software comments, message after message
def mta_family(signature: str, by_name: str | None, with_: str | None, via: str | None) -> str | None:
    """The MTA family that wrote a Received header, from its software comments and names.

    ``signature`` is the lower-cased text of the header outside the FROM clause's comments.

    >>> mta_family("by mx.example.org (8.12.5/8.12.5) with esmtp id g7gd0an4037116", "mx.example.org", "ESMTP", None)
    'sendmail'
    """
    s = signature
    if "postfix" in s:
        return "postfix"
    if "exim" in s:
        return "exim"
    if "amavis" in s:
        return "amavis"
    if "fetchmail" in s:
        return "fetchmail"
    if "getmail" in s:
        return "getmail"
    if "qmail-scanner" in s or "mimedefang" in s or "mailscanner" in s or "spamd" in s:
        return "filter"
    if "qmail" in s or _QP.search(s):
        return "qmail"
    bn = by_name or ""
    w = (with_ or "").lower()
    http = w.startswith("http") or (via or "").lower().startswith("http") or "squirrelmail" in s
    if http and not (bn.endswith((".outlook.com", ".office365.com", "hotmail.com")) or "yahoo" in bn):
        return "webmail"  # the hop from a browser: HTTP, unless a big provider's own servers say who they are
    if ("microsoft" in s or w == "mapi" or "internet mail service" in s or "outlook.com" in bn
            or "outlook.office365.com" in bn or "hotmail" in bn or "exchange" in s):
        return "exchange"
    if bn.endswith("google.com") or bn.endswith("googlemail.com") or "gmail" in bn:
        return "gmail"
    if "yahoo" in bn:
        return "yahoo"
    if "sendmail" in s or "/submit" in s or _SENDMAIL_VERSION.search(s):
        return "sendmail"
    m = _OTHER_FAMILIES.search(s)
    if m:
        return _OTHER_FAMILY_NAMES.get(m.group(1), m.group(1))
    return None


def _finish(hop: Hop) -> Hop:
    """Family hints that only the queue id gives (shared by the fast paths and the general parser)."""
    if hop.mta is None and hop.id:
        if hop.with_ == "LMTP" and _DOVECOT_ID.match(hop.id):
            hop.mta = "dovecot"  # Dovecot's LMTP session id: a GUID in 22 base64 characters
        elif _GMAIL_ID.match(hop.id):
            hop.mta = "gmail"
    return hop


# --- The fast paths -------------------------------------------------------------------------------
# The most common shapes, each read by one regex with no ambiguous repetition. The general parser
# above gives the same result (a test checks it on every header of the development corpus); these
# paths only save time, and give up (None) on anything they do not read exactly as it would.

_DATE_BODY = (r"(?P<date>(?:(?P<wd>[A-Za-z]{3}), )?(?P<d>\d{1,2}) (?P<mon>[A-Za-z]{3}) (?P<y>\d{4}) "
              r"(?P<hh>\d{1,2}):(?P<mi>\d\d):(?P<ss>\d\d) (?:(?P<sign>[+-])(?P<oh>\d\d)(?P<om>\d\d)|(?P<zn>[A-Z]{1,5}))"
              r"(?: \([A-Za-z]{1,5}\))?)")
_DATE_RE = _DATE_BODY + r"\Z"


def _date_of(m: re.Match[str]) -> tuple[datetime | None, list[str]]:
    """The date captured by :data:`_DATE_RE` (same result as :func:`fast_date` on its text)."""
    zn = m.group("zn")
    if zn is not None:  # a zone name: the general reader decides, exactly as for the general parser
        return parse_date(m.group("date"))
    return _date_parts(*m.group("wd", "d", "mon", "y", "hh", "mi", "ss", "sign", "oh", "om", "date"))


# The classic shape (Postfix, Sendmail and their kin, most of real mail).
_CLASSIC = re.compile(
    r"(?:from (?:(?P<from>[A-Za-z0-9][A-Za-z0-9_.-]*)"
    r"(?: \((?:(?:[^\s()\[\]@]+@)?(?:(?P<rdns>[A-Za-z0-9][A-Za-z0-9_.-]*) )?\[(?P<ip>\d{1,3}(?:\.\d{1,3}){3})\]"
    r"(?: \(may be forged\))?|(?P<ip2>\d{1,3}(?:\.\d{1,3}){3}))\))?"
    r"(?P<fromx>(?: \((?:using |No client certificate requested|[Aa]uthenticated)(?:[^()\\]|\([^()\\]*\))*\)){0,3})"
    r"|\[(?P<lit>\d{1,3}(?:\.\d{1,3}){3})\]) "
    r"|\((?P<lead>[^()\[\]]*)\) )?"
    r"by (?P<by>[A-Za-z0-9][A-Za-z0-9_.-]*)(?: \((?P<soft>[^()\[\]]*)\))?"
    r"(?: with (?P<with>[A-Za-z0-9]+)(?: \((?P<wsoft>[^()\[\]]*)\))?)?"
    r"(?: id (?P<id>[A-Za-z0-9._-]+)(?: \((?P<idsoft>version=[^()\[\]]*)\))?)?"
    r"(?: for (?P<for><[^\s<>();]*>|[^\s<>();]+))?"
    r"; " + _DATE_BODY + r"(?: \((?P<tail>[^()\[\]]*)\))?\Z"
)


def _classic(raw: str, n: int) -> Hop | None:
    """The classic shape, else the other fast paths; None when the general parser must read the header."""
    m = _CLASSIC.match(raw)
    if m is None:
        if "(fetchmail-" in raw:
            return _pull(raw, n)
        return _other_fast(raw, n)
    soft, wsoft, lead, tail, from_, rdns_, ip, ip2, lit, by, w, id_, f, date_text, fromx, idsoft = m.group(
        "soft", "wsoft", "lead", "tail", "from", "rdns", "ip", "ip2", "lit", "by", "with", "id", "for", "date", "fromx",
        "idsoft")
    envelope_from = None
    if tail is not None and tail.lower().startswith(("envelope-from", "envelope-sender")):
        envelope_from = _path(tail.split(None, 1)[1]) if " " in tail.strip() else None
        tail_checked = None
    else:
        tail_checked = tail
    if _has_rare_comment(soft, wsoft, lead, tail_checked):
        return None
    when, problems = _date_of(m)
    if when is None:
        return None
    name = from_.rstrip(".").lower() or None if from_ else None
    rdns = rdns_.rstrip(".").lower() or None if rdns_ else None
    by_name = by.rstrip(".").lower() or None
    tcp_ip = ip or ip2
    if tcp_ip is None and name is not None and (name[:1].isdigit() or ":" in name):
        tcp_ip = _ip_of(name)  # "from 192.0.2.1 by ...": the name is the address
    hop = Hop(n=n, raw=raw, date=when, problems=problems, from_name=name, ip=tcp_ip or lit, by_name=by_name,
              with_=w.upper() if w else None, id=id_, for_=(f.strip("<>") or None) if f is not None else None,
              envelope_from=envelope_from)
    _classic_comments(hop, fromx, idsoft, soft)
    zone = date_text[date_text.index("(") + 1:-1] if date_text.endswith(")") else ""
    hop.mta = mta_family(f"{lead or ''} {soft or ''} {wsoft or ''} {idsoft or ''} {zone} {tail or ''} {by} {w or ''}".lower()
                         + " " + (by_name or ""),
                         by_name, hop.with_, None)
    if name is not None:
        _classic_helo_and_rdns(hop, name, rdns, bool(ip or ip2))
    return hop


def _has_rare_comment(*comments: str | None) -> bool:
    """A software comment the classic path does not read (envelope sender, TLS, HELO): let the general
    parser read the header."""
    for c in comments:
        if c is not None:
            low = c.lower()
            if low.startswith(("envelope-", "tls", "ssl", "using ", "version=")) or "cipher" in low or "helo" in low:
                return True
    return False


def _classic_comments(hop: Hop, fromx: str | None, idsoft: str | None, soft: str | None) -> None:
    """TLS and authentication from the FROM clause's extra comments (read as the general parser reads
    them), TLS from the comment after the id, the receiving host's IP from its software comment."""
    if fromx:
        info = _TcpInfo()
        for c in _split_comments(fromx)[1]:
            _read_from_comment(c, info)
        hop.tls = info.tls
        hop.auth = info.auth
    if idsoft is not None and hop.tls is None:
        t = _TLS.search(idsoft)
        if t:
            hop.tls = t.group(1)
    if soft is not None and (soft[:1].isdigit() or soft.count(":") >= 2):
        for word in soft.split():
            ip = _ip_of(word)
            if ip:
                hop.by_ip = ip
                break


def _classic_helo_and_rdns(hop: Hop, name: str, rdns: str | None, bracketed_ip: bool) -> None:
    """Which name is the HELO and which the reverse DNS, as :func:`_name_helo_and_rdns` decides."""
    hop.rdns = rdns if rdns not in _NO_RDNS else None
    if hop.mta == "exim":
        if bracketed_ip:
            hop.rdns = name
        hop.helo = name
    elif hop.mta == "qmail":
        hop.rdns = name if name not in _NO_RDNS else None
        hop.helo = name
    else:
        hop.helo = name


# fetchmail's pull hop: "from pop.example.org [192.0.2.1] by localhost with POP3 (fetchmail-6.4.0) for <u@localhost> (single-drop); date"
_PULL = re.compile(
    r"from (?P<from>[A-Za-z0-9][A-Za-z0-9_.-]*) \[(?P<ip>\d{1,3}(?:\.\d{1,3}){3})\] "
    r"by (?P<by>[A-Za-z0-9][A-Za-z0-9_.-]*) with (?P<with>[A-Za-z0-9]+) \((?P<soft>fetchmail-[^()\[\]]*)\) "
    r"for (?P<for><[^\s<>();]*>|[^\s<>();]+) \((?P<mode>[a-z-]{1,20})\)"
    r"; " + _DATE_RE
)


def _pull(raw: str, n: int) -> Hop | None:
    """fetchmail's pull hop."""
    m = _PULL.match(raw)
    if m is None:
        return None
    when, problems = _date_of(m)
    if when is None:
        return None
    name = m.group("from").rstrip(".").lower() or None
    hop = Hop(n=n, raw=raw, date=when, problems=problems, from_name=name, helo=name, ip=m.group("ip"),
              by_name=m.group("by").rstrip(".").lower() or None, with_=m.group("with").upper(),
              for_=m.group("for").strip("<>") or None, mta="fetchmail")
    return hop


_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"

# "(qmail 4711 invoked from network); date" and other comment-only stamps
_COMMENT_ONLY = re.compile(r"\((?P<lead>[^()\[\]]*)\); " + _DATE_RE)
# Exim: "from rdns ([ip]:port helo=name) by host with esmtp (Exim 4.x (Debian)) id X for rcpt; date"
_EXIM = re.compile(
    rf"from (?P<from>{_NAME}) \(\[(?P<ip>\d{{1,3}}(?:\.\d{{1,3}}){{3}})\](?::\d{{1,5}})?(?: helo=(?P<helo>{_NAME}))?\) "
    rf"by (?P<by>{_NAME}) with (?P<with>[A-Za-z0-9-]+) \((?P<soft>Exim (?:[^()]|\([^()]*\))*)\) "
    r"id (?P<id>[A-Za-z0-9._-]+)(?: for (?P<for><[^\s<>();]*>|[^\s<>();]+))?; " + _DATE_RE
)
# qmail and its kin: "from rdns (HELO name) (192.0.2.1) by host with SMTP; date"
_QMAIL = re.compile(
    rf"from (?P<from>{_NAME}) \(HELO (?P<helo>{_NAME})\) \((?P<ip>\d{{1,3}}(?:\.\d{{1,3}}){{3}})\) "
    rf"by (?P<by>{_NAME}) with (?P<with>[A-Za-z0-9-]+); " + _DATE_RE
)


def _other_fast(raw: str, n: int) -> Hop | None:
    """A comment-only stamp, or the common Exim and qmail shapes."""
    if raw[:1] == "(":
        return _comment_only(raw, n)
    if "(Exim " in raw:
        m = _EXIM.match(raw)
    elif "(HELO " in raw:
        m = _QMAIL.match(raw)
    else:
        return None
    if m is None:
        return None
    return _exim_or_qmail(m, raw, n)


def _comment_only(raw: str, n: int) -> Hop | None:
    """``(qmail 4711 invoked from network); date``: a date and a family, no clauses."""
    m = _COMMENT_ONLY.match(raw)
    if m is None:
        return None
    lead = m.group("lead")
    if lead.lower().startswith(("envelope-", "tls", "ssl", "using ", "version=")) or "cipher" in lead.lower():
        return None
    when, problems = _date_of(m)
    if when is None:
        return None
    date_text = m.group("date")
    zone = date_text[date_text.index("(") + 1:-1] if date_text.endswith(")") else ""
    return Hop(n=n, raw=raw, date=when, problems=problems,
               mta=mta_family(f"{lead} {zone}".lower(), None, None, None))


def _exim_or_qmail(m: re.Match[str], raw: str, n: int) -> Hop | None:
    """The hop from a match of :data:`_EXIM` or :data:`_QMAIL`."""
    when, problems = _date_of(m)
    if when is None:
        return None
    groups = m.groupdict()
    name = groups["from"].rstrip(".").lower() or None
    by_name = groups["by"].rstrip(".").lower() or None
    with_ = groups["with"].upper()
    helo = groups["helo"].rstrip(".").lower() or None if groups["helo"] else None
    hop = Hop(n=n, raw=raw, date=when, problems=problems, from_name=name, ip=groups["ip"], by_name=by_name,
              with_=with_)
    if "soft" in groups:  # Exim
        hop.id = groups["id"]
        f = groups["for"]
        if f is not None:
            hop.for_ = f.strip("<>") or None
        hop.mta = mta_family(f"{groups['soft']} {groups['by']} {groups['with']}".lower() + " " + (by_name or ""),
                             by_name, with_, None)
        if hop.mta == "exim":
            hop.rdns = name
            hop.helo = helo or name
        elif helo is not None:
            hop.rdns = name if name not in _NO_RDNS else None
            hop.helo = helo
        else:
            hop.helo = name
        return hop
    hop.mta = mta_family(f"{groups['by']} {groups['with']}".lower() + " " + (by_name or ""), by_name, with_, None) \
        or "qmail"
    if hop.mta == "exim":
        hop.rdns = name
    else:
        hop.rdns = name if name not in _NO_RDNS else None
    hop.helo = helo
    return hop


# --- Two stamps of one hop: qmail-queue's line above qmail-smtpd's ---------------------------------

_QMAIL_FROM_NETWORK = re.compile(r"\(qmail \d+ invoked from network\);")


def merge_companion_stamps(hops: list[Hop]) -> list[Hop]:
    """Hops (oldest first) with qmail-queue's ``(qmail PID invoked from network)`` stamp folded into the hop it
    belongs to: qmail-smtpd writes its Received line and qmail-queue prepends this one above it for the same
    message on the same host, so the two lines are one hop (the one below). Other comment-only stamps (``invoked
    by uid``, ``invoked for bounce``: mail made on the host itself) stay hops of their own. Hops are renumbered.

    >>> hops = [parse_received("from a.example.org (192.0.2.1) by b.example.net with SMTP; 2 Mar 2026 09:00:05 -0000"),
    ...         parse_received("(qmail 4711 invoked from network); 2 Mar 2026 09:00:05 -0000", n=2)]
    >>> [(h.n, h.by_name) for h in merge_companion_stamps(hops)]
    [(1, 'b.example.net')]
    """
    merged: list[Hop] = []
    for hop in hops:
        below = merged[-1] if merged else None
        if (below is not None and hop.from_name is None and hop.by_name is None and below.by_name is not None
                and below.id is None and below.mta in ("qmail", None) and _QMAIL_FROM_NETWORK.match(hop.raw or "")):
            continue
        merged.append(hop)
    for n, hop in enumerate(merged, 1):
        hop.n = n
    return merged


# --- Small readers shared by the steps ------------------------------------------------------------

def _ip_of(token: str) -> str | None:
    """The bare IP address in ``[192.0.2.1]``, ``[IPv6:2001:db8::1]``, ``[192.0.2.1]:25``, ``user@[ip]``."""
    t = token
    if "@" in t:
        t = t.rpartition("@")[2]
    if t.startswith("["):
        end = t.find("]")
        t = t[1:end] if end > 0 else t[1:]
    t = t.strip(".,;:")
    if t[:5].lower() == "ipv6:":
        t = t[5:]
    if _IPV4.match(t):
        return t
    if t.count(":") >= 2 and _IPV6.match(t):
        try:
            ipaddress.ip_address(t)
        except ValueError:
            return None
        return t.lower()
    return None


def _path(text: str) -> str | None:
    """The address in ``<a@example.org>``; ``""`` for the null reverse-path ``<>`` that bounces carry."""
    text = text.strip()
    if text.startswith("<>"):
        return ""
    return text.strip("<> ") or None


def _clean_name(token: str) -> str | None:
    t = token.strip().rstrip(".,;").lower()
    return t or None


def _is_mark(word: str) -> bool:
    return word.startswith(_MARK)


def _comment(mark: str, comments: list[str]) -> str:
    """The comment a marker word stands for."""
    try:
        return comments[int(mark[1:])]
    except (ValueError, IndexError):
        return ""


def _restore(text: str, comments: list[str]) -> str:
    """The text with its marker words turned back into ``(comments)``."""
    return " ".join(f"({_comment(w, comments)})" if _is_mark(w) else w for w in text.split())
