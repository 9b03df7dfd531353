"""When delivery fails: greylisting, the retry schedule, delay warnings, and a laptop delivering by itself."""

from __future__ import annotations

import email
import email.policy
import email.utils
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailhops import lesson_checks as lc
from mailhops import scenarios
from mailhops.dns import TopologyDNS
from mailhops.errors import TopologyError
from mailhops.live import LiveTopology
from mailhops.mta import policy, postfix
from mailhops.mta.smtp import Envelope, Session
from mailhops.simulate import delay_warning, send
from mailhops.topology import Server
from mailhops.widgets import Knobs, ScenarioExplorer, apply_knobs, run_with

LAPTOP_IP = "203.0.113.45"


# -- greylisting -----------------------------------------------------------------------------------
def test_greylisting_refuses_the_first_attempt_and_takes_the_retry_after_the_backoff() -> None:
    journey = scenarios.run("greylisting")
    assert journey.outcome.kind == "delivered" and journey.bounce is None
    refused, = journey.attempts
    assert refused.by_server == "mx.example.net" and refused.status == "rejected"
    assert refused.smtp[-3].text == str(postfix.greylisted()) == "451 4.7.1 Try again later"
    assert any(line.side == "C" and line.text == "DATA" for line in refused.smtp)  # rspamd answers the end of DATA
    taken = next(h for h in journey.hops if h.by_server == "mx.example.net")
    waited = (taken.date - refused.date).total_seconds()
    assert postfix.MINIMAL_BACKOFF_TIME <= waited < postfix.MINIMAL_BACKOFF_TIME + 60
    assert taken.delay_s is not None and taken.delay_s >= postfix.MINIMAL_BACKOFF_TIME
    assert [a.n for a in journey.attempts] == [taken.n]  # the refused attempt and the later hop are the same hand-off
    assert len(journey.received_headers()) == len(journey.hops)  # the refusal left no Received line


def test_greylist_keys_on_network_sender_and_recipient_and_skips_the_inside() -> None:
    mx = Server("mx.example.net", "mx", "198.51.100.25", greylist_delay=300)
    t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
    grey = policy.Greylist()
    env = Envelope("alice@example.org", "bob@example.net")
    assert grey.check(mx, "192.0.2.25", env, t0) is not None
    assert grey.check(mx, "192.0.2.26", env, t0 + timedelta(seconds=299)) is not None  # same /19, too early
    assert grey.check(mx, "192.0.2.26", env, t0 + timedelta(seconds=300)) is None
    assert grey.check(mx, "192.0.2.25", Envelope("carol@example.org", "bob@example.net"), t0 + timedelta(hours=1))
    assert policy.Greylist(scale=0.01).check(mx, "192.0.2.25", env, t0) is not None
    assert grey.check(Server("mx2.example.net", "mx", "198.51.100.26"), "192.0.2.99", env, t0) is None  # no greylist
    topo = scenarios.get("greylisting").build()
    from mailhops.mta import roles

    internal = Session(client_ip="198.51.100.25", helo="mx.example.net", client=topo.server("mx.example.net"))
    assert roles.data_reply(topo, topo.server("imap.example.net"), internal, env, b"Subject: x\r\n\r\nx\r\n",
                            greylist=policy.Greylist(), when=t0) is None


def test_greylisting_knob_turns_it_on_anywhere_and_off() -> None:
    assert run_with("greylisting", Knobs(greylisting=False))[0].attempts == []
    journey, _ = run_with("three-hops", Knobs(greylisting=True))
    assert [a.decision.split(": ", 1)[1] for a in journey.attempts] == ["451 4.7.1 Try again later"]


# -- retries and delay warnings --------------------------------------------------------------------
@given(st.floats(min_value=0, max_value=10 * 86400, allow_nan=False))
def test_postfix_backoff_stays_between_its_bounds(age: float) -> None:
    wait = postfix.backoff(age)
    assert postfix.MINIMAL_BACKOFF_TIME <= wait <= postfix.MAXIMAL_BACKOFF_TIME
    assert wait == age or wait in (postfix.MINIMAL_BACKOFF_TIME, postfix.MAXIMAL_BACKOFF_TIME)


def test_retry_times_double_then_level_off_until_the_queue_lifetime() -> None:
    times = postfix.retry_times()
    gaps = [b - a for a, b in zip([0, *times[:-1]], times, strict=True)]
    assert gaps[0] == postfix.MINIMAL_BACKOFF_TIME and max(gaps) == postfix.MAXIMAL_BACKOFF_TIME
    assert gaps == sorted(gaps) and times[-1] < postfix.MAXIMAL_QUEUE_LIFETIME
    assert times[-1] + postfix.MAXIMAL_BACKOFF_TIME >= postfix.MAXIMAL_QUEUE_LIFETIME


def test_a_delay_warning_is_a_dsn_with_action_delayed() -> None:
    journey = scenarios.run("deferred")
    raw = delay_warning(journey)
    dsn = email.message_from_bytes(raw, policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report" and dsn["Subject"] == "Delayed Mail (still being retried)"
    assert dsn["To"] == "alice@example.org" and raw.startswith(b"Received: by smtp.example.org (Postfix)")
    status = next(p for p in dsn.walk() if p.get_content_type() == "message/delivery-status").as_string()
    fields = dict(line.split(": ", 1) for line in status.replace("\n    ", " ").splitlines() if ": " in line)
    assert fields["Action"] == "delayed" and fields["Status"] == journey.outcome.status
    arrival = email.utils.parsedate_to_datetime(fields["Arrival-Date"].split(" (")[0])
    until = email.utils.parsedate_to_datetime(fields["Will-Retry-Until"].split(" (")[0])
    written = email.utils.parsedate_to_datetime(str(dsn["Date"]).split(" (")[0])
    assert until - arrival == timedelta(seconds=postfix.MAXIMAL_QUEUE_LIFETIME)
    assert written - arrival == timedelta(seconds=postfix.DELAY_WARNING_TIME)
    assert dsn.get_payload()[2].get_content_type() == "text/rfc822-headers"


def test_a_delay_warning_after_a_4xx_names_the_remote_reply() -> None:
    topology = scenarios.get("greylisting").build()
    topology.server("mx.example.net").greylist_delay = 10 * 86400  # a greylist that never lets anyone in
    journey = send(topology, "alice@example.org", "bob@example.net")
    assert journey.outcome.kind == "deferred" and journey.outcome.status == "4.7.1"
    assert len(journey.attempts) == 2  # the first try and one retry after the backoff
    text = delay_warning(journey, after=timedelta(hours=1)).decode()
    assert "Action: delayed" in text and "Remote-MTA: dns; mx.example.net" in text
    assert "Diagnostic-Code: smtp; 451 4.7.1 Try again later" in text
    assert "in reply to end of DATA command" in " ".join(text.split())


@pytest.mark.parametrize("name, knobs", [("three-hops", Knobs()), ("direct-from-laptop", Knobs())])
def test_no_delay_warning_without_a_server_queue(name: str, knobs: Knobs) -> None:
    with pytest.raises(TopologyError) as err:
        delay_warning(run_with(name, knobs)[0])
    assert "\n" not in str(err.value) and str(err.value).endswith(".")


# -- a laptop delivering by itself ------------------------------------------------------------------
DIRECT = [  # knobs -> (outcome kind, the MX's reply as the policy functions word it)
    (Knobs(), ("deferred", None)),
    (Knobs(port25_blocked=False), ("rejected", postfix.rbl_reply(LAPTOP_IP, scenarios.BLOCKLIST,
                                                                f"https://www.dnsbl.example/query/ip/{LAPTOP_IP}"))),
    (Knobs(port25_blocked=False, blocklisted=False), ("rejected", postfix.spf_refusal("bob@example.net"))),
    (Knobs(port25_blocked=False, no_rdns=True), ("deferred", postfix.unknown_client(LAPTOP_IP))),
    (Knobs(port25_blocked=False, blocklisted=False, spf_fails=False), ("delivered", None)),
]


@pytest.mark.parametrize("knobs, expected", DIRECT)
def test_direct_from_laptop_meets_each_check_in_postfix_order(knobs: Knobs, expected: tuple) -> None:
    journey, _ = run_with("direct-from-laptop", knobs)
    kind, reply = expected
    assert journey.outcome.kind == kind and journey.bounce is None  # a mail program writes no bounce
    assert journey.hops == [] or journey.hops[0].from_server == "laptop.example.org"
    if reply is not None:
        assert journey.outcome.reply == str(reply) and journey.outcome.status == reply.status
        assert journey.attempts[0].smtp[-3].text == str(reply)
    if kind == "deferred" and reply is None:
        assert "Connection timed out" in journey.attempts[0].decision
    if kind == "delivered":
        assert [h.by_server for h in journey.hops] == ["mx.example.net", "imap.example.net"]


def test_the_blocklist_is_a_dns_zone_with_127_0_0_2_for_the_reversed_address() -> None:
    topo, *_ = apply_knobs(scenarios.get("direct-from-laptop"), Knobs())
    view = TopologyDNS(topo)
    text = view.zone_text(scenarios.BLOCKLIST)
    assert text.startswith(f"$ORIGIN {scenarios.BLOCKLIST}.")
    assert "45.113.0.203 2100 IN A 127.0.0.2" in text and "45.113.0.203 2100 IN TXT" in text
    assert view.answers(f"45.113.0.203.{scenarios.BLOCKLIST}", "A") == ["127.0.0.2"]
    assert view.blocklisted("127.0.0.1", scenarios.BLOCKLIST) is None  # RFC 5782 §5: never list 127.0.0.1
    clean, *_ = apply_knobs(scenarios.get("direct-from-laptop"), Knobs(blocklisted=False))
    assert TopologyDNS(clean).blocklisted(LAPTOP_IP, scenarios.BLOCKLIST) is None


def test_the_checks_apply_only_to_mail_from_outside() -> None:
    journey, _ = run_with("three-hops", Knobs())
    topo = scenarios.get("three-hops").build()
    mx = topo.server("mx.example.net")
    mx.dnsbl, mx.reject_spf_fail, mx.reject_unknown_client = (scenarios.BLOCKLIST,), True, True
    topo.server("smtp.example.org").listed_in = ()
    assert send(topo, "alice@example.org", "bob@example.net").outcome.kind == "delivered"  # a clean provider passes


def test_explorer_shows_the_failure_knobs_and_reruns() -> None:
    ex = ScenarioExplorer("direct-from-laptop")
    boxes = ex.failure_knobs
    assert boxes["port25_blocked"].value and boxes["blocklisted"].value and boxes["spf_fails"].value
    assert not boxes["no_rdns"].value and boxes["greylisting"].layout.display == "none"
    boxes["port25_blocked"].value = False
    assert ex.journey.outcome.status == "5.7.1"
    ex.picker.value = "greylisting"
    assert boxes["greylisting"].value and boxes["port25_blocked"].layout.display == "none"
    boxes["greylisting"].value = False
    assert ex.journey.attempts == []


# -- the lesson's checks: a right and a wrong answer each ---------------------------------------------
def test_lesson_checks_of_when_delivery_fails() -> None:
    grey = scenarios.run("greylisting")
    wait = (grey.hops[1].date - grey.attempts[0].date).total_seconds()
    assert lc.check_greylisting_delay(round(wait), "ab").ok
    assert lc.check_greylisting_delay(f"{wait / 60:.0f} min", "a").ok
    assert not lc.check_greylisting_delay(0, "a").ok and "too soon" in lc.check_greylisting_delay(0, "a").message
    assert not lc.check_greylisting_delay(round(wait), "c").ok  # right number, wrong reason
    obstacle = run_with("direct-from-laptop", Knobs(port25_blocked=False))[0].outcome
    for right in ("blocklist", "DNSBL", obstacle.status, obstacle.reply[:3]):
        assert lc.check_first_obstacle(right, "ab").ok, right
    wrong = lc.check_first_obstacle("SPF", "a")
    assert not wrong.ok and "blocklist first" in wrong.message
    assert lc.check_who_tells_alice("her mail program").ok and not lc.check_who_tells_alice("Bob's MX").ok
    assert lc.check_delay_action("delayed").ok and not lc.check_delay_action("failed").ok
    reply = run_with("direct-from-laptop", Knobs(port25_blocked=False, no_rdns=True))[0].outcome.reply
    assert lc.check_reply_class(reply, "temporary").ok and not lc.check_reply_class(reply, "permanent").ok
    assert lc.check_reply_class(obstacle.reply, "5xx").ok and not lc.check_reply_class(obstacle.reply, "retry").ok
    assert not lc.check_reply_class(reply, ...).answered


# -- live ------------------------------------------------------------------------------------------
def _shape(journey):  # noqa: ANN001, ANN202
    return ([h.by_server for h in journey.hops], [(a.by_server, a.status) for a in journey.attempts],
            (journey.outcome.kind, journey.outcome.status), journey.bounce is None)


@pytest.mark.live
@pytest.mark.parametrize("knobs, expected", DIRECT[1:])
def test_live_servers_make_the_same_checks(knobs: Knobs, expected: tuple) -> None:
    live, _ = run_with("direct-from-laptop", knobs, live=True)
    assert _shape(live) == _shape(run_with("direct-from-laptop", knobs)[0])
    reply = expected[1]
    if reply is not None:  # the live MX words it the same way, with the address it really saw
        assert live.outcome.status == reply.status and live.outcome.reply.split()[0] == str(reply).split()[0]


@pytest.mark.live
def test_live_greylisting_waits_for_the_scaled_backoff() -> None:
    with LiveTopology(scenarios.get("greylisting").build(), retry_schedule=(1.0,)) as live:
        journey = live.send("alice@example.org", "bob@example.net", final=True, timeout=20)
    refused, = journey.attempts
    assert refused.smtp[-1].text.startswith("451 4.7.1") or "451 4.7.1 Try again later" in refused.decision
    assert journey.outcome.kind == "delivered"
    taken = journey.hops[1]
    assert (taken.date - refused.date).total_seconds() >= 0.9
