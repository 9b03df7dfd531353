"""Issue 12, the rest: Delivered-To loop detection (``alias-loop``), content filters as they run (amavisd-new's and
ClamSMTP's loopback hops), Received-SPF as each MTA's SPF software writes it, and qmail's two stamps read as one hop."""

from __future__ import annotations

import email
import email.policy
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailhops import scenarios
from mailhops.mta import MTAS
from mailhops.mta.headers import count_hops
from mailhops.mta.roles import delivered_to, filter_hops, local_forward
from mailhops.mta.smtp import Envelope
from mailhops.read.analyze import analyze
from mailhops.read.received import merge_companion_stamps, parse_received
from mailhops.topology import Server

FLAVOURS = scenarios.MTA_CHOICES


def _fields(message: bytes, name: str) -> list[str]:
    msg = email.message_from_bytes(message, policy=email.policy.compat32)
    return [" ".join(str(v).split()) for v in msg.get_all(name) or []]


# -- Delivered-To: the alias loop ------------------------------------------------------------------------------


def test_alias_loop_is_refused_by_postfix_local_with_its_own_words() -> None:
    journey = scenarios.run("alias-loop")
    assert (journey.outcome.kind, journey.outcome.status) == ("looped", "5.4.6")
    assert journey.outcome.server == "aliases.example.net"
    # alias server, Carol's server (.forward), back to the alias server, which finds its own Delivered-To line
    assert [h.by_server for h in journey.hops] == ["smtp.example.org", "mx.example.net", "aliases.example.net",
                                                   "mail.example.com", "mx.example.net", "aliases.example.net"]
    assert _fields(journey.message, "Delivered-To") == ["carol@example.com", "team@example.net"]
    assert count_hops(journey.message) < MTAS["postfix"]["hop_limit"] // 5  # long before any hop limit
    bounce = journey.bounce.message.decode()
    assert "<team@example.net>: mail forwarding loop for team@example.net" in bounce
    assert "Status: 5.4.6" in bounce and "Diagnostic-Code: X-Postfix; mail forwarding loop for team@example.net" in bounce
    assert journey.bounce.outcome.mailbox == "alice@example.org"


def test_each_local_forward_adds_its_delivered_to_line_on_top() -> None:
    journey = scenarios.run("alias-loop")
    alias_hop, forward_hop = journey.hops[2], journey.hops[3]
    assert alias_hop.added_headers[0] == "Delivered-To: team@example.net"
    assert forward_hop.added_headers[0] == "Delivered-To: carol@example.com"
    assert "expanded to carol@example.com" in alias_hop.decision


def test_qmail_local_refuses_the_loop_in_its_words() -> None:
    journey = scenarios.run("alias-loop", mta="qmail")
    assert (journey.outcome.kind, journey.outcome.status) == ("looped", "5.4.6")
    assert "This message is looping: it already has my Delivered-To line. (#5.4.6)" in journey.bounce.message.decode()


@pytest.mark.parametrize("mta", ["exim", "sendmail", "exchange", "gmail"])
def test_mtas_without_delivered_to_loops_run_to_their_hop_limit(mta: str) -> None:
    journey = scenarios.run("alias-loop", mta=mta)
    assert journey.outcome.kind == "looped"
    limit = MTAS[mta]["hop_limit"]
    assert limit - 3 <= count_hops(journey.message) <= limit + 2


def test_forwarding_services_without_mailboxes_keep_no_delivered_to() -> None:
    """virtual_alias_maps-style forwarding (no local delivery) writes no Delivered-To: forwarding-loop still runs to
    Postfix's hop limit, as the lesson shows."""
    journey = scenarios.run("forwarding-loop")
    assert journey.outcome.status == "5.4.0"
    assert "Delivered-To" not in journey.message.split(b"\r\n\r\n", 1)[0].decode()


@given(st.lists(st.sampled_from(["team@example.net", "Team@Example.net", "carol@example.com", "bob@example.net"]),
                max_size=4),
       st.sampled_from(["team@example.net", "carol@example.com", "dave@example.org"]))
def test_local_forward_refuses_exactly_when_its_address_is_already_there(seen: list[str], address: str) -> None:
    message = "".join(f"Delivered-To: {a}\r\n" for a in seen).encode() + b"Subject: hi\r\n\r\nbody"
    refusal, line = local_forward(Server("aliases.example.net", "alias", "198.51.100.60"), address, message)
    looping = address.lower() in [a.lower() for a in seen]
    assert (refusal is not None) == looping and (line is None) == looping
    assert delivered_to(message) == [a.lower() for a in seen]
    if looping:
        assert str(refusal) == f"554 5.4.6 mail forwarding loop for {address}"
    else:
        assert line == f"Delivered-To: {address}"


# -- content filters: amavisd-new and ClamSMTP behind Postfix ---------------------------------------------------


def test_amavis_adds_two_loopback_hops_with_its_headers() -> None:
    journey = scenarios.run("spam-to-junk")
    filt, amavis, reinject = journey.hops[2:5]
    assert (filt.by_name, amavis.by_name, reinject.by_name) == ("spamfilter.example.net", "localhost",
                                                                "spamfilter.example.net")
    assert (amavis.ip, reinject.ip, reinject.from_name) == ("127.0.0.1", "127.0.0.1", "localhost")
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", amavis.id)
    received = " ".join(amavis.added_headers[-1].split())
    assert received.startswith("Received: from spamfilter.example.net ([127.0.0.1]) by localhost "
                               "(spamfilter.example.net [127.0.0.1]) (amavisd-new, port 10024) with ESMTP id ")
    assert [f.split(":")[0] for f in amavis.added_headers] == ["X-Virus-Scanned", "X-Spam-Flag", "X-Spam-Score",
                                                              "X-Spam-Level", "X-Spam-Status", "Received"]
    # amavisd answers Postfix's smtp client only once the re-injection has its queue id
    assert amavis.smtp[-3].text == f"250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {reinject.id}"
    assert " ".join(reinject.added_headers[0].split()).startswith(
        "Received: from localhost (localhost [127.0.0.1]) by spamfilter.example.net (Postfix) with ESMTP id ")
    msg = email.message_from_bytes(journey.message, policy=email.policy.compat32)
    assert msg["X-Spam-Flag"] == "YES" and msg["X-Virus-Scanned"] == "amavisd-new at example.net"
    assert journey.outcome.folder == "Junk"


@pytest.mark.parametrize("name", ["spam-dropped", "spam-accept-then-bounce"])
def test_spam_amavis_discards_or_bounces_is_never_reinjected(name: str) -> None:
    journey = scenarios.run(name)
    last = journey.hops[-1]
    assert last.by_name == "localhost" and last.mta == "amavis"
    assert last.smtp[-3].text.startswith("250 2.7.0 Ok, discarded" if name == "spam-dropped" else "250 2.5.0 Ok, id=")


def test_amavis_x_spam_status_wraps_its_tests_at_78_columns() -> None:
    status = next(f for f in scenarios.run("spam-to-junk").hops[3].added_headers if f.startswith("X-Spam-Status"))
    lines = status.split("\r\n")
    assert lines[0].startswith("X-Spam-Status: Yes, score=") and lines[1].startswith("\ttests=[")
    assert all(len(line.expandtabs(8)) <= 80 for line in lines)
    tests = re.findall(r"([A-Z0-9_]+)=[-\d.]+", " ".join(lines[1:]))
    assert tests == sorted(tests)


def test_clamsmtp_reinjects_and_writes_its_header_at_the_end_of_the_header_block() -> None:
    journey = scenarios.run("enterprise")
    av = [h for h in journey.hops if h.by_server == "av.example.net"]
    assert len(av) == 2 and av[1].from_server == "av.example.net" and av[1].ip == "127.0.0.1"
    assert " ".join(av[1].added_headers[0].split()).startswith(
        "Received: from av.example.net (localhost [127.0.0.1]) by av.example.net (Postfix) with ESMTP id ")
    head = journey.message.split(b"\r\n\r\n", 1)[0].decode()
    assert "X-Virus-Scanned: ClamAV using ClamSMTP" in head
    assert head.index("X-Virus-Scanned: ClamAV using ClamSMTP") > head.index("Subject:")  # below the original's


@pytest.mark.parametrize("mta", ["exim", "sendmail", "qmail", "exchange", "gmail"])
def test_other_mtas_filter_inside_their_own_hop(mta: str) -> None:
    topo = scenarios.get("spam-to-junk").build(mta=mta)
    server = topo.server("spamfilter.example.net")
    assert filter_hops(server, Envelope("alice@example.org", "bob@example.net"), b"Subject: x\r\n\r\nx",
                       scenarios.run("three-hops").hops[0].date, random.Random(0), 3) == []
    assert not any(h.by_name == "localhost" for h in scenarios.run("spam-to-junk", mta=mta).hops)


# -- Received-SPF as each MTA's SPF software writes it ------------------------------------------------------------

_RECEIVED_SPF = {
    "postfix": r"Pass \(mailfrom\) identity=mailfrom; client-ip=192\.0\.2\.25; helo=smtp\.example\.org; "
               r"envelope-from=alice@example\.org; receiver=<UNKNOWN>",
    "exim": r"pass \(mx\.example\.net: domain of example\.org designates 192\.0\.2\.25 as permitted sender\) "
            r"client-ip=192\.0\.2\.25; envelope-from=alice@example\.org; helo=smtp\.example\.org;",
    "sendmail": r"Pass \(mx\.example\.net: domain of example\.org designates 192\.0\.2\.25 as permitted sender\) "
                r"client-ip=192\.0\.2\.25; envelope-from=\"alice@example\.org\"; helo=smtp\.example\.org; "
                r"receiver=mx\.example\.net; mechanism=\S+; identity=mailfrom",
    "exchange": r"Pass \(mx\.example\.net: domain of example\.org designates 192\.0\.2\.25 as permitted sender\) "
                r"receiver=mx\.example\.net; client-ip=192\.0\.2\.25; helo=smtp\.example\.org;",
    "gmail": r"pass \(google\.com: domain of alice@example\.org designates 192\.0\.2\.25 as permitted sender\) "
             r"client-ip=192\.0\.2\.25;",
}


@pytest.mark.parametrize("mta", FLAVOURS)
def test_received_spf_is_written_as_the_mtas_spf_software_writes_it(mta: str) -> None:
    message = scenarios.run("three-hops", mta=mta).message
    value = _fields(message, "Received-SPF")[0]
    assert re.fullmatch(_RECEIVED_SPF.get(mta, _RECEIVED_SPF["sendmail"]), value), value
    spf = analyze(message).auth["received_spf"][0]  # the analyzer still reads it
    assert spf["result"] == "pass" and spf["client_ip"] == "192.0.2.25"


def test_policyd_spf_words_a_bounce_without_helo_record_its_own_way() -> None:
    bounce = scenarios.run("alias-loop").bounce.message  # from aliases.example.net, which has no SPF record
    values = _fields(bounce, "Received-SPF")
    assert values and values[0].startswith("None (no SPF record) identity=no SPF record; client-ip=")
    assert "envelope-from=<>;" in values[0]


# -- qmail's two stamps of one hop --------------------------------------------------------------------------------


def test_qmail_stamps_of_one_hop_read_as_one_and_a_bracketed_helo_is_no_ip() -> None:
    journey = scenarios.run("three-hops", mta="qmail")
    hops = analyze(journey.message).hops
    assert [h.by_name for h in hops] == ["smtp.example.org", "mx.example.net", "imap.example.net"]
    assert (hops[0].ip, hops[0].helo) == ("203.0.113.45", "[192.168.1.23]")


def test_a_local_qmail_stamp_stays_a_hop_of_its_own() -> None:
    hops = [parse_received("(qmail 4711 invoked by uid 1000); 2 Mar 2026 09:00:04 -0000", n=1),
            parse_received("from a.example.org (192.0.2.1) by b.example.net with SMTP; 2 Mar 2026 09:00:05 -0000", n=2),
            parse_received("(qmail 4712 invoked from network); 2 Mar 2026 09:00:05 -0000", n=3)]
    merged = merge_companion_stamps(hops)
    assert [(h.n, h.by_name) for h in merged] == [(1, None), (2, "b.example.net")]
