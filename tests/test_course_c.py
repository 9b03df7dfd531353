"""Issue 16, part C: the lessons *Reading Received lines*, *Trace and result headers*, *Forwarding and loops* and
*Analyse your own email* - their checks get a right and a wrong answer each (the right ones computed from the
simulator or the data files, never written down), the `from` rule per MTA that the lessons teach is checked
against what the MTA modules write, and the real header sets in notebooks/data/ are what SOURCES.md says.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops import lesson_checks as lc
from mailhops import scenarios as sc
from mailhops.mta import headers
from mailhops.read.analyze import analyze
from mailhops.widgets import Knobs, run_with

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
DATA = NOTEBOOKS / "data"
MY_REASONS = ["exim-from", "delivered-to", "hop-limit-two", "slowest-hop", "gmail-hops"]


def _good(key: str) -> str:
    return "".join(letter for letter, (holds, _, _) in lc.REASONS[key].items() if holds)


def _bad(key: str) -> str:
    return next(letter for letter, (holds, _, _) in lc.REASONS[key].items() if not holds)


# ---------------------------------------------------------------- the `from` rule per MTA, as the lesson states it
def _first_after_from(line: str) -> str:
    words = line.split()
    return words[words.index("from") + 1]


_label = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(claim=st.builds(lambda a, b: f"{a}.{b}.example", _label, _label),
       rdns=st.builds(lambda a, b: f"{a}.{b}.example", _label, _label))
def test_the_from_rule_of_each_mta_is_what_its_module_writes(claim: str, rdns: str) -> None:
    when = datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)
    for flavour in ["postfix", "sendmail", "gmail", "exchange", "exim", "qmail"]:
        line = headers.received(flavour, helo=claim, rdns=rdns, ip="192.0.2.25", by_name="mx.example.net",
                                protocol="ESMTPS", queue_id="4ABC1234D5", rcpt="bob@example.net", date=when)
        line = " ".join(line.split())
        if flavour in ("postfix", "sendmail", "gmail", "exchange"):
            assert _first_after_from(line) == claim, (flavour, line)
        else:
            assert _first_after_from(line) == rdns, (flavour, line)
            shown = f"helo={claim}" if flavour == "exim" else f"(HELO {claim})"
            assert (shown in line) == (claim != rdns), (flavour, line)
        assert lc._HELO_PLACE[flavour]  # the check's hint knows every MTA the lesson shows


# ---------------------------------------------------------------- the checks: right and wrong answers
def test_claimed_helo_hint_follows_the_mta_that_wrote_the_line() -> None:
    hop = sc.run("three-hops").hops[0]
    assert lc.check_claimed_helo(hop.helo).ok
    wrong = lc.check_claimed_helo(hop.rdns)
    assert not wrong.ok and "Postfix" in str(wrong) and "first word after 'from'" in str(wrong)
    assert "Exim" not in str(wrong) or "helo=" in str(wrong)


def test_exim_from_prediction() -> None:
    journey = run_with("three-hops", Knobs(mta="exim"))[0]
    expected = _first_after_from(journey.received_headers()[-1])
    hop = journey.hops[0]
    assert expected == hop.rdns != hop.helo  # the lesson's point: Exim starts with the reverse name
    assert lc.check_exim_from_prediction(expected, _good("exim-from")).ok
    assert not lc.check_exim_from_prediction(hop.helo, _good("exim-from")).ok
    assert not lc.check_exim_from_prediction(expected, _bad("exim-from")).ok
    assert not lc.check_exim_from_prediction(expected).answered  # a prediction without reasons asks for them


def test_return_path_writer() -> None:
    journey = sc.run("three-hops")
    writer = next(h for h in journey.hops if any(f.startswith("Return-Path:") for f in h.added_headers))
    assert lc.check_return_path_writer(writer.by_name).ok
    for other in journey.hops:
        if other.by_name != writer.by_name:
            verdict = lc.check_return_path_writer(other.by_name)
            assert not verdict.ok and "Return-Path" in str(verdict)


def test_delivered_to_prediction() -> None:
    msg = email.message_from_bytes(sc.run("forwarding").message, policy=email.policy.default)
    delivered, to = str(msg["Delivered-To"]), str(msg["To"])
    assert delivered != to
    assert lc.check_delivered_to_prediction(delivered, _good("delivered-to")).ok
    assert not lc.check_delivered_to_prediction(to, _good("delivered-to")).ok
    assert not lc.check_delivered_to_prediction(delivered, _bad("delivered-to")).ok


def test_hop_limit_two_prediction_and_why_looped_fits() -> None:
    journey = run_with("three-hops", Knobs(hop_limit=2))[0]
    assert journey.outcome is not None and journey.outcome.kind == "looped"
    servers = [h.by_name for h in journey.hops]
    assert len(servers) == len(set(servers)), "the honest message visits no server twice: the label needs the lesson"
    assert lc.check_hop_limit_two_prediction(journey.outcome.server, _good("hop-limit-two")).ok
    assert not lc.check_hop_limit_two_prediction(journey.hops[0].by_name, _good("hop-limit-two")).ok
    assert not lc.check_hop_limit_two_prediction(journey.outcome.server, _bad("hop-limit-two")).ok


def _timed(delays: list[int]) -> str:
    """Received lines from a.example through hosts h1, h2, ... with the given seconds between them."""
    when = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
    lines = []
    for i in range(len(delays) + 1):
        when += timedelta(seconds=delays[i - 1]) if i else timedelta(0)
        sender = f"h{i - 1}.example" if i else "a.example"
        lines.append(f"Received: from {sender} ({sender} [192.0.2.{i + 1}]) by h{i}.example with ESMTP id Q{i}; "
                     f"{email.utils.format_datetime(when)}")
    return "\r\n".join(reversed(lines)) + "\r\nSubject: x\r\n\r\n"


def test_slowest_hop_accepts_every_correct_reading() -> None:
    journey = analyze(sc.run("enterprise").message)
    most = max(h.delay_s for h in journey.hops if h.delay_s is not None)
    rows = [h.n for h in journey.hops if h.delay_s == most]
    good = _good("slowest-hop")
    for row in rows:
        held = journey.hops[row - 2]  # hop row-1: the server that held the message before row's date
        assert lc.check_slowest_hop(journey, row, good).ok
        assert lc.check_slowest_hop(journey, row - 1, good).ok
        assert lc.check_slowest_hop(journey, held.by_name, good).ok
        taker = journey.hops[row - 1].by_name
        if taker not in {journey.hops[r - 2].by_name for r in rows}:
            verdict = lc.check_slowest_hop(journey, taker, good)
            assert not verdict.ok and "wrote the later date" in str(verdict)
        assert not lc.check_slowest_hop(journey, row, _bad("slowest-hop")).ok  # "the delay is the by-server's time"
    quick = next(h.n for h in journey.hops if h.delay_s is not None and h.delay_s < most and h.n - 1 not in
                 {r - 1 for r in rows} and h.n not in {r - 1 for r in rows})
    assert not lc.check_slowest_hop(journey, quick, good).ok


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=6))
def test_slowest_hop_on_any_delays(delays: list[int]) -> None:
    journey = analyze(_timed(delays))
    rows = {i + 2 for i, d in enumerate(delays) if d == max(delays)}
    good = _good("slowest-hop")
    for n in range(1, len(delays) + 2):
        right = n in rows or n + 1 in rows
        assert lc.check_slowest_hop(journey, n, good).ok == right, (delays, n)
        name = f"h{n - 1}.example"  # the server of hop n
        assert lc.check_slowest_hop(journey, name, good).ok == (n + 1 in rows), (delays, name)


def test_slowest_hop_without_dates_says_so() -> None:
    journey = analyze("Received: from a by b with ESMTP\r\nSubject: x\r\n\r\n")
    assert "no usable dates" in str(lc.check_slowest_hop(journey, 1, "a"))


def test_gmail_hops_prediction_on_the_real_sample() -> None:
    text = (DATA / "gmail-sample.eml").read_text()
    journey = analyze(text)
    received = len(re.findall(r"^Received:", text, re.M))
    assert len(journey.hops) == received
    assert lc.check_gmail_hops_prediction(journey, received, _good("gmail-hops")).ok
    with_x = received + len(re.findall(r"^X-Received:", text, re.M))
    assert with_x != received
    assert not lc.check_gmail_hops_prediction(journey, with_x, _good("gmail-hops")).ok
    assert not lc.check_gmail_hops_prediction(journey, received, _bad("gmail-hops")).ok


@pytest.mark.parametrize("key", MY_REASONS)
def test_reasons_have_right_and_wrong_letters_and_explain_the_wrong_ones(key: str) -> None:
    reasons = lc.REASONS[key]
    assert any(holds for holds, _, _ in reasons.values()) and not all(holds for holds, _, _ in reasons.values())
    for holds, text, why_not in reasons.values():
        assert text and (holds or why_not), key


# ---------------------------------------------------------------- the real header sets
def test_real_samples_are_header_blocks_named_in_sources() -> None:
    sources = (DATA / "SOURCES.md").read_text()
    assert "Apache" in sources and (DATA / "LICENSE-Apache-2.0.txt").read_text().lstrip().startswith("Apache License")
    for name in ["gmail-sample.eml", "microsoft365-sample.eml"]:
        raw = (DATA / name).read_bytes()
        assert f"`{name}`" in sources
        assert b"\r\n\r\n" not in raw, f"{name} must hold the header block only"
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert msg.get_all("Received") and msg["From"] and not msg.get_payload().strip()


def test_real_samples_show_what_the_lesson_points_at() -> None:
    gmail = (DATA / "gmail-sample.eml").read_text()
    assert "by mx.google.com" in gmail and "X-Received:" in gmail and "ARC-Seal: i=1" in gmail
    assert analyze(gmail).hops[-1].ip is None  # Google's internal hop names no address
    office_text = (DATA / "microsoft365-sample.eml").read_text()
    office = analyze(office_text)
    assert "via Frontend Transport" in office_text and "compauth=pass" in office_text
    assert [h.with_ for h in office.hops][-1] == "HTTPS"
    assert "dest:J" in office_text


# ---------------------------------------------------------------- the notebooks of part C
def test_the_split_lessons_replace_the_old_one() -> None:
    assert not (NOTEBOOKS / "03-reading-the-trail.ipynb").exists()
    for name in ["04-reading-received-lines.ipynb", "05-trace-and-result-headers.ipynb"]:
        nb = json.loads((NOTEBOOKS / name).read_text())
        text = "\n".join("".join(c["source"]) for c in nb["cells"])
        assert "(predict, run, explain)" in text
    assert "reading-the-trail" not in (NOTEBOOKS.parent / "README.md").read_text()


@pytest.mark.parametrize("name", ["04-reading-received-lines.ipynb", "05-trace-and-result-headers.ipynb",
                                  "08-forwarding-and-loops.ipynb", "11-analyse-your-own-email.ipynb"])
def test_each_lesson_has_a_predict_run_explain_exercise(name: str) -> None:
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells)
    assert re.search(r"### Exercise \d \((predict, run, )?explain\)", text)
    assert re.search(r"^why = \.\.\.", text, re.M)
    assert "example.edu" not in text
