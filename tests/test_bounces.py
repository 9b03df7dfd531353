"""Every MTA's bounce in its own words and shape: it parses with the stdlib, a mailing-list manager's bounce
processor (flufl.bounce, Mailman's) recognises it and extracts the failed address, and the analyzer names the
MTA that wrote it, the failed address, the status and the reason."""

from __future__ import annotations

import email
import email.policy

import pytest

from mailhops import scenarios
from mailhops.read.analyze import analyze

bounce = pytest.importorskip("flufl.bounce", reason="flufl.bounce is a test extra (pip install -e .[test])")
from flufl.bounce._detectors import dsn, exim, qmail  # noqa: E402

FLAVOURS = scenarios.MTA_CHOICES
FAILED = b"bbo@example.net"


def _bounce(mta: str, name: str = "unknown-user") -> bytes:
    journey = scenarios.run(name, mta=mta)
    assert journey.bounce is not None and journey.bounce.message
    return journey.bounce.message


@pytest.mark.parametrize("mta", FLAVOURS)
def test_the_bounce_parses_with_the_stdlib_and_goes_back_with_the_null_sender(mta: str) -> None:
    msg = email.message_from_bytes(_bounce(mta), policy=email.policy.default)
    assert not msg.defects
    assert msg["Return-Path"] == "<>"
    assert msg["To"].strip("<>") == "alice@example.org"
    assert msg["Auto-Submitted"] or mta == "qmail"


@pytest.mark.parametrize("mta", FLAVOURS)
def test_flufl_bounce_extracts_the_failed_address(mta: str) -> None:
    msg = email.message_from_bytes(_bounce(mta))
    assert bounce.scan_message(msg) == {FAILED}


# the detector that recognises each MTA's own shape; flufl's Postfix detector knows only the old "The Postfix
# program" template, so today's Postfix bounces (like Sendmail's and Exchange's) are read as RFC 3464 reports
_OWN_DETECTOR = {"postfix": dsn.DSN, "exim": exim.Exim, "qmail": qmail.Qmail, "gmail": exim.Exim,
                 "sendmail": dsn.DSN, "exchange": dsn.DSN}


@pytest.mark.parametrize("mta", FLAVOURS)
def test_the_mtas_own_detector_recognises_it(mta: str) -> None:
    msg = email.message_from_bytes(_bounce(mta))
    _temporary, permanent = _OWN_DETECTOR[mta]().process(msg)
    assert set(permanent) == {FAILED}


@pytest.mark.parametrize("mta", FLAVOURS)
def test_the_analyzer_names_the_mta_the_address_the_status_and_the_reason(mta: str) -> None:
    journey = scenarios.run("unknown-user", mta=mta)
    returned = analyze(journey.bounce.message).summary["returned_message"]
    assert returned["mta"] == mta
    assert returned["final_recipient"].split(";")[1].strip() == "bbo@example.net"
    assert returned["action"] == "failed"
    reply = journey.outcome.reply  # what the MX said, in its own words
    assert reply.split(" ", 2)[-1].split(" - ")[0] in returned["diagnostic"]
    # Exim always reports 5.0.0; qmail's status is the (#5.1.1) at the end of its words
    assert returned["status"] == {"exim": "5.0.0", "qmail": "5.1.1"}.get(mta, journey.outcome.status)


def test_postfix_bounce_shape() -> None:
    raw = _bounce("postfix").decode()
    head, _, body = raw.partition("\r\n\r\n")
    names = [line.split(":")[0] for line in head.split("\r\n") if line and line[0] not in " \t"]
    assert names[-8:] == ["Date", "From", "Subject", "To", "Auto-Submitted", "MIME-Version", "Content-Type",
                          "Message-Id"]
    assert "Received: by smtp.example.org (Postfix)\r\n\tid " in head
    assert body.startswith("This is a MIME-encapsulated message.\r\n\r\n--")
    for header in ("Content-Description: Notification", "Content-Description: Delivery report",
                   "Content-Description: Undelivered Message\r\nContent-Type: message/rfc822", "X-Postfix-Queue-ID: ",
                   "X-Postfix-Sender: rfc822; alice@example.org", "This is the mail system at host smtp.example.org."):
        assert header in body
    unwrapped = body.replace("\r\n    ", " ")
    assert "<bbo@example.net>: host mx.example.net[198.51.100.25] said: 550 5.1.1 <bbo@example.net>:" in unwrapped
    assert "(in reply to RCPT TO command)" in unwrapped
    assert all(len(line) <= 79 for line in body.split("\r\n\r\n--")[1].split("\r\n"))
    msg = email.message_from_string(raw.replace("\r\n", "\n"))
    qid = msg["Message-Id"].strip("<>").split("@")[0]
    assert len(qid.split(".")[0]) == 14  # YYYYMMDDhhmmss.QUEUEID


def test_postfix_arrival_date_is_the_originals() -> None:
    journey = scenarios.run("unknown-user")
    raw = journey.bounce.message.decode()
    arrival = next(line for line in raw.split("\r\n") if line.startswith("Arrival-Date:"))
    first_hop = journey.hops[0].date  # when smtp.example.org accepted the original
    assert first_hop.strftime("%H:%M:%S") in arrival
    assert f"X-Postfix-Queue-ID: {journey.hops[0].id}" in raw


def test_diagnostic_code_does_not_fold_after_its_colon() -> None:
    for mta in FLAVOURS:
        raw = _bounce(mta).decode()
        assert "Diagnostic-Code:\r\n" not in raw


def test_exim_bounce_words() -> None:
    raw = _bounce("exim").decode()
    assert raw.count("X-Failed-Recipients: bbo@example.net") == 1
    assert "This message was created automatically by mail delivery software." in raw
    assert "    SMTP error from remote mail server after RCPT TO:<bbo@example.net>:\r\n    550 5.1.1" in raw
    assert "Received: from exim by smtp.example.org with local (Exim 4.98)" in raw


def test_sendmail_bounce_words() -> None:
    raw = _bounce("sendmail").decode()
    for text in ("From: Mail Delivery Subsystem <MAILER-DAEMON@smtp.example.org>",
                 "The original message was received at ", "----- The following addresses had permanent fatal errors",
                 "----- Transcript of session follows -----", ">>> RCPT To:<bbo@example.net>", "<<< 550 5.1.1",
                 "Final-Recipient: RFC822; bbo@example.net", "Remote-MTA: DNS; mx.example.net",
                 "Received: from localhost (localhost)\r\n\tby smtp.example.org (8.18.1/8.18.1) id "):
        assert text in raw


def test_qmail_bounce_is_plain_text_with_the_copy_below_the_line() -> None:
    raw = _bounce("qmail").decode()
    msg = email.message_from_string(raw.replace("\r\n", "\n"))
    assert not msg.is_multipart() and msg["Subject"] == "failure notice"
    body = msg.get_payload()
    assert body.startswith("Hi. This is the qmail-send program at smtp.example.org.")
    assert "<bbo@example.net>:\n198.51.100.25 does not like recipient.\nRemote host said: 550" in body
    assert "--- Below this line is a copy of the message.\n\nReturn-Path: <alice@example.org>" in body
    assert "Received: (qmail " in raw and "invoked for bounce)" in raw


def test_exchange_ndr_words() -> None:
    raw = _bounce("exchange").decode()
    assert "Subject: Undeliverable: Lunch on Friday?" in raw
    assert "Delivery has failed to these recipients or groups:" in raw
    assert "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound" in raw
    assert "X-MS-Exchange-Message-Is-Ndr:" in raw


def test_gmail_bounce_words() -> None:
    raw = _bounce("gmail").decode()
    assert "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>" in raw
    assert "** Address not found **" in raw and "X-Failed-Recipients: bbo@example.net" in raw


@pytest.mark.parametrize("mta", FLAVOURS)
def test_a_bounce_is_never_bounced_again(mta: str) -> None:
    journey = scenarios.run("unknown-user", mta=mta)
    assert journey.bounce.envelope_from == ""
