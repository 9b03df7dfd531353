"""Dovecot's LMTP server: final delivery into the mailbox (the LMTP hop of every mailbox server).

Modelled on Dovecot 2.3's LMTP: the greeting ``HOST Dovecot ready.``, the Received line ``from HELO ([IP])
by HOST with LMTP id SESSION-ID (envelope-from <..>) for <RCPT>; DATE`` (the id is the LMTP session's
GUID in base64), ``250 2.0.0 <RCPT> ID Saved`` after DATA and ``550 5.1.1 <RCPT> User doesn't exist``.
Dovecot's LMTP has no hop limit of its own; in front of it Postfix counts, so mailhops gives it Postfix's
limit and reply (``DOCUMENTED`` is False).

>>> from datetime import datetime, timezone
>>> print(received(helo="mx.example.net", rdns="mx.example.net", ip="198.51.100.25", by_name="imap.example.net",
...                protocol="LMTP", queue_id="Zm9vYmFyYmF6cXV4cXV1eA", rcpt="bob@example.net",
...                envelope_from="alice@example.org", date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))
...                # doctest: +NORMALIZE_WHITESPACE
Received: from mx.example.net ([198.51.100.25])
	by imap.example.net with LMTP
	id Zm9vYmFyYmF6cXV4cXV1eA
	(envelope-from <alice@example.org>)
	for <bob@example.net>; Mon, 02 Mar 2026 09:00:05 +0000
"""

from __future__ import annotations

import base64
import random
from datetime import datetime

from ..topology import Server
from .headers import CRLF, count_fields, rfc5322_date
from .smtp import Envelope, Reply, Session, parse_reply

NAME = "dovecot"
SOFTWARE = "Dovecot"
HOP_LIMIT = 50
LOOP_REPLY = "554 5.4.0 Error: too many hops"
DOCUMENTED = False
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Undelivered Mail Returned to Sender"


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
    """Dovecot LMTP's Received line: the LHLO name and the IP, the session id, envelope sender and recipient."""
    host = rdns or helo or ip
    lines = [f"from {helo or host} ([{ip}])", f"by {by_name} with {protocol}", f"id {queue_id}"]
    if envelope_from is not None:
        lines.append(f"(envelope-from <{envelope_from}>)")
    tail = rfc5322_date(date)
    if rcpt:
        lines.append(f"for <{rcpt}>; {tail}")
    else:
        lines[-1] += f"; {tail}"
    return "Received: " + (CRLF + "\t").join(lines)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Dovecot writes one Received line per delivery."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from LHLO ([IP])``: the LHLO name, else the reverse name."""
    return claimed or reverse


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A GUID in base64, as Dovecot's LMTP session ids look."""
    return base64.b64encode(rng.getrandbits(128).to_bytes(16, "big"), b"+/").decode("ascii")[:22]


def greeting(server: Server, when: datetime) -> Reply:
    return Reply(220, "", f"{server.name} Dovecot ready.")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", f"<{rcpt}> User doesn't exist: {rcpt}")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.1", "Relaying denied")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "2.0.0", f"<{rcpt}> {qid} Saved")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """Counted as Postfix counts in front of it: the Received headers plus the one being added."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) + 1 >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Looping mail is refused before delivery (:func:`loop_reply`)."""
    return None


def local_injection(server: Server, when: datetime, qid: str | None, rcpt: str | None = None) -> str | None:
    """Bounces written at delivery carry no Received line in mailhops."""
    return None


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Dovecot adds Return-Path and Delivered-To at delivery, as every mailbox server does (see roles.stamp)."""
    return []
