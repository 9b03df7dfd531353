"""Gmail: the Received line, replies, ids and hop limit of Google's mail servers (``mx.google.com``).

Modelled on real Gmail mail: the Received line reads ``from HELO (RDNS. [IP]) by mx.google.com with
ESMTPS id ...si1234567ab.12.2026.03.02.09.00.05 for <RCPT> (version=TLS1_3 cipher=... bits=256/256);`` with
the date on its own line, continuation lines indented by eight spaces, and Gmail writes Received-SPF and
Authentication-Results just *below* its Received line (Postfix writes them above its own); replies end in
``- gsmtp``; bounces are "Delivery Status Notification (Failure)". Google publishes no hop limit: mailhops
uses RFC 5321 §6.3's suggested minimum of 100 and RFC 3463's X.4.6 "routing loop detected" (``DOCUMENTED``
is False).

>>> str(unknown_user("nobody@gmail.com"))
'550 5.1.1 The email account that you tried to reach does not exist. - gsmtp'
"""

from __future__ import annotations

import random
from datetime import datetime, timezone

from ..topology import Server
from .headers import CRLF, count_fields, rfc5322_date, tcp_info
from .smtp import Envelope, Reply, Session, parse_reply

NAME = "gmail"
SOFTWARE = "Google"
HOP_LIMIT = 100
LOOP_REPLY = "554 5.4.6 Routing loop detected"
DOCUMENTED = False
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = True
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Delivery Status Notification (Failure)"

_SEP = CRLF + "        "


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
    """Gmail's Received line: the reverse name with its trailing dot, the TLS comment after FOR."""
    parts = [f"from {tcp_info(helo, rdns, ip, dot='.')}", f"by {by_name} with {protocol} id {queue_id}"]
    if rcpt:
        parts.append(f"for <{rcpt}>")
    tls_text = "(version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256)" if tls else "(Google Transport Security)"
    parts.append(tls_text + ";")
    parts.append(rfc5322_date(date, zone_comment=True))
    return "Received: " + _SEP.join(parts)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Gmail writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from HELO (RDNS. [IP])``; "unknown" when the client gave no usable name and has no PTR."""
    return claimed or reverse or "unknown"


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A Gmail SMTP id: two hex runs, ``si`` and a number, then the time stamp."""
    u = when.astimezone(timezone.utc)
    a = "".join(rng.choice("0123456789abcdef") for _ in range(13))
    b = "".join(rng.choice("0123456789abcdef") for _ in range(11))
    return f"{a}-{b}si{rng.randint(1000000, 9999999)}{rng.choice('abcdef')}{rng.choice('abcdef')}.{rng.randint(1, 999)}.{u:%Y.%m.%d.%H.%M.%S}"


def greeting(server: Server, when: datetime) -> Reply:
    return Reply(220, "", f"{server.name} ESMTP - gsmtp")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", "The email account that you tried to reach does not exist. - gsmtp")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.1", "Relaying denied. - gsmtp")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "2.0.0", f"OK  {int(when.timestamp())} {qid} - gsmtp")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """Counting Received headers, refused at the limit (an assumption: Google documents none)."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Looping mail is refused during SMTP (:func:`loop_reply`)."""
    return None


def local_injection(server: Server, when: datetime, qid: str | None) -> str | None:
    """Bounces Gmail writes itself carry no Received line in mailhops."""
    return None


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Gmail adds no headers of its own besides Received (and the SPF lines below it)."""
    return []
