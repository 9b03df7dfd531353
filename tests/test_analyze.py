"""analyze(): inputs, header-block repairs, hops order, delays, summary, JSON and the CLI."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailhops.cli import main
from mailhops.errors import MailhopsError
from mailhops.read.analyze import MAX_HOPS, analyze, journey_table, split_headers, to_json_dict

THREE_HOPS = """\
Return-Path: <alice@example.org>
Delivered-To: bob@example.net
Received: from mx.example.net (mx.example.net [198.51.100.25])
\tby imap.example.net (Postfix) with LMTP id 9C0D1E2F3A
\tfor <bob@example.net>; Mon,  2 Mar 2026 05:11:52 -0500 (EST)
Received: from smtp.example.org (smtp.example.org [192.0.2.25])
\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
\t(No client certificate requested)
\tby mx.example.net (Postfix) with ESMTPS id EB167A9C378
\tfor <bob@example.net>; Mon,  2 Mar 2026 05:11:49 -0500 (EST)
Received: from [192.168.1.23] (host-203-0-113-45.isp.example [203.0.113.45])
\t(Authenticated sender: alice)
\tby smtp.example.org (Postfix) with ESMTPSA id F7242485E3A
\tfor <bob@example.net>; Mon,  2 Mar 2026 11:11:46 +0100 (CET)
Date: Mon, 2 Mar 2026 11:11:45 +0100
From: Alice <alice@example.org>
To: Bob <bob@example.net>
Subject: Hello

Hi Bob.
"""


def _fields(j):
    return [(h.n, h.from_name, h.ip, h.by_name, h.with_, h.id, h.for_, h.date_utc) for h in j.hops]


EXPECTED = [
    (1, "host-203-0-113-45.isp.example", "203.0.113.45", "smtp.example.org", "ESMTPSA", "F7242485E3A", "bob@example.net",
     "2026-03-02T10:11:46Z"),
    (2, "smtp.example.org", "192.0.2.25", "mx.example.net", "ESMTPS", "EB167A9C378", "bob@example.net",
     "2026-03-02T10:11:49Z"),
    (3, "mx.example.net", "198.51.100.25", "imap.example.net", "LMTP", "9C0D1E2F3A", "bob@example.net",
     "2026-03-02T10:11:52Z"),
]


def test_hops_oldest_first_with_delays_and_summary() -> None:
    j = analyze(THREE_HOPS)
    assert j.source == "analyzed"
    assert _fields(j) == EXPECTED
    assert [h.delay_s for h in j.hops] == [None, 3.0, 3.0]
    assert [h.mta for h in j.hops] == ["postfix", "postfix", "postfix"]
    assert j.hops[0].auth == "alice" and j.hops[1].tls == "TLSv1.3"
    assert j.envelope_from == "alice@example.org" and j.envelope_to == "bob@example.net"
    s = j.summary
    assert (s["hops"], s["received"], s["transit_s"], s["problems"]) == (3, 3, 6.0, 0)
    assert s["date_header_to_first_hop_s"] == 1.0
    assert s["first_utc"] == "2026-03-02T10:11:46Z" and s["last_utc"] == "2026-03-02T10:11:52Z"


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda t: t, id="lf"),
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda t: t.replace("\n", "\r"), id="cr"),
        pytest.param(lambda t: "From alice@example.org Mon Mar  2 10:11:52 2026\n" + t, id="mbox-from-line"),
        pytest.param(lambda t: t.replace("\n\t", "\n"), id="lost-indentation"),
        pytest.param(lambda t: t.split("\n\n")[0] + "\n", id="header-block-only"),
        pytest.param(lambda t: t.replace("Subject: Hello\n\n", "Subject: Hello\n"), id="missing-blank-line"),
        pytest.param(lambda t: "\n\n" + t.encode("utf-8").decode("utf-8"), id="leading-blank-lines"),
    ],
)
def test_pasted_variants_give_the_same_hops(variant) -> None:
    assert _fields(analyze(variant(THREE_HOPS))) == EXPECTED


def test_bytes_path_and_str_agree(tmp_path: Path) -> None:
    p = tmp_path / "m.eml"
    p.write_bytes(THREE_HOPS.encode())
    assert _fields(analyze(p)) == _fields(analyze(THREE_HOPS.encode())) == EXPECTED


def test_missing_file_is_one_sentence_error(tmp_path: Path) -> None:
    with pytest.raises(MailhopsError, match=r"^The file .*nope\.eml does not exist\.$"):
        analyze(tmp_path / "nope.eml")


def test_latin1_bytes_are_read() -> None:
    j = analyze("Received: from caf\xe9.example.org by b.example.org; Mon, 2 Mar 2026 09:00:05 +0000\n".encode("latin-1"))
    assert j.hops[0].by_name == "b.example.org"
    assert "not UTF-8" in j.summary["message_problems"][0]


def test_repairs_are_reported() -> None:
    headers, problems = split_headers("Received: from a.example.org\nby b.example.org; Mon, 2 Mar 2026 09:00:05 +0000\n"
                                      "Subject: x\nHello")
    assert headers[0] == ("Received", "from a.example.org by b.example.org; Mon, 2 Mar 2026 09:00:05 +0000")
    assert problems == ["a folded line lost its indentation", "no blank line between the headers and the body"]


def test_negative_delay_is_flagged_not_hidden() -> None:
    text = ("Received: from b.example.net by c.example.net; Mon, 2 Mar 2026 09:00:00 +0000\n"
            "Received: from a.example.org by b.example.net; Mon, 2 Mar 2026 09:00:30 +0000\n")
    j = analyze(text)
    assert j.hops[1].delay_s == -30.0
    assert any("30 s before hop 1" in p and "clock skew" in p for p in j.hops[1].problems)
    assert j.summary["negative_delays"] == 1
    assert j.summary["transit_s"] == -30.0  # the sum of the delays, not hidden


def test_hop_count_follows_the_lessons() -> None:
    text = ("Received: from b.example.net by c.example.net; Mon, 2 Mar 2026 09:00:00 +0000\n"
            "X-Received: by 2001:db8::1 with SMTP id abc; Mon, 2 Mar 2026 09:00:00 +0000\n"
            "Via: gateway.example.net\nX400-Received: something\nMail-From: x\n")
    j = analyze(text)
    assert len(j.hops) == 1
    assert j.summary["hops"] == 4  # Received + Via + X400-Received + Mail-From
    assert j.summary["x_received"][0]["by_name"] == "2001:db8::1"


def test_no_received_header() -> None:
    j = analyze("Subject: hi\n\nbody")
    assert j.hops == [] and j.outcome is None
    assert "no Received header" in j.summary["message_problems"][0]


def test_loop_beyond_max_hops_is_kept_raw() -> None:
    line = "Received: from a.example.org by b.example.org; Mon, 2 Mar 2026 09:00:05 +0000\n"
    j = analyze(line * (MAX_HOPS + 3))
    assert len(j.hops) == MAX_HOPS + 3
    assert j.hops[-1].by_name is None and "mail loop" in j.hops[-1].problems[0]
    assert j.hops[0].by_name == "b.example.org"


def test_json_shape() -> None:
    d = to_json_dict(analyze(THREE_HOPS))
    assert set(d) == {"hops", "auth", "summary"}
    need = {"from_name", "ip", "by_name", "with", "id", "for", "date_utc", "delay_s", "mta", "raw", "problems"}
    assert need <= set(d["hops"][0])
    assert d["hops"][0]["with"] == "ESMTPSA"
    json.dumps(d)  # serialisable


def test_text_table() -> None:
    out = journey_table(analyze(THREE_HOPS))
    lines = out.splitlines()
    assert lines[0].split() == ["n", "from", "ip", "by", "with", "id", "date", "(UTC)", "delay"]
    assert lines[2].split()[:5] == ["2", "smtp.example.org", "192.0.2.25", "mx.example.net", "ESMTPS"]
    assert "3 hops, transit time 6 s." in out
    assert out.splitlines()[-1].startswith("Authentication:")


def test_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "m.eml"
    p.write_text(THREE_HOPS)
    assert main(["analyze", str(p)]) == 0
    assert "smtp.example.org" in capsys.readouterr().out
    assert main(["analyze", str(p), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [h["id"] for h in d["hops"]] == ["F7242485E3A", "EB167A9C378", "9C0D1E2F3A"]


def test_cli_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = io.TextIOWrapper(io.BytesIO(THREE_HOPS.encode()))
    monkeypatch.setattr(sys, "stdin", fake)
    assert main(["analyze", "-", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hops"]) == 3


def test_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "missing.eml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mailhops: The file ") and err.endswith("does not exist.")
    assert "Traceback" not in err


def test_cli_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mailhops.draw")
    import shutil

    p = tmp_path / "m.eml"
    p.write_text(THREE_HOPS)
    out = tmp_path / "route.svg"
    code = main(["analyze", str(p), "--svg", str(out)])
    if shutil.which("dot") is None:
        assert code == 2 and "dot" in capsys.readouterr().err.lower()
    else:
        assert code == 0
        assert out.read_bytes().lstrip().startswith((b"<?xml", b"<svg"))


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data: bytes) -> None:
    j = analyze(data)
    assert j.source == "analyzed"
    assert isinstance(j.summary["problems"], int)


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(THREE_HOPS)), st.integers(0, 40), st.text(max_size=8)), max_size=10))
def test_fuzz_mutated_message(edits) -> None:
    text = THREE_HOPS
    for pos, length, insert in edits:
        text = text[:pos] + insert + text[pos + length:]
    j = analyze(text)
    json.dumps(to_json_dict(j))
    for hop in j.hops:
        assert hop.raw is not None


def test_a_file_name_string_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.eml").write_text(THREE_HOPS)
    monkeypatch.chdir(tmp_path)
    assert _fields(analyze("m.eml")) == EXPECTED
    j = analyze("missing.eml")
    assert j.hops == [] and "no such file" in j.summary["message_problems"][0]


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("Received:from by with id for via ()[]<>;@.\r\n\t 0123456789:+-abcMonJan")),
               max_size=1500))
def test_fuzz_header_like_text(text: str) -> None:
    j = analyze(text)
    d = to_json_dict(j)
    json.dumps(d)
    assert len(d["hops"]) == d["summary"]["received"]


def test_bounce_text_says_why() -> None:
    scenarios = pytest.importorskip("mailhops.scenarios")
    journey = scenarios.run("unknown-user")
    out = journey_table(analyze(journey.bounce.message))
    assert "This is a bounce written by Postfix (failed 5.1.1 for " in out
    assert "User unknown" in out
    assert "The returned message had crossed 1 hop(s), the last one into smtp.example.org." in out


def test_broken_report_is_a_problem_not_a_crash() -> None:
    text = ("Received: from a.example.org by b.example.org; Mon, 2 Mar 2026 09:00:05 +0000\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"x\"\n\n--x\n"
            "Content-Type: message/delivery-status\n\n((((\n--x--\n")
    j = analyze(text)
    assert len(j.hops) == 1
    assert isinstance(j.summary.get("returned_message", {}), dict)
