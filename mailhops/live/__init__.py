"""The real-SMTP transport: a topology run as real mail servers on 127.0.0.1.

What lives here: the recording SMTP/LMTP servers (aiosmtpd), the relay queue and its retries, the
loopback DNS that serves the topology's zones, the TLS contexts, the webmail front end, and the runner
that starts and stops a topology (:class:`LiveTopology`). Every decision a server takes comes from
:mod:`mailhops.mta`, the same functions the simulator calls, so the two transports cannot drift apart.

May use: the records (:mod:`mailhops.journey`, :mod:`mailhops.topology`, :mod:`mailhops.errors`),
:mod:`mailhops.dns` and :mod:`mailhops.mta`. Naming a scenario, drawing or reading happens above
(:mod:`mailhops.scenarios`, :mod:`mailhops.cli`).
"""

from __future__ import annotations

from .runner import RETRY_SCHEDULE, LiveTopology, QueueEntry

__all__ = ["RETRY_SCHEDULE", "LiveTopology", "QueueEntry"]
