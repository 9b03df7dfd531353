"""qmail: the Received lines, replies and hop limit of qmail 1.03 (netqmail).

Checked against qmail's sources: qmail-smtpd's received() writes ``from RDNS (HELO claim) (IP) by HOST with
SMTP; DATE`` with the date in UTC as ``-0000``, and qmail-queue adds ``(qmail PID invoked from network)``
on top; qmail has no queue id in its Received lines; it counts Received and Delivered-To headers against
``MAXHOPS`` (100) and refuses with ``554 too many hops, this message is looping (#5.4.6)``; qmail-smtpd's
refusals carry the enhanced status code in ``(#x.y.z)`` at the end of the text; qmail-send's bounces say
"failure notice".

>>> from datetime import datetime, timezone
>>> print(invoked_from_network(90138, datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))
Received: (qmail 90138 invoked from network); 2 Mar 2026 09:00:05 -0000
"""

from __future__ import annotations

import random
from datetime import datetime, timezone

from ..topology import Server
from .headers import CRLF, count_fields
from .smtp import Envelope, Reply, Session, parse_reply

NAME = "qmail"
SOFTWARE = "qmail 1.03"
HOP_LIMIT = 100
LOOP_REPLY = "554 too many hops, this message is looping (#5.4.6)"
DOCUMENTED = True
WITH_WORD: str | None = "SMTP"
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "failure notice"


def _qmail_date(date: datetime) -> str:
    utc = date.astimezone(timezone.utc)
    return f"{utc.day} {utc:%b %Y %H:%M:%S} -0000"


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
    """qmail-smtpd's Received line: ``from RDNS (HELO claim) (IP)``, ``with SMTP``, no id, no FOR."""
    return f"Received: from {rdns or 'unknown'} (HELO {helo or 'unknown'}) ({ip}){CRLF}  by {by_name} with SMTP; {_qmail_date(date)}"


def invoked_from_network(pid: int, date: datetime) -> str:
    """The second line qmail-queue prepends for mail that came in over SMTP."""
    return f"Received: (qmail {pid} invoked from network); {_qmail_date(date)}"


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """qmail-queue's ``(qmail PID invoked from network)`` line, above qmail-smtpd's."""
    return [invoked_from_network(rng.randint(1000, 99999), when)]


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from RDNS (HELO claim) (IP)``: the reverse name, or "unknown"."""
    return reverse or "unknown"


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """qmail writes no queue id."""
    return None


def greeting(server: Server, when: datetime) -> Reply:
    return Reply(220, "", f"{server.name} ESMTP")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "", "sorry, no mailbox here by that name. (#5.1.1)")


def relay_denied(rcpt: str) -> Reply:
    return Reply(553, "", "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    """``ok EPOCH qp PID``: qmail-queue's time stamp and pid."""
    return Reply(250, "", f"ok {int(when.timestamp())} qp {abs(hash(message_id)) % 90000 + 10000}")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """qmail counts Received and Delivered-To headers; at ``MAXHOPS`` it refuses."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received", "delivered-to")) >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """qmail refuses looping mail during SMTP (:func:`loop_reply`), never after accepting it."""
    return None


def local_injection(server: Server, when: datetime, qid: str | None) -> str | None:
    """Bounces qmail writes itself carry no Received line in mailhops."""
    return None


def organisation_headers(server: Server, session: Session) -> list[str]:
    """qmail adds no headers of its own besides Received."""
    return []
