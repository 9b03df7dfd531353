"""Analyzing the delivered message of every simulated journey gives back the simulator's hops."""

from __future__ import annotations

import pytest

scenarios = pytest.importorskip("mailhops.scenarios", reason="the simulator (mailhops.scenarios) is not committed yet")

from mailhops.read.analyze import analyze  # noqa: E402

KEYS = ("from_name", "ip", "by_name", "with", "id", "for", "date_utc")

# Mismatches caused by the simulator's record, not by the parser (reported to the lead). strict: once the
# simulator is fixed the test passes, xfail turns into a failure, and the entry must go.
SIMULATOR_ISSUES: dict[str, str] = {}


def _delivered(journey):
    """The message that reached a mailbox and the journey whose hops it records."""
    if journey.outcome is not None and journey.outcome.kind in ("delivered", "junk") and journey.message:
        return journey.message, journey
    if journey.bounce is not None and journey.bounce.message:
        return journey.bounce.message, journey.bounce
    return None, None


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=SIMULATOR_ISSUES[n], strict=True)) if n in SIMULATOR_ISSUES else n
    for n in scenarios.names()
])
def test_round_trip(name: str, seed: int) -> None:
    journey = scenarios.run(name, seed=seed)
    message, reference = _delivered(journey)
    if message is None:
        assert journey.outcome.kind in ("dropped", "deferred"), f"{name}: no message reached a mailbox"
        return
    analyzed = analyze(message)
    assert len(analyzed.hops) == len(reference.hops)
    got = [{k: h.to_dict()[k] for k in KEYS} for h in analyzed.hops]
    want = [{k: h.to_dict()[k] for k in KEYS} for h in reference.hops]
    assert got == want
    assert all(not h.problems for h in analyzed.hops), [h.problems for h in analyzed.hops]
    from mailhops.mta.headers import count_hops

    assert analyzed.summary["hops"] == count_hops(message)  # the lessons' hop count, both ways


@pytest.mark.parametrize("name", [n for n in scenarios.names()
                                  if scenarios.run(n).bounce is not None and scenarios.run(n).bounce.message])
def test_a_bounce_gives_back_the_route_of_the_returned_message(name: str) -> None:
    """The bounce carries the original's headers (RFC 3464/6522): their route is the original journey's."""
    journey = scenarios.run(name)
    returned = analyze(journey.bounce.message).summary["returned_message"]
    assert returned["action"] == "failed" and returned["status"].startswith("5.")
    assert [{k: h[k] for k in KEYS} for h in returned["hops"]] == [
        {k: h.to_dict()[k] for k in KEYS} for h in journey.hops]
