"""Sendmail: the Received line, replies, queue ids and hop limit of Sendmail 8.18.

Checked against Sendmail's sources and documentation: the default ``Received:`` template in sendmail.cf
writes ``from HELO (RDNS [IP]) by HOST (8.18.1/8.18.1) with ESMTP id QUEUEID``, the ``(version=TLSv1.3
cipher=... verify=NOT)`` comment after the queue id, ``for <RCPT>`` and the date; Sendmail does not refuse
looping mail during SMTP: sendall() checks ``MaxHopCount`` (25) at delivery time, counting Received,
X400-Received, Via and Mail-From headers, and bounces with ``554 5.4.6 Too many hops N (25 max): from
<SENDER> via HOST, to <RCPT>``. Queue ids are base-60 time stamps (year since 1900, month, day, hour, minute,
second), two more base-60 digits and the pid; bounces say "Returned mail: see transcript for details".

>>> str(unknown_user("nobody@example.net"))
'550 5.1.1 <nobody@example.net>... User unknown'
"""

from __future__ import annotations

import random
import string
from datetime import datetime, timezone

from ..topology import Server
from .headers import CRLF, count_hops, rfc5322_date, tcp_info, tz_of
from .smtp import Envelope, Reply, Session

NAME = "sendmail"
SOFTWARE = "Sendmail 8.18.1"
HOP_LIMIT = 25
LOOP_REPLY = "554 5.4.6 Too many hops"
DOCUMENTED = True
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Returned mail: see transcript for details"

_B60 = string.digits + string.ascii_uppercase + string.ascii_lowercase[:24]


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
    """Sendmail's Received line: the version pair after the host, the TLS comment after the queue id."""
    version = (software or SOFTWARE).split()[-1]
    lines = [f"from {tcp_info(helo, rdns, ip)}", f"by {by_name} ({version}/{version}) with {protocol} id {queue_id}"]
    if tls:
        lines.append("(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)")
    tail = rfc5322_date(date, zone_comment=True, day="2")
    if rcpt:
        lines.append(f"for <{rcpt}>; {tail}")
    else:
        lines[-1] += f"; {tail}"
    return "Received: " + (CRLF + "\t").join(lines)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Sendmail writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from HELO (RDNS [IP])``; "unknown" when the client gave no usable name and has no PTR."""
    return claimed or reverse or "unknown"


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A Sendmail queue id: the time in base 60, two more base-60 digits, six digits of pid."""
    u = when.astimezone(timezone.utc)
    stamp = "".join(_B60[v % 60] for v in (u.year - 1900, u.month - 1, u.day, u.hour, u.minute, u.second))
    return f"{stamp}{rng.choice(_B60)}{rng.choice(_B60)}{rng.randint(0, 999999):06d}"


def greeting(server: Server, when: datetime) -> Reply:
    """The default ``SmtpGreetingMessage``: ``$j Sendmail $v/$Z; $b``."""
    return Reply(220, "", f"{server.name} ESMTP Sendmail 8.18.1/8.18.1; {rfc5322_date(when.astimezone(tz_of(server)))}")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", f"<{rcpt}>... User unknown")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.1", f"<{rcpt}>... Relaying denied")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "2.0.0", f"{qid} Message accepted for delivery")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """Sendmail does not refuse during SMTP: it accepts and then bounces (:func:`loop_after_accept`)."""
    return None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """sendall()'s check at delivery time: Received, Via, X400-Received and Mail-From above ``MaxHopCount``.

    >>> msg = b"Received: x\\r\\n" * 27 + b"\\r\\nbody"
    >>> str(loop_after_accept(msg, 25, Envelope("alice@example.org", "bob@example.net"), "relay.example.net"))
    '554 5.4.6 Too many hops 26 (25 max): from <alice@example.org> via relay.example.net, to <bob@example.net>'
    """
    # the message here already carries Sendmail's own Received line, which Sendmail does not count
    count = count_hops(message) - 1
    if count <= limit:
        return None
    sender = f"<{envelope.mail_from}>" if envelope else "<>"
    rcpt = f"<{envelope.rcpt}>" if envelope else "(nobody)"
    return Reply(554, "5.4.6", f"Too many hops {count} ({limit} max): from {sender} via "
                               f"{via or 'localhost'}, to {rcpt}")


def local_injection(server: Server, when: datetime, qid: str | None) -> str | None:
    """Bounces Sendmail writes itself carry no Received line in mailhops."""
    return None


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Sendmail adds no headers of its own besides Received."""
    return []
