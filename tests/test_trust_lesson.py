"""The trust lesson: the trust lab's plain functions, its widget without a kernel, and the lesson's checks."""

from __future__ import annotations

import email
import email.policy
import re

import dkim
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailhops import lesson_checks as lc
from mailhops import scenarios as sc
from mailhops import widgets as w
from mailhops.dns import TopologyDNS
from mailhops.errors import MailhopsError
from mailhops.widgets.trust import DMARC_CHOICES, relevant_trust_settings


def _final(settings: w.TrustSettings) -> w.Receipt:
    """What Bob's MX (the last receiving server) concluded."""
    return w.trust_receipts(settings)[-1]


# ------------------------------------------------------------------------------------ reading back
def test_receipts_agree_with_dkimpy_on_the_delivered_message() -> None:
    """The DKIM results read from the fields Bob's MX wrote match dkimpy verifying the delivered message itself."""
    journey, topology = w.run_trust(w.TrustSettings("mailing-list"))
    view = TopologyDNS(topology)
    head = journey.message.split(b"\r\n\r\n", 1)[0]
    verified = {}
    for idx in range(len(re.findall(rb"(?im)^dkim-signature:", head))):
        verifier = dkim.DKIM(journey.message)
        try:
            ok = verifier.verify(idx=idx, dnsfunc=view.dkim_txt)
        except dkim.ValidationError:
            ok = False
        verified[verifier.signature_fields[b"d"].decode()] = ok
    receipt = _final(w.TrustSettings("mailing-list"))
    assert {d: result == "pass" for d, result in receipt.dkim} == verified
    assert verified == {"lists.example.com": True, "example.org": False}


def test_every_receiving_border_gets_a_receipt_in_route_order() -> None:
    journey, _ = w.run_trust(w.TrustSettings("forwarding"))
    receipts = w.trust_receipts(w.TrustSettings("forwarding"))
    assert [r.hop for r in receipts] == [h.n for h in journey.hops if any(
        f.lower().startswith("authentication-results:") for f in h.added_headers)]
    assert receipts[-1].server == "mx.example.net"
    assert receipts[-1].client_ip == journey.hops[receipts[-1].hop - 1].ip


def test_a_refusing_mx_gets_a_receipt_with_its_reply() -> None:
    journey, _ = w.run_trust(w.TrustSettings("dmarc-reject"))
    (receipt,) = w.trust_receipts(w.TrustSettings("dmarc-reject"))
    assert journey.outcome.kind == "rejected"
    assert receipt.refused == journey.outcome.reply and receipt.hop is None
    assert (receipt.spf, receipt.dmarc, receipt.policy) == ("pass", "fail", "reject")
    assert not receipt.spf_aligned and receipt.dmarc_passed_by == ()
    assert receipt.fields, "the fields it would have written are shown"


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(srs=st.booleans(), arc=st.booleans(), dmarc=st.sampled_from(["none", "reject"]))
def test_forwarding_dmarc_always_passes_through_dkim_and_spf_passes_only_with_srs(srs: bool, arc: bool,
                                                                                  dmarc: str) -> None:
    """A forwarder that does not change the content keeps DKIM, hence DMARC; SRS alone decides SPF at Bob's MX."""
    chosen = w.TrustSettings("forwarding", srs=srs, arc=arc, dmarc=dmarc)
    journey, _ = w.run_trust(chosen)
    final = _final(chosen)
    assert journey.outcome.kind == "delivered"
    assert "dkim" in final.dmarc_passed_by and final.dmarc == "pass"
    assert final.spf == ("pass" if srs else "fail")
    assert final.spf_aligned is not srs  # the SRS address is in the forwarder's domain
    assert final.arc == ("pass" if arc else "none")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arc=st.booleans(), footer=st.booleans(), trust_arc=st.booleans(),
       dmarc=st.sampled_from(["none", "quarantine", "reject"]))
def test_a_list_delivers_exactly_when_dkim_survives_or_a_trusted_arc_chain_vouches(arc: bool, footer: bool,
                                                                                   trust_arc: bool, dmarc: str) -> None:
    chosen = w.TrustSettings("mailing-list", arc=arc, footer=footer, trust_arc=trust_arc, dmarc=dmarc)
    journey, _ = w.run_trust(chosen)
    final = _final(chosen)
    assert (final.dmarc == "pass") is (not footer)
    expected = (not footer) or (arc and trust_arc) or dmarc == "none"
    kind = "delivered" if expected else {"quarantine": "junk", "reject": "rejected"}[dmarc]
    assert journey.outcome.kind == kind, (chosen, journey.outcome)
    assert (final.refused is not None) is (kind == "rejected")
    assert final.quarantined is (kind == "junk")
    assert (journey.outcome.folder == "Junk") is (kind == "junk")


def test_changes_name_what_changed_and_nothing_else() -> None:
    plain = w.trust_receipts(w.TrustSettings("forwarding"))
    assert w.trust_changes(plain, plain) == []
    changes = w.trust_changes(plain, w.trust_receipts(w.TrustSettings("forwarding", arc=True)))
    assert changes == ["mx.example.net: ARC none -> pass"]
    refused = w.trust_changes(w.trust_receipts(w.TrustSettings("mailing-list")),
                              w.trust_receipts(w.TrustSettings("mailing-list", trust_arc=False)))
    assert any("refused during SMTP: 550" in c for c in refused)


def test_srs_reverse_finds_the_sender_and_refuses_forged_addresses() -> None:
    journey, _ = w.run_trust(w.TrustSettings("forwarding", srs=True))
    onward = journey.hops[-1].envelope_from
    assert onward.startswith("SRS0=") and w.srs_reverse(onward) == "alice@example.org"
    tampered = re.sub(r"^SRS0=....", "SRS0=ZZZZ", onward)
    assert w.srs_reverse(tampered).startswith("The forwarder would refuse this bounce")


def test_bad_settings_get_a_sentence() -> None:
    with pytest.raises(MailhopsError, match="knows the scenarios"):
        w.run_trust(w.TrustSettings("three-hops"))
    with pytest.raises(MailhopsError, match="DMARC policy must be one of"):
        w.run_trust(w.TrustSettings("forwarding", dmarc="sometimes"))
    with pytest.raises(MailhopsError):
        w.TrustLab("three-hops")


def test_report_says_each_check_in_words() -> None:
    text = w.trust_report(w.TrustSettings("mailing-list", arc=False))
    assert "refused: mx.example.net" in text and "not aligned with From: example.org" in text
    assert text.splitlines()[-1].startswith("Outcome: rejected")


# ------------------------------------------------------------------------------------ the widget
def _row(lab: w.TrustLab, server: str) -> str:
    match = re.search(rf'<tr class="mh-receipt" data-server="{re.escape(server)}">(.*?)</tr>', lab.table.value, re.S)
    assert match, f"no row for {server}"
    return match.group(1)


def _cells(row: str) -> list[str]:
    return re.findall(r"<td[^>]*>(?:<b>)?([^<]*)", row)


def test_lab_starts_with_the_scenario_defaults_and_hides_what_does_not_apply() -> None:
    lab = w.TrustLab("mailing-list", draw=False)
    assert lab.settings == w.with_trust(w.trust_defaults("mailing-list"), srs=None)  # a list has no SRS switch
    assert lab.srs.layout.display == "none" and lab.footer.layout.display == ""
    lab.picker.value = "dmarc-reject"
    assert [k for k, c in lab._rows.items() if c.layout.display != "none"] == list(relevant_trust_settings("dmarc-reject"))
    assert "rejected" in lab.outcome.value and lab.changes.value == ""


def test_lab_switches_change_the_results_shown_hop_by_hop() -> None:
    lab = w.TrustLab("forwarding", draw=False)
    assert _cells(_row(lab, "mx.example.net"))[2] == "fail"  # hop, server, SPF
    lab.srs.value = True
    assert _cells(_row(lab, "mx.example.net"))[2] == "pass"
    assert "SPF fail -&gt; pass" in lab.changes.value
    assert "SRS0=" in lab.fields_view.value
    lab.picker.value = "mailing-list"
    assert "delivered" in lab.outcome.value
    lab.footer.value = False
    assert "example.org (aligned)" in _row(lab, "mx.example.net") and "pass: d=example.org" in _row(lab, "mx.example.net")
    lab.footer.value = True
    lab.trust_arc.value = False
    assert "rejected" in lab.outcome.value and "refused during SMTP" in _row(lab, "mx.example.net")
    lab.trust_arc.value = True
    lab.arc.value = False
    assert "rejected" in lab.outcome.value
    lab.dmarc.value = "none"
    assert "delivered" in lab.outcome.value and "p=none" in _row(lab, "mx.example.net")
    assert "_dmarc.example.org. TXT" in lab.records.value


def test_lab_offers_quarantine_and_shows_the_message_filed_into_junk() -> None:
    assert DMARC_CHOICES == ("none", "quarantine", "reject")
    lab = w.TrustLab("mailing-list", draw=False)
    assert "quarantine" in [value for _label, value in lab.dmarc.options]
    lab.trust_arc.value = False
    lab.dmarc.value = "quarantine"
    assert "junk" in lab.outcome.value and "DMARC fails for example.org" in lab.outcome.value
    row = _row(lab, "mx.example.net")
    assert "marked for Junk" in row and "refused" not in row
    assert "X-DMARC-Quarantine: header.from=example.org p=quarantine (mx.example.net)" in lab.fields_view.value
    lab.trust_arc.value = True  # a trusted ARC chain overrides quarantine as it overrides reject
    assert "delivered" in lab.outcome.value and "trusted the ARC chain" in _row(lab, "mx.example.net")
    report = w.trust_report(w.TrustSettings("mailing-list", trust_arc=False, dmarc="quarantine"))
    assert report.splitlines()[-1].startswith("Outcome: junk (2.0.0)") and "p=quarantine" in report


def test_lab_draws_the_route() -> None:
    pytest.importorskip("graphviz")
    lab = w.TrustLab("dmarc-reject")
    assert lab.diagram.drawn is not None and lab.diagram.drawn[0] is lab.journey


# ------------------------------------------------------------------------------------ the checks
def test_forwarding_with_reject_check() -> None:
    journey, _ = w.run_trust(w.TrustSettings("forwarding", srs=False, arc=False, dmarc="reject"))
    carried = _final(w.TrustSettings("forwarding", srs=False, arc=False, dmarc="reject")).dmarc_passed_by
    assert lc.check_forwarding_with_reject(journey.outcome.kind, carried[0]).ok
    assert lc.check_forwarding_with_reject("Delivered", "Alice's DKIM signature").ok
    wrong = lc.check_forwarding_with_reject("rejected", "spf")
    assert not wrong.ok and "EITHER SPF or DKIM" in wrong.message
    assert "connecting server" in lc.check_forwarding_with_reject("delivered", "spf").message
    assert "ARC is none" in lc.check_forwarding_with_reject("delivered", "arc").message
    assert not lc.check_forwarding_with_reject("delivered", ...).answered
    assert not lc.check_forwarding_with_reject(..., ...).answered


def test_list_broken_signature_check() -> None:
    broken = [d for d, r in _final(w.TrustSettings("mailing-list")).dkim if r != "pass"]
    assert lc.check_list_broken_signature(broken[0]).ok
    assert lc.check_list_broken_signature("d=example.org").ok
    wrong = lc.check_list_broken_signature("lists.example.com")
    assert not wrong.ok and "after adding its footer" in wrong.message
    assert "body" in lc.check_list_broken_signature("none").message


def test_list_fix_check_accepts_every_change_that_works_from_the_list() -> None:
    assert lc.check_list_fix("footer").ok and lc.check_list_fix("no footer, no Subject tag").ok
    arc = lc.check_list_fix("ARC")
    assert arc.ok and "receiver's decision" in arc.message
    for answer, words in [("srs", "not aligned"), ("trust_arc", "nothing to trust"), ("dmarc", "example.org's choice"),
                          ("reboot", "not one of the switches")]:
        feedback = lc.check_list_fix(answer)
        assert not feedback.ok and words in feedback.message, (answer, feedback)


def test_dmarc_reject_bounce_check() -> None:
    journey = sc.run("dmarc-reject")
    assert lc.check_dmarc_reject_bounce(journey.bounce.outcome.mailbox).ok
    assert "backscatter" in lc.check_dmarc_reject_bounce("<mailer@example.com>").message
    for answer, words in [("alice@example.org", "From: header"), ("nobody", "does not make the message vanish"),
                          ("mail.example.com", "To which address"), ("bob@example.net", "receives nothing")]:
        feedback = lc.check_dmarc_reject_bounce(answer)
        assert not feedback.ok and words in feedback.message, (answer, feedback)
    dsn = email.message_from_bytes(journey.bounce.message, policy=email.policy.default)
    assert dsn["To"] == journey.bounce.outcome.mailbox  # the bounce really is addressed there


@pytest.mark.parametrize("check", [lc.check_list_broken_signature, lc.check_list_fix, lc.check_dmarc_reject_bounce])
def test_unanswered_trust_checks_remind(check) -> None:  # noqa: ANN001
    feedback = check(...)
    assert not feedback.ok and not feedback.answered
