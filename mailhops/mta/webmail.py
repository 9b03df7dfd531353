"""A webmail front end (Roundcube-like): the pseudo-Received line it writes for a message posted over HTTP.

Not an MTA a server imitates (it is not in :data:`mailhops.mta.MTAS`): a webmail server writes this line
for the browser's HTTP POST and then submits over SMTP as its own MTA. The line has no queue id, as
Roundcube's Received line has none: ``from RDNS ([IP])`` (or ``from [IP]``), ``by HOST``, ``with HTTP
(HTTP/1.1 POST)`` and the date. It defines only the trace part of the flavour protocol.

>>> from datetime import datetime, timezone
>>> print(received(helo=None, rdns=None, ip="203.0.113.45", by_name="webmail.example.org", protocol="HTTP",
...                queue_id="", rcpt="bob@example.net", date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))
...                # doctest: +NORMALIZE_WHITESPACE
Received: from [203.0.113.45]
	by webmail.example.org
	with HTTP (HTTP/1.1 POST); Mon, 02 Mar 2026 09:00:05 +0000
"""

from __future__ import annotations

import random
from datetime import datetime

from .headers import CRLF, format_date

NAME = "webmail"
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = False


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
    """The front end's Received line for the browser's POST (no queue id, no FOR clause)."""
    src = f"{rdns} ([{ip}])" if rdns else f"[{ip}]"
    return f"Received: from {src}{CRLF}\tby {by_name}{CRLF}\twith HTTP (HTTP/1.1 POST); {format_date(date)}"


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """A webmail front end writes one Received line."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from RDNS ([IP])`` or ``from [IP]``: the reverse name, if any."""
    return reverse
