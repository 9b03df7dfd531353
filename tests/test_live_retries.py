"""Live mode: a connection lost in the middle of a session is a temporary failure, never a lost message.

A server of the topology is made to hang up during DATA (after the client sent the whole message, before
it answers): the side that was sending keeps the message — a relay in its queue, a mail program in its
outbox — tries again on the retry schedule, and the message is then delivered once, or bounced (by a
relay) or kept in the outbox (by a mail program, which never bounces).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from mailhops import scenarios
from mailhops.live import LiveTopology

pytestmark = pytest.mark.live

SCHEDULE = (0.2, 0.3)


def _hang_up_during_data(live: LiveTopology, server: str, times: int | None) -> Callable[[], int]:
    """Make ``server`` close the connection instead of answering DATA, ``times`` times (None: always); returns a counter."""
    handler = live._nodes[server].controller.handler  # noqa: SLF001 - a fault injected for the test
    original = handler.handle_DATA
    dropped = [0]

    async def hang_up(smtp: Any, session: Any, envelope: Any) -> str:
        if times is None or dropped[0] < times:
            dropped[0] += 1
            smtp.transport.abort()  # the whole message came in; the connection goes before any reply
            return "421 4.4.2 (never sent)"
        return await original(smtp, session, envelope)

    handler.handle_DATA = hang_up
    return lambda: dropped[0]


def _spooled(live: LiveTopology) -> list[str]:
    return [str(p) for p in (live.directory / "spool").rglob("*") if p.is_file()]


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_relay_that_loses_the_connection_during_data_retries_then_delivers_once() -> None:
    with LiveTopology(scenarios.get("three-hops").build(), retry_schedule=SCHEDULE) as live:
        dropped = _hang_up_during_data(live, "mx.example.net", times=2)
        journey = live.send("alice@example.org", "bob@example.net")
        assert journey.outcome.kind == "deferred" and journey.outcome.status == "4.4.2"
        assert "lost connection with mx.example.net" in journey.outcome.detail
        assert [name for name, _ in live.pending()] == ["smtp.example.org"]  # in the submission server's queue
        journey = live.journal.wait(journey_key(live, journey), 15, final=True)
        assert dropped() == 2
        assert journey.outcome.kind == "delivered"
        assert [h.by_server for h in journey.hops] == ["smtp.example.org", "mx.example.net", "imap.example.net"]
        assert sum("next try in" in note for note in journey.notes) == 2
        _wait_for(lambda: not live.pending())
        assert len(live.maildir("bob@example.net")) == 1  # delivered once, not once per try
        _wait_for(lambda: not _spooled(live))
        assert _spooled(live) == []  # and gone from every spool


def test_a_relay_that_always_loses_the_connection_bounces_after_the_schedule() -> None:
    with LiveTopology(scenarios.get("three-hops").build(), retry_schedule=SCHEDULE) as live:
        dropped = _hang_up_during_data(live, "mx.example.net", times=None)
        journey = live.send("alice@example.org", "bob@example.net", final=True, timeout=20)
        assert dropped() == len(SCHEDULE) + 1  # the first try and one per wait of the schedule
        assert journey.outcome.kind == "bounced" and journey.outcome.status == "4.4.2"
        assert journey.bounce is not None and journey.bounce.outcome.kind == "delivered"
        _wait_for(lambda: len(live.maildir("alice@example.org")) == 1)
        assert len(live.maildir("alice@example.org")) == 1  # the sender has the bounce
        assert len(live.maildir("bob@example.net")) == 0
        assert live.pending() == []


def test_a_mail_program_that_loses_the_connection_keeps_the_message_in_its_outbox_and_tries_again() -> None:
    with LiveTopology(scenarios.get("three-hops").build(), retry_schedule=SCHEDULE) as live:
        dropped = _hang_up_during_data(live, "smtp.example.org", times=1)
        journey = live.send("alice@example.org", "bob@example.net")
        assert journey.outcome.kind == "deferred" and "outbox" in journey.outcome.detail
        assert [name for name, _ in live.pending()] == ["laptop.example.org"]  # in the mail program's outbox
        journey = live.journal.wait(journey_key(live, journey), 15, final=True)
        assert dropped() == 1
        assert journey.outcome.kind == "delivered"
        assert [h.by_server for h in journey.hops] == ["smtp.example.org", "mx.example.net", "imap.example.net"]
        assert any("stays in its outbox, next try in 0.2 s" in note for note in journey.notes)
        _wait_for(lambda: len(live.maildir("bob@example.net")) == 1)
        assert len(live.maildir("bob@example.net")) == 1


def test_a_mail_program_never_bounces_it_keeps_the_message_after_the_schedule() -> None:
    with LiveTopology(scenarios.get("three-hops").build(), retry_schedule=SCHEDULE) as live:
        dropped = _hang_up_during_data(live, "smtp.example.org", times=None)
        journey = live.send("alice@example.org", "bob@example.net", final=True, timeout=20)
        assert dropped() == len(SCHEDULE) + 1
        assert journey.outcome.kind == "deferred" and journey.bounce is None  # as in the simulation: no bounce
        assert "3 tries" in journey.outcome.detail and "keeps the message in its outbox" in journey.outcome.detail
        assert journey.outcome.server == "laptop.example.org"
        assert len(live.maildir("alice@example.org")) == 0 and live.pending() == []


def journey_key(live: LiveTopology, journey: Any) -> int:
    """The journal's key of ``journey`` (the test asks the journal to wait for it to become final)."""
    return next(k for k in live.journal.keys() if live.journal.journey(k) is journey)
