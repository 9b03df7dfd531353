"""Exim: the Received line, replies, queue ids and hop limit of Exim 4.98.

Checked against Exim's sources and documentation: the default ``received_header_text`` writes the verified
reverse name and adds ``helo=`` only when the HELO differs (``from RDNS ([IP] helo=HELO)``), the protocol in
lower case with the TLS version and cipher, ``(Exim 4.98)``, ``(envelope-from <..>)``, ``id``, ``for RCPT;``
and the date on its own line; receive.c answers ``550 Too many "Received" headers - suspected mail loop``
during SMTP when a message arrives with more Received headers than ``received_headers_max`` (30); message
ids are Exim 4.97+'s ``base62 time-pid-fraction`` (``1wERYT-0000000Fbcq-0WDP``); bounces say "Mail delivery
failed: returning message to sender".

>>> from datetime import datetime, timezone
>>> print(received(helo="liar.example.com", rdns="mail.example.org", ip="192.0.2.25", by_name="mx.example.net",
...                protocol="ESMTPS", queue_id="1wERYT-0000000Fbcq-0WDP", rcpt="bob@example.net", tls=True,
...                envelope_from="alice@example.org", date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))
...                # doctest: +NORMALIZE_WHITESPACE
Received: from mail.example.org ([192.0.2.25] helo=liar.example.com)
	by mx.example.net with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384
	(Exim 4.98)
	(envelope-from <alice@example.org>)
	id 1wERYT-0000000Fbcq-0WDP
	for bob@example.net;
	Mon, 02 Mar 2026 09:00:05 +0000
"""

from __future__ import annotations

import random
import string
from datetime import datetime

from ..topology import Server
from .headers import CRLF, count_fields, rfc5322_date, tz_of
from .smtp import Envelope, Reply, Session, parse_reply

NAME = "exim"
SOFTWARE = "Exim 4.98"
HOP_LIMIT = 30
LOOP_REPLY = '550 Too many "Received" headers - suspected mail loop'
DOCUMENTED = True
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Mail delivery failed: returning message to sender"

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def received(
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
    """Exim's default Received line: the verified reverse name first, ``helo=`` only when it differs."""
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
    lines = [f"from {rcvhost}", first, f"({software or SOFTWARE})"]
    if envelope_from is not None:
        lines.append(f"(envelope-from <{envelope_from}>)")
    lines.append(f"id {queue_id}")
    if rcpt:
        lines.append(f"for {rcpt};")
    else:
        lines[-1] += ";"
    return "Received: " + (CRLF + "\t").join(lines) + CRLF + "\t" + rfc5322_date(date)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Exim writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from RDNS ([IP] helo=HELO)``: the verified reverse name, else the HELO claim."""
    return reverse or claimed


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """Exim 4.97+: six base62 digits of the time, eleven of the pid, four of the fraction of a second."""
    t = int(when.timestamp())
    head = ""
    for _ in range(6):
        head = _B62[t % 62] + head
        t //= 62
    pid = "".join(rng.choice(_B62) for _ in range(11))
    frac = "".join(rng.choice(_B62) for _ in range(4))
    return f"{head}-{pid}-{frac}"


def greeting(server: Server, when: datetime) -> Reply:
    """``smtp_banner``'s default: ``$smtp_active_hostname ESMTP Exim $version_number $tod_full``."""
    return Reply(220, "", f"{server.name} ESMTP Exim 4.98 {rfc5322_date(when.astimezone(tz_of(server)))}")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", f"<{rcpt}>: Unrouteable address")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.1", "relay not permitted")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "", f"OK id={qid}")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """receive.c refuses when the message arrives with more Received headers than ``received_headers_max``."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) > limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Exim refuses looping mail during SMTP (:func:`loop_reply`), never after accepting it."""
    return None


def local_injection(server: Server, when: datetime, qid: str | None) -> str | None:
    """Bounces Exim writes itself carry no Received line in mailhops."""
    return None


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Exim adds no headers of its own besides Received."""
    return []
