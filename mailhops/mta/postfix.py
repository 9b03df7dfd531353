"""Postfix: the Received line, replies, queue ids and hop limit of Postfix 3.x.

Checked against Postfix's sources and documentation: smtpd.c writes the Received line (``from HELO
(RDNS [IP])``, the ``(using TLS...)`` comments, ``with ESMTPS id QUEUEID``, ``for <RCPT>``, the date with
``%e`` and the ``(ZONE)`` comment) and writes the headers a policy service asks it to PREPEND (policyd-spf's
Received-SPF) just before it; cleanup counts the Received headers including the one smtpd adds against
``hopcount_limit`` (50) and smtpd refuses with ``554 5.4.0 Error: too many hops``; the bounce daemon's
subject is "Undelivered Mail Returned to Sender"; mail made on the server itself (a bounce) gets cleanup's
``Received: by HOST (Postfix) id QUEUEID`` line. Queue ids are the classic 11 upper-case hex digits.

>>> from datetime import datetime, timezone
>>> print(received(helo="[192.168.1.23]", rdns=None, ip="203.0.113.45", by_name="smtp.example.org",
...                protocol="ESMTPSA", queue_id="4ABC1234D5", rcpt=None,
...                date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))  # doctest: +NORMALIZE_WHITESPACE
Received: from [192.168.1.23] (unknown [203.0.113.45])
	by smtp.example.org (Postfix) with ESMTPSA id 4ABC1234D5; Mon,  2 Mar 2026 09:00:05 +0000 (UTC)
>>> str(relay_denied("victim@example.com"))
'550 5.7.1 <victim@example.com>: Relay access denied'
"""

from __future__ import annotations

import random
from datetime import datetime

from ..topology import Server
from .headers import CRLF, count_fields, rfc5322_date, tcp_info, tz_of
from .smtp import Envelope, Reply, Session, parse_reply

NAME = "postfix"
SOFTWARE = "Postfix"
HOP_LIMIT = 50
LOOP_REPLY = "554 5.4.0 Error: too many hops"
DOCUMENTED = True
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Undelivered Mail Returned to Sender"

#: The reply code mailhops' Postfix servers use for ``reject_unauth_destination``: they are configured with
#: ``relay_domains_reject_code = 550`` (Postfix's own default is 554), so that every MTA of a lesson refuses
#: relaying with 550 5.7.1, the code RFC 5321 §4.2.2 and RFC 3463 give for "not accepted by policy".
RELAY_DOMAINS_REJECT_CODE = 550

_TLS = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"


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
    """Postfix smtpd's Received line: tab-folded, the TLS comments on their own lines."""
    lines = [f"from {tcp_info(helo, rdns, ip)}"]
    if tls:
        lines.append(f"(using {_TLS})")
        lines.append("(No client certificate requested)")
    lines.append(f"by {by_name} (Postfix) with {protocol} id {queue_id}")
    tail = rfc5322_date(date, zone_comment=True, day=" 2")
    if rcpt:
        lines.append(f"for <{rcpt}>; {tail}")
    else:
        lines[-1] += f"; {tail}"
    return "Received: " + (CRLF + "\t").join(lines)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Postfix writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from HELO (RDNS [IP])``; "unknown" when the client gave no usable name and has no PTR."""
    return claimed or reverse or "unknown"


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A classic Postfix queue id: 11 upper-case hex digits."""
    return f"{rng.getrandbits(44):011X}"


def greeting(server: Server, when: datetime) -> Reply:
    """``smtpd_banner``'s default, ``$myhostname ESMTP $mail_name``."""
    return Reply(220, "", f"{server.name} ESMTP Postfix")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", f"<{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table")


def relay_denied(rcpt: str) -> Reply:
    return Reply(RELAY_DOMAINS_REJECT_CODE, "5.7.1", f"<{rcpt}>: Relay access denied")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "2.0.0", f"Ok: queued as {qid}")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """cleanup counts the Received headers plus the one smtpd is adding; at the limit, smtpd refuses."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) + 1 >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Postfix refuses looping mail during SMTP (:func:`loop_reply`), never after accepting it."""
    return None


def local_injection(server: Server, when: datetime, qid: str | None) -> str | None:
    """The Received line cleanup stamps on mail made on the server itself (a bounce).

    >>> from datetime import datetime, timezone
    >>> print(local_injection(Server("mx.example.net", "mx", "198.51.100.25"),
    ...                       datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc), "4ABC123DEF0"))  # doctest: +NORMALIZE_WHITESPACE
    Received: by mx.example.net (Postfix)
        id 4ABC123DEF0; Mon,  2 Mar 2026 09:00:05 +0000 (UTC)
    """
    local = when.astimezone(tz_of(server))
    return f"Received: by {server.name} (Postfix)\r\n\tid {qid}; {rfc5322_date(local, zone_comment=True, day=' 2')}"


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Postfix adds no headers of its own besides Received."""
    return []
