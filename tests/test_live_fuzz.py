"""A hypothesis-driven SMTP session fuzzer against the live servers (issue 14).

Random command sequences with hostile bytes (CR, LF, NUL, ESC, invalid UTF-8, long lines, bare line ends
in DATA, pipelined groups) go to the MX, the submission server and the mailbox server of a running
three-hops topology. Whatever arrives: no internal error (``451 4.3.0 ... internal error``, aiosmtpd's
``500 Error: (...)``), no reply the fuzzer can read as anything but one SMTP reply per line, no header of
any delivered message that came from the fuzzer's bytes (no ``Bcc``, no control characters), and every
message a server accepted ends delivered or bounced (nothing stays queued).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailhops import scenarios
from mailhops.live import LiveTopology

HOSTILE = [b"\r", b"\n", b"\x00", b"\x1b[2J", b"\xff", b"\xc3(", b"\r\nBcc: victim@example.com\r\n", b"\x7f",
           b"\r\n.\r\n", b"\n.\n", b"x" * 1200, b"\xe9", b"<", b">", b'"', b" ", b"SMTPUTF8"]
WORDS = [b"alice@example.org", b"bob@example.net", b"nobody@example.net", b"victim@example.com", b"<>",
         b"fuzz.example", b"jos\xc3\xa9@example.com"]
COMMANDS = [b"EHLO", b"HELO", b"LHLO", b"MAIL FROM:", b"RCPT TO:", b"DATA", b"RSET", b"NOOP", b"VRFY", b"AUTH PLAIN",
            b"AUTH LOGIN", b"STARTTLS", b"BDAT", b"XCLIENT", b"QUIT"]

piece = st.one_of(st.sampled_from(HOSTILE), st.sampled_from(WORDS), st.binary(max_size=12))
argument = st.lists(piece, max_size=4).map(b"".join)
command = st.tuples(st.sampled_from(COMMANDS), argument).map(lambda ca: ca[0] + b" " + ca[1] + b"\r\n")
body = st.lists(st.one_of(piece, st.just(b"\r\n"), st.just(b"Subject: fuzz\r\n")), max_size=8).map(b"".join)
session = st.lists(st.one_of(command, body.map(lambda b: b + b"\r\n.\r\n")), min_size=1, max_size=10)
target = st.sampled_from(["mx.example.net", "smtp.example.org", "imap.example.net"])


@pytest.fixture(scope="module")
def live() -> Iterator[LiveTopology]:
    with LiveTopology(scenarios.get("three-hops").build(), retry_schedule=(0.1, 0.1), timeout=2.0) as running:
        yield running


def _talk(where: tuple[str, int], lines: list[bytes]) -> list[bytes]:
    """Send each line (one write each), read what comes back within a short while; the raw reply bytes."""
    replies = []
    with socket.create_connection(where, 3) as sock:
        sock.settimeout(0.3)
        for line in [b"EHLO fuzz.example\r\n", b"MAIL FROM:<carol@example.com>\r\n", b"RCPT TO:<bob@example.net>\r\n",
                     b"DATA\r\n", *lines]:
            try:
                sock.sendall(line)
            except OSError:
                break
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            replies.append(data)
    return replies


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(name=target, lines=session)
def test_no_session_breaks_a_server_or_a_header(live: LiveTopology, name: str, lines: list[bytes]) -> None:
    for raw in _talk(live.address_of(name), lines):
        for reply in raw.split(b"\r\n"):
            if not reply:
                continue
            assert reply[:3].isdigit() and reply[3:4] in (b" ", b"-"), reply
            assert b"internal error" not in reply and not reply.startswith(b"500 Error: ("), reply


def test_afterwards_every_accepted_message_is_delivered_or_bounced_and_no_header_was_injected(
        live: LiveTopology) -> None:
    # runs after the fuzzing above (same module-scoped servers)
    deadline = time.monotonic() + 20
    while live.pending() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live.pending() == []
    for key in live.journal.keys():
        journey = live.journal.wait(key, 10, final=True)
        assert journey.outcome is not None and journey.outcome.kind != "deferred"
    for address in ("bob@example.net", "alice@example.org"):
        for message in live.maildir(address):
            assert message.get_all("Bcc") is None
            for field, value in message.items():
                assert not any(ord(ch) < 32 and ch not in "\t\r\n" for ch in str(value)), (field, value)
    assert live.send("alice@example.org", "bob@example.net").outcome.kind == "delivered"  # still serving
