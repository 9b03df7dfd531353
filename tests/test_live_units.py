"""Properties of the live mode's pure helpers (no servers started): they must agree with the simulator's
DNS logic and with aiosmtpd's own parser, and the transcripts must never show a password."""

from __future__ import annotations

import asyncio
import random
import smtplib
import socket
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops.dns import TopologyDNS
from mailhops.live.connections import Connection
from mailhops.live.sending import order_mx, pipelined, smtp_reply
from mailhops.live.smtp import RecordingSMTP
from mailhops.mta.roles import Reply
from mailhops.topology import Topology

_hosts = st.lists(st.tuples(st.integers(0, 50), st.sampled_from("abcdefgh")), min_size=1, max_size=6,
                  unique_by=lambda p: p[1])


@given(records=_hosts, seed=st.integers(0, 2**16), asking=st.one_of(st.none(), st.sampled_from("abcdefgh")))
@settings(max_examples=60, deadline=None)
def test_order_mx_agrees_with_the_simulated_dns(records: list[tuple[int, str]], seed: int, asking: str | None) -> None:
    topology = Topology()
    topology.add_domain("example.net")
    for i, (pref, letter) in enumerate(records):
        topology.add_server(f"{letter}.example.net", "mx", f"198.51.100.{i + 1}", domain="example.net", mx_preference=pref)
    asked = f"{asking}.example.net" if asking else None
    simulated = TopologyDNS(topology).mx_candidates("example.net", random.Random(seed), asking=asked)
    live = order_mx("example.net", [(p, f"{h}.example.net") for p, h in reversed(records)], random.Random(seed), asking=asked)
    assert live.candidates == simulated.candidates
    assert live.kind == simulated.kind == "mx"
    assert sorted(live.records) == sorted(simulated.records)


@given(code=st.sampled_from([250, 421, 451, 550, 552, 554]),
       status=st.one_of(st.just(""), st.from_regex(r"[245]\.[0-9]\.[0-9]{1,2}", fullmatch=True)),
       text=st.from_regex(r"[A-Za-z<>@. ]{0,40}[A-Za-z]", fullmatch=True))
def test_replies_read_back_as_written(code: int, status: str, text: str) -> None:
    reply = Reply(code, status, text)
    wire = str(reply).split(" ", 1)[1]  # what smtplib hands back after the code
    assert str(smtp_reply(code, wire.encode())) == str(reply)


_ATEXT = "abcXYZ0189!#$%&'*+/=?^_`{|}~-"
_local = st.lists(st.text(alphabet=_ATEXT, min_size=1, max_size=8), min_size=1, max_size=3).map(".".join)
_label = st.text(alphabet="abz09-", min_size=1, max_size=8).filter(lambda x: x[0] != "-" and x[-1] != "-")
_domain = st.lists(_label, min_size=1, max_size=3).map(".".join)
_params = st.sampled_from(["", " SIZE=1234", " BODY=8BITMIME", " SIZE=1 BODY=7BIT"])


_LOOP = asyncio.new_event_loop()
_SERVER = RecordingSMTP(object(), hostname="mx.example.net", loop=_LOOP)  # parsing needs no running loop


@given(local=_local, domain=_domain, params=_params, null=st.booleans())
@settings(max_examples=150)
def test_fast_path_parsing_agrees_with_aiosmtpd(local: str, domain: str, params: str, null: bool) -> None:
    arg = ("<>" if null else f"<{local}@{domain}>") + params
    assert _SERVER._getaddr(arg) == super(RecordingSMTP, _SERVER)._getaddr(arg)


def test_unusual_paths_go_to_aiosmtpds_parser() -> None:
    for arg in ['<"quoted name"@example.net>', "<a@b..c>", "bare@example.net", "<@relay.example:a@b.c>", "<a@[192.0.2.1]>"]:
        assert _SERVER._getaddr(arg) == super(RecordingSMTP, _SERVER)._getaddr(arg)


@given(secret=st.from_regex(r"[A-Za-z0-9+/]{4,60}={0,2}", fullmatch=True))
def test_transcripts_never_show_credentials(secret: str) -> None:
    conn = Connection(journal=None, peers=None)  # type: ignore[arg-type]
    conn.client_line(f"AUTH PLAIN {secret}\r\n".encode())
    conn.server_line("334 VXNlcm5hbWU6")
    conn.client_line(f"{secret}\r\n".encode())
    conn.client_line(b"AUTH LOGIN\r\n")
    texts = [line.text for line in conn.lines]
    assert texts == ["AUTH PLAIN ********", "334 VXNlcm5hbWU6", "********", "AUTH LOGIN"]


class _Writer:
    """Stands in for aiosmtpd's StreamWriter: keeps each write() call."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    async def drain(self) -> None:
        return None


def test_a_multi_line_reply_is_written_once_and_recorded_line_by_line() -> None:
    server = RecordingSMTP(object(), hostname="mx.example.net", loop=_LOOP)
    server._mh = Connection(journal=None, peers=None)  # type: ignore[arg-type, attr-defined]
    server._writer = _Writer()  # type: ignore[assignment]
    server.session = type("S", (), {"peer": ("127.0.0.1", 40000)})()  # type: ignore[assignment]

    async def ehlo_then_mail() -> None:
        for line in ["250-mx.example.net", "250-SIZE 10240000", "250-STARTTLS", "250 HELP"]:
            await server.push(line)
        await server.push("250 2.1.0 Ok")

    _LOOP.run_until_complete(ehlo_then_mail())
    assert server._writer.writes == [b"250-mx.example.net\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 HELP\r\n",
                                     b"250 2.1.0 Ok\r\n"]
    assert [line.text for line in server._mh.lines] == ["250-mx.example.net", "250-SIZE 10240000", "250-STARTTLS",
                                                         "250 HELP", "250 2.1.0 Ok"]


def _fake_server(replies: list[bytes]) -> tuple[int, list[bytes], threading.Thread]:
    """A one-connection server that lists PIPELINING and keeps what arrives after EHLO, chunk by chunk."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            conn.sendall(b"220 fake.example ESMTP\r\n")
            conn.recv(1024)  # EHLO; the client waits for the reply before anything else
            conn.sendall(b"250-fake.example\r\n250 PIPELINING\r\n")
            time.sleep(0.2)  # anything the client sends without waiting for a reply has arrived by now
            seen.append(conn.recv(65536))
            conn.sendall(replies[0])
            if len(replies) > 1:
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    data += conn.recv(65536)
                seen.append(data)
                conn.sendall(replies[1])
            conn.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], seen, thread


def test_a_relay_pipelines_mail_rcpt_and_data_when_the_server_offers_it() -> None:
    port, seen, thread = _fake_server([b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n", b"250 2.0.0 queued\r\n"])
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as conn:
        conn.ehlo("relay.example")
        assert conn.has_extn("pipelining")
        code, text = pipelined(conn, "a@example.org", ["SIZE=30"], "b@example.net", b"Subject: x\r\n\r\n.hidden\r\nend")
        assert (code, text) == (250, b"2.0.0 queued")
    thread.join(5)
    assert seen[0] == b"MAIL FROM:<a@example.org> SIZE=30\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"  # one write, three commands
    assert seen[1] == b"Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n"  # dot-stuffed, ended with CRLF.CRLF


def test_a_refused_recipient_in_a_pipelined_group_is_the_answer_and_no_message_is_sent() -> None:
    port, seen, thread = _fake_server([b"250 2.1.0 Ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n"])
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as conn:
        conn.ehlo("relay.example")
        assert pipelined(conn, "a@example.org", [], "nobody@example.net", b"Subject: x\r\n\r\nhi\r\n") == (
            550, b"5.1.1 no such user")
    thread.join(5)
    assert len(seen) == 1 and seen[0].endswith(b"DATA\r\n")


def test_the_recording_servers_have_aiosmtpds_own_command_and_auth_tables() -> None:
    """They list fewer names to dir() (for speed); aiosmtpd must still find every command and AUTH mechanism."""
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import SMTP

    from mailhops.live.smtp import RecordingLMTP

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    for ours, stock in ((RecordingSMTP, SMTP), (RecordingLMTP, LMTP)):
        a = ours(Handler(), hostname="x.example", loop=_LOOP, authenticator=lambda *args: None)
        b = stock(Handler(), hostname="x.example", loop=_LOOP, authenticator=lambda *args: None)
        assert set(a._smtp_methods) == set(b._smtp_methods) and len(a._smtp_methods) > 10
        assert set(a._auth_methods) == set(b._auth_methods) >= {"PLAIN", "LOGIN"}
        assert set(a._handle_hooks) == set(b._handle_hooks) == {"DATA"}


def test_the_handler_offers_aiosmtpd_every_hook() -> None:
    from aiosmtpd.smtp import SMTP

    from mailhops.live.smtp import Handler

    handler = Handler(mail=None, aresolver=None)  # type: ignore[arg-type]
    hooks = set(SMTP(handler, hostname="x.example", loop=_LOOP)._handle_hooks)
    assert hooks == {name.removeprefix("handle_") for name in vars(Handler) if name.startswith("handle_")}
    assert {"EHLO", "MAIL", "RCPT", "DATA", "RSET", "exception"} <= hooks


_recipients = st.lists(st.tuples(st.from_regex(r"[a-z]{1,8}@example\.(net|org)", fullmatch=True), st.binary(max_size=80)),
                       min_size=1, max_size=5, unique_by=lambda r: r[0])


@given(recipients=_recipients, body=st.binary(max_size=400), done=st.data())
@settings(max_examples=60, deadline=None)
def test_a_spool_file_gives_back_every_recipients_message_byte_for_byte(
        recipients: list[tuple[str, bytes]], body: bytes, done: st.DataObject) -> None:
    """One file per message: each recipient's message (its own trace fields + the shared rest) comes back exactly,
    before and after some recipients are struck off, and the file goes with the last one."""
    import tempfile
    from pathlib import Path

    from mailhops.live.mail_queue import MailQueue, QueueEntry, spooled_recipients
    from mailhops.mta.roles import Envelope

    with tempfile.TemporaryDirectory() as tmp:
        queue = MailQueue("mx.example.net", Path(tmp), 1, attempt=lambda entry: None)
        entries = [QueueEntry(n, Envelope("alice@example.org", rcpt), trace + body, qid="4Xb2Z")
                   for n, (rcpt, trace) in enumerate(recipients)]
        queue.put_message(entries, delay=3600.0)
        struck = done.draw(st.lists(st.sampled_from(range(len(entries))), unique=True, max_size=len(entries)))
        for i in struck:
            queue.done(entries[i])
        left = [e for i, e in enumerate(entries) if i not in struck]
        assert spooled_recipients(entries[0].path) == [e.envelope.rcpt for e in left]
        again = MailQueue("mx.example.net", Path(tmp), 1, attempt=lambda entry: None)
        found = again.recover(lambda env: 0)
        assert [(e.envelope.rcpt, e.message, e.qid) for e in found] == [(e.envelope.rcpt, e.message, "4Xb2Z") for e in left]
        assert len(list(Path(tmp).iterdir())) == (1 if left else 0)


def test_peers_tell_apart_the_same_port_on_two_addresses_and_a_late_close_keeps_the_newer_session() -> None:
    """Each server sends from its own loopback address, so one port number can be in use from two at once (a
    collision made a relay's journey lose its next hops and wait forever); a closed session's late clean-up
    must not unregister the newer session that reuses its address and port."""
    from mailhops.live.connections import Peers
    from mailhops.topology import Server

    peers = Peers()
    laptop, relay = Server("laptop.example.org", "client", "127.0.0.2"), Server("smtp.example.org", "submission", "127.0.0.3")
    peers.sending(("127.0.0.2", 40000), laptop, 1)
    peers.sending(("127.0.0.3", 40000), relay, 2)
    assert peers.sender(("127.0.0.2", 40000)) == (laptop, 1) and peers.sender(("127.0.0.3", 40000)) == (relay, 2)
    old, new = Connection(journal=None, peers=peers), Connection(journal=None, peers=peers)  # type: ignore[arg-type]
    peers.receiving(("127.0.0.3", 40000), new)
    peers.forget(("127.0.0.3", 40000), old)
    assert peers._inbound[("127.0.0.3", 40000)] is new  # noqa: SLF001
