"""Trust across hops: DKIM, ARC, DMARC and SRS made and checked with dkimpy, pyspf, authheaders and srslib."""

from __future__ import annotations

import email
import email.policy

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops.dns import TopologyDNS, dns_for
from mailhops.mta import signatures, trust
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


def _quarantining_list() -> Topology:
    """mailing-list with example.org at p=quarantine and Bob's MX no longer trusting the list's ARC chain."""
    topo = get("mailing-list").build()
    topo.domains["example.org"].dmarc = "quarantine"
    topo.server("mx.example.net").trust_arc = False
    return topo


def test_dmarc_quarantine_files_the_list_post_into_junk() -> None:
    """RFC 7489 §6.3: p=quarantine asks the receiver to treat failing mail as suspicious; the enforcing MX accepts
    it, marks it, and the mailbox's filter files it into Junk (the outcome says why)."""
    journey = get("mailing-list").run(topology=_quarantining_list())
    assert journey.outcome.kind == "junk" and journey.outcome.folder == "Junk"
    assert "DMARC fails for example.org, whose policy is p=quarantine" in journey.outcome.detail
    assert not journey.attempts or all(a.status != "rejected" for a in journey.attempts)
    msg = _parsed(journey.message)
    assert msg.get_all(trust.QUARANTINE_FIELD) == ["header.from=example.org p=quarantine (mx.example.net)"]
    assert "dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) header.from=example.org" in _results(journey.message)[0]
    mx_hop = next(h for h in journey.hops if h.by_server == "mx.example.net")
    assert any(f.startswith(trust.QUARANTINE_FIELD + ":") for f in mx_hop.added_headers)


@pytest.mark.parametrize("change", ["trust_arc", "no_enforce", "no_junk_filter", "none"])
def test_dmarc_quarantine_only_when_dmarc_fails_and_the_mx_enforces(change: str) -> None:
    topo = _quarantining_list()
    if change == "trust_arc":  # a trusted ARC chain overrides the failure, as it does for p=reject
        topo.server("mx.example.net").trust_arc = True
    elif change == "no_enforce":
        topo.server("mx.example.net").dmarc_enforce = False
    elif change == "no_junk_filter":  # marked by the MX, but the mailbox files nothing
        topo.users["bob@example.net"].junk_filter = False
    else:
        topo.domains["example.org"].dmarc = "none"
    journey = get("mailing-list").run(topology=topo)
    assert journey.outcome.kind == "delivered" and journey.outcome.folder == "INBOX"
    marked = _parsed(journey.message).get_all(trust.QUARANTINE_FIELD)
    assert (marked is not None) is (change == "no_junk_filter")


def test_a_quarantine_mark_from_outside_is_not_trusted() -> None:
    """A sender cannot put a message into Junk (or pass off its own mark): the enforcing MX drops any mark it receives."""
    import random
    from datetime import datetime, timezone

    from mailhops.mta.message import new_message

    sc = get("three-hops")
    written = new_message(sc.sender, sc.recipient, "hi", "hi", datetime(2026, 3, 2, tzinfo=timezone.utc), "example.org",
                          random.Random(0))
    forged = b"X-DMARC-Quarantine: header.from=example.org p=quarantine (mx.example.net)\r\n" + written
    journey = send(sc.build(), sc.sender, sc.recipient, message=forged)
    assert journey.outcome.kind == "delivered" and _parsed(journey.message)[trust.QUARANTINE_FIELD] is None


@pytest.mark.live
def test_live_dmarc_quarantine_lands_in_the_junk_maildir() -> None:
    from mailhops.live import LiveTopology

    sc = get("mailing-list")
    with LiveTopology(_quarantining_list()) as live:
        journey = live.send(sc.sender, sc.recipient, subject=sc.subject, body=sc.body, message=sc.message(0))
        junk = list(live.maildir("bob@example.net", "Junk"))
        inbox = list(live.maildir("bob@example.net"))
    simulated = sc.run(topology=_quarantining_list())
    assert (journey.outcome.kind, journey.outcome.folder) == (simulated.outcome.kind, simulated.outcome.folder) == \
        ("junk", "Junk")
    assert [h.by_server for h in journey.hops] == [h.by_server for h in simulated.hops]
    assert len(junk) == 1 and inbox == []
    assert _parsed(junk[0].as_bytes())[trust.QUARANTINE_FIELD] == "header.from=example.org p=quarantine (mx.example.net)"
    assert "p=quarantine" in journey.outcome.detail


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
        monkeypatch.setattr(signatures, "PURE_PYTHON_RSA", pure)
        signatures._SIGNATURES.clear()
        made[pure] = (signatures.dkim_sign(body, "example.org", "mail", when), trust.arc_set(server, topo, raw, when))
        assert signatures.rsa_backend() == ("dkimpy" if pure else "cryptography")  # cryptography is a dependency
    assert made[False] == made[True]
    signed = (made[True][0] + "\r\n").encode() + body
    assert dkim.DKIM(signed).verify(dnsfunc=TopologyDNS(topo).dkim_txt)


@pytest.mark.parametrize("name", ["mailing-list", "forwarding", "forwarding-loop", "enterprise"])
def test_verifying_the_signed_part_is_verifying_the_message(name: str) -> None:
    """:func:`signatures.signed_part` drops only fields no signature covers: dkimpy says the same on both."""
    journey = get(name).run()
    view = TopologyDNS(journey.topology)
    part, count = signatures.signed_part(journey.message)
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

    names_ = ["mailing-list", "forwarding", "dmarc-reject", "three-hops"]
    code = ("import sys; sys.modules['cryptography'] = None\n"
            "from mailhops.scenarios import get; from mailhops.mta import signatures\n"
            "assert signatures.rsa_backend() == 'dkimpy'\n"
            f"for name in {names_!r}:\n"
            "    j = get(name).run(seed=5)\n"
            "    sys.stdout.buffer.write(j.message + b'\\0' + (j.bounce.message if j.bounce else b'') + b'\\0')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=120).stdout
    expected = b""
    for name in names_:  # signed and verified with cryptography here: the same bytes, the same verdicts
        journey = get(name).run(seed=5)
        expected += journey.message + b"\0" + (journey.bounce.message if journey.bounce else b"") + b"\0"
    assert out == expected


# ---------------------------------------------------------------------------------------------- #
# the fast paths (signatures.py's caches, compiled patterns and cryptography's RSA) give dkimpy's answers


def _real_signature() -> tuple[bytes, bytes, dict, bytes]:
    """(the signed part of a three-hops message, the DKIM-Signature value, its public key as dkimpy parses it, the
    signature bytes)."""
    import base64
    import re

    journey = get("three-hops").run(seed=7)
    part, _count = signatures.signed_part(journey.message)
    value = next(v for n, v in dkim.rfc822_parse(part)[0] if n.lower() == b"dkim-signature")
    tags = dkim.util.parse_tag_value(value)
    record = dns_for(journey.topology).dkim_txt(b"mail._domainkey.example.org.")
    pk = dkim.evaluate_pk(b"mail._domainkey.example.org.", record)[0]
    return part, value, pk, base64.b64decode(re.sub(rb"\s+", b"", tags[b"b"]))


def _digest(data: bytes, name: str = "sha256"):  # noqa: ANN202 - a hashlib object, as dkimpy fills it
    import hashlib

    return dkim.HashThrough(hashlib.new(name, data))


@settings(max_examples=150, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 127), st.integers(1, 255)), max_size=3),
       cut=st.sampled_from([None, 1, 127, 129, 200]), data=st.binary(max_size=40),
       hash_name=st.sampled_from(["sha256", "sha1"]), big=st.booleans())
def test_rsa_verify_gives_dkimpys_verdict_on_both_backends(flips: list[tuple[int, int]], cut: int | None, data: bytes,
                                                           hash_name: str, big: bool) -> None:
    """Tampered, truncated, padded, too large or wrong-digest signatures: cryptography (OpenSSL), the pure-Python
    path and dkimpy's own ``RSASSA_PKCS1_v1_5_verify`` always agree."""
    import hashlib

    pk = dkim.evaluate_pk(b"x", dns_for(get("three-hops").build()).dkim_txt(b"mail._domainkey.example.org."))[0]
    private = signatures._private_key("example.org")
    signature = bytearray(dkim.crypto.RSASSA_PKCS1_v1_5_sign(_digest(data, hash_name), private))
    for at, xor in flips:
        signature[at] ^= xor
    signature = bytes(signature)
    if cut is not None:
        signature = (signature + b"\x00" * 200)[:cut]
    if big:  # a representative at or above the modulus (OpenSSL refuses it before any arithmetic)
        signature = (pk["modulus"] + int.from_bytes(signature[:8], "big")).to_bytes(128, "big") if len(signature) == 128 \
            else signature
    for digest_data in (data, data + b"!"):
        expected = dkim.crypto.RSASSA_PKCS1_v1_5_verify(_digest(digest_data, hash_name), signature, pk)
        verdicts = []
        for pure in (False, True):
            signatures.PURE_PYTHON_RSA = pure
            try:
                verdicts.append(signatures._rsa_verify(_digest(digest_data, hash_name), signature, pk))
            finally:
                signatures.PURE_PYTHON_RSA = False
        assert verdicts == [expected, expected], (verdicts, expected)
    assert hashlib.new(hash_name)  # the digests above were real ones


def test_rsa_verify_accepts_the_real_signature_on_both_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The signature of a simulated message, checked over the header hash dkimpy computes: pass on both paths, and
    one flipped bit of the signature fails on both."""
    part, value, pk, signature = _real_signature()
    for pure in (False, True):
        monkeypatch.setattr(signatures, "PURE_PYTHON_RSA", pure)
        assert signatures.rsa_backend() == ("dkimpy" if pure else "cryptography")
        verifier = signatures._Verifier(part)
        assert verifier.verify(dnsfunc=dns_for(get("three-hops").build()).dkim_txt) is True
        bad = bytes([signature[0] ^ 1]) + signature[1:]
        assert signatures._rsa_verify(_digest(b"x"), bad, pk) is False


def _tampered(raw: bytes) -> list[bytes]:
    """The message and what a hop could do to it: a changed body, a changed signed field, a signature value cut,
    an unsigned field added on top, white space refolded (relaxed canonicalization must still pass)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    out = [raw, head + b"\r\n\r\n" + body + b"extra line\r\n", raw.replace(b"Subject: ", b"Subject: Re: ", 1),
           b"X-Added: by a hop\r\n" + raw, raw.replace(b"Subject: ", b"Subject:    ", 1)]
    i = raw.find(b" b=")
    if i > 0:
        out.append(raw[:i + 10] + raw[i + 14:])
    return out


def _as_dkimpy_said(check: trust.DkimCheck) -> str:
    """What plain dkimpy did for the signature ``check`` reports: returned True or False, or raised."""
    if check.result == "pass":
        return "pass"
    if check.reason in ("signature verification failed", "no key for signature"):
        return "false"
    return {"fail": "ValidationError", "permerror": "KeyFormatError"}.get(check.result, "DKIMException")


@pytest.mark.parametrize("name", names())
def test_fast_verification_gives_dkimpys_verdicts(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """For every scenario's final message and tampered copies: :func:`trust._check_dkim` (signed part, cached tags and
    key, body-hash cache, compiled patterns, either RSA backend) says what plain ``dkim.DKIM.verify`` says for each
    signature, and :func:`trust._check_arc` what plain ``dkim.ARC.verify`` says."""
    journey = get(name).run(seed=2)
    view = TopologyDNS(journey.topology)
    seen = set()
    for raw in _tampered(journey.message):
        count = sum(1 for n, _v in dkim.rfc822_parse(raw)[0] if n.lower() == b"dkim-signature")
        expected = []
        for idx in range(count):
            try:
                expected.append("pass" if dkim.DKIM(raw).verify(idx=idx, dnsfunc=view.dkim_txt) else "false")
            except (dkim.ValidationError, dkim.KeyFormatError) as err:
                expected.append(type(err).__name__)
            except dkim.DKIMException:
                expected.append("DKIMException")
        seen.update(expected)
        arc_expected = dkim.ARC(raw).verify(dnsfunc=view.dkim_txt)[0] if b"ARC-Seal:" in raw else None
        for pure in (False, True):
            monkeypatch.setattr(signatures, "PURE_PYTHON_RSA", pure)
            trust._DKIM_CHECKS.clear()
            got = [_as_dkimpy_said(c) for c in trust._check_dkim(raw, view)]
            assert got == expected, (name, pure, got, expected)
            if arc_expected is not None:
                arc = trust._check_arc(raw, view)
                assert arc.result == {dkim.CV_Pass: "pass", dkim.CV_Fail: "fail", dkim.CV_None: "none"}[arc_expected]
    if count:
        assert {"pass", "ValidationError"} <= seen, seen  # the copies did break signatures, and the original passed
    trust._DKIM_CHECKS.clear()


@settings(max_examples=60, deadline=None)
@given(subject=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
       body=st.text(st.sampled_from("ab \t.-\r\n"), max_size=200),
       extra=st.lists(st.sampled_from([b"Cc: c@example.net", b"Reply-To:  r@example.org ", b"X-Mailer: t",
                                       b"To: second@example.net", b"Subject:   folded\r\n\ttwice"]), max_size=3))
def test_signatures_made_on_the_fast_path_verify_with_plain_dkimpy(subject: str, body: str, extra: list[bytes]) -> None:
    """Whatever the header and body: the signature :func:`signatures.dkim_sign` makes (only named fields canonicalized,
    the compiled ``b=`` pattern, one-update header hash, cached body hash) is one plain dkimpy verifies, and
    the fast verifier agrees."""
    from datetime import datetime, timezone

    body_bytes = body.replace("\r", "").replace("\n", "\r\n").encode()
    message = (b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: " + subject.encode() + b"\r\n"
               + b"".join(x + b"\r\n" for x in extra) + b"Date: Mon, 02 Mar 2026 10:23:17 +0100\r\n\r\n" + body_bytes)
    field = signatures.dkim_sign(message, "example.org", "mail", datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    signed = field.encode() + b"\r\n" + message
    txt = dns_for(get("three-hops").build()).dkim_txt
    assert dkim.DKIM(signed).verify(dnsfunc=txt) is True
    assert signatures._Verifier(signed).verify(dnsfunc=txt) is True


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b";", b" ", b"\t", b"\r", b"\n", b"\r\n", b"b", b"=", b"b=", b"; b=", b"A", b"+",
                                 b"/", b"h", b"x", b"bh=", b"\r\n "]), max_size=30))
def test_the_compiled_b_tag_pattern_makes_dkimpys_substitutions(parts: list[bytes]) -> None:
    text = b"".join(parts)
    assert signatures._RE_BTAG.sub(b"\\1", text) == dkim.RE_BTAG.sub(b"\\1", text)


def test_the_compiled_b_tag_pattern_on_real_signature_fields() -> None:
    for name in ("three-hops", "mailing-list", "forwarding"):
        raw = get(name).run().message
        for field_name, value in dkim.rfc822_parse(raw)[0]:
            if field_name.lower() in (b"dkim-signature", b"arc-seal", b"arc-message-signature"):
                assert signatures._RE_BTAG.sub(b"\\1", value) == dkim.RE_BTAG.sub(b"\\1", value)
                assert b"b=;" in signatures._RE_BTAG.sub(b"\\1", value) + b";"


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.sampled_from([b"From: a@example.org", b"Subject:  Hi  there ", b" folded", b"\tfolded too",
                                       b"X-Odd:", b"From x", b"bad line", b"", b"body text", b"To:b@example.net",
                                       b"X-Ws: a \t b\t\tc \t", b" \t mixed\t", b"X-Tab:\tx y", b"X-Cr: a\rb"]),
                      max_size=12),
       newline=st.sampled_from([b"\r\n", b"\n"]))
def test_parsing_and_canonicalizing_give_dkimpys_results(lines: list[bytes], newline: bytes) -> None:
    """:func:`signatures._rfc822_parse` is dkimpy's ``rfc822_parse`` (same fields, body and errors), and
    :func:`signatures._canonical_headers` its relaxed and simple canonicalization."""
    from dkim.canonicalization import CanonicalizationPolicy

    message = newline.join(lines)
    try:
        expected = dkim.rfc822_parse(message)
    except (dkim.MessageFormatError, IndexError) as err:
        with pytest.raises(type(err)):
            signatures._rfc822_parse(message)
        return
    assert signatures._rfc822_parse(message) == expected
    for c in (b"relaxed/relaxed", b"simple/simple"):
        policy = CanonicalizationPolicy.from_c_value(c)
        assert [tuple(f) for f in signatures._canonical_headers(policy, expected[0])] == \
            [tuple(f) for f in policy.canonicalize_headers(expected[0])]


def test_body_hash_is_dkimpys_and_its_cache_stays_small() -> None:
    import hashlib

    from dkim.canonicalization import CanonicalizationPolicy

    for c in (b"relaxed/relaxed", b"relaxed/simple"):
        policy = CanonicalizationPolicy.from_c_value(c)
        for body in (b"", b"\r\n", b"hi  there \r\n\r\n\r\n", b"x" * 70_000):
            expected = hashlib.sha256(policy.canonicalize_body(body)).digest()
            assert signatures._body_hash(policy, b"rsa-sha256", body) == expected
            assert signatures._body_hash(policy, b"rsa-sha256", body, b"3") == \
                hashlib.sha256(policy.canonicalize_body(body)[:3]).digest()
    for i in range(300):
        signatures._body_hash(CanonicalizationPolicy.from_c_value(b"relaxed/relaxed"), b"rsa-sha256", b"body %d\r\n" % i)
    assert len(signatures._BODY_HASHES) <= 64
    assert all(len(key[3]) <= 1 << 16 for key in signatures._BODY_HASHES)  # a large body is hashed, not kept


def test_every_cache_is_bounded_over_a_long_run() -> None:
    """A live server's 5,000-message soak in miniature: many different messages leave every cache within its bound."""
    from mailhops.dns import ANSWERS_KEPT

    sc = get("three-hops")
    topo = sc.build()
    for seed in range(600):
        send(topo, sc.sender, sc.recipient, seed=70_000 + seed)
    assert len(signatures._SIGNATURES) <= 512 and len(trust._VERDICTS) <= 256 and len(trust._DKIM_CHECKS) <= 256
    assert len(signatures._BODY_HASHES) <= 64 and len(trust._DMARC) <= 256 and len(signatures._CRYPTO_KEYS) <= 64
    for info in (signatures._parsed_tags.cache_info(), signatures._validated.cache_info(),
                 signatures._public_key.cache_info()):
        assert info.currsize <= info.maxsize
    view = dns_for(topo)
    for i in range(ANSWERS_KEPT + 10):
        view.txt(f"s{i}._domainkey.example.org")
    assert len(view._txt) <= ANSWERS_KEPT


def test_the_header_value_reader_unfolds_and_ignores_the_body() -> None:
    raw = (b"Received: from a\r\n\tby b; Mon, 02 Mar 2026 09:00:05 +0000\r\nfrom:   \"Long Name\"\r\n <a@example.org>\r\n"
           b"\r\nFrom: x@evil.example\r\n")
    assert trust._header_value(raw, b"From") == '"Long Name" <a@example.org>'
    assert trust.from_domain_of(raw) == "example.org"
    assert trust._header_value(raw, b"received") == "from a\tby b; Mon, 02 Mar 2026 09:00:05 +0000"
    assert trust._header_value(raw, b"subject") is None


def test_rsa_verify_under_a_short_key_raises_as_dkimpy_does() -> None:
    """A key too short for the encoded SHA-256 digest: dkimpy raises ``DigestTooLargeError`` (its verifier turns it
    into a key error), and so does the fast path, on either backend."""
    short = {"modulus": (1 << 255) + 12345, "publicExponent": 65537}
    for pure in (False, True):
        signatures.PURE_PYTHON_RSA = pure
        try:
            with pytest.raises(dkim.crypto.DigestTooLargeError):
                dkim.crypto.RSASSA_PKCS1_v1_5_verify(_digest(b"x"), b"\x01" * 32, short)
            with pytest.raises(dkim.crypto.DigestTooLargeError):
                signatures._rsa_verify(_digest(b"x"), b"\x01" * 32, short)
        finally:
            signatures.PURE_PYTHON_RSA = False


def test_authheaders_reads_the_public_suffix_list_once_and_answers_as_before() -> None:
    """mailhops remembers authheaders' organizational domains (the list is parsed once, not per DMARC check)."""
    import authheaders
    import authheaders.dmarc_lookup as lookup

    import mailhops.mta.trust  # noqa: F401  (installs the remembered look-up)

    original = lookup.get_org_domain.__wrapped__
    for domain in ["mail.example.co.uk", "a.b.example.org", "university.example", "x.y.z.example.com"]:
        assert authheaders.get_org_domain(domain) == lookup.get_org_domain(domain) == original(domain)
    before = lookup.get_org_domain.cache_info().hits
    authheaders.get_org_domain("mail.example.co.uk")
    assert lookup.get_org_domain.cache_info().hits == before + 1
