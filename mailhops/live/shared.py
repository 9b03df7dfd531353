"""What every server of one running topology shares: the topology, the journal, the settings and the dice.

One :class:`Shared` is made each time a :class:`~mailhops.live.runner.LiveTopology` starts and handed to
the pieces that need it (the mail servers, the senders, the SMTP handlers, the webmail front end).

>>> import random, threading
>>> from mailhops.scenarios import get
>>> from mailhops.live.journal import Journal
>>> from mailhops.live.connections import Peers
>>> shared = Shared(get("three-hops").build(), Journal(), Peers(), random.Random(0), threading.Lock(),
...                 password="mailhops", timeout=30.0, size_limit=10_240_000, retry_schedule=(2.0,))
>>> shared.topology.name
'three-hops'
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from ..topology import Topology
from .connections import Peers
from .journal import Journal


def now() -> datetime:
    """The current time in UTC (what every live server writes, converted to its own time zone)."""
    return datetime.now(timezone.utc)


@dataclass(eq=False)
class Shared:
    """The topology, the journal, the port registry, the random source (used under ``rng_lock``) and the settings."""

    topology: Topology
    journal: Journal
    peers: Peers
    rng: random.Random
    rng_lock: threading.Lock
    password: str
    timeout: float
    size_limit: int
    retry_schedule: tuple[float, ...]
    #: True when every server has its own loopback address (False: all share 127.0.0.1, told apart by port).
    distinct: bool = True
    #: Recipients per message (Postfix's smtpd_recipient_limit).
    recipient_limit: int = 1000
    #: Error replies in one session before the server says 421 and hangs up (Postfix's smtpd_hard_error_limit).
    error_limit: int = 20
