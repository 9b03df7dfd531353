"""Live mode on a shared machine: what an attacker on the same machine can try, and what the servers answer.

Each test is one finding of issue 14 (header injection, smuggling, recipient flood, AUTH scope, filter
bypass, limits, SMTPUTF8, webmail's Content-Length, Ctrl-C then resume), tried against real servers on
loopback.
"""

from __future__ import annotations

import email
import email.policy
import http.client
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailhops import scenarios
from mailhops.live import LiveTopology
from mailhops.live.mail_queue import spooled_recipients


@pytest.fixture(scope="module")
def three_hops() -> Iterator[LiveTopology]:
    with LiveTopology(scenarios.get("three-hops").build(), retry_schedule=(0.2, 0.2)) as live:
        yield live


class Raw:
    """A plain socket speaking SMTP line by line: every byte as the test writes it."""

    def __init__(self, where: tuple[str, int]) -> None:
        self.sock = socket.create_connection(where, 5)
        self.sock.settimeout(5)
        self.buffer = b""
        self.greeting = self.reply()

    def reply(self) -> str:
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return "\n".join(lines) or "(closed)"
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if line[3:4] != b"-":
                return "\n".join(lines)

    def say(self, raw: bytes) -> str:
        self.sock.sendall(raw)
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def _starttls(raw: Raw, name: str) -> None:
    assert raw.say(b"STARTTLS\r\n").startswith("220")
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    raw.sock = ctx.wrap_socket(raw.sock, server_hostname=name)


def _headers_of_everything_in(live: LiveTopology, address: str) -> list[list[str]]:
    return [[k.lower() for k in msg.keys()] for msg in live.maildir(address)]


def test_control_characters_and_bad_utf8_never_reach_a_header(three_hops: LiveTopology) -> None:
    raw = Raw(three_hops.address_of("mx.example.net"))
    try:
        assert raw.say(b"EHLO evil\rBcc: victim@example.com\r\n") == "501 Syntax: EHLO hostname"
        assert raw.say(b"EHLO evil\x1b[31mred\r\n") == "501 Syntax: EHLO hostname"
        assert raw.say(b"HELO nul\x00here\r\n") == "501 Syntax: HELO hostname"
        assert raw.say(b"EHLO caf\xe9.example\r\n") == "500 5.5.2 Error: bad UTF-8 syntax"
        assert raw.say(b"EHLO fine.example\r\n").startswith("250")
        assert raw.say(b'MAIL FROM:<"x\rBcc: victim@example.com"@example.com>\r\n') == "501 5.1.7 Bad sender address syntax"
        assert raw.say(b"MAIL FROM:<a\xff@example.com>\r\n") == "500 5.5.2 Error: bad UTF-8 syntax"
        assert raw.say(b"MAIL FROM:<carol@example.com>\r\n").startswith("250")
        assert raw.say(b"RCPT TO:<bob@example.net\x00>\r\n") == "501 5.1.3 Bad recipient address syntax"
        assert raw.say(b"RCPT TO:<bob@example.net>\r\n").startswith("250")
        assert raw.say(b"DATA\r\n").startswith("354")
        assert raw.say(b"Subject: clean\r\n\r\nhello\r\n.\r\n").startswith("250")
        raw.say(b"QUIT\r\n")
    finally:
        raw.close()
    key = three_hops.journal.keys()[-1]
    journey = three_hops.journal.wait(key, 10, final=True)
    assert journey.outcome.kind == "delivered"
    message = journey.final_message()
    assert message.get_all("Bcc") is None
    for field in message.get_all("Received") + [message["Return-Path"]]:
        assert not any(ch in field for ch in "\x00\x1b"), field
    assert "fine.example" in message.get_all("Received")[-1] or "fine.example" in message.get_all("Received")[1]


@pytest.mark.parametrize("smuggled", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r\n.\r", b"\r.\r\n"])
def test_smuggling_a_second_message_after_a_bare_line_end_is_refused(three_hops: LiveTopology, smuggled: bytes) -> None:
    before = len(three_hops.maildir("bob@example.net"))
    raw = Raw(three_hops.address_of("mx.example.net"))
    try:
        raw.say(b"EHLO smuggler.example\r\n")
        raw.say(b"MAIL FROM:<carol@example.com>\r\n")
        raw.say(b"RCPT TO:<bob@example.net>\r\n")
        assert raw.say(b"DATA\r\n").startswith("354")
        body = (b"Subject: first\r\n\r\nhello" + smuggled +
                b"MAIL FROM:<admin@example.net>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: forged\r\n\r\nx\r\n.\r\n")
        answer = raw.say(body)
        assert answer.startswith("550 5.5.2 mx.example.net Error: bare <"), answer
        assert raw.reply() == "(closed)"  # and the server hangs up, as Postfix does
    finally:
        raw.close()
    time.sleep(0.3)
    assert len(three_hops.maildir("bob@example.net")) == before


def test_bodies_cross_every_hop_byte_for_byte_and_no_dot_is_added(three_hops: LiveTopology) -> None:
    body = b".starts with a dot\r\n..two dots\r\n.\r\n \r\n. space\r\nend"
    message = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: dots\r\nMessage-ID: <dots@example.org>\r\n\r\n" + body
    journey = three_hops.send("alice@example.org", "bob@example.net", message=message, final=True)
    assert journey.outcome.kind == "delivered" and len(journey.hops) == 3
    arrived = journey.message.split(b"\r\n\r\n", 1)[1]
    assert arrived.rstrip(b"\r\n") == body


def test_998_octet_lines_pass_and_999_are_refused(three_hops: LiveTopology) -> None:
    raw = Raw(three_hops.address_of("mx.example.net"))
    try:
        raw.say(b"EHLO long.example\r\n")
        for length, expected in ((998, "250"), (999, "500")):
            raw.say(b"MAIL FROM:<carol@example.com>\r\n")
            raw.say(b"RCPT TO:<bob@example.net>\r\n")
            raw.say(b"DATA\r\n")
            assert raw.say(b"Subject: long\r\n\r\n" + b"x" * length + b"\r\n.\r\n").startswith(expected), length
    finally:
        raw.close()


def test_recipient_flood_stops_at_postfix_limit_and_duplicates_arrive_once() -> None:
    with LiveTopology(scenarios.get("three-hops").build()) as live:
        _duplicates_arrive_once(live)


def _duplicates_arrive_once(three_hops: LiveTopology) -> None:
    before = len(three_hops.maildir("bob@example.net"))
    with smtplib.SMTP(*three_hops.address_of("mx.example.net"), timeout=10) as s:
        s.ehlo("flood.example")
        s.mail("carol@example.com")
        codes = [s.rcpt("bob@example.net")[0] for _ in range(50)]
        assert codes == [250] * 50  # the same recipient again: accepted, delivered once
        s.rset()
        s.sendmail("carol@example.com", ["bob@example.net"] * 20, b"Subject: twenty times\r\n\r\nonce\r\n")
    deadline = time.monotonic() + 10
    while len(three_hops.maildir("bob@example.net")) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert len(three_hops.maildir("bob@example.net")) == before + 1


def test_more_than_1000_recipients_get_452() -> None:
    topology = scenarios.get("three-hops").build()
    for i in range(1005):
        topology.add_user(f"u{i}@example.net", mailbox="imap.example.net")
    with LiveTopology(topology) as live:
        with smtplib.SMTP(*live.address_of("mx.example.net"), timeout=10) as s:
            s.ehlo("flood.example")
            s.mail("carol@example.com")
            replies = [s.rcpt(f"u{i}@example.net") for i in range(1003)]
    assert [code for code, _ in replies[:1000]] == [250] * 1000
    assert replies[1000:] == [(452, b"4.5.3 Error: too many recipients")] * 3


def test_auth_only_at_submission_only_inside_tls_and_only_as_oneself(three_hops: LiveTopology) -> None:
    token = b"AGFsaWNlAG1haWxob3Bz"  # \0alice\0mailhops
    for name in ("mx.example.net", "imap.example.net"):
        raw = Raw(three_hops.address_of(name))
        try:
            ehlo = raw.say(b"LHLO me.example\r\n" if name.startswith("imap") else b"EHLO me.example\r\n")
            assert "AUTH" not in ehlo
            assert raw.say(b"AUTH PLAIN " + token + b"\r\n") == "503 5.5.1 Error: authentication not enabled"
        finally:
            raw.close()
    raw = Raw(three_hops.address_of("smtp.example.org"))
    try:
        assert "AUTH" not in raw.say(b"EHLO me.example\r\n")
        assert raw.say(b"AUTH PLAIN " + token + b"\r\n") == "503 5.5.1 Error: authentication not enabled"
        _starttls(raw, "smtp.example.org")
        assert "250-AUTH" in raw.say(b"EHLO me.example\r\n")
        assert raw.say(b"STARTTLS\r\n") == "554 5.5.1 Error: TLS already active"
        assert raw.say(b"AUTH PLAIN " + token + b"\r\n").startswith("235")
        assert raw.say(b"MAIL FROM:<bob@example.net>\r\n") == (
            "553 5.7.1 <bob@example.net>: Sender address rejected: not owned by user alice")
        assert raw.say(b"MAIL FROM:<alice@example.org>\r\n").startswith("250")
    finally:
        raw.close()


def test_failed_logins_and_errors_end_in_421() -> None:
    with LiveTopology(scenarios.get("three-hops").build()) as live:
        raw = Raw(live.address_of("smtp.example.org"))
        try:
            raw.say(b"EHLO me.example\r\n")
            _starttls(raw, "smtp.example.org")
            raw.say(b"EHLO me.example\r\n")
            answers = [raw.say(b"AUTH PLAIN AGFsaWNlAHdyb25n\r\n") for _ in range(20)]
            last = raw.reply()
        finally:
            raw.close()
    assert all(a.startswith("535") for a in answers)
    assert last == "421 4.7.0 smtp.example.org Error: too many errors"


def test_internal_servers_take_mail_only_from_their_upstream_server() -> None:
    with LiveTopology(scenarios.get("enterprise").build()) as live:
        for name in ("spamfilter.example.net", "av.example.net", "archive.example.net", "hub.example.net"):
            with smtplib.SMTP(*live.address_of(name), timeout=5) as s:
                s.ehlo("attacker.example")
                s.mail("eve@example.com")
                code, text = s.rcpt("bob@example.net")
            assert code == 554 and b"Client host rejected: Access denied" in text, (name, text)
        mailbox = smtplib.LMTP if live.topology.server("imap.example.net").mta == "dovecot" else smtplib.SMTP
        with mailbox(*live.address_of("imap.example.net"), timeout=5) as s:
            s.ehlo("attacker.example")
            s.mail("eve@example.com")
            assert s.rcpt("bob@example.net")[0] == 554
        assert live.send("alice@example.org", "bob@example.net").outcome.kind == "delivered"  # the real path works
        assert len(live.maildir("bob@example.net")) == 1


def test_size_is_counted_at_submission_never_later() -> None:
    with LiveTopology(scenarios.get("three-hops").build(), size_limit=20_000) as live:
        with smtplib.SMTP(*live.address_of("mx.example.net"), timeout=5) as s:
            assert s.ehlo("me.example")[0] == 250 and s.esmtp_features["size"] == "20000"
        body = ("x" * 70 + "\n") * ((20_000 - 400) // 71)
        journey = live.send("alice@example.org", "bob@example.net", body=body, final=True)
        assert len(journey.hops[0].smtp) > 0 and journey.outcome.kind == "delivered", journey.outcome
        assert len(journey.message) > 20_000  # the hops' headers pushed it over the limit: still delivered


def test_smtputf8_is_declared_or_refused_at_the_first_hop(three_hops: LiveTopology) -> None:
    raw = Raw(three_hops.address_of("mx.example.net"))
    try:
        raw.say(b"EHLO me.example\r\n")
        assert raw.say("MAIL FROM:<jos\u00e9@example.com>\r\n".encode()) == (
            "553 5.6.7 Must declare SMTPUTF8 to send unicode address")
        assert raw.say("MAIL FROM:<jos\u00e9@example.com> SMTPUTF8\r\n".encode()).startswith("250")
        assert raw.say(b"RCPT TO:<bob@example.net>\r\n").startswith("250")
        raw.say(b"DATA\r\n")
        assert raw.say("Subject: caf\u00e9\r\n\r\nol\u00e1\r\n.\r\n".encode()).startswith("250")
    finally:
        raw.close()
    key = three_hops.journal.keys()[-1]
    journey = three_hops.journal.wait(key, 10, final=True)
    assert journey.outcome.kind == "delivered" and len(journey.hops) == 2  # passed on with SMTPUTF8, not stuck


def test_webmail_checks_content_length_before_reading() -> None:
    with LiveTopology(scenarios.get("webmail").build(), size_limit=10_000) as live:
        host, port = live.address_of("webmail.example.org")
        for length, status in (("-1", 400), ("abc", 400), ("99999999", 413)):
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.putrequest("POST", "/?_task=mail&_action=send")
            conn.putheader("Content-Length", length)
            conn.endheaders()
            assert conn.getresponse().status == status, length
            conn.close()


def test_ctrl_c_then_resume_loses_nothing(tmp_path: Path) -> None:
    topology = scenarios.get("three-hops").build()
    topology.server("mx.example.net").up = False  # the MX is down: the message waits in the submission queue
    live = LiveTopology(topology, directory=tmp_path, retry_schedule=(60.0,)).start()
    try:
        journey = live.send("alice@example.org", "bob@example.net")
        assert journey.outcome.kind == "deferred"
        left = live.drain(0.5)
    finally:
        live.stop()
    assert [name for name, _ in left] == ["smtp.example.org"]
    spooled = [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]
    assert spooled == [left[0][1].path]
    topology.server("mx.example.net").up = True
    with LiveTopology(topology, directory=tmp_path) as again:
        deadline = time.monotonic() + 10
        while len(again.maildir("bob@example.net")) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(again.maildir("bob@example.net")) == 1
        assert email.message_from_bytes(next(iter(again.maildir("bob@example.net"))).as_bytes(),
                                        policy=email.policy.default)["Subject"] == "Hello from mailhops"
    assert [p for p in (tmp_path / "spool").rglob("*") if p.is_file()] == []


def test_one_spool_file_per_message_struck_off_per_recipient_then_resumed(tmp_path: Path) -> None:
    topology = scenarios.get("three-hops").build()
    topology.server("mx.example.net").up = False  # bob's copy waits; alice's (a local domain) is delivered
    live = LiveTopology(topology, directory=tmp_path, retry_schedule=(60.0,)).start()
    spool = tmp_path / "spool" / "smtp.example.org"
    seen: list[list[str]] = []
    original = live._nodes["smtp.example.org"].mail.queue.put_message  # noqa: SLF001 - look at the file as written

    def spy(entries, delay=0.0):  # noqa: ANN001, ANN202
        original(entries, delay)
        seen.append(spooled_recipients(entries[0].path) if entries else [])

    live._nodes["smtp.example.org"].mail.queue.put_message = spy  # noqa: SLF001
    try:
        with smtplib.SMTP(*live.address_of("smtp.example.org"), timeout=10) as s:
            s.ehlo("laptop.example.org")
            s.starttls(context=ssl._create_unverified_context())  # noqa: SLF001 - a self-signed certificate
            s.ehlo("laptop.example.org")
            s.login("alice", "mailhops")
            refused = s.sendmail("alice@example.org", ["bob@example.net", "alice@example.org"],
                                 b"From: alice@example.org\r\nSubject: two of us\r\n\r\n.hi\r\n")
        assert refused == {}
        assert seen[0] == ["bob@example.net", "alice@example.org"]  # one file, both recipients, before the 250
        deadline = time.monotonic() + 10
        while len(live.maildir("alice@example.org")) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(live.maildir("alice@example.org")) == 1
        files = [p for p in spool.iterdir() if p.is_file()]
        assert len(files) == 1 and spooled_recipients(files[0]) == ["bob@example.net"]  # alice struck off
        left = live.drain(0.5)
    finally:
        live.stop()
    assert [(name, e.envelope.rcpt) for name, e in left] == [("smtp.example.org", "bob@example.net")]
    topology.server("mx.example.net").up = True
    with LiveTopology(topology, directory=tmp_path) as again:
        deadline = time.monotonic() + 10
        while len(again.maildir("bob@example.net")) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        stored = [m.as_bytes() for m in again.maildir("bob@example.net")]
        assert len(again.maildir("alice@example.org")) == 1  # not delivered twice
    assert len(stored) == 1 and stored[0].endswith(b"\n.hi\n")  # the body byte for byte (the Maildir stores LF)
    received = email.message_from_bytes(stored[0], policy=email.policy.default).get_all("Received")
    assert any("for <bob@example.net>" in str(r) and "smtp.example.org" in str(r) for r in received)
    assert [p for p in (tmp_path / "spool").rglob("*") if p.is_file()] == []


def test_a_long_session_lets_go_of_each_message_once_the_next_one_starts() -> None:
    """A client that keeps its session open (an application's queue) must not pin every journey it carried."""
    with LiveTopology(scenarios.get("three-hops").build()) as live:
        with smtplib.SMTP(*live.address_of("mx.example.net"), timeout=10) as s:
            s.ehlo("app.example.com")
            for n in range(3):
                s.sendmail("carol@example.com", ["bob@example.net"], f"Subject: {n}\r\n\r\nmessage {n}\r\n".encode())
            keys = live.journal.keys()
            assert len(keys) == 3
            for key in keys[:2]:  # the session is still open: the first two transactions are over all the same
                journey = live.journal.wait(key, 10, final=True)
                assert journey.outcome.kind == "delivered"
                assert journey.hops[0].smtp[-1].side == "S" and journey.hops[0].smtp[-1].text.startswith("250 ")


def test_the_timeout_is_per_read_a_slow_but_active_client_goes_on_an_idle_one_is_cut() -> None:
    with LiveTopology(scenarios.get("three-hops").build(), timeout=0.6) as live:
        raw = Raw(live.address_of("mx.example.net"))
        try:
            raw.say(b"EHLO slow.example\r\n")
            assert raw.say(b"MAIL FROM:<carol@example.com>\r\n").startswith("250")
            assert raw.say(b"RCPT TO:<bob@example.net>\r\n").startswith("250")
            assert raw.say(b"DATA\r\n").startswith("354")
            for n in range(6):  # 6 x 0.25 s: more than the timeout in all, less between two reads
                raw.sock.sendall(b"Subject: slow\r\n" if n == 0 else b"line %d\r\n" % n)
                time.sleep(0.25)
            assert raw.say(b".\r\n").startswith("250")
            time.sleep(1.5)  # now idle for longer than the timeout: the server hangs up
            assert raw.sock.recv(1024) == b""
        finally:
            raw.close()
