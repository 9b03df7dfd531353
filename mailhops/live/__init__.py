"""The real-SMTP transport: a topology run as real mail servers on 127.0.0.1.

Every decision a server takes comes from :mod:`mailhops.mta`, the same functions the simulator calls, so
the two transports cannot drift apart. The modules, from the top down:

- :mod:`~mailhops.live.runner` — :class:`LiveTopology`: start and stop a topology's servers, answer questions about them, send.
- :mod:`~mailhops.live.node` — one server on loopback: its port (held while down), its listener, its mail handling.
- :mod:`~mailhops.live.smtp` — the recording aiosmtpd SMTP/LMTP servers and their handler (RCPT, DATA, AUTH).
- :mod:`~mailhops.live.webmail` — the webmail front end: HTTP on loopback, then SMTP like any mail client.
- :mod:`~mailhops.live.mailserver` — what a server does with accepted mail: stamp, decide, deliver, relay, retry, bounce.
- :mod:`~mailhops.live.sending` — the client side of a hop: MX look-up, SMTP/LMTP (pipelined, cached sessions) or HTTP.
- :mod:`~mailhops.live.mail_queue` — :class:`QueueEntry` and a server's spooled queue with its worker threads.
- :mod:`~mailhops.live.memory` — freed memory handed back to the system once a queue is idle (glibc's ``malloc_trim``).
- :mod:`~mailhops.live.mailboxes` — the Maildirs: where each mailbox lives, storing into it from many threads.
- :mod:`~mailhops.live.journal` — :class:`Journal`: journeys built hop by hop by many servers at once.
- :mod:`~mailhops.live.connections` — an inbound session's transcript, and how the two ends of a hop find each other.
- :mod:`~mailhops.live.shared` — what every server of a running topology shares (topology, journal, settings, dice).
- :mod:`~mailhops.live.describe` — the "which port plays which server, how to send" text of ``mailhops serve``.
- :mod:`~mailhops.live.loopback_dns` — the topology's DNS zones served over UDP on loopback.
- :mod:`~mailhops.live.tls` — the self-signed certificate and the TLS contexts.

May use: the records (:mod:`mailhops.journey`, :mod:`mailhops.topology`, :mod:`mailhops.errors`),
:mod:`mailhops.dns` and :mod:`mailhops.mta`. Naming a scenario, drawing or reading happens above
(:mod:`mailhops.scenarios`, :mod:`mailhops.cli`).
"""

from __future__ import annotations

from .journal import Journal
from .mail_queue import QueueEntry
from .runner import RETRY_SCHEDULE, LiveTopology

__all__ = ["RETRY_SCHEDULE", "Journal", "LiveTopology", "QueueEntry"]
