"""The queue of a live server: spooled entries, worker threads, and what is waiting when.

A server that accepted a message writes it to its spool before it answers 250 (an accepted message is
never only in memory), and its worker threads take the entries in order of due time: at once, or after
the wait of a retry.

As in Postfix's queue, a message is one spool file whatever its number of recipients: a line of JSON
(the envelope sender, the queue id and the recipients still to deliver, each with the trace header
fields this server wrote for it) and then the message once. Delivery goes on per recipient (one
:class:`QueueEntry` each, one journey each); a recipient that is done is struck from the file, and the
file goes when the last one is done.

>>> import tempfile
>>> from pathlib import Path
>>> from mailhops.mta.roles import Envelope
>>> with tempfile.TemporaryDirectory() as tmp:
...     queue = MailQueue("mx.example.net", Path(tmp) / "spool", 1, attempt=print)
...     bob, carol = (QueueEntry(n, Envelope("alice@example.org", rcpt), f"Received: for <{rcpt}>\\r\\nHi\\r\\n".encode(),
...                              qid="4Xb2Z") for n, rcpt in ((1, "bob@example.net"), (2, "carol@example.net")))
...     queue.put_message([bob, carol], delay=60.0)  # a retry in a minute; the workers are not even started
...     print([e.qid for e in queue.pending()], [p.name for p in queue.spool.iterdir()], bob.path == carol.path)
...     queue.done(bob)
...     print(spooled_recipients(carol.path))
...     queue.done(carol)
...     print(carol.path.exists())
['4Xb2Z', '4Xb2Z'] ['00000000-4Xb2Z'] True
['carol@example.net']
False
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..journey import Hop
from ..mta.roles import Envelope
from .memory import Trimmer


@dataclass
class QueueEntry:
    """A recipient of a message in a server's queue, with the message as this server stamped it for that recipient."""

    key: int
    envelope: Envelope
    message: bytes
    qid: str | None = None
    attempts: int = 0
    after_done: bool = False
    hop: Hop | None = None
    path: Path | None = None
    #: The spool file it shares with the message's other recipients (set when it is spooled).
    spooled: SpoolFile | None = field(default=None, repr=False)


class SpoolFile:
    """One message in a server's spool: one file for all its recipients, struck off one by one as they are done.

    The file is a line of JSON — ``mail_from``, ``qid`` and ``recipients`` (each ``rcpt``, ``original_rcpt``
    and ``trace``, the header fields this server prepended for that recipient) — then the message as this
    server stamped it, less those fields. Written to a temporary name and renamed into place, so a crash
    never leaves half a file.
    """

    def __init__(self, path: Path, entries: list[QueueEntry], *, written: bool = False) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pending = list(entries)
        for entry in entries:
            entry.path, entry.spooled = path, self
        if not written:  # ``written``: the file is there already (taken up again from the spool)
            self._write()

    def _write(self) -> None:
        entries = self._pending
        tail = _common_tail([e.message for e in entries])
        first = entries[0]
        head = {"mail_from": first.envelope.mail_from, "qid": first.qid,
                "recipients": [{"rcpt": e.envelope.rcpt, "original_rcpt": e.envelope.original_rcpt,
                                "trace": e.message[:len(e.message) - len(tail)].decode("utf-8", "surrogateescape")}
                               for e in entries]}
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_bytes(json.dumps(head).encode() + b"\n" + tail)
        os.replace(temporary, self.path)

    def done(self, entry: QueueEntry) -> None:
        """``entry``'s recipient is done: strike it from the file, or remove the file when it was the last."""
        with self._lock:
            left = [e for e in self._pending if e is not entry]  # by identity: two entries may look alike
            if len(left) == len(self._pending):
                return
            self._pending = left
            if self._pending:
                self._write()
                return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _common_tail(messages: list[bytes]) -> bytes:
    """The longest ending all ``messages`` share (they differ only in the trace fields a server wrote per recipient).

    >>> _common_tail([b"Received: for <a>\\r\\nHi", b"Received: for <bc>\\r\\nHi"])
    b'>\\r\\nHi'
    """
    first = messages[0]
    if len(messages) == 1:  # one recipient (nearly always): the whole message
        return first
    size = min(len(m) for m in messages)
    low, high = 0, size  # a binary search on the length: each comparison runs in C, a few dozen in all
    while low < high:
        mid = (low + high + 1) // 2
        if all(m.endswith(first[len(first) - mid:]) for m in messages[1:]):
            low = mid
        else:
            high = mid - 1
    return first[len(first) - low:] if low else b""


def spooled_recipients(path: Path) -> list[str]:
    """The recipients a spool file still holds.

    >>> spooled_recipients(Path("/nonexistent"))
    []
    """
    try:
        with path.open("rb") as f:
            head = json.loads(f.readline())
    except (OSError, ValueError):
        return []
    if "recipients" in head:
        return [str(r["rcpt"]) for r in head["recipients"]]
    return [str(head["rcpt"])] if "rcpt" in head else []


class MailQueue:
    """A server's queue: entries spooled to disk, handed to ``attempt`` by worker threads when their time comes.

    ``attempt(entry)`` makes one delivery attempt; to retry later it puts the entry back with a delay,
    and once the entry's journey has ended here it calls :meth:`done`, which removes it from the spool.
    """

    def __init__(self, name: str, spool: Path | None, workers: int, attempt: Callable[[QueueEntry], None],
                 trimmer: Trimmer | None = None) -> None:
        self.spool = spool
        self._attempt = attempt
        self._trimmer = trimmer  # told when the queue goes idle: freed memory goes back to the system
        self._heap: list[tuple[float, int, QueueEntry, bool]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._stopping = False
        self._busy = 0
        self._fresh = 0  # entries waiting for their first try (not retries): the backlog
        self._threads = [threading.Thread(target=self._run, name=f"mailhops-queue-{name}-{i}", daemon=True)
                         for i in range(workers)]
        if spool is not None:  # None: a queue in memory only (a mail program's outbox)
            spool.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def recover(self, make_key: Callable[[Envelope], int]) -> list[QueueEntry]:
        """Queue again every message a previous run left in the spool (``mailhops serve --spool DIR``).

        Each file holds one message and the recipients still to deliver (see :class:`SpoolFile`); each
        recipient's journey gets a new key from ``make_key``. Files that are not spool entries are left alone.
        """
        found: list[QueueEntry] = []
        if self.spool is None:
            return found
        for path in sorted(p for p in self.spool.iterdir() if p.is_file() and not p.name.endswith(".tmp")):
            try:
                head, _, tail = path.read_bytes().partition(b"\n")
                data = json.loads(head)
                seq = int(path.name.split("-", 1)[0])
                mail_from = str(data["mail_from"])
                if "recipients" in data:
                    recipients = [(str(r["rcpt"]), r.get("original_rcpt"), str(r.get("trace", "")).encode("utf-8", "surrogateescape"))
                                  for r in data["recipients"]]
                else:  # one recipient a file (before a message became one file)
                    recipients = [(str(data["rcpt"]), data.get("original_rcpt"), b"")]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if not recipients:
                continue
            qid = path.name.split("-", 1)[1] if "-" in path.name else None
            entries = []
            for rcpt, original, trace in recipients:
                env = Envelope(mail_from, rcpt, original)
                entries.append(QueueEntry(make_key(env), env, trace + tail, qid=None if qid == "noid" else qid))
            SpoolFile(path, entries, written=True)
            self._seq = itertools.count(max(seq + 1, next(self._seq)))
            found.extend(entries)
            for entry in entries:
                self.put(entry)
        return found

    def idle(self) -> bool:
        """Nothing waiting and nothing being worked on."""
        with self._cond:
            return not self._heap and self._busy == 0

    def put(self, entry: QueueEntry, delay: float = 0.0) -> None:
        """Queue ``entry`` (spooled first, as a message of its own, unless it is already)."""
        if entry.path is None and self.spool is not None:
            self.put_message([entry], delay)
            return
        with self._cond:
            fresh = delay == 0.0 and entry.attempts == 0
            self._fresh += fresh
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), entry, fresh))
            self._cond.notify()

    def backlog(self) -> int:
        """How many entries wait for their first try (retries waiting for their time are not counted)."""
        return self._fresh

    def put_message(self, entries: list[QueueEntry], delay: float = 0.0) -> None:
        """Spool one message with its recipients (one entry each) in one file, then queue each recipient."""
        if not entries:
            return
        if self.spool is None:
            for entry in entries:
                self.put(entry, delay)
            return
        # written to disk before the 250 reply: an accepted message is never only in memory
        name = f"{next(self._seq):08d}-{entries[0].qid or 'noid'}".replace("/", "_")
        SpoolFile(self.spool / name, entries)
        for entry in entries:
            self.put(entry, delay)

    def done(self, entry: QueueEntry) -> None:
        """``entry``'s journey ended here: strike its recipient from the spool."""
        if entry.spooled is not None:
            entry.spooled.done(entry)
        elif entry.path is not None:
            with contextlib.suppress(FileNotFoundError):
                entry.path.unlink()

    def pending(self) -> list[QueueEntry]:
        with self._cond:
            return [item[2] for item in sorted(self._heap, key=lambda item: item[:2])]

    def _run(self) -> None:
        while True:
            if self._trimmer is not None:
                self._trimmer.tick()  # a trim owed since the queue went idle (outside the lock: it takes milliseconds)
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                if not (self._heap and self._heap[0][0] <= now):
                    self._cond.wait(min(self._heap[0][0] - now, 1.0) if self._heap else 1.0)
                    continue
                _, _, entry, fresh = heapq.heappop(self._heap)
                self._fresh -= fresh
                self._busy += 1
            try:
                self._attempt(entry)
            finally:
                with self._cond:
                    self._busy -= 1
                    idle = self._busy == 0 and not (self._heap and self._heap[0][0] <= time.monotonic())
            if idle and self._trimmer is not None:
                self._trimmer.idle()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            if t.is_alive():
                t.join()

