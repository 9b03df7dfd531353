"""Trace headers: the helpers every MTA's Received line is built from, and hop counting.

Each server *prepends* its header lines to the message text (RFC 5321 §4.4: "When forwarding a message
into or out of the Internet environment, a gateway MUST prepend a Received: line"); nobody reorders
or removes them, so the newest Received line is on top and the oldest at the bottom. What each MTA
writes in its Received line is in its own module (:mod:`mailhops.mta.postfix`, ...); :func:`received`
asks the right one by name.

>>> from datetime import datetime, timezone
>>> when = datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)
>>> print(received("postfix", helo="mail.example.org", rdns="mail.example.org", ip="192.0.2.25",
...                by_name="mx.example.net", protocol="ESMTPS", queue_id="4ABC1234D5",
...                rcpt="bob@example.net", date=when))  # doctest: +NORMALIZE_WHITESPACE
Received: from mail.example.org (mail.example.org [192.0.2.25])
	by mx.example.net (Postfix) with ESMTPS id 4ABC1234D5
	for <bob@example.net>; Mon,  2 Mar 2026 09:00:05 +0000 (UTC)
>>> count_hops(b"Received: from a by b; Mon, 2 Mar 2026 09:00:05 +0000\\r\\nVia: x\\r\\nSubject: hi\\r\\n\\r\\nbody")
2
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import functools
import re
import zoneinfo
from datetime import datetime, timedelta, timezone, tzinfo
from email.message import Message

from ..errors import HeaderValueError
from ..topology import Server

#: The header fields the lessons count as hops (RFC 5321 §6.3 trace fields, and the list Sendmail counts).
HOP_FIELDS = ("received", "via", "x400-received", "mail-from")

#: The line break between header fields and before a folded continuation line.
CRLF = "\r\n"


def check_header_value(name: str, value: str) -> str:
    """Return ``value`` unchanged if it can go into a header, else raise :class:`HeaderValueError`.

    >>> check_header_value("Subject", "Hello\\r\\nBcc: everyone@example.org")
    Traceback (most recent call last):
    ...
    mailhops.errors.HeaderValueError: The Subject header value contains a line break (CR or LF), which would let it inject extra header lines.
    """
    if not isinstance(value, str):
        raise HeaderValueError(f"The {name} header value must be text, not {type(value).__name__}.")
    if "\r" in value or "\n" in value:
        raise HeaderValueError(
            f"The {name} header value contains a line break (CR or LF), which would let it inject extra header lines."
        )
    return value


def protocol_word(*, tls: bool, auth: bool, lmtp: bool = False, http: bool = False) -> str:
    """The RFC 3848 protocol word for the WITH clause.

    >>> protocol_word(tls=True, auth=True), protocol_word(tls=False, auth=False), protocol_word(tls=True, auth=False, lmtp=True)
    ('ESMTPSA', 'ESMTP', 'LMTP')
    """
    if http:
        return "HTTP"
    if lmtp:
        return "LMTP"
    return "ESMTP" + ("S" if tls else "") + ("A" if auth else "")


# -- dates --------------------------------------------------------------------------------------


def _pacific() -> tzinfo:
    try:
        return zoneinfo.ZoneInfo("America/Los_Angeles")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # no tz database: Pacific standard time
        return timezone(timedelta(hours=-8), "PST")


#: Gmail writes every date in Pacific time, whichever data centre handles the message.
PACIFIC: tzinfo = _pacific()


def tz_of(server: Server) -> tzinfo:
    """The server's time zone (its clock offset, with the usual abbreviation where there is one);
    Pacific time for a server that imitates Gmail.

    >>> tz_of(Server("mx.example.net", "mx", "198.51.100.25", tz_minutes=60)).tzname(None)
    'CET'
    """
    if server.mta == "gmail":
        return PACIFIC
    return _tz(server.tz_minutes)


@functools.lru_cache(maxsize=64)
def _tz(minutes: int) -> timezone:
    names = {0: "UTC", 60: "CET", 120: "EET", -300: "EST", -480: "PST", 540: "JST", 330: "IST"}
    return timezone(timedelta(minutes=minutes), names.get(minutes))


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(moment: datetime) -> str:
    """``email.utils.format_datetime(moment)``: the same text, without its ``timetuple`` and ``strftime("%z")``
    (every hop writes two or three dates; a hypothesis test compares the two on any datetime).

    >>> format_date(datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone(timedelta(hours=-5))))
    'Mon, 02 Mar 2026 09:00:05 -0500'
    """
    offset = moment.utcoffset()
    if offset is None or offset.microseconds or offset.seconds % 60:  # naive (-0000) or a zone in seconds
        return email.utils.format_datetime(moment)
    return "%s, %02d %s %04d %02d:%02d:%02d %s" % (  # noqa: UP031 - email.utils' own format, faster than an f-string
        _DAYS[moment.weekday()], moment.day, _MONTHS[moment.month - 1], moment.year, moment.hour, moment.minute,
        moment.second, _zone(offset))


@functools.lru_cache(maxsize=64)
def _zone(offset: timedelta) -> str:
    """What ``strftime("%z")`` writes for a whole-minute UTC ``offset``: ``+0100``, ``-0500``."""
    hours, minutes = divmod(abs(offset) // timedelta(minutes=1), 60)
    return f"{'-' if offset < timedelta(0) else '+'}{hours:02d}{minutes:02d}"


def rfc5322_date(moment: datetime, *, zone_comment: bool = False, day: str = "02") -> str:
    """An RFC 5322 date as ``email.utils.format_datetime`` writes it, optionally with Postfix's ``(ZONE)``.

    ``day`` chooses how the day of the month is written: ``"02"`` (Exim, Dovecot, Gmail), ``" 2"``
    (Postfix's ``%e``) or ``"2"`` (Sendmail, Exchange).

    >>> from datetime import datetime, timezone
    >>> rfc5322_date(datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc), zone_comment=True, day=" 2")
    'Mon,  2 Mar 2026 09:00:05 +0000 (UTC)'
    """
    text = format_date(moment)
    if day != "02" and text[5] == "0":
        text = text[:5] + (" " if day == " 2" else "") + text[6:]
    if zone_comment:
        text += f" ({moment.tzname() or 'UTC'})"
    return text


# -- building a Received line -------------------------------------------------------------------


def tcp_info(helo: str | None, rdns: str | None, ip: str, *, unknown: str = "unknown", dot: str = "") -> str:
    """The FROM clause Postfix, Sendmail and Gmail write: the HELO name, then ``(rdns [ip])``.

    >>> tcp_info("[192.168.1.23]", None, "2001:db8::5")
    '[192.168.1.23] (unknown [IPv6:2001:db8::5])'
    """
    rdns_text = (rdns + dot) if rdns else unknown
    literal = f"IPv6:{ip}" if ":" in ip else ip
    return f"{helo or unknown} ({rdns_text} [{literal}])"


def received(
    flavour: str,
    *,
    helo: str | None,
    rdns: str | None,
    ip: str,
    by_name: str,
    protocol: str,
    queue_id: str,
    rcpt: str | None,
    date: datetime,
    envelope_from: str | None = None,
    by_ip: str | None = None,
    tls: bool = False,
    auth_user: str | None = None,
    software: str | None = None,
) -> str:
    """One ``Received:`` header field (name included, folded with CRLF+whitespace as the MTA folds it).

    ``flavour`` is one of :data:`mailhops.mta.FLAVOURS`: ``postfix``, ``exim``, ``sendmail``, ``qmail``,
    ``exchange``, ``gmail``, ``dovecot`` (LMTP delivery) and ``webmail`` (the pseudo-Received of a webmail
    front end). Each writes it with its module's ``received`` function.
    """
    from . import FLAVOURS  # the registry imports the flavour modules, which import this module

    module = FLAVOURS.get(flavour)
    if module is None:
        raise ValueError(f"Unknown Received flavour {flavour!r}.")
    return module.received(
        helo=helo, rdns=rdns, ip=ip, by_name=by_name, protocol=protocol, queue_id=queue_id, rcpt=rcpt, date=date,
        envelope_from=envelope_from, by_ip=by_ip, tls=tls, auth_user=auth_user, software=software,
    )


def prepend(message: bytes, fields: list[str]) -> bytes:
    """Put header fields (each possibly folded) on top of a message, first item topmost.

    >>> prepend(b"Subject: hi\\r\\n\\r\\nbody", ["Received: from a by b; Mon, 2 Mar 2026 09:00:05 +0000"])[:20]
    b'Received: from a by '
    """
    if not fields:
        return message
    return (CRLF.join(fields) + CRLF).encode("utf-8") + message


def append(message: bytes, fields: list[str]) -> bytes:
    """Put header fields at the bottom of the header block (where Exchange writes its organisation headers).

    >>> append(b"Subject: hi\\r\\n\\r\\nbody", ["X-Note: 1"])
    b'Subject: hi\\r\\nX-Note: 1\\r\\n\\r\\nbody'
    """
    if not fields:
        return message
    head, sep, body = message.partition(b"\r\n\r\n")
    return head + (CRLF + CRLF.join(fields)).encode("utf-8") + sep + body


def strip_fields(message: bytes, prefixes: tuple[str, ...]) -> bytes:
    """Remove the header fields whose names start with one of ``prefixes`` (case-insensitive), folded lines too.

    >>> strip_fields(b"X-MS-Exchange-Organization-AuthAs: Internal\\r\\nSubject: hi\\r\\n\\r\\nbody",
    ...              ("X-MS-Exchange-Organization-",))
    b'Subject: hi\\r\\n\\r\\nbody'
    """
    head, sep, body = message.partition(b"\r\n\r\n")
    stripped = _strip_head(head, _prefixes(prefixes))
    return message if stripped is head else stripped + sep + body


def replace_at_bottom(message: bytes, fields: list[str]) -> bytes:
    """Remove every header field named like one of ``fields``, then put ``fields`` at the bottom of the header block
    (how Exchange rewrites its organisation headers at each of its hops): :func:`strip_fields`, then :func:`append`.

    >>> replace_at_bottom(b"X-Org-A: 1\\r\\nSubject: hi\\r\\n\\r\\nbody", ["X-Org-A: 2"])
    b'Subject: hi\\r\\nX-Org-A: 2\\r\\n\\r\\nbody'
    """
    if not fields:
        return message
    head, sep, body = message.partition(b"\r\n\r\n")
    head = _strip_head(head, _field_names(tuple(fields)))
    return head + (CRLF + CRLF.join(fields)).encode("utf-8") + sep + body


@functools.lru_cache(maxsize=32)
def _field_names(fields: tuple[str, ...]) -> tuple[bytes, ...]:
    return _prefixes(tuple(f.split(":")[0] + ":" for f in fields))


def _strip_head(head: bytes, wanted: tuple[bytes, ...]) -> bytes:
    """``head`` (a header block) without the fields whose lower-case names start with one of ``wanted``; ``head``
    itself when there are none."""
    lowered = head.lower()
    first = -1
    for w in wanted:
        at = lowered.find(w)
        if at >= 0 and (first < 0 or at < first):
            first = at
    if first < 0:
        return head
    # the lines above the first line that names a prefix anywhere are all kept as they are
    cut = head.rfind(b"\r\n", 0, first)
    kept: list[bytes] = [head[:cut]] if cut >= 0 else []
    start = cut + 2 if cut >= 0 else 0
    dropping = False
    for line, low in zip(head[start:].split(b"\r\n"), lowered[start:].split(b"\r\n"), strict=True):
        if line[:1] in (b" ", b"\t"):  # a folded line goes with its field
            if not dropping:
                kept.append(line)
            continue
        dropping = low.startswith(wanted)
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept)


@functools.lru_cache(maxsize=32)
def _prefixes(prefixes: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(p.lower().encode("ascii") for p in prefixes)


# -- counting hops ------------------------------------------------------------------------------


def _header_block(raw: bytes) -> bytes:
    """The header block of ``raw``: up to the first empty line (CRLF CRLF, or a bare LF LF before it).

    >>> _header_block(b"A: 1\\r\\nB: 2\\r\\n\\r\\nbody\\n\\nmore"), _header_block(b"A: 1\\n\\nbody"), _header_block(b"A: 1")
    (b'A: 1\\r\\nB: 2', b'A: 1', b'A: 1')
    """
    at = 0
    while True:  # the first LF LF, or LF CR LF that ends a CR LF CR LF (the regex engine skips to each LF)
        found = _BLANK_LINE.search(raw, at)
        if found is None:
            return raw
        start = found.start()
        if found.end() - start == 2:
            return raw[:start]
        if start and raw[start - 1] == 0x0D:
            return raw[:start - 1]
        at = start + 1


_BLANK_LINE = re.compile(rb"\n\r?\n")


def count_hops(message: bytes | str | Message) -> int:
    """How many hops a message has made: its Received, Via, X400-Received and Mail-From header fields.

    This is the definition the lessons teach (Sendmail's; Postfix, Exim and Exchange count Received only).
    Only the message's own header block counts, not the headers of a message attached to a bounce.
    """
    if isinstance(message, Message):
        return sum(1 for k in message.keys() if k.lower() in HOP_FIELDS)
    raw = message.encode("utf-8", "surrogateescape") if isinstance(message, str) else message
    return count_fields(raw, HOP_FIELDS)


def count_fields(message: bytes, names: tuple[str, ...]) -> int:
    """How many header fields in the header block have one of ``names`` (lower-case).

    >>> count_fields(b"Received: a\\r\\n b\\r\\nDelivered-To: x\\r\\n\\r\\nReceived: not a header", ("received",))
    1
    """
    # a line that starts with one of the names, then optional blanks and the colon; the lowered block starts with
    # a LF, so every field starts with one and the regex engine jumps from LF to LF
    return len(_field_re(names).findall(b"\n" + _header_block(message).lower()))


@functools.lru_cache(maxsize=32)
def _field_re(names: tuple[str, ...]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(n.lower().encode("ascii")) for n in names)
    return re.compile(rb"\n(?:" + alternatives + rb")[ \t]*:")


def parse(message: bytes) -> Message:
    """Parse message bytes with the stdlib ``email`` package (modern policy)."""
    return email.message_from_bytes(message, policy=email.policy.default)
