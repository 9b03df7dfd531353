"""The mailhops command line: scenarios, send (text/json/eml), and one-sentence errors."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys

import pytest

from mailhops.cli import main
from mailhops.scenarios import names


def test_scenarios_lists_every_scenario_name_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == names()
    assert all(len(line.split(" - ", 1)[1]) > 20 for line in lines)


def test_send_text_shows_hops_and_headers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "three-hops"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Scenario three-hops: delivered (2.0.0)")
    assert "Hop 2: smtp.example.org -> mx.example.net (ESMTPS)" in out
    assert "+ Received: from smtp.example.org (smtp.example.org [192.0.2.25])" in out


def test_send_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "forwarding-loop", "--format", "json", "--seed", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"] == "forwarding-loop"
    assert set(data["outcome"]) >= {"kind", "status", "detail"}
    assert data["outcome"]["kind"] == "looped"
    hop = data["hops"][0]
    for key in ("n", "from_name", "ip", "by_name", "with", "id", "for", "date_utc", "added_headers", "smtp"):
        assert key in hop
    assert [h["n"] for h in data["hops"]] == list(range(1, len(data["hops"]) + 1))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", hop["date_utc"])
    assert data["bounce"]["outcome"]["kind"] == "delivered"
    assert data["bounce"]["envelope_from"] == ""


def test_send_eml_is_the_recipients_copy_or_the_bounce(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "three-hops", "--format", "eml"]) == 0
    msg = email.message_from_string(capsys.readouterr().out, policy=email.policy.default)
    assert msg["Delivered-To"] == "bob@example.net"
    assert main(["send", "unknown-user", "--format", "eml"]) == 0
    msg = email.message_from_string(capsys.readouterr().out, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report" and msg["Delivered-To"] == "alice@example.org"


def test_send_eml_when_nothing_landed_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "deferred", "--format", "eml"]) == 2
    err = capsys.readouterr().err
    assert "Nothing reached a mailbox" in err and "Traceback" not in err


def test_same_seed_same_output(capsys: pytest.CaptureFixture[str]) -> None:
    main(["send", "mx-fallback", "--format", "json", "--seed", "9"])
    first = capsys.readouterr().out
    main(["send", "mx-fallback", "--format", "json", "--seed", "9"])
    assert capsys.readouterr().out == first


def test_unknown_scenario_is_a_sentence_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "mailhops", "send", "no-such-thing"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "There is no scenario called 'no-such-thing'" in proc.stderr
    assert "Traceback" not in proc.stderr
