"""The journal: the journeys of a live topology, built hop by hop as its servers report them.

Many servers work on one message at once (the submission server's queue worker is still closing its
session while the MX already relays), so a journey here is built under a lock and is only *settled* once
its outcome is known, every connection that carried it has closed, and its bounce (if any) is settled.

>>> from mailhops.journey import Outcome
>>> journal = Journal()
>>> key = journal.new("alice@example.org", "bob@example.net")
>>> journal.opened(key)
>>> journal.finish(key, Outcome("delivered", "2.0.0", "Delivered."))
>>> journal.wait(key, 0.01).outcome.kind  # still open: a connection that carried it has not closed
Traceback (most recent call last):
...
mailhops.errors.LiveError: The message did not reach a final state within 0.01 s on the live servers.
>>> journal.closed(key)
>>> journal.wait(key, 0.01, final=True).outcome.kind
'delivered'
"""

from __future__ import annotations

import collections
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import LiveError
from ..journey import Hop, Journey, Lookup, Outcome
from ..topology import Topology


@dataclass
class _Track:
    journey: Journey
    parent: int | None = None
    bounce: int | None = None
    open: int = 0
    last_time: float | None = None
    given_up: bool = False
    settled: threading.Event = field(default_factory=threading.Event)
    final: threading.Event = field(default_factory=threading.Event)


class Journal:
    """The journeys of every message a live topology handles, built as servers report hops.

    A journey is *settled* when its outcome is known, every connection that carried it has closed,
    and its bounce (if any) is settled too; it is *final* when, in addition, the outcome is not
    ``deferred``.

    Memory stays bounded under any load: once more than ``keep`` journeys are final, the oldest final
    ones (with their bounces) are let go (``keep`` None: every journey is kept).

    >>> journal = Journal(keep=2)
    >>> keys = [journal.new("a@example.org", "b@example.net") for _ in range(5)]
    >>> for key in keys:
    ...     journal.finish(key, Outcome("delivered", "2.0.0", "Delivered."))
    >>> len(journal), journal.keys()
    (2, [4, 5])
    """

    def __init__(self, on_event: Callable[[str, Journey, Any], None] | None = None,
                 topology: Topology | None = None, *, keep: int | None = None) -> None:
        self.topology = topology
        self._lock = threading.RLock()
        self._tracks: dict[int, _Track] = {}
        self._keys = itertools.count(1)
        self.on_event = on_event
        self.keep = keep
        self._final: collections.deque[int] = collections.deque()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tracks)

    def new(self, envelope_from: str, envelope_to: str, *, parent: int | None = None) -> int:
        with self._lock:
            key = next(self._keys)
            journey = Journey(source="live", envelope_from=envelope_from, envelope_to=envelope_to,
                              topology=self.topology)
            self._tracks[key] = _Track(journey, parent=parent)
            return key

    def journey(self, key: int) -> Journey:
        track = self._tracks.get(key)
        if track is None:
            raise LiveError(f"The journey {key} is over and no longer kept (the journal keeps the last {self.keep}).")
        return track.journey

    def keys(self) -> list[int]:
        with self._lock:
            return [k for k, t in self._tracks.items() if t.parent is None]

    def _track(self, key: int) -> _Track:
        """The track of ``key``; a throw-away one when the journey was already let go (a late report changes nothing)."""
        track = self._tracks.get(key)
        return track if track is not None else _Track(Journey(source="live"))

    def _emit(self, what: str, key: int, payload: Any) -> None:
        if self.on_event is not None:
            try:
                self.on_event(what, self._track(key).journey, payload)
            except Exception:  # noqa: BLE001 - a printing callback must never break delivery
                pass

    def add_hop(self, key: int, hop: Hop, precise: float) -> None:
        with self._lock:
            track = self._track(key)
            hop.n = len(track.journey.hops) + 1
            if track.last_time is not None:
                hop.delay_s = round(precise - track.last_time, 3)
            track.last_time = precise
            track.journey.hops.append(hop)
        self._emit("hop", key, hop)

    def add_attempt(self, key: int, hop: Hop) -> None:
        with self._lock:
            track = self._track(key)
            hop.n = len(track.journey.hops) + 1
            track.journey.attempts.append(hop)
        self._emit("attempt", key, hop)

    def add_lookup(self, key: int, lookup: Lookup) -> None:
        with self._lock:
            track = self._track(key)
            lookup.before_hop = len(track.journey.hops) + 1
            track.journey.lookups.append(lookup)

    def note(self, key: int, text: str) -> None:
        with self._lock:
            self._track(key).journey.notes.append(text)

    def copy(self, key: int, text: str) -> None:
        with self._lock:
            self._track(key).journey.copies.append(text)

    def opened(self, key: int) -> None:
        with self._lock:
            self._track(key).open += 1

    def closed(self, key: int) -> None:
        with self._lock:
            self._track(key).open -= 1
            if key in self._tracks:
                self._check(key)

    def finish(self, key: int, outcome: Outcome, *, message: bytes | None = None, bounce: int | None = None) -> None:
        """Record the outcome (and the bounce journey it caused) of journey ``key``."""
        with self._lock:
            if key not in self._tracks:
                return
            track = self._tracks[key]
            track.journey.outcome = outcome
            if message is not None:
                track.journey.message = message
            if bounce is not None:
                track.bounce = bounce
                track.journey.bounce = self._track(bounce).journey
            self._check(key)
        self._emit("outcome", key, outcome)

    def give_up(self, key: int, outcome: Outcome) -> None:
        """The last word on journey ``key`` though it is still ``deferred``: nobody tries again (a mail program
        that keeps the message in its outbox), so the journey is final.

        >>> journal = Journal()
        >>> key = journal.new("alice@example.org", "bob@example.net")
        >>> journal.give_up(key, Outcome("deferred", "4.4.1", "Kept in the outbox."))
        >>> journal.wait(key, 0.01, final=True).outcome.kind
        'deferred'
        """
        with self._lock:
            if key not in self._tracks:
                return
            self._tracks[key].given_up = True
        self.finish(key, outcome)

    def _check(self, key: int) -> None:
        track = self._tracks[key]
        outcome = track.journey.outcome
        if outcome is None or track.open > 0:
            return
        child = self._tracks.get(track.bounce) if track.bounce is not None else None
        if child is not None and not child.settled.is_set():
            return
        track.settled.set()
        if (outcome.kind != "deferred" or track.given_up) and (child is None or child.final.is_set()) and not track.final.is_set():
            track.final.set()
            if track.parent is None:
                self._final.append(key)
                self._prune()
        if track.parent is not None and track.parent in self._tracks:
            self._check(track.parent)

    def _prune(self) -> None:
        """Let go of the oldest final journeys (and their bounces) beyond ``keep``."""
        if self.keep is None:
            return
        while len(self._final) > self.keep:
            key: int | None = self._final.popleft()
            while key is not None:
                track = self._tracks.pop(key, None)
                key = track.bounce if track is not None else None

    def wait(self, key: int, timeout: float, *, final: bool = False) -> Journey:
        """Block until journey ``key`` is settled (or final); raise :class:`LiveError` on timeout."""
        track = self._tracks.get(key)
        if track is None:
            return self.journey(key)
        event = track.final if final else track.settled
        if not event.wait(timeout):
            raise LiveError(f"The message did not reach a final state within {timeout:g} s on the live servers.")
        return track.journey

