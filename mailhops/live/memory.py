"""Giving memory back to the system once a burst of mail is over (glibc's ``malloc_trim``).

A live topology handles mail in many threads (one event loop per server, the queue workers, the
clients), and glibc's allocator keeps what they freed for later use instead of returning it: after a
burst of a few thousand messages the process stayed about 70 MB larger than it needed to be, on a
machine that many students share. ``malloc_trim(0)`` hands the free pages of every arena back to the
system (glibc's malloc_trim(3): "attempts to release free memory from the heap ... Since glibc 2.8 this
function frees memory in all arenas and in all chunks with whole free pages"). It is called when a
server's queue has just become idle, at most once every few seconds (it costs a few milliseconds).
Measured with ``bench/live.py``; limiting the number of arenas (``mallopt(M_ARENA_MAX, 2)``,
mallopt(3)) made no measurable difference and is not used. Elsewhere than glibc (macOS, musl) this does
nothing.

>>> trimmer = Trimmer(every=3600.0)
>>> trimmer.idle(), trimmer.idle(), trimmer.tick()  # within the hour, the second is owed, not made
(True, False, False)
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
import time
from collections.abc import Callable


@functools.lru_cache(maxsize=1)
def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None where the C library has none: macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library this interpreter runs on
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]


class Trimmer:
    """Calls :func:`malloc_trim` once a queue went idle, at most once every ``every`` seconds (for all threads).

    :meth:`idle` says a queue just became idle; when the last trim was too recent, the trim is owed and
    :meth:`tick` (which idle queue workers call about once a second) makes it once the time has come.
    """

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._owed = False

    def idle(self) -> bool:
        """A queue just went idle: give free memory back now, or as soon as :meth:`tick` may; True if it did now."""
        with self._lock:
            self._owed = True
        return self.tick()

    def tick(self) -> bool:
        """Make an owed trim if the last one was long enough ago; True if it did."""
        now = time.monotonic()
        with self._lock:
            if not self._owed or now - self._last < self.every:
                return False
            self._last, self._owed = now, False
        trim = malloc_trim()
        if trim is not None:
            trim(0)
        return True
