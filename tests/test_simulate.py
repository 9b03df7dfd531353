"""Every scenario ends as the lessons say, and the delivered message is a real RFC 5322 message."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timezone

import pytest

from mailhops import HeaderValueError, TopologyError, count_hops, send
from mailhops.scenarios import SCENARIOS, get, names, run

EXPECTED_PATHS = {
    "three-hops": ["smtp.example.org", "mx.example.net", "imap.example.net"],
    "webmail": ["webmail.example.org", "smtp.example.org", "mx.example.net", "imap.example.net"],
    "mx-fallback": ["smtp.example.org", "mx2.example.net", "imap.example.net"],
    "forwarding": ["smtp.example.org", "mx.alumni.university.example", "mx.example.net", "imap.example.net"],
    # the spam filter's amavisd-new (to localhost:10024, re-injected on 10025) and the virus scanner's ClamSMTP
    # (re-injected on 10026) each add loopback hops on their own machine
    "enterprise": ["smtp.example.org", "mx.example.net", "spamfilter.example.net", "localhost",
                   "spamfilter.example.net", "av.example.net", "av.example.net", "archive.example.net",
                   "lists.example.net", "hub.example.net", "imap.example.net"],
    "migration": ["smtp.example.org", "mx.example.net", "hub.example.net", "imap.example.net"],
}


@pytest.mark.parametrize("name", names())
def test_scenario_ends_with_expected_outcome_and_status(name: str) -> None:
    sc = get(name)
    journey = run(name)
    assert journey.outcome is not None
    assert (journey.outcome.kind, journey.outcome.status) == (sc.expected, sc.expected_status)
    assert journey.scenario == name
    assert sc.summary and len(sc.description) > 100


@pytest.mark.parametrize("name", sorted(EXPECTED_PATHS))
def test_delivery_paths(name: str) -> None:
    journey = run(name)
    assert [h.by_name for h in journey.hops] == EXPECTED_PATHS[name]


def test_three_hops_protocols_and_headers() -> None:
    j = run("three-hops")
    assert [h.with_ for h in j.hops] == ["ESMTPSA", "ESMTPS", "LMTP"]
    msg = j.final_message()
    assert msg is not None
    assert msg["Return-Path"] == "<alice@example.org>"
    assert msg["Delivered-To"] == "bob@example.net"
    received = msg.get_all("Received")
    assert len(received) == 3 == count_hops(j.message)
    # newest on top: the top Received is the mailbox server's LMTP line, the bottom one the submission server's
    assert "by imap.example.net with LMTP" in " ".join(received[0].split())
    assert "by smtp.example.org (Postfix) with ESMTPSA" in " ".join(received[-1].split())
    for field in ("From", "To", "Subject", "Date", "Message-ID"):
        assert msg[field]
    # the IP the server saw and the name the client claimed are both in the first hop
    first = j.hops[0]
    assert first.helo == "[192.168.1.23]" and first.ip == "203.0.113.45"
    assert first.rdns == "host-203-0-113-45.isp.example" and first.from_name == "host-203-0-113-45.isp.example"


def test_smtp_dialogue_has_real_reply_codes() -> None:
    hop = run("three-hops").hops[0]
    text = [str(line) for line in hop.smtp]
    assert text[0].startswith("S: 220 smtp.example.org ESMTP Postfix")
    assert "C: STARTTLS" in text and "S: 235 2.7.0 Authentication successful" in text
    assert any(t.startswith("S: 250 2.0.0 Ok: queued as " + hop.id) for t in text)
    assert text[-1] == "S: 221 2.0.0 Bye"
    lmtp = run("three-hops").hops[2]
    assert any(str(line).startswith("C: LHLO ") for line in lmtp.smtp)


def test_rejection_during_smtp_makes_sender_server_bounce() -> None:
    j = run("unknown-user")
    assert j.attempts and j.attempts[0].status == "rejected"
    assert "550 5.1.1" in j.outcome.reply
    bounce = j.bounce
    assert bounce is not None and bounce.envelope_from == ""
    assert bounce.outcome.kind == "delivered" and bounce.outcome.mailbox == "alice@example.org"
    dsn = bounce.final_message()
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    assert dsn["Return-Path"] == "<>"
    parts = list(dsn.iter_parts())
    # Postfix returns the whole original (message/rfc822) unless it is larger than bounce_size_limit
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", "message/rfc822"]
    status = parts[1].as_string()
    for field in ("Reporting-MTA: dns; smtp.example.org", "Final-Recipient: rfc822; bbo@example.net",
                  "Action: failed", "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1"):
        assert field in status
    assert parts[2].get_payload()[0]["Subject"] == "Lunch on Friday?"
    # the bounce is written by the sender's own server: Postfix stamps it locally, then sends it from there
    assert bounce.hops[0].by_name == "smtp.example.org" and bounce.hops[0].from_name is None
    assert bounce.received_headers()[-1].startswith("by smtp.example.org (Postfix) id ")
    assert bounce.hops[1].from_server == "smtp.example.org"


def test_accept_then_bounce_goes_to_the_forged_sender_and_says_why() -> None:
    j = run("spam-accept-then-bounce")
    assert j.hops[0].by_name == "mail.example.com"  # the spammer's server, not Alice's
    assert j.bounce is not None and j.bounce.outcome.mailbox == "alice@example.org"
    assert any("backscatter" in note for note in j.notes)
    assert j.bounce.hops[0].by_name == "spamfilter.example.net"
    assert j.bounce.hops[1].from_server == "spamfilter.example.net"


def test_spam_to_junk_is_flagged_and_filed() -> None:
    j = run("spam-to-junk")
    msg = j.final_message()
    assert msg["X-Spam-Flag"] == "YES"
    assert msg["X-Spam-Status"].startswith("Yes, score=")
    assert j.outcome.folder == "Junk"


def test_dropped_spam_is_accepted_then_silent() -> None:
    j = run("spam-dropped")
    assert j.bounce is None
    assert "silently discarded" in j.outcome.detail


def test_forwarding_loop_stops_at_postfix_limit_and_bounces() -> None:
    j = run("forwarding-loop")
    assert j.outcome.kind == "looped"
    assert j.outcome.reply == "554 5.4.0 Error: too many hops"
    # Postfix counts its own Received too: it refuses a message that arrives with 49
    assert len(j.hops) == 49
    assert j.bounce is not None and j.bounce.outcome.kind == "delivered"
    assert j.bounce.envelope_from == ""


def test_lower_hop_limit_stops_the_loop_sooner() -> None:
    sc = get("forwarding-loop")
    t = sc.build()
    for s in t.servers.values():
        s.hop_limit = 10
    j = send(t, sc.sender, sc.recipient)
    assert j.outcome.kind == "looped" and len(j.hops) == 9


@pytest.mark.parametrize("mta, reply", [
    ("exim", '550 Too many "Received" headers - suspected mail loop'),
    ("sendmail", "554 5.4.6 Too many hops 26 (25 max): from <alice@example.org> via fwd.example."),
    ("exchange", "554 5.4.14 Hop count exceeded - possible mail loop"),
])
def test_each_mta_stops_loops_with_its_own_words(mta: str, reply: str) -> None:
    sc = get("forwarding-loop")
    t = sc.build()
    for name in ("fwd.example.com", "fwd.university.example"):
        t.servers[name].mta = mta
    j = send(t, sc.sender, sc.recipient)
    assert j.outcome.kind == "looped"
    assert j.outcome.reply.startswith(reply)
    assert j.bounce is not None and j.bounce.outcome.kind == "delivered"
    assert len(j.hops) < 60


def test_deferred_keeps_message_and_records_both_attempts() -> None:
    j = run("deferred")
    assert [a.status for a in j.attempts] == ["unreachable", "unreachable"]
    assert [a.by_name for a in j.attempts] == ["mx1.example.net", "mx2.example.net"]
    assert j.bounce is None
    assert "queue of smtp.example.org" in j.outcome.detail


def test_mx_fallback_tries_primary_first() -> None:
    j = run("mx-fallback")
    assert j.attempts[0].by_name == "mx1.example.net" and j.attempts[0].status == "unreachable"
    assert j.lookups[0].qname == "example.net" and j.lookups[0].before_hop == 2


def test_null_mx_bounces_with_5_1_10() -> None:
    sc = get("three-hops")
    t = sc.build()
    t.domains["example.net"].null_mx = True
    for s in list(t.servers.values()):
        if s.domain == "example.net":
            s.mx_preference = None
    t.users.pop("bob@example.net")
    j = send(t, sc.sender, "bob@example.net")
    assert (j.outcome.kind, j.outcome.status) == ("bounced", "5.1.10")
    assert j.bounce is not None


def test_enterprise_layers_add_their_headers() -> None:
    j = run("enterprise")
    msg = j.final_message()
    # amavisd-new's header on top (with its X-Spam-*), ClamSMTP's at the end of the header block
    assert msg.get_all("X-Virus-Scanned") == ["amavisd-new at example.net", "ClamAV using ClamSMTP"]
    assert msg["X-Spam-Status"].startswith("No, score=") and "tagged_above=-999" in msg["X-Spam-Status"]
    # Exchange-native: the hub hands the message to Exchange's own mailbox server, which rewrites the headers
    assert msg["X-MS-Exchange-Organization-AuthSource"] == "imap.example.net"
    assert "LMTP" not in [h.with_ for h in j.hops]
    assert any("archive copy" in c for c in j.copies)
    exchange = [h for h in j.hops if h.by_name == "hub.example.net"][0]
    assert exchange.with_ == "MICROSOFT SMTP SERVER" and exchange.for_ is None
    received = next(h for h in exchange.added_headers if h.startswith("Received:"))
    assert re.search(r"with Microsoft SMTP Server (\(version=[^)]*\) )?id 15\.2\.\d+\.\d+;", " ".join(received.split()))
    alias = [h for h in j.hops if h.by_name == "lists.example.net"][0]
    assert alias.for_ == "sales@example.net" and "expanded to bob@example.net" in alias.decision


def test_migration_routes_each_user_to_their_generation() -> None:
    sc = get("migration")
    old = sc.run(recipient="carol@example.net")
    assert old.hops[-1].by_name == "mbx2016.example.net"
    assert run("migration").hops[-1].by_name == "imap.example.net"


def test_webmail_first_hop_is_http() -> None:
    j = run("webmail")
    assert j.hops[0].with_ == "HTTP"
    assert "with HTTP (HTTP/1.1 POST)" in j.hops[0].added_headers[-1]
    assert j.hops[1].with_ == "ESMTPSA"


def test_header_injection_is_refused() -> None:
    sc = get("three-hops")
    with pytest.raises(HeaderValueError, match="line break"):
        send(sc.build(), sc.sender, sc.recipient, subject="hi\r\nBcc: all@example.net")


def test_sender_without_client_is_a_topology_error() -> None:
    sc = get("three-hops")
    with pytest.raises(TopologyError, match="cannot send"):
        send(sc.build(), "bob@example.net", sc.sender)


def test_dates_are_realistic_rfc5322() -> None:
    j = run("three-hops")
    msg = email.message_from_bytes(j.message, policy=email.policy.default)
    for value in msg.get_all("Received"):
        date_text = str(value).rsplit(";", 1)[1].strip()
        parsed = email.utils.parsedate_to_datetime(re.sub(r"\s*\([A-Z]+\)$", "", date_text))
        assert parsed.tzinfo is not None
    assert all(h.date.astimezone(timezone.utc).year == 2026 for h in j.hops)


def test_scenario_registry_is_complete() -> None:
    required = {"three-hops", "webmail", "mx-fallback", "spam-rejected", "spam-accept-then-bounce", "spam-dropped",
                "spam-to-junk", "unknown-user", "forwarding", "forwarding-loop", "enterprise", "migration", "deferred",
                "greylisting", "direct-from-laptop"}
    assert required <= set(SCENARIOS)


def test_mx_checks_spf_and_writes_rfc_headers() -> None:
    msg = run("three-hops").final_message()
    # policyd-spf's own layout (pypolicyd-spf, as real Postfix relays show it)
    assert " ".join(str(msg["Received-SPF"]).split()) == ("Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.25; "
                                                          "helo=smtp.example.org; envelope-from=alice@example.org; "
                                                          "receiver=<UNKNOWN>")
    results = [" ".join(str(v).split()) for v in msg.get_all("Authentication-Results")]
    # a Postfix stack: OpenDMARC's line on top, then OpenDKIM's, then policyd-spf's (issue 13)
    assert results[0] == "mx.example.net; dmarc=pass (p=none dis=none) header.from=example.org"
    assert results[1].startswith("mx.example.net; dkim=pass (1024-bit key; unprotected) header.d=example.org ")
    assert results[2] == "mx.example.net; spf=pass smtp.mailfrom=alice@example.org"


@pytest.mark.parametrize(("mta", "spf_above_received"), [("postfix", True), ("gmail", False)])
def test_spf_headers_sit_where_each_mta_writes_them(mta: str, spf_above_received: bool) -> None:
    """Postfix writes PREPENDed headers (policyd-spf's Received-SPF) just above its own Received (smtpd.c);
    Gmail writes Received-SPF and Authentication-Results just below its Received line."""
    topology = SCENARIOS["three-hops"].build()
    topology.servers["mx.example.net"].mta = mta
    mx_hop = send(topology, "alice@example.org", "bob@example.net").hops[1]
    names = [field.split(":", 1)[0] for field in mx_hop.added_headers]
    if spf_above_received:
        assert names[-3:] == ["Received-SPF", "Authentication-Results", "Received"], names
    else:
        assert names[-3:] == ["Received", "Received-SPF", "Authentication-Results"], names


def test_forwarding_breaks_spf_at_the_final_mx() -> None:
    msg = run("forwarding").final_message()
    results = [" ".join(str(v).split()) for v in msg.get_all("Authentication-Results") if "spf=" in str(v)]
    # newest first: the final MX sees the forwarder's address, which example.org's SPF does not list
    assert results == ["mx.example.net; spf=fail smtp.mailfrom=alice@example.org",
                       "mx.alumni.university.example; spf=pass smtp.mailfrom=alice@example.org"]


def test_forged_sender_fails_spf() -> None:
    j = run("spam-accept-then-bounce")
    mx_hop = next(h for h in j.hops if h.by_name == "mx.example.net")
    assert any(f.startswith("Received-SPF: Fail (mailfrom) identity=mailfrom; client-ip=203.0.113.99;")
               for f in mx_hop.added_headers)


def test_bounce_spf_uses_the_helo_name() -> None:
    j = run("forwarding-loop")
    bounce_msg = j.bounce.final_message()
    assert any("smtp.helo=" in str(v) for v in bounce_msg.get_all("Authentication-Results"))


def test_analyzer_trusts_only_the_final_mx_spf_result() -> None:
    from mailhops.read.analyze import analyze

    auth = analyze(run("forwarding").message).auth
    assert auth["trusted_authserv_id"] == "mx.example.net" and auth["spf"] == "fail"
    assert {u["authserv_id"] for u in auth["untrusted"]} == {"mx.alumni.university.example"}
