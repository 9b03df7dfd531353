"""The queue of a live server: spooled entries, worker threads, and what is waiting when.

A server that accepted a message writes it to its spool before it answers 250 (an accepted message is
never only in memory), and its worker threads take the entries in order of due time: at once, or after
the wait of a retry.

>>> import tempfile
>>> from pathlib import Path
>>> from mailhops.mta.roles import Envelope
>>> with tempfile.TemporaryDirectory() as tmp:
...     queue = MailQueue("mx.example.net", Path(tmp) / "spool", 1, attempt=print)
...     entry = QueueEntry(1, Envelope("alice@example.org", "bob@example.net"), b"Hi\\r\\n", qid="4Xb2Z")
...     queue.put(entry, delay=60.0)  # a retry in a minute; the workers are not even started
...     print([e.qid for e in queue.pending()], entry.path.name)
...     queue.done(entry)
...     print(entry.path.exists())
['4Xb2Z'] 00000000-4Xb2Z
False
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..journey import Hop
from ..mta.roles import Envelope


@dataclass
class QueueEntry:
    """A message in a server's queue: one recipient, the message as this server stamped it."""

    key: int
    envelope: Envelope
    message: bytes
    qid: str | None = None
    attempts: int = 0
    after_done: bool = False
    hop: Hop | None = None
    path: Path | None = None


class MailQueue:
    """A server's queue: entries spooled to disk, handed to ``attempt`` by worker threads when their time comes.

    ``attempt(entry)`` makes one delivery attempt; to retry later it puts the entry back with a delay,
    and once the entry's journey has ended here it calls :meth:`done`, which removes it from the spool.
    """

    def __init__(self, name: str, spool: Path, workers: int, attempt: Callable[[QueueEntry], None]) -> None:
        self.spool = spool
        self._attempt = attempt
        self._heap: list[tuple[float, int, QueueEntry]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._stopping = False
        self._busy = 0
        self._threads = [threading.Thread(target=self._run, name=f"mailhops-queue-{name}-{i}", daemon=True)
                         for i in range(workers)]
        spool.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def recover(self, make_key: Callable[[Envelope], int]) -> list[QueueEntry]:
        """Queue again every message a previous run left in the spool (``mailhops serve --spool DIR``).

        Each file holds one line of JSON (the envelope) and the message as the server stamped it; the
        journey of each gets a new key from ``make_key``. Files that are not spool entries are left alone.
        """
        found = []
        for path in sorted(p for p in self.spool.iterdir() if p.is_file()):
            try:
                head, _, message = path.read_bytes().partition(b"\n")
                data = json.loads(head)
                env = Envelope(str(data["mail_from"]), str(data["rcpt"]), data.get("original_rcpt"))
                seq = int(path.name.split("-", 1)[0])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            qid = path.name.split("-", 1)[1] if "-" in path.name else None
            entry = QueueEntry(make_key(env), env, message, qid=None if qid == "noid" else qid, path=path)
            self._seq = itertools.count(max(seq + 1, next(self._seq)))
            found.append(entry)
            self.put(entry)
        return found

    def idle(self) -> bool:
        """Nothing waiting and nothing being worked on."""
        with self._cond:
            return not self._heap and self._busy == 0

    def put(self, entry: QueueEntry, delay: float = 0.0) -> None:
        seq = next(self._seq)
        if entry.path is None:  # written to disk before the 250 reply: an accepted message is never only in memory
            entry.path = self.spool / f"{seq:08d}-{entry.qid or 'noid'}".replace("/", "_")
            head = json.dumps({"mail_from": entry.envelope.mail_from, "rcpt": entry.envelope.rcpt,
                               "original_rcpt": entry.envelope.original_rcpt}).encode()
            entry.path.write_bytes(head + b"\n" + entry.message)
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, seq, entry))
            self._cond.notify()

    def done(self, entry: QueueEntry) -> None:
        if entry.path is not None:
            with contextlib.suppress(FileNotFoundError):
                entry.path.unlink()

    def pending(self) -> list[QueueEntry]:
        with self._cond:
            return [e for _, _, e in sorted(self._heap)]

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(min(self._heap[0][0] - now, 1.0) if self._heap else 1.0)
                if self._stopping:
                    return
                _, _, entry = heapq.heappop(self._heap)
                self._busy += 1
            try:
                self._attempt(entry)
            finally:
                with self._cond:
                    self._busy -= 1

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            if t.is_alive():
                t.join()

