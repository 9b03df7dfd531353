"""Trace headers as real MTAs write them, and hop counting.

Each server *prepends* its header lines to the message text (RFC 5321 §4.4: "When forwarding a message
into or out of the Internet environment, a gateway MUST prepend a Received: line"); nobody reorders
or removes them, so the newest Received line is on top and the oldest at the bottom.

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
from datetime import datetime, timezone
from email.message import Message

from ..errors import HeaderValueError

#: The header fields the lessons count as hops (RFC 5321 §6.3 trace fields, and the list Sendmail counts).
HOP_FIELDS = ("received", "via", "x400-received", "mail-from")

_TLS = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
_CRLF = "\r\n"


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


def rfc5322_date(moment: datetime, *, zone_comment: bool = False, day: str = "02") -> str:
    """An RFC 5322 date as ``email.utils.format_datetime`` writes it, optionally with Postfix's ``(ZONE)``.

    ``day`` chooses how the day of the month is written: ``"02"`` (Exim, Dovecot, Gmail), ``" 2"``
    (Postfix's ``%e``) or ``"2"`` (Sendmail, Exchange).

    >>> from datetime import datetime, timezone
    >>> rfc5322_date(datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc), zone_comment=True, day=" 2")
    'Mon,  2 Mar 2026 09:00:05 +0000 (UTC)'
    """
    text = email.utils.format_datetime(moment)
    if day != "02" and text[5] == "0":
        text = text[:5] + (" " if day == " 2" else "") + text[6:]
    if zone_comment:
        text += f" ({moment.tzname() or 'UTC'})"
    return text


def _tcp_info(helo: str | None, rdns: str | None, ip: str, *, unknown: str = "unknown", dot: str = "") -> str:
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

    ``flavour`` is one of ``postfix``, ``exim``, ``sendmail``, ``qmail``, ``exchange``, ``gmail``,
    ``dovecot`` (LMTP delivery) and ``webmail`` (the pseudo-Received of a webmail front end).
    """
    if flavour == "postfix":
        lines = [f"from {_tcp_info(helo, rdns, ip)}"]
        if tls:
            lines.append(f"(using {_TLS})")
            lines.append("(No client certificate requested)")
        lines.append(f"by {by_name} (Postfix) with {protocol} id {queue_id}")
        tail = rfc5322_date(date, zone_comment=True, day=" 2")
        if rcpt:
            lines.append(f"for <{rcpt}>; {tail}")
        else:
            lines[-1] += f"; {tail}"
        return "Received: " + (_CRLF + "\t").join(lines)
    if flavour == "exim":
        host = rdns or ""
        if host and helo and helo.lower() != host.lower():
            rcvhost = f"{host} ([{ip}] helo={helo})"
        elif host:
            rcvhost = f"{host} ([{ip}])"
        else:
            rcvhost = f"[{ip}]" + (f" (helo={helo})" if helo else "")
        proto = protocol.lower()
        first = f"by {by_name} with {proto}"
        if tls:
            first += "  (TLS1.3) tls TLS_AES_256_GCM_SHA384"
        lines = [f"from {rcvhost}", first, f"({software or 'Exim 4.98'})"]
        if envelope_from is not None:
            lines.append(f"(envelope-from <{envelope_from}>)")
        lines.append(f"id {queue_id}")
        if rcpt:
            lines.append(f"for {rcpt};")
        else:
            lines[-1] += ";"
        return "Received: " + (_CRLF + "\t").join(lines) + _CRLF + "\t" + rfc5322_date(date)
    if flavour == "sendmail":
        version = (software or "Sendmail 8.18.1").split()[-1]
        lines = [f"from {_tcp_info(helo, rdns, ip)}", f"by {by_name} ({version}/{version}) with {protocol} id {queue_id}"]
        if tls:
            lines.append("(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)")
        tail = rfc5322_date(date, zone_comment=True, day="2")
        if rcpt:
            lines.append(f"for <{rcpt}>; {tail}")
        else:
            lines[-1] += f"; {tail}"
        return "Received: " + (_CRLF + "\t").join(lines)
    if flavour == "qmail":
        utc = date.astimezone(timezone.utc)
        qdate = f"{utc.day} {utc:%b %Y %H:%M:%S} -0000"
        return f"Received: from {rdns or 'unknown'} (HELO {helo or 'unknown'}) ({ip}){_CRLF}  by {by_name} with SMTP; {qdate}"
    if flavour == "exchange":
        via = ""
        by = f"by {by_name}" + (f" ({by_ip})" if by_ip else "")
        cipher = "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)" if tls else ""
        text = f"from {helo or rdns or 'unknown'} ({ip}) {by} with Microsoft SMTP Server"
        if cipher:
            text += f" {cipher}"
        text += f" id {queue_id}{via}; {rfc5322_date(date, day='2')}"
        return "Received: " + _fold_spaces(text, first=len("Received: "))
    if flavour == "gmail":
        sep = _CRLF + "        "
        parts = [f"from {_tcp_info(helo, rdns, ip, dot='.')}", f"by {by_name} with {protocol} id {queue_id}"]
        if rcpt:
            parts.append(f"for <{rcpt}>")
        tls_text = "(version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256)" if tls else "(Google Transport Security)"
        parts.append(tls_text + ";")
        parts.append(rfc5322_date(date, zone_comment=True))
        return "Received: " + sep.join(parts)
    if flavour == "dovecot":
        host = rdns or helo or ip
        lines = [f"from {helo or host} ([{ip}])", f"by {by_name} with {protocol}", f"id {queue_id}"]
        if envelope_from is not None:
            lines.append(f"(envelope-from <{envelope_from}>)")
        tail = rfc5322_date(date)
        if rcpt:
            lines.append(f"for <{rcpt}>; {tail}")
        else:
            lines[-1] += f"; {tail}"
        return "Received: " + (_CRLF + "\t").join(lines)
    if flavour == "webmail":
        src = f"{rdns} ([{ip}])" if rdns else f"[{ip}]"
        return (
            f"Received: from {src}{_CRLF}\tby {by_name}{_CRLF}\twith HTTP (HTTP/1.1 POST); {email.utils.format_datetime(date)}"
        )
    raise ValueError(f"Unknown Received flavour {flavour!r}.")


def qmail_invoked(pid: int, date: datetime) -> str:
    """The second line qmail-queue prepends for mail that came in over SMTP."""
    utc = date.astimezone(timezone.utc)
    return f"Received: (qmail {pid} invoked from network); {utc.day} {utc:%b %Y %H:%M:%S} -0000"


def _fold_spaces(text: str, *, first: int, width: int = 78) -> str:
    """Fold like Exchange does: break at spaces, continuation lines start with one space."""
    out: list[str] = []
    line = ""
    limit = width - first
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) > limit and line:
            out.append(line)
            line = word
            limit = width - 1
        else:
            line = candidate
    out.append(line)
    return (_CRLF + " ").join(out)


def spam_headers(score: float, threshold: float, tests: list[str], host: str) -> list[str]:
    """SpamAssassin's headers (``add_header`` defaults): Checker-Version, Flag (spam only), Level, Status."""
    is_spam = score >= threshold
    stars = "*" * max(0, int(score))
    lines = [f"X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-26) on {host}"]
    if is_spam:
        lines.append("X-Spam-Flag: YES")
    lines.append(f"X-Spam-Level: {stars}")
    status = "Yes" if is_spam else "No"
    test_text = ",".join(tests) if tests else "none"
    lines.append(
        f"X-Spam-Status: {status}, score={score:.1f} required={threshold:.1f} tests={test_text}{_CRLF}\tautolearn=no autolearn_force=no version=4.0.1"
    )
    return lines


def prepend(message: bytes, fields: list[str]) -> bytes:
    """Put header fields (each possibly folded) on top of a message, first item topmost.

    >>> prepend(b"Subject: hi\\r\\n\\r\\nbody", ["Received: from a by b; Mon, 2 Mar 2026 09:00:05 +0000"])[:20]
    b'Received: from a by '
    """
    if not fields:
        return message
    return (_CRLF.join(fields) + _CRLF).encode("utf-8") + message


_HOP_RE = re.compile(rb"^(received|via|x400-received|mail-from)[ \t]*:", re.IGNORECASE | re.MULTILINE)


def _header_block(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    alt = raw.find(b"\n\n")
    cut = [i for i in (end, alt) if i >= 0]
    return raw[: min(cut)] if cut else raw


def count_hops(message: bytes | str | Message) -> int:
    """How many hops a message has made: its Received, Via, X400-Received and Mail-From header fields.

    This is the definition the lessons teach (Sendmail's; Postfix, Exim and Exchange count Received only).
    Only the message's own header block counts, not the headers of a message attached to a bounce.
    """
    if isinstance(message, Message):
        return sum(1 for k in message.keys() if k.lower() in HOP_FIELDS)
    raw = message.encode("utf-8", "surrogateescape") if isinstance(message, str) else message
    return len(_HOP_RE.findall(_header_block(raw)))


def count_fields(message: bytes, names: tuple[str, ...]) -> int:
    """How many header fields in the header block have one of ``names`` (lower-case).

    >>> count_fields(b"Received: a\\r\\n b\\r\\nDelivered-To: x\\r\\n\\r\\nReceived: not a header", ("received",))
    1
    """
    block = _header_block(message)
    return len(_field_re(names).findall(block))


@functools.lru_cache(maxsize=32)
def _field_re(names: tuple[str, ...]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(n.encode("ascii")) for n in names)
    return re.compile(rb"^(?:" + alternatives + rb")[ \t]*:", re.IGNORECASE | re.MULTILINE)


def parse(message: bytes) -> Message:
    """Parse message bytes with the stdlib ``email`` package (modern policy)."""
    return email.message_from_bytes(message, policy=email.policy.default)
