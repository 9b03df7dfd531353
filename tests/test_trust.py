"""Trust across hops: DKIM, ARC, DMARC and SRS made and checked with dkimpy, pyspf, authheaders and srslib."""

from __future__ import annotations

import email
import email.policy

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops.dns import TopologyDNS, dns_for
from mailhops.mta import trust
from mailhops.scenarios import get, names
from mailhops.simulate import send
from mailhops.topology import Topology


def _parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _results(raw: bytes) -> list[str]:
    return [" ".join(str(v).split()) for v in _parsed(raw).get_all("Authentication-Results") or []]


@pytest.mark.parametrize("name", names())
def test_every_signature_of_every_scenario_checks_out_with_dkimpy(name: str) -> None:
    """dkimpy, asked through the topology's zones, verifies the newest signature of every scenario's message;
    only the mailing list's older (the author's) signature is broken, by the footer; only the list seals ARC."""
    journey = get(name).run()
    raw = journey.message
    view = TopologyDNS(journey.topology)
    count = raw.split(b"\r\n\r\n", 1)[0].lower().count(b"\r\ndkim-signature:") + raw.lower().startswith(b"dkim-signature:")
    # (amavisd-new's loopback hop is received by "localhost", which is no server of the topology)
    outbound = [h for h in journey.hops
                if getattr(journey.topology.servers.get(h.by_server or ""), "role", None) in ("submission", "relay")]
    assert count >= 1 if outbound else count == 0, "the sender's outbound server signs every message, only it"
    for idx in range(count):
        broken = name == "mailing-list" and idx == 1
        verifier = dkim.DKIM(raw)
        if broken:
            with pytest.raises(dkim.ValidationError, match="body hash mismatch"):
                verifier.verify(idx=idx, dnsfunc=view.dkim_txt)
        else:
            assert verifier.verify(idx=idx, dnsfunc=view.dkim_txt), (name, idx)
    cv, _results_, _reason = dkim.arc_verify(raw, dnsfunc=view.dkim_txt)
    assert cv == (dkim.CV_Pass if name == "mailing-list" else dkim.CV_None)


def test_forwarding_fails_spf_but_dkim_carries_dmarc() -> None:
    results = _results(get("forwarding").run().message)
    final = [r for r in results if r.startswith("mx.example.net;")]
    assert "mx.example.net; dmarc=pass (p=none dis=none) header.from=example.org" in final
    assert any(r.startswith("mx.example.net; dkim=pass ") and "header.d=example.org" in r for r in final)
    assert "mx.example.net; spf=fail smtp.mailfrom=alice@example.org" in final


def test_forwarding_srs_rewrites_the_envelope_sender_and_spf_passes() -> None:
    journey = get("forwarding-srs").run()
    msg = _parsed(journey.message)
    assert msg["Return-Path"].startswith("<SRS0=") and msg["Return-Path"].endswith("=example.org=alice@alumni.university.example>")
    final = [r for r in _results(journey.message) if r.startswith("mx.example.net;")]
    assert any(r.startswith("mx.example.net; spf=pass smtp.mailfrom=SRS0=") for r in final)
    assert "mx.example.net; dmarc=pass (p=none dis=none) header.from=example.org" in final
    # the same journey twice is byte-identical (the SRS timestamp comes from the simulated clock)
    assert get("forwarding-srs").run().message == journey.message


def test_mailing_list_breaks_the_authors_signature_and_arc_vouches() -> None:
    journey = get("mailing-list").run()
    assert journey.outcome.kind == "delivered"
    msg = _parsed(journey.message)
    assert msg["Subject"] == "[friends] Lunch on Friday?"
    assert msg["List-Id"] == "Friends <friends.lists.example.com>"
    assert msg["List-Unsubscribe"] == "<mailto:friends-leave@lists.example.com>"
    assert msg["Precedence"] == "list"
    assert msg["Return-Path"] == "<friends-bounces@lists.example.com>"
    assert "friends mailing list" in msg.get_content()
    gmail = [r for r in _results(journey.message) if r.startswith("mx.example.net;")]
    assert len(gmail) == 1, "Gmail writes one Authentication-Results field"
    line = gmail[0]
    assert "dkim=pass header.i=@lists.example.com" in line
    assert "dkim=neutral (body hash did not verify) header.i=@example.org" in line
    assert "arc=pass (i=1)" in line and "spf=pass (google.com:" in line
    assert "dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=example.org" in line
    aar = str(msg["ARC-Authentication-Results"])
    assert aar.startswith("i=1; lists.example.com;") and "dkim=pass header.d=example.org" in " ".join(aar.split())


def test_without_arc_the_list_post_is_refused_for_dmarc_p_reject() -> None:
    sc = get("mailing-list")
    topo = sc.build()
    topo.server("lists.example.com").arc = False
    journey = sc.run(topology=topo)
    assert journey.outcome.kind == "rejected" and journey.outcome.status == "5.7.26"
    assert "DMARC policy" in journey.outcome.reply
    topo.server("lists.example.com").list_footer = False  # the list leaves the content alone: DKIM survives
    assert sc.run(topology=topo).outcome.kind == "delivered"


def test_dmarc_reject_refuses_during_smtp_and_the_forger_gets_the_bounce() -> None:
    journey = get("dmarc-reject").run()
    assert journey.outcome.kind == "rejected"
    assert journey.outcome.reply == "550 5.7.1 rejected by DMARC policy for example.org"
    assert journey.attempts and journey.attempts[-1].status == "rejected"
    assert journey.bounce is not None and journey.bounce.envelope_to == "mailer@example.com"
    assert journey.bounce.outcome.mailbox == "mailer@example.com"
    assert not any("alice@example.org" == (j.outcome.mailbox if j.outcome else None) for j in (journey, journey.bounce))
    # with p=none the same forgery is delivered, marked dmarc=fail
    topo = get("dmarc-reject").build()
    topo.domains["example.org"].dmarc = "none"
    delivered = get("dmarc-reject").run(topology=topo)
    assert delivered.outcome.kind == "delivered"
    assert "mx.example.net; dmarc=fail (p=none dis=none) header.from=example.org" in _results(delivered.message)


@pytest.mark.parametrize("mta", ["postfix", "gmail", "exchange", "exim"])
def test_each_mta_writes_authentication_results_its_own_way(mta: str) -> None:
    topo = get("forwarding").build()
    topo.server("mx.example.net").mta = mta
    journey = get("forwarding").run(topology=topo)
    mx = next(h for h in journey.hops if h.by_name == "mx.example.net")
    ar = [" ".join(f.split()) for f in mx.added_headers if f.startswith("Authentication-Results:")]
    if mta == "postfix":
        assert [a.split(";")[1].split("=")[0].strip() for a in ar] == ["dmarc", "dkim", "spf"]
    elif mta == "gmail":
        assert len(ar) == 1 and all(f"{m}=" in ar[0] for m in ("dkim", "spf", "dmarc"))
    elif mta == "exchange":
        assert len(ar) == 1 and ar[0].startswith("Authentication-Results: spf=fail (sender IP is 198.51.100.200)")
        assert "mx.example.net" not in ar[0] and "compauth=pass reason=100" in ar[0]
    else:
        assert ar == [
            "Authentication-Results: mx.example.net; spf=fail smtp.mailfrom=example.org; dkim=pass header.d=example.org "
            "header.s=mail header.a=rsa-sha256; dmarc=pass header.from=example.org"]


def test_a_key_that_is_not_published_gives_permerror() -> None:
    journey = get("three-hops").run()
    topo = get("three-hops").build()
    topo.domains["example.org"].dkim_selector = "rotated"
    checks = trust._check_dkim(journey.message, TopologyDNS(topo))
    assert [c.result for c in checks] == ["permerror"]


def test_signatures_are_deterministic_per_seed() -> None:
    assert get("mailing-list").run(seed=3).message == get("mailing-list").run(seed=3).message
    assert get("three-hops").run(seed=3).message != get("three-hops").run(seed=4).message


def _chain(forwarders: list[tuple[bool, bool, str]], final_mta: str) -> Topology:
    sc = get("three-hops")
    topo = sc.build()
    topo.server("mx.example.net").mta = final_mta
    target = "bob@example.net"
    for i, (srs, arc, mta) in reversed(list(enumerate(forwarders))):
        domain = f"fwd{i}.university.example"
        topo.add_domain(domain)
        topo.add_server(f"mx.{domain}", "forwarder", f"198.51.100.{200 + i}", domain=domain, mx_preference=10,
                        srs=srs, arc=arc, mta=mta)
        topo.add_user(f"bob@{domain}", forward_to=target)
        target = f"bob@{domain}"
    return topo


@settings(max_examples=25, deadline=None)
@given(forwarders=st.lists(st.tuples(st.booleans(), st.booleans(), st.sampled_from(["postfix", "exim", "gmail"])),
                           min_size=1, max_size=4),
       final_mta=st.sampled_from(["postfix", "exim", "gmail", "exchange", "sendmail", "qmail"]),
       seed=st.integers(0, 50))
def test_forwarding_that_keeps_the_body_keeps_dkim_pass(forwarders: list[tuple[bool, bool, str]], final_mta: str,
                                                        seed: int) -> None:
    topo = _chain(forwarders, final_mta)
    journey = send(topo, "alice@example.org", "bob@fwd0.university.example", seed=seed)
    assert journey.outcome.kind == "delivered"
    view = dns_for(topo)
    author = [c for c in trust._check_dkim(journey.message, view) if c.domain == "example.org"]
    assert author and all(c.result == "pass" for c in author)
    mx = next(h for h in reversed(journey.hops) if h.by_name == "mx.example.net")
    text = " ".join(" ".join(f.split()) for f in mx.added_headers if f.startswith("Authentication-Results:"))
    assert "dkim=pass" in text and "dmarc=pass" in text
    if any(arc for _srs, arc, _mta in forwarders) and final_mta in ("gmail", "exim", "postfix"):
        assert "arc=" in text


def test_both_rsa_paths_give_the_same_signature_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """cryptography (when importable) and dkimpy's pure-Python RSA: PKCS#1 v1.5 is deterministic, so the
    DKIM-Signature and the ARC set are byte for byte the same, and dkimpy verifies them."""
    from datetime import datetime, timezone

    raw = get("three-hops").run().message
    body = raw[raw.index(b"From:"):]
    when = datetime(2026, 3, 2, 9, 0, 7, tzinfo=timezone.utc)
    topo = get("mailing-list").build()
    server = topo.server("lists.example.com")
    made = {}
    for pure in (False, True):
        monkeypatch.setattr(trust, "PURE_PYTHON_RSA", pure)
        trust._SIGNATURES.clear()
        made[pure] = (trust.dkim_sign(body, "example.org", "mail", when), trust.arc_set(server, topo, raw, when))
        assert trust.rsa_backend() == ("dkimpy" if pure else "cryptography")  # cryptography is a dependency
    assert made[False] == made[True]
    signed = (made[True][0] + "\r\n").encode() + body
    assert dkim.DKIM(signed).verify(dnsfunc=TopologyDNS(topo).dkim_txt)


@pytest.mark.parametrize("name", ["mailing-list", "forwarding", "forwarding-loop", "enterprise"])
def test_verifying_the_signed_part_is_verifying_the_message(name: str) -> None:
    """:func:`trust.signed_part` drops only fields no signature covers: dkimpy says the same on both."""
    journey = get(name).run()
    view = TopologyDNS(journey.topology)
    part, count = trust.signed_part(journey.message)
    assert count >= 1 and len(part) < len(journey.message)
    for idx in range(count):
        outcomes = []
        for message in (journey.message, part):
            try:
                outcomes.append(dkim.DKIM(message).verify(idx=idx, dnsfunc=view.dkim_txt))
            except dkim.ValidationError as err:
                outcomes.append(str(err).split(" (")[0])
        assert outcomes[0] == outcomes[1], (name, idx, outcomes)


def test_without_cryptography_the_journey_is_byte_identical() -> None:
    """In the browser (Pyodide) ``cryptography`` may be missing: the simulator signs with dkimpy alone, and the
    delivered message is the same, byte for byte."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['cryptography'] = None\n"
            "from mailhops.scenarios import get; from mailhops.mta import trust\n"
            "assert trust.rsa_backend() == 'dkimpy'\n"
            "sys.stdout.buffer.write(get('mailing-list').run(seed=5).message)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=120).stdout
    assert out == get("mailing-list").run(seed=5).message
