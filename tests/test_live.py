"""The live mode: real SMTP/LMTP/HTTP servers and a real DNS server on 127.0.0.1.

Each test starts servers on ephemeral loopback ports and checks what really went over the sockets and
into the Maildirs; timing targets live in bench/live.py, not here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email
import email.policy
import json
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailhops import scenarios
from mailhops.cli import main
from mailhops.errors import LiveError
from mailhops.live import LiveTopology
from mailhops.scenarios import run_live as run_scenario
from mailhops.simulate import send as simulate_send

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parent.parent


def _shape(journey):  # noqa: ANN001, ANN202
    bounce = journey.bounce
    return {
        "by_server": [h.by_server for h in journey.hops],
        "with": [h.with_ for h in journey.hops],
        "outcome": (journey.outcome.kind, journey.outcome.status),
        "attempts": [(a.by_server, a.status) for a in journey.attempts],
        "bounce": None if bounce is None else ([h.by_server for h in bounce.hops], [h.with_ for h in bounce.hops],
                                               bounce.outcome.kind if bounce.outcome else None),
    }


@pytest.mark.parametrize("name", scenarios.names())
def test_live_journey_matches_the_simulation(name: str) -> None:
    live = run_scenario(name, timeout=30)
    simulated = scenarios.run(name)
    assert live.source == "live" and live.scenario == name
    assert _shape(live) == _shape(simulated)
    for hop in live.hops:
        assert hop.smtp, f"hop {hop.n} at {hop.by_server} has no transcript"
    smtp_hops = [h for h in live.hops if h.with_ not in ("HTTP", None)]
    for hop in smtp_hops:
        texts = [line.text for line in hop.smtp]
        if texts[0].lower() == "rset":  # a relay reusing its cached session checks it with RSET first
            assert texts[1] == "250 2.0.0 Ok"
        else:
            assert texts[0].startswith("220 "), texts[:2]
            assert any(t.lower().startswith(("ehlo", "lhlo")) for t in texts)
        assert any(line.side == "C" and line.text == "." for line in hop.smtp)


def test_transcript_and_headers_are_what_really_crossed_the_wire() -> None:
    journey = run_scenario("three-hops")
    submission, mx, mailbox_hop = journey.hops
    texts = [str(line) for line in submission.smtp]
    assert "C: STARTTLS" in texts and "C: AUTH PLAIN ********" in texts
    assert "S: 235 2.7.0 Authentication successful" in texts
    assert submission.tls and submission.tls.startswith("TLS") and submission.auth == "alice"
    assert mailbox_hop.smtp[0].text == "220 imap.example.net Dovecot ready."
    assert any(line.text.startswith("250 2.0.0 <bob@example.net>") and "Saved" in line.text for line in mailbox_hop.smtp)
    message = journey.final_message()
    received = message.get_all("Received")
    assert len(received) == 3
    assert "by imap.example.net with LMTP" in " ".join(received[0].split())
    submission_ip = journey.topology.server("smtp.example.org").ip  # its own loopback address, really seen by the MX
    assert f"[{submission_ip}]" in received[1] and f"id {mx.id}" in " ".join(received[1].split())
    assert message["Return-Path"] == "<alice@example.org>" and message["Delivered-To"] == "bob@example.net"
    assert mx.from_server == "smtp.example.org" and mx.ip == submission_ip and submission_ip.startswith("127.")
    assert journey.lookups and journey.lookups[0].answers == ["example.net. MX 10 mx.example.net."]
    # every server lists PIPELINING, as Postfix and Dovecot's LMTP do, and the sending side uses it as Postfix does
    for hop in journey.hops:
        lines = [line.text for line in hop.smtp]
        assert "250-PIPELINING" in lines, hop.by_server
        assert any(t.startswith("MAIL FROM:<alice@example.org> SIZE=") for t in lines), hop.by_server


def test_a_loop_stops_at_the_lowered_hop_limit_and_bounces() -> None:
    topology = scenarios.get("forwarding-loop").build()
    for name in ("fwd.example.com", "fwd.university.example"):
        topology.server(name).hop_limit = 8
    simulated = simulate_send(topology, "alice@example.org", "carol@example.com")
    with LiveTopology(topology) as live:
        journey = live.send("alice@example.org", "carol@example.com", timeout=20)
        dsns = list(live.maildir("alice@example.org"))
    assert journey.outcome.kind == "looped" and journey.outcome.status == "5.4.0"
    assert len(journey.hops) == len(simulated.hops) < 10
    assert journey.attempts[-1].status == "rejected"
    assert "554 5.4.0 Error: too many hops" in journey.attempts[-1].decision
    assert len(dsns) == 1
    assert dsns[0].get_content_type() == "multipart/report"
    assert b"Status: 5.4.0" in dsns[0].as_bytes()


def test_a_down_primary_mx_makes_the_sender_use_the_backup() -> None:
    topology = scenarios.get("mx-fallback").build()
    topology.server("mx1.example.net").up = True
    with LiveTopology(topology) as live:
        first = live.send("alice@example.org", "bob@example.net")
        live.stop_server("mx1.example.net")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(live.address_of("mx1.example.net"), 1).close()
        second = live.send("alice@example.org", "bob@example.net")
        live.start_server("mx1.example.net")
        third = live.send("alice@example.org", "bob@example.net")
        delivered = len(live.maildir("bob@example.net"))
    assert [h.by_server for h in first.hops] == ["smtp.example.org", "mx1.example.net", "imap.example.net"]
    assert [h.by_server for h in second.hops] == ["smtp.example.org", "mx2.example.net", "imap.example.net"]
    assert [(a.by_server, a.status) for a in second.attempts] == [("mx1.example.net", "unreachable")]
    assert "Connection refused" in second.attempts[0].decision
    assert [h.by_server for h in third.hops][1] == "mx1.example.net"
    assert delivered == 3


def test_a_rejection_at_data_puts_a_dsn_in_the_senders_maildir() -> None:
    scenario = scenarios.get("spam-rejected")
    with LiveTopology(scenario.build()) as live:
        journey = live.send(scenario.sender, scenario.recipient, subject=scenario.subject, body=scenario.body)
        inbox = list(live.maildir("alice@example.org"))
        bob = list(live.maildir("bob@example.net"))
    assert journey.outcome.kind == "rejected" and journey.outcome.status == "5.7.1"
    refusal = journey.attempts[0]
    assert refusal.by_server == "mx.example.net"
    assert any(line.side == "S" and line.text.startswith("554 5.7.1 Spam message rejected") for line in refusal.smtp)
    assert bob == []
    assert len(inbox) == 1
    dsn = email.message_from_bytes(inbox[0].as_bytes(), policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report" and dsn.get_param("report-type") == "delivery-status"
    assert dsn["To"] == "alice@example.org"
    status = dsn.get_payload()[1].as_string()
    assert "Final-Recipient: rfc822; bob@example.net" in status and "Status: 5.7.1" in status
    assert journey.bounce is not None and journey.bounce.outcome.kind == "delivered"


def test_a_deferred_message_is_retried_on_the_schedule_then_bounced() -> None:
    with LiveTopology(scenarios.get("deferred").build(), retry_schedule=(0.1, 0.2)) as live:
        journey = live.send("alice@example.org", "bob@example.net", final=True, timeout=20)
        dsns = list(live.maildir("alice@example.org"))
        assert live.pending() == []
    assert journey.outcome.kind == "bounced" and journey.outcome.status == "4.4.1"
    assert [a.by_server for a in journey.attempts] == ["mx1.example.net", "mx2.example.net"] * 3
    assert len(dsns) == 1
    report = dsns[0].as_bytes()
    assert b"Action: failed" in report and b"Status: 4.4.1" in report


def _free_udp_and_tcp(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))


def test_each_server_thread_is_named_after_the_server_it_plays() -> None:
    # the benchmark and py-spy --threads attribute CPU time to servers by these names
    with LiveTopology(scenarios.get("three-hops").build()) as live:
        names = {t.name for t in threading.enumerate()}
        for server in ("smtp.example.org", "mx.example.net", "imap.example.net"):
            assert f"mailhops-server-{server}" in names
            assert f"mailhops-queue-{server}-0" in names
        live.stop_server("mx.example.net")
        assert "mailhops-server-mx.example.net" not in {t.name for t in threading.enumerate()}
        live.start_server("mx.example.net")
        assert "mailhops-server-mx.example.net" in {t.name for t in threading.enumerate()}


def test_every_thread_and_port_is_released_even_after_an_exception() -> None:
    before = set(threading.enumerate())
    live = LiveTopology(scenarios.get("enterprise").build())
    with pytest.raises(RuntimeError, match="boom"):
        with live:
            where = [address for name, address in live.addresses().items() if name != "dns"]
            dns_port = live.dns_port
            assert len(set(threading.enumerate()) - before) > 10
            live.send("alice@example.org", "sales@example.net")
            raise RuntimeError("boom")
    assert set(threading.enumerate()) - before == set()
    for host, port in where:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), 1).close()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # SO_REUSEADDR as every server sets it: binding still fails while anything listens on the port,
            # but not because of the TIME_WAIT entries that closed connections leave behind
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", dns_port))
    assert live.directory is not None and not live.directory.exists()


def _outside_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses: the host name's, and the source address the kernel
    would pick toward a few outside addresses (a UDP connect sends nothing)."""
    found = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(info[4][0])
    except OSError:
        pass
    for target in ("192.0.2.254", "198.51.100.254", "10.255.255.254"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))
                found.add(probe.getsockname()[0])
            except OSError:
                pass
    return [a for a in found if not a.startswith("127.") and a != "0.0.0.0"]


def test_servers_listen_on_loopback_only() -> None:
    with LiveTopology(scenarios.get("webmail").build()) as live:
        addresses = live.addresses()
        assert set(addresses) >= {"smtp.example.org", "mx.example.net", "imap.example.net", "webmail.example.org", "dns"}
        hosts = {host for host, _ in addresses.values()}
        assert all(host.startswith("127.") for host in hosts)
        assert len(hosts) == len(addresses) or hosts == {"127.0.0.1"}  # each its own address (or all share 127.0.0.1)
        for outside in _outside_addresses():
            for _, port in addresses.values():
                with pytest.raises(OSError):
                    socket.create_connection((outside, port), 0.5).close()


def test_no_open_relay() -> None:
    with LiveTopology(scenarios.get("three-hops").build()) as live:
        with smtplib.SMTP(*live.address_of("mx.example.net"), local_hostname="stranger.example", timeout=5) as s:
            s.ehlo()
            assert s.mail("spammer@example.com")[0] == 250
            code, text = s.rcpt("victim@example.com")
            assert (code, text) == (550, b"5.7.1 <victim@example.com>: Relay access denied")  # Postfix's words, code 550
            assert s.rcpt("bob@example.net")[0] == 250  # its own domain is fine
        with smtplib.SMTP(*live.address_of("smtp.example.org"), local_hostname="stranger.example", timeout=5) as s:
            s.ehlo()
            assert s.mail("alice@example.org") == (553, b"5.7.1 <alice@example.org>: Sender address rejected: not logged in")
            s.mail("stranger@example.com")
            assert s.rcpt("bob@example.net")[0] == 550  # submission without logging in: no relaying
            s.rset()
            assert "auth" not in s.esmtp_features  # AUTH only inside TLS (smtpd_tls_auth_only)
            assert s.docmd("AUTH", "PLAIN AGFsaWNlAG1haWxob3Bz") == (503, b"5.5.1 Error: authentication not enabled")
            s.starttls()
            s.ehlo()
            s.login("alice", live.password)
            s.mail("alice@example.org")
            assert s.rcpt("bob@example.net")[0] == 250
            s.rset()
        with smtplib.SMTP(*live.address_of("smtp.example.org"), timeout=5) as s:
            s.starttls()
            with pytest.raises(smtplib.SMTPAuthenticationError):
                s.login("alice", "wrong password")
        assert live.pending() == []


def test_message_size_limit_and_idle_timeout() -> None:
    with LiveTopology(scenarios.get("three-hops").build(), size_limit=4000, timeout=0.5) as live:
        host, port = live.address_of("mx.example.net")
        with smtplib.SMTP(host, port, timeout=5) as s:
            s.ehlo()
            assert "size" in s.esmtp_features and s.esmtp_features["size"] == "4000"
            s.mail("alice@example.org")
            s.rcpt("bob@example.net")
            code, text = s.data(b"Subject: big\r\n\r\n" + b"x" * 70 + (b"\r\n" + b"x" * 70) * 100)
            assert code == 552
        with socket.create_connection((host, port), 5) as raw:
            raw.settimeout(5)
            assert raw.recv(1024).startswith(b"220 mx.example.net")
            time.sleep(1.0)
            assert raw.recv(1024) == b""  # the server hung up on the idle client


def test_two_hundred_concurrent_messages_none_lost(tmp_path: Path) -> None:
    with LiveTopology(scenarios.get("three-hops").build(), directory=tmp_path) as live:
        recipients = ["bob@example.net"] * 180 + ["nobody@example.net"] * 20
        random.Random(1).shuffle(recipients)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            journeys = list(pool.map(lambda r: live.send("alice@example.org", r, timeout=60), recipients))
    # after the servers stopped (every worker has finished), the spools are empty and the Maildirs full
    delivered = len(live.maildir("bob@example.net"))
    bounces = len(live.maildir("alice@example.org"))
    spool = [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]
    kinds = [j.outcome.kind for j in journeys]
    assert kinds.count("delivered") == 180 and kinds.count("rejected") == 20
    assert delivered == 180 and bounces == 20
    assert spool == []


def test_an_outside_client_is_traced_and_each_hop_reported() -> None:
    events: list[tuple[str, str]] = []
    with LiveTopology(scenarios.get("three-hops").build(),
                      on_event=lambda what, journey, item: events.append((what, getattr(item, "by_server", "")))) as live:
        with smtplib.SMTP(*live.address_of("smtp.example.org"), local_hostname="student.example", timeout=5) as s:
            s.starttls()
            s.login("alice@example.org", live.password)
            s.sendmail("alice@example.org", ["bob@example.net"], b"Subject: by hand\r\n\r\nhello\r\n")
        key = live.journal.keys()[0]
        journey = live.journal.wait(key, 10)
        assert live._dns.queries > 0  # the next hop was found by asking the live DNS server
    assert journey.outcome.kind == "delivered"
    assert journey.hops[0].from_server is None and journey.hops[0].helo == "student.example"
    assert journey.hops[0].with_ == "ESMTPSA"  # logged in inside TLS: RFC 3848's word for it
    assert [e for e in events if e[0] == "hop"] == [("hop", "smtp.example.org"), ("hop", "mx.example.net"),
                                                   ("hop", "imap.example.net")]
    assert events[-1][0] == "outcome"


def _port_base(count: int) -> int:
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(20000, 40000)
        try:
            for port in range(base, base + count):
                _free_udp_and_tcp(port)
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


def test_starting_twice_like_a_notebook_cell_run_again() -> None:
    topology = scenarios.get("three-hops").build()
    base = _port_base(len(topology.servers) + 1)
    first = LiveTopology(topology, port_base=base).start()
    assert first.start() is first  # a second start() on the same object does nothing
    assert first.ports["smtp.example.org"] == base  # the laptop (a client) listens nowhere
    host = first.address_of("smtp.example.org")[0]
    second = LiveTopology(scenarios.get("three-hops").build(), port_base=base).start()  # the cell, run again
    try:
        journey = second.send("alice@example.org", "bob@example.net")
        assert journey.outcome.kind == "delivered"
    finally:
        second.stop()
        first.stop()
    with socket.socket() as taken:
        taken.bind((host, base))
        with pytest.raises(LiveError, match="already in use"):
            LiveTopology(scenarios.get("three-hops").build(), port_base=base).start()


def test_cli_send_live_json_and_eml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "three-hops", "--live", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "live" and data["outcome"]["kind"] == "delivered"
    assert [h["with"] for h in data["hops"]] == ["ESMTPSA", "ESMTPS", "LMTP"]
    assert data["hops"][1]["smtp"][0] == "S: 220 mx.example.net ESMTP Postfix"
    assert main(["send", "unknown-user", "--live", "--format", "eml"]) == 0
    eml = capsys.readouterr().out
    assert "multipart/report" in eml and "5.1.1" in eml


def test_cli_serve_runs_until_ctrl_c() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "mailhops", "serve", "three-hops"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines: list[str] = []
        port = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "smtp.example.org" in line and "SMTP" in line and port is None:
                host, _, number = line.split()[0].rpartition(":")
                port = int(number)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)
        assert port is not None, text
        assert f"swaks --server {host}:{port}" in text and "import smtplib" in text
        assert f"openssl s_client -starttls smtp -crlf -quiet -connect {host}:{port}" in text
        maildir = next(line.split()[-1] for line in lines if line.strip().startswith("bob@example.net"))
        with smtplib.SMTP(host, port, timeout=5) as s:
            s.starttls()
            s.login("alice", "mailhops")
            s.sendmail("alice@example.org", ["bob@example.net"], b"Subject: from the test\r\n\r\nhi\r\n")
        seen = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if line.startswith("[delivered]"):
                break
        assert any(line.startswith("[hop 3]") for line in seen), seen
        assert len(list((Path(maildir) / "new").iterdir())) == 1
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_works_from_a_thread_that_runs_an_event_loop_like_a_jupyter_kernel() -> None:
    async def cell():  # noqa: ANN202 - a notebook cell runs inside the kernel's event loop
        live = LiveTopology(scenarios.get("three-hops").build()).start()
        try:
            assert "smtp.example.org" in live.describe() and repr(live).startswith("LiveTopology('three-hops', running")
            return live.send("alice@example.org", "bob@example.net")
        finally:
            live.stop()

    journey = asyncio.run(cell())
    assert journey.outcome.kind == "delivered"
