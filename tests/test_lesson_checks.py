"""The exercise checks: right answers pass, wrong ones get a sentence saying what was wrong, blanks get a reminder."""

from __future__ import annotations

import pytest

from mailhops import lesson_checks as lc
from mailhops import scenarios as sc
from mailhops import widgets as w
from mailhops.mta.headers import count_hops
from mailhops.read.analyze import analyze

# (check, right answer, [(wrong answer, words the explanation must contain), ...])
CASES = [
    (lc.check_servers_in_three_hops, 3, [(2, "too few"), (4, "too many"), ("three", "not a whole number")]),
    (lc.check_hop2_server, "mx.example.net", [("smtp.example.org", "hop 1"), ("imap.example.net", "last hop")]),
    (lc.check_first_server, "smtp.example.org", [("mx.example.net", "home connections")]),
    (lc.check_received_count, 3, [(2, "mailbox server"), (4, "writes none")]),
    (lc.check_xmpp_servers, 2, [(1, "own server"), (3, "no relays")]),
    (lc.check_mx_down_outcome, "deferred", [("bounced", "temporary"), ("dropped", "queue")]),
    (lc.check_mx_choice, "mx-b.example.com", [("mx-a.example.com", "down"), ("mx-c.example.com", "tried last")]),
    (lc.check_implicit_mx, "example.org", [("nowhere", "A/AAAA"), ("mx.example.org", "A record")]),
    (lc.check_null_mx, "example.com. IN MX 0 .", [("MX 10 .", "preference 0"), ("MX 0 mail.example.com.", "root"),
                                                  ("hello", "not an MX record")]),
    (lc.check_seen_ip, "192.0.2.25", [("203.0.113.45", "hop 1"), ("192.168.1.23", "claimed")]),
    (lc.check_claimed_helo, "[192.168.1.23]", [("host-203-0-113-45.isp.example", "reverse DNS"),
                                               ("smtp.example.org", "first word after 'from'")]),
    (lc.check_logged_in_hop, 1, [(2, "too many")]),
    (lc.check_visit_order, ["smtp.example.org", "mx.example.net", "imap.example.net"],
     [(["imap.example.net", "mx.example.net", "smtp.example.org"], "bottom-up"),
      (["mx.example.net", "smtp.example.org", "imap.example.net"], "not their order"),
      ("smtp.example.org", "list")]),
    (lc.check_backscatter_action, "bounce", [("reject", "sending"), ("drop", "no bounce"), ("junk", "folder")]),
    (lc.check_bounce_writer, "smtp.example.org", [("mx.example.net", "never took responsibility")]),
    (lc.check_bounce_sender, "<>", [("MAILER-DAEMON@smtp.example.org", "From: header"), ("alice@example.org", "<>")]),
    (lc.check_silent_outcome, "dropped", [("junk", "Junk"), ("bounced", "sender")]),
    (lc.check_forwarded_recipient, "bob@example.net", [("bob@alumni.university.example", "changes it")]),
    (lc.check_loop_received_count, 49, [(50, "one fewer"), (10, "too few")]),
    (lc.check_limit_ten_hops, 9, [(10, "too many"), (5, "too few")]),
    (lc.check_highest_hop_limit, "qmail", [("postfix", "50"), ("exim", "30")]),
    # amavisd-new (two loopback hops) and ClamSMTP (one) add to the five jobs behind the MX
    (lc.check_enterprise_hops, 11, [(3, "behind the MX"), (12, "Received")]),
    (lc.check_alias_server, "lists.example.net", [("hub.example.net", "sales@example.net")]),
    (lc.check_carol_mailbox, "mbx2016.example.net", [("imap.example.net", "not moved")]),
]


@pytest.mark.parametrize(("check", "right", "wrongs"), CASES, ids=[c[0].__name__ for c in CASES])
def test_check_accepts_the_right_answer_and_explains_wrong_ones(check, right, wrongs) -> None:  # noqa: ANN001
    verdict = check(right)
    assert verdict.ok and verdict.answered, str(verdict)
    assert str(verdict).startswith("✓") and "#009e73" in verdict._repr_html_()
    for wrong, words in wrongs:
        verdict = check(wrong)
        assert not verdict.ok and verdict.answered, (wrong, str(verdict))
        assert words in str(verdict), (wrong, str(verdict))
    for blank in (..., None, "  ", [...]):
        verdict = check(blank)
        assert not verdict.ok and not verdict.answered and "Not answered yet" in str(verdict)


def test_right_answers_follow_the_simulator() -> None:
    """The checks compute their answers: they agree with what the journeys say."""
    three = sc.run("three-hops")
    assert lc.check_received_count(count_hops(three.message)).ok
    assert lc.check_hop2_server(three.hops[1].by_name).ok
    loop = sc.run("forwarding-loop")
    assert lc.check_loop_received_count(count_hops(loop.message)).ok
    limited, _ = w.run_with("forwarding-loop", w.Knobs(hop_limit=10))
    assert lc.check_limit_ten_hops(len(limited.hops)).ok


def test_answers_are_compared_leniently() -> None:
    assert lc.check_first_server(" SMTP.example.org. ").ok
    assert lc.check_bounce_sender("MAIL FROM:<>").ok
    assert lc.check_claimed_helo("192.168.1.23").ok
    assert lc.check_null_mx("0 .").ok


def test_analyzed_message_checks() -> None:
    journey = analyze(sc.run("enterprise").message)
    assert lc.check_analyzed_hops(journey, len(journey.hops)).ok
    assert not lc.check_analyzed_hops(journey, 1).ok
    slowest = max((h.delay_s, h.n) for h in journey.hops if h.delay_s is not None)[1]
    assert lc.check_slowest_hop(journey, slowest, "a").ok  # the row whose delay is largest, explained
    assert not lc.check_slowest_hop(journey, slowest).answered  # without reasons it asks for them
    assert "largest value in the delay column" in str(lc.check_slowest_hop(journey, 1 if slowest > 2 else len(journey.hops), "a"))


def test_explorer_and_builder_checks_read_the_widgets() -> None:
    ex = w.ScenarioExplorer("three-hops")
    assert not lc.check_explorer_junk(ex).ok
    ex.spammy.value = True
    ex.spam.value = "junk"
    assert lc.check_explorer_junk(ex).ok
    ex.picker.value = "webmail"
    assert "three-hops first" in str(lc.check_explorer_junk(ex))
    b = w.TopologyBuilder("three-hops")
    assert "press 'Send a message'" in str(lc.check_builder_fallback(b))
    b.send()
    assert "no MX was down" in str(lc.check_builder_fallback(b))
    b.start_from.value = "mx-fallback"
    b.send()
    assert lc.check_builder_fallback(b).ok
    b.start_from.value = "deferred"
    b.send()
    assert "not delivered" in str(lc.check_builder_fallback(b))
