"""Microsoft Exchange (and Microsoft 365): the Received line, replies, ids and hop limit of Exchange 2019.

Checked against Microsoft's documentation and the shape of Exchange's own headers: the Received line reads ``from HELO
(IP) by HOST (IP) with Microsoft SMTP Server (version=TLS1_2, cipher=...) id 15.2.1544.14; DATE`` — the
id is the server's build number, there is no FOR clause, and lines are folded at spaces with one leading
space; the Receive connector counts Received header fields and rejects the message past ``MaxHopCount``
(``Set-ReceiveConnector -MaxHopCount``, default 30, per Microsoft's cmdlet reference; the exact boundary is
not documented, so it is taken as Postfix's "at the limit") with ``554 5.4.14 Hop count exceeded - possible
mail loop``; unknown recipients get ``550 5.1.10 RESOLVER.ADR.RecipientNotFound``, relaying ``550 5.7.54``;
the transport adds the ``X-MS-Exchange-Organization-AuthSource``/``AuthAs`` headers; NDRs are titled
"Undeliverable: SUBJECT". Exchange speaks SMTP only (no LMTP): its mailbox delivery is its own Mailbox
Transport.

>>> from datetime import datetime, timezone
>>> print(received(helo="mail.example.org", rdns="mail.example.org", ip="192.0.2.25", by_name="mx.example.net",
...                by_ip="198.51.100.25", protocol="ESMTPS", queue_id="15.2.1544.14", rcpt="bob@example.net",
...                tls=True, date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))
...                # doctest: +NORMALIZE_WHITESPACE
Received: from mail.example.org (192.0.2.25) by mx.example.net (198.51.100.25)
 with Microsoft SMTP Server (version=TLS1_2,
 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1544.14; Mon, 2 Mar
 2026 09:00:05 +0000
"""

from __future__ import annotations

import random
from datetime import datetime

from ..topology import Server
from .headers import CRLF, count_fields, rfc5322_date, tz_of
from .smtp import Envelope, Reply, Session, parse_reply

NAME = "exchange"
SOFTWARE = "Microsoft SMTP Server"
HOP_LIMIT = 30
LOOP_REPLY = "554 5.4.14 Hop count exceeded - possible mail loop"
DOCUMENTED = True
WITH_WORD: str | None = "MICROSOFT SMTP SERVER"
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Recipient OK"
BOUNCE_SUBJECT = "Undeliverable: {subject}"


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
    """Exchange's Received line: build-number id, no FOR clause (``rcpt`` is not written)."""
    by = f"by {by_name}" + (f" ({by_ip})" if by_ip else "")
    text = f"from {helo or rdns or 'unknown'} ({ip}) {by} with Microsoft SMTP Server"
    if tls:
        text += " (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)"
    text += f" id {queue_id}; {rfc5322_date(date, day='2')}"
    return "Received: " + fold_spaces(text, first=len("Received: "))


def fold_spaces(text: str, *, first: int, width: int = 78) -> str:
    """Fold like Exchange does: break at spaces, continuation lines start with one space.

    >>> fold_spaces("a " * 5, first=70)
    'a a a a\\r\\n a '
    """
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
    return (CRLF + " ").join(out)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Exchange writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from HELO (IP)``: the HELO name, else the reverse name."""
    return claimed or reverse


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """Exchange writes its build number where others write a queue id (Microsoft 365's for outlook.com)."""
    return "15.20.8207.18" if server.name.endswith("outlook.com") else "15.2.1544.14"


def greeting(server: Server, when: datetime) -> Reply:
    date = rfc5322_date(when.astimezone(tz_of(server)))
    return Reply(220, "", f"{server.name} Microsoft ESMTP MAIL Service ready at {date}")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.54", "SMTP; Unable to relay recipient in non-accepted domain")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    epoch = int(when.timestamp())
    return Reply(250, "2.6.0", f"{message_id} [InternalId={epoch % 10**11}, Hostname={server.name}] Queued mail for delivery")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """The Receive connector counts the Received header fields; at ``MaxHopCount`` it rejects the message."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Exchange refuses looping mail at the Receive connector (:func:`loop_reply`), never after accepting it."""
    return None


def local_injection(server: Server, when: datetime, qid: str | None) -> str | None:
    """NDRs Exchange writes itself carry no Received line in mailhops."""
    return None


def organisation_headers(server: Server, session: Session) -> list[str]:
    """The transport's organisation headers: where the message was authenticated, and as what."""
    internal = session.client and session.client.domain == server.domain
    return [
        f"X-MS-Exchange-Organization-AuthSource: {server.name}",
        "X-MS-Exchange-Organization-AuthAs: " + ("Internal" if internal else "Anonymous"),
    ]
