"""The network transport: run a topology as real mail servers on 127.0.0.1 and record the journey.

:class:`LiveTopology` starts one real server per server node of a :class:`~mailhops.topology.Topology`
— an :mod:`aiosmtpd` SMTP server (aiosmtpd's threaded ``Controller``, bound to ``127.0.0.1``) for
submission, relays, MXs and filters, an LMTP server storing into a :class:`mailbox.Maildir` (INBOX
and Junk) for each mailbox server, a small HTTP server for a webmail front end — plus the topology's
DNS zones served for real over UDP (:mod:`mailhops.live_dns`). Every server decides with the same
functions as the simulator (:mod:`mailhops.servers`): the RCPT and DATA replies, the Received header
it prepends, where the message goes next (DNS MX look-ups through :mod:`dns.resolver`), and the
bounce it writes. Relaying happens after the 250 reply, in worker threads fed by a spooled queue;
a deferred message is retried on a bounded schedule and then bounced.

Every SMTP/LMTP line of every hop is captured by the receiving server, and the run comes back as the
same :class:`~mailhops.journey.Journey` the simulator returns (``source="live"``).

>>> from mailhops.topology import Topology
>>> from mailhops.scenarios import get
>>> scenario = get("three-hops")
>>> with LiveTopology(scenario.build()) as live:
...     journey = live.send(scenario.sender, scenario.recipient)
>>> journey.outcome.kind, [h.by_server for h in journey.hops], [h.with_ for h in journey.hops]
('delivered', ['smtp.example.org', 'mx.example.net', 'imap.example.net'], ['ESMTPSA', 'ESMTPS', 'LMTP'])
>>> journey.hops[1].smtp[0].text  # the MX's real greeting, as Postfix words it
'220 mx.example.net ESMTP Postfix'

All thirteen scenarios of :mod:`mailhops.scenarios` run live, and a test checks that each live journey has
the simulated journey's hops (by server), protocol words, failed attempts, outcome and bounce. The
webmail scenario's first hop is real HTTP: a small loopback HTTP server plays the webmail front end
(the browser's ``POST`` of the compose form, HTTP Basic login), writes its ``with HTTP`` Received line and
submits over SMTP like any client. What differs from a simulation is what really differs on loopback:
peers are ``127.0.0.1`` (``localhost`` by the PTR every resolver serves for it), times are real, the
transcripts are aiosmtpd's and smtplib's real words (``250 HELP``, lower-case ``ehlo``), and a
relay reuses its SMTP session for the next message to the same server (Postfix's connection cache,
checked with ``RSET``), so later hops of a busy queue start with ``RSET`` rather than a greeting.

In a notebook (whose kernel already runs an event loop) the servers run in their own threads::

    live = LiveTopology(get("three-hops").build()).start()
    print(live.describe())            # which port plays which server, and how to send to it
    journey = live.send("alice@example.org", "bob@example.net")
    live.stop()                       # or use ``with LiveTopology(...) as live:``

Safety: everything binds 127.0.0.1 only; a server relays only for its own domains, for authenticated
users and for the servers of its own organisation (no open relay); messages are limited in size; every
connection has a timeout. Plain-text AUTH is allowed without TLS because nothing leaves loopback.
A refused relay attempt gets ``550 5.7.1`` in the imitated MTA's own words (:func:`mailhops.servers.relay_denied`):
Postfix says ``550 5.7.1 <rcpt>: Relay access denied`` (smtpd's ``reject_unauth_destination``, with
``relay_domains_reject_code = 550``; Postfix's default code is 554), Exim ``550 5.7.1 relay not permitted``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
import heapq
import http.client
import http.server
import itertools
import json
import logging
import mailbox
import os
import random
import re
import shutil
import smtplib
import socket
import tempfile
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver
import dns.reversename
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult

from ..dns import MXAnswer, TopologyDNS, order_mx
from ..errors import LiveError, TopologyError
from ..journey import Hop, Journey, Lookup, Outcome, SmtpLine
from ..mta import headers as hdr
from ..mta import roles as srv
from ..mta.roles import Envelope, Reply, Session
from ..topology import Server, Topology, check_address, domain_of
from .loopback_dns import LOOPBACK, LoopbackDNS
from .tls import client_context, server_context

#: How long a deferred message waits before each retry (seconds); after the last one it is bounced.
RETRY_SCHEDULE: tuple[float, ...] = (2.0, 4.0, 8.0)
#: Largest message accepted, in bytes (Postfix's ``message_size_limit`` default).
SIZE_LIMIT = 10_240_000
#: Seconds a connection may stay idle, and the client-side timeout of every connection.
TIMEOUT = 30.0
#: Seconds an idle cached SMTP connection is kept for the next message (Postfix's smtp_connection_cache_time_limit).
CACHE_TIME_LIMIT = 2.0
#: The password of every user of a live topology (loopback only; shown by ``mailhops serve``).
PASSWORD = "mailhops"

_RUNNING: weakref.WeakSet[LiveTopology] = weakref.WeakSet()


class _QuietLoginData(logging.Filter):
    """aiosmtpd 1.4 warns on every successful AUTH that its own ``login_data`` is deprecated; say it once, not per login."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_QuietLoginData())


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------- #
# what happens after a server accepted a message (the simulator inlines the same rules)


def _reply(code: int, text: bytes | str) -> Reply:
    """An SMTP reply as smtplib returns it, split into code, enhanced status code and text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split("\n"))
    first, _, rest = text.partition(" ")
    parts = first.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and first[0] in "245":
        return Reply(code, first, rest)
    return Reply(code, "", text)


def _null(address: str | None) -> str:
    return "" if address in (None, "", "<>") else str(address)


# ---------------------------------------------------------------------------------------------- #
# the journal: journeys being built by many servers at once


@dataclass
class _Track:
    journey: Journey
    parent: int | None = None
    bounce: int | None = None
    open: int = 0
    last_time: float | None = None
    settled: threading.Event = field(default_factory=threading.Event)
    final: threading.Event = field(default_factory=threading.Event)


class Journal:
    """The journeys of every message a live topology handles, built as servers report hops.

    A journey is *settled* when its outcome is known, every connection that carried it has closed,
    and its bounce (if any) is settled too; it is *final* when, in addition, the outcome is not
    ``deferred``.
    """

    def __init__(self, on_event: Callable[[str, Journey, Any], None] | None = None,
                 topology: Topology | None = None) -> None:
        self.topology = topology
        self._lock = threading.RLock()
        self._tracks: dict[int, _Track] = {}
        self._keys = itertools.count(1)
        self.on_event = on_event

    def new(self, envelope_from: str, envelope_to: str, *, parent: int | None = None) -> int:
        with self._lock:
            key = next(self._keys)
            journey = Journey(source="live", envelope_from=envelope_from, envelope_to=envelope_to,
                              topology=self.topology)
            self._tracks[key] = _Track(journey, parent=parent)
            return key

    def journey(self, key: int) -> Journey:
        return self._tracks[key].journey

    def keys(self) -> list[int]:
        with self._lock:
            return [k for k, t in self._tracks.items() if t.parent is None]

    def _emit(self, what: str, key: int, payload: Any) -> None:
        if self.on_event is not None:
            try:
                self.on_event(what, self._tracks[key].journey, payload)
            except Exception:  # noqa: BLE001 - a printing callback must never break delivery
                pass

    def add_hop(self, key: int, hop: Hop, precise: float) -> None:
        with self._lock:
            track = self._tracks[key]
            hop.n = len(track.journey.hops) + 1
            if track.last_time is not None:
                hop.delay_s = round(precise - track.last_time, 3)
            track.last_time = precise
            track.journey.hops.append(hop)
        self._emit("hop", key, hop)

    def add_attempt(self, key: int, hop: Hop) -> None:
        with self._lock:
            track = self._tracks[key]
            hop.n = len(track.journey.hops) + 1
            track.journey.attempts.append(hop)
        self._emit("attempt", key, hop)

    def add_lookup(self, key: int, lookup: Lookup) -> None:
        with self._lock:
            track = self._tracks[key]
            lookup.before_hop = len(track.journey.hops) + 1
            track.journey.lookups.append(lookup)

    def note(self, key: int, text: str) -> None:
        with self._lock:
            self._tracks[key].journey.notes.append(text)

    def copy(self, key: int, text: str) -> None:
        with self._lock:
            self._tracks[key].journey.copies.append(text)

    def opened(self, key: int) -> None:
        with self._lock:
            self._tracks[key].open += 1

    def closed(self, key: int) -> None:
        with self._lock:
            self._tracks[key].open -= 1
            self._check(key)

    def finish(self, key: int, outcome: Outcome, *, message: bytes | None = None, bounce: int | None = None) -> None:
        """Record the outcome (and the bounce journey it caused) of journey ``key``."""
        with self._lock:
            track = self._tracks[key]
            track.journey.outcome = outcome
            if message is not None:
                track.journey.message = message
            if bounce is not None:
                track.bounce = bounce
                track.journey.bounce = self._tracks[bounce].journey
            self._check(key)
        self._emit("outcome", key, outcome)

    def _check(self, key: int) -> None:
        track = self._tracks[key]
        outcome = track.journey.outcome
        if outcome is None or track.open > 0:
            return
        child = self._tracks[track.bounce] if track.bounce is not None else None
        if child is not None and not child.settled.is_set():
            return
        track.settled.set()
        if outcome.kind != "deferred" and (child is None or child.final.is_set()):
            track.final.set()
        if track.parent is not None:
            self._check(track.parent)

    def wait(self, key: int, timeout: float, *, final: bool = False) -> Journey:
        """Block until journey ``key`` is settled (or final); raise :class:`LiveError` on timeout."""
        track = self._tracks[key]
        event = track.final if final else track.settled
        if not event.wait(timeout):
            raise LiveError(f"The message did not reach a final state within {timeout:g} s on the live servers.")
        return track.journey


# ---------------------------------------------------------------------------------------------- #
# the receiving side: aiosmtpd servers that record every line


class _ReaderTap:
    """Wraps aiosmtpd's StreamReader so that every line the client sends is recorded."""

    def __init__(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        object.__setattr__(self, "_r", reader)
        object.__setattr__(self, "_conn", conn)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        line = await self._r.readuntil(separator)
        self._conn.client_line(line)
        return line

    async def readline(self) -> bytes:
        line = await self._r.readline()
        self._conn.client_line(line)
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._r, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._r, name, value)


class _Conn:
    """What a receiving server knows about one connection: its transcript, client, and journeys."""

    def __init__(self, live: LiveTopology) -> None:
        self.live = live
        self.lines: list[SmtpLine] = []
        self.tx_closed = False
        self.in_data = False
        self.data_bytes = 0
        self.secret_next = False
        self.keys: set[int] = set()
        self.identified = False
        self.client: Server | None = None
        self.key: int | None = None
        self.rdns: str | None = None
        self.rdns_done = False
        self.tls_version: str | None = None
        self.peer_port: int | None = None
        self.held: list[bytes] = []  # continuation lines of a multi-line reply, sent with its last line

    def server_line(self, text: str) -> None:
        for part in text.split("\r\n"):
            self.lines.append(SmtpLine("S", part))
        if text.startswith("354"):
            self.in_data, self.data_bytes = True, 0
        self.secret_next = text.startswith("334")

    def client_line(self, raw: bytes) -> None:
        if self.in_data:
            if raw == b".\r\n":
                self.in_data = False
                self.lines.append(SmtpLine("C", f"({self.data_bytes} bytes of message: headers, blank line, body)"))
                self.lines.append(SmtpLine("C", "."))
            else:
                self.data_bytes += len(raw)
            return
        text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        if self.secret_next:
            self.secret_next = False
            text = "********"
        elif text[:5].upper() == "AUTH ":
            words = text.split()
            text = " ".join(words[:2] + (["********"] if len(words) > 2 else []))
        if self.tx_closed and text[:4].upper() == "MAIL":
            self.lines, self.tx_closed = [], False
        self.lines.append(SmtpLine("C", text))

    def bind(self, key: int) -> None:
        if key not in self.keys:
            self.keys.add(key)
            self.live.journal.opened(key)

    def end_transaction(self) -> None:
        """Our own client finished a transaction on this connection (it keeps it open for the next message)."""
        keys, self.keys = self.keys, set()
        self.lines, self.tx_closed = [], False
        for key in keys:
            self.live.journal.closed(key)

    def close(self) -> None:
        if self.peer_port is not None:
            self.live._inbound.pop(self.peer_port, None)
        keys, self.keys = self.keys, set()
        for key in keys:
            self.live.journal.closed(key)


_PLAIN_PATH = re.compile(r"\s*<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                         r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)?)>(.*)\Z",
                         re.DOTALL)


class _Recording:
    """Mixed into aiosmtpd's SMTP and LMTP classes: record both sides of the dialogue."""

    _mh: _Conn

    def __dir__(self) -> list[str]:
        # aiosmtpd builds its command tables on every new connection from dir(self), reading every attribute
        # (inspect.getmembers), about half a millisecond per connection; only the smtp_* and auth_* names count
        # there, so those are what these internal objects list (computed once per class)
        return _names_for_aiosmtpd(type(self), ("smtp_", "auth_"))

    def _cb_client_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super()._cb_client_connected(_ReaderTap(reader, self._mh), writer)  # type: ignore[misc, arg-type]

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every MAIL/RCPT path with the email package's full RFC 5322 parser, which is slow;
        # plain <local@domain> paths (and <>) are read with a regular expression, anything else goes to it
        match = _PLAIN_PATH.match(arg) if arg else None
        if match is not None:
            return (match.group(1) or "<>"), match.group(2)
        return super()._getaddr(arg)  # type: ignore[misc]

    async def push(self, status: Any) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        self._mh.server_line(text)
        # aiosmtpd pushes a multi-line reply (EHLO's) one line at a time, each its own TLS record and send();
        # like Postfix's smtpd, which buffers its output and flushes once per reply, the continuation lines
        # ("250-...") wait and go out together with the reply's last line (RFC 5321 §4.2.1).
        raw = status if isinstance(status, bytes) else text.encode("utf-8")
        if text[3:4] == "-" and text[:3].isdigit():
            self._mh.held.append(raw)
            return
        if self._mh.held:
            raw, self._mh.held = b"\r\n".join([*self._mh.held, raw]), []
        await super().push(raw)  # type: ignore[misc]

    def connection_lost(self, error: Exception | None) -> None:
        try:
            super().connection_lost(error)  # type: ignore[misc]
        finally:
            self._mh.close()


@functools.cache
def _names_for_aiosmtpd(cls: type, prefixes: tuple[str, ...]) -> list[str]:
    """The attribute names of ``cls`` that aiosmtpd looks up by prefix when a connection opens (once per class)."""
    return [name for name in dir(cls) if name.startswith(prefixes)]


class _RecordingSMTP(_Recording, SMTP):
    pass


class _RecordingLMTP(_Recording, LMTP):
    pass


class _Controller(Controller):
    """aiosmtpd's threaded Controller on a socket we bound ourselves (127.0.0.1, port known in advance)."""

    def __init__(self, handler: Any, sock: socket.socket, make: Callable[[asyncio.AbstractEventLoop], SMTP], **kw: Any) -> None:
        super().__init__(handler, hostname=LOOPBACK, port=sock.getsockname()[1], ready_timeout=10.0, **kw)
        self._sock = sock
        self._make = make
        self.thread_name = str(sock.getsockname()[1])

    def factory(self) -> SMTP:
        return self._make(self.loop)

    def start(self) -> None:
        super().start()
        if self._thread is not None:  # named like the queue workers, so profilers and the benchmark can tell them apart
            self._thread.name = f"mailhops-server-{self.thread_name}"

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)

    def _trigger_server(self) -> None:  # the stock one would go through the handler; a plain connect suffices
        with socket.create_connection((LOOPBACK, self.port), 2.0) as s:
            s.recv(1024)


class _Handler:
    """aiosmtpd hooks for one server node: the policy comes from :mod:`mailhops.servers`."""

    def __init__(self, live: LiveTopology, node: _Node) -> None:
        self.live = live
        self.node = node

    def __dir__(self) -> list[str]:  # aiosmtpd reads the handler's hooks from dir() on every connection too
        return _names_for_aiosmtpd(type(self), ("handle_", "auth_"))

    # identification of the client and its reverse name
    async def _identify(self, smtp: SMTP) -> _Conn:
        conn: _Conn = smtp._mh  # type: ignore[attr-defined]
        peer = smtp.session.peer if smtp.session else None
        if peer and (not conn.identified or conn.client is not None):
            # one of our own sending sides registered its source port; a cached connection carries a new
            # message (journey) in each transaction, so the journey is looked up again every time
            conn.identified = True
            found = self.live._outgoing.get(peer[1])
            if found is not None:
                conn.client, conn.key = found
                conn.peer_port = peer[1]
                self.live._inbound[peer[1]] = conn
        if not conn.rdns_done:
            conn.rdns_done = True
            peer = smtp.session.peer if smtp.session else None
            if peer:
                try:
                    answer = await self.live._aresolver.resolve(dns.reversename.from_address(peer[0]), "PTR")
                    conn.rdns = next(iter(answer)).target.to_text().rstrip(".")
                except dns.exception.DNSException:
                    conn.rdns = None
        return conn

    def _session(self, smtp: SMTP, conn: _Conn) -> Session:
        s = smtp.session
        assert s is not None
        auth = s.auth_data if s.authenticated else None
        if s.ssl is not None and conn.tls_version is None:
            obj = s.ssl.get("ssl_object")
            conn.tls_version = obj.version() if obj is not None else "TLS"
        return Session(client_ip=s.peer[0] if s.peer else LOOPBACK, helo=s.host_name or "", rdns=conn.rdns, client=conn.client,
                       tls=s.ssl is not None, auth_user=auth, lmtp=self.node.lmtp)

    async def handle_EHLO(self, smtp: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.node.server.role != "submission":
            responses = [r for r in responses if not r[4:].startswith("AUTH")]
        # aiosmtpd reads one command after the other from its buffer, so pipelined commands work; say so, as
        # Postfix, Exim and Exchange do (and as every LMTP server must, RFC 2033 §4.1)
        return responses[:1] + ["250-PIPELINING"] + responses[1:]

    async def handle_MAIL(self, smtp: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        await self._identify(smtp)
        envelope.mail_from = address or "<>"
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, smtp: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        conn = await self._identify(smtp)
        try:
            rcpt = check_address(address)
        except TopologyError:
            return f"501 5.1.3 Bad recipient address syntax: <{address}>"
        reply = srv.rcpt_reply(self.live.topology, self.node.server, self._session(smtp, conn), rcpt)
        if reply.ok:
            envelope.rcpt_tos.append(rcpt)
            envelope.rcpt_options.extend(options)
        else:
            self._refused(smtp, conn, _null(envelope.mail_from), rcpt, reply)
        return str(reply)

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        conn = await self._identify(smtp)
        live, node, server = self.live, self.node, self.node.server
        message: bytes = envelope.original_content or b""
        mail_from = _null(envelope.mail_from)
        sess = self._session(smtp, conn)
        rcpts: list[str] = list(envelope.rcpt_tos)
        refused = srv.data_reply(live.topology, server, sess, Envelope(mail_from, rcpts[0]), message)
        if refused is not None:
            for rcpt in rcpts:
                self._refused(smtp, conn, mail_from, rcpt, refused)
            return "\r\n".join([str(refused)] * len(rcpts)) if node.lmtp else str(refused)
        replies = []
        for i, rcpt in enumerate(rcpts):
            key = conn.key if (i == 0 and conn.key is not None) else live.journal.new(mail_from, rcpt)
            reply = live._accept(node, conn, sess, key, Envelope(mail_from, rcpt), message)
            replies.append(str(reply))
        return "\r\n".join(replies) if node.lmtp else replies[0]

    def _refused(self, smtp: SMTP, conn: _Conn, mail_from: str, rcpt: str, reply: Reply) -> None:
        live, server = self.live, self.node.server
        key = conn.key
        external = key is None
        if key is None:
            key = live.journal.new(mail_from, rcpt)
        conn.bind(key)
        sess = self._session(smtp, conn)
        hop = Hop(n=0, from_name=srv.from_name_of(srv.flavour(server, sess), sess.helo, sess.rdns), ip=sess.client_ip, by_name=server.name, by_ip=LOOPBACK,
                  with_=sess.protocol, for_=rcpt, date=_now().replace(microsecond=0), helo=sess.helo, rdns=sess.rdns,
                  mta=server.mta if not self.node.lmtp else "dovecot", envelope_from=mail_from, smtp=conn.lines,
                  status="rejected", decision=f"{server.name} refused: {reply}",
                  from_server=conn.client.name if conn.client else None, by_server=server.name)
        conn.tx_closed = True
        live.journal.add_attempt(key, hop)
        if external:
            live.journal.finish(key, Outcome("rejected", reply.status or "5.0.0",
                                             f"{server.name} refused it: {reply} (the client was told directly, so "
                                             "it is the client's job to tell the sender).", reply=str(reply),
                                             server=server.name))

    async def handle_RSET(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Ok"

    async def handle_exception(self, error: Exception) -> str:
        return f"451 4.3.0 Error: internal error in mailhops ({error.__class__.__name__})"


def _pipelined(conn: smtplib.SMTP, mail_from: str, options: list[str], rcpt: str, message: bytes) -> tuple[int, bytes]:
    """One transaction with PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write, then their replies in order.

    Returns the first refusal (MAIL's, RCPT's or DATA's) or, after the message, the final reply — what
    Postfix's SMTP client does when the server lists PIPELINING. smtplib has no pipelining, so the group
    is written with its ``send`` and read back with its ``getreply``.
    """
    params = "".join(f" {o}" for o in options)
    conn.send(f"MAIL FROM:<{mail_from}>{params}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
    (m_code, m_text), (r_code, r_text), (d_code, d_text) = conn.getreply(), conn.getreply(), conn.getreply()
    refused = ((m_code, m_text) if m_code != 250 else (r_code, r_text) if r_code not in (250, 251) else None)
    if d_code != 354:
        return refused or (d_code, d_text)
    if refused is not None:  # a server that says 354 without a recipient gets an empty message (RFC 2920 §3.1)
        conn.send(b".\r\n")
        conn.getreply()
        return refused
    body = re.sub(rb"(?m)^\.", b"..", message)  # dot-stuffing (RFC 5321 §4.5.2)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    conn.send(body + b".\r\n")
    return conn.getreply()


def _authenticator(live: LiveTopology) -> Callable[..., AuthResult]:
    def check(server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data.login, bytes) else str(auth_data.login)
        password = auth_data.password.decode("utf-8", "replace") if isinstance(auth_data.password, bytes) else str(auth_data.password)
        known = any(u.client and (login == u.address or login == u.address.split("@")[0]) for u in live.topology.users.values())
        if known and password == live.password:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    return check


# ---------------------------------------------------------------------------------------------- #
# the queue: spooled entries, worker threads, bounded retries


@dataclass
class QueueEntry:
    """A message in a server's queue: one recipient, the message as this server stamped it."""

    key: int
    envelope: Envelope
    message: bytes
    qid: str | None = None
    attempts: int = 0
    after_done: bool = False
    hop: Hop | None = None
    path: Path | None = None


class _MailQueue:
    def __init__(self, live: LiveTopology, node: _Node, spool: Path, workers: int) -> None:
        self.live, self.node, self.spool = live, node, spool
        self._heap: list[tuple[float, int, QueueEntry]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._stopping = False
        self._threads = [threading.Thread(target=self._run, name=f"mailhops-queue-{node.server.name}-{i}", daemon=True)
                         for i in range(workers)]
        spool.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def put(self, entry: QueueEntry, delay: float = 0.0) -> None:
        seq = next(self._seq)
        if entry.path is None:  # written to disk before the 250 reply: an accepted message is never only in memory
            entry.path = self.spool / f"{seq:08d}-{entry.qid or 'noid'}".replace("/", "_")
            head = json.dumps({"mail_from": entry.envelope.mail_from, "rcpt": entry.envelope.rcpt,
                               "original_rcpt": entry.envelope.original_rcpt}).encode()
            entry.path.write_bytes(head + b"\n" + entry.message)
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, seq, entry))
            self._cond.notify()

    def done(self, entry: QueueEntry) -> None:
        if entry.path is not None:
            with contextlib.suppress(FileNotFoundError):
                entry.path.unlink()

    def pending(self) -> list[QueueEntry]:
        with self._cond:
            return [e for _, _, e in sorted(self._heap)]

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(min(self._heap[0][0] - now, 1.0) if self._heap else 1.0)
                if self._stopping:
                    return
                _, _, entry = heapq.heappop(self._heap)
            try:
                self.live._process(self.node, entry)
            except Exception as err:  # noqa: BLE001 - never lose a message to a bug: defer it instead
                try:
                    self.live._defer(self.node, entry, Reply(451, "4.3.0", f"Error: internal error ({err.__class__.__name__}: {err})"))
                except Exception:  # noqa: BLE001 - even then, keep it queued (it is still in the spool)
                    self.put(entry, delay=self.live.retry_schedule[-1] if self.live.retry_schedule else 1.0)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            if t.is_alive():
                t.join()


# ---------------------------------------------------------------------------------------------- #
# the webmail front end: HTTP on loopback


class _WebmailHTTP(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True


def _webmail_handler(live: LiveTopology, node: _Node) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = live.timeout
        server_version = "nginx"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            conn = _Conn(live)
            lines = conn.lines
            lines.append(SmtpLine("C", self.requestline))
            for name, value in self.headers.items():
                shown = "Basic ********" if name.lower() == "authorization" else value
                lines.append(SmtpLine("C", f"{name}: {shown}"))
            length = int(self.headers.get("Content-Length") or 0)
            if length > live.size_limit:
                self._answer(conn, 413, "Payload Too Large")
                return
            body = self.rfile.read(length)
            lines.append(SmtpLine("C", f"({len(body)} bytes of form data: _from, _to, _subject, _message)"))
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
            login = self._login()
            try:
                sender = check_address(form.get("_from", ""))
                rcpt = check_address(form.get("_to", ""))
            except TopologyError:
                self._answer(conn, 400, "Bad Request")
                return
            if login is None or login not in (sender, sender.split("@")[0]):
                self._answer(conn, 401, "Unauthorized")
                return
            peer = self.client_address
            found = live._outgoing.get(peer[1])
            client, key = found if found is not None else (None, None)
            if key is None:
                key = live.journal.new(sender, rcpt)
            when = _now()
            server = node.server
            if "_raw" in form:
                message = form["_raw"].encode("utf-8").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            else:
                user = live.topology.users.get(sender)
                message = srv.new_message(sender, rcpt, form.get("_subject", ""), form.get("_message", ""),
                                          when.astimezone(srv.tz_of(server)), server.domain or domain_of(sender),
                                          live._rng, sender_name=user.name if user else None)
            try:
                rdns = live._resolver.resolve_address(peer[0])[0].target.to_text().rstrip(".")
            except dns.exception.DNSException:
                rdns = None
            sess = Session(client_ip=peer[0], helo="", rdns=rdns, client=client, http=True)
            conn.client = client
            live._accept(node, conn, sess, key, Envelope(sender, rcpt), message)
            self._answer(conn, 200, "OK")
            conn.close()

        def _login(self) -> str | None:
            value = self.headers.get("Authorization", "")
            if not value.startswith("Basic "):
                return None
            try:
                user, _, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return user if password == live.password else None

        def _answer(self, conn: _Conn, code: int, phrase: str) -> None:
            text = f"{code} {phrase}\n".encode()
            conn.lines.append(SmtpLine("S", f"HTTP/1.1 {code} {phrase}"))
            self.send_response(code, phrase)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    return Handler


# ---------------------------------------------------------------------------------------------- #
# nodes and the live topology


@dataclass(eq=False)
class _Node:
    server: Server
    port: int | None = None
    kind: str = "smtp"  # smtp | lmtp | http | client
    controller: _Controller | None = None
    http: _WebmailHTTP | None = None
    http_thread: threading.Thread | None = None
    placeholder: socket.socket | None = None
    queue: _MailQueue | None = None

    @property
    def lmtp(self) -> bool:
        return self.kind == "lmtp"

    @property
    def running(self) -> bool:
        return self.controller is not None or self.http is not None


def _bind(port: int, *, listen: bool) -> socket.socket:
    # proto=IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted connections (it checks the protocol number)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if os.name == "posix":  # rebinding past TIME_WAIT; on Windows SO_REUSEADDR would let two servers share a port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
        if listen:
            sock.listen(128)
    except OSError as err:
        sock.close()
        raise LiveError(f"Port {port} on {LOOPBACK} is already in use ({err.strerror}); choose another port base.") from None
    return sock


class LiveTopology:
    """A topology running as real servers on 127.0.0.1 — a context manager that always cleans up.

    >>> from mailhops.scenarios import get
    >>> with LiveTopology(get("three-hops").build()) as live:
    ...     journey = live.send("alice@example.org", "bob@example.net", subject="Hi")
    ...     len(live.maildir("bob@example.net"))
    1
    >>> journey.outcome.folder
    'INBOX'

    ``directory`` holds the spools and the Maildirs (a temporary directory, removed on exit, when not
    given); ``port_base`` numbers the ports from there instead of letting the system choose;
    ``retry_schedule`` is the wait before each retry of a deferred message; ``on_event(what, journey,
    item)`` is called for each ``"hop"``, ``"attempt"`` and ``"outcome"`` as it happens.
    """

    def __init__(
        self,
        topology: Topology,
        *,
        directory: str | Path | None = None,
        port_base: int | None = None,
        seed: int = 0,
        retry_schedule: tuple[float, ...] = RETRY_SCHEDULE,
        size_limit: int = SIZE_LIMIT,
        timeout: float = TIMEOUT,
        password: str = PASSWORD,
        workers: int = 4,
        on_event: Callable[[str, Journey, Any], None] | None = None,
    ) -> None:
        topology.check()
        self.topology = topology
        self._own_dir = directory is None
        self._dir_arg = Path(directory) if directory is not None else None
        self.directory: Path | None = None
        self.port_base = port_base
        self.retry_schedule = tuple(retry_schedule)
        self.size_limit = size_limit
        self.timeout = timeout
        self.password = password
        self.workers = workers
        self.journal = Journal(on_event, topology)
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._outgoing: dict[int, tuple[Server, int]] = {}
        self._inbound: dict[int, _Conn] = {}
        self._cache: dict[tuple[str, str], list[tuple[float, smtplib.SMTP]]] = {}
        self._cache_lock = threading.Lock()
        self._nodes: dict[str, _Node] = {}
        self._dns: LoopbackDNS | None = None
        self._mail_locks: dict[str, threading.Lock] = {}
        self._started = False

    def __repr__(self) -> str:
        state = f"running on {LOOPBACK}, {len(self.ports)} ports" if self._started else "stopped"
        return f"LiveTopology({self.topology.name!r}, {state})"

    # -- life cycle -----------------------------------------------------------------------------
    def __enter__(self) -> LiveTopology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LiveTopology:
        """Start every server (a second call does nothing). Raises :class:`LiveError` if a port is taken."""
        if self._started:
            return self
        if self.port_base is not None:
            wanted = set(range(self.port_base, self.port_base + len(self.topology.servers) + 1))
            for other in list(_RUNNING):
                if other is not self and wanted & set(other._all_ports()):
                    other.stop()  # a notebook cell run twice: the old servers give way to the new ones
        self._started = True
        _RUNNING.add(self)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._nodes = {}
        if self._dir_arg is None:
            self.directory = Path(tempfile.mkdtemp(prefix="mailhops-live-"))
        else:
            self.directory = self._dir_arg
            self.directory.mkdir(parents=True, exist_ok=True)
        self._tls = server_context(self.directory)
        self._client_tls = client_context()
        offset = 0
        for server in self.topology.servers.values():
            kind = {"client": "client", "webmail": "http", "mailbox": "lmtp"}.get(server.role, "smtp")
            node = _Node(server, kind=kind)
            self._nodes[server.name] = node
            if kind == "client":
                continue
            port = self.port_base + offset if self.port_base is not None else 0
            offset += 1
            sock = _bind(port, listen=False)
            node.port = sock.getsockname()[1]
            node.placeholder = sock
        dns_port = self.port_base + offset if self.port_base is not None else 0
        self._dns = LoopbackDNS(TopologyDNS(self.topology), port=dns_port).start()
        self._resolver = self._dns.resolver(timeout=min(self.timeout, 2.0))
        self._aresolver = dns.asyncresolver.Resolver(configure=False)
        self._aresolver.nameservers = [LOOPBACK]
        self._aresolver.port = self._dns.port
        self._aresolver.timeout = self._aresolver.lifetime = min(self.timeout, 2.0)
        self._aresolver.cache = dns.resolver.Cache()
        for node in self._nodes.values():
            if node.kind == "client":
                continue
            node.queue = _MailQueue(self, node, self.directory / "spool" / node.server.name,
                                    self.workers if node.kind != "lmtp" else 1)
            node.queue.start()
            if node.server.up:
                self._listen(node)

    def _listen(self, node: _Node) -> None:
        assert node.port is not None
        if node.placeholder is not None:
            node.placeholder.close()
            node.placeholder = None
        sock = _bind(node.port, listen=True)
        server = node.server
        if node.kind == "http":
            node.http = _WebmailHTTP((LOOPBACK, node.port), _webmail_handler(self, node), bind_and_activate=False)
            node.http.socket.close()
            node.http.socket = sock
            node.http_thread = threading.Thread(target=node.http.serve_forever, kwargs={"poll_interval": 0.1},
                                                name=f"mailhops-http-{server.name}", daemon=True)
            node.http_thread.start()
            return
        handler = _Handler(self, node)
        tls = self._tls if server.tls and node.kind == "smtp" else None
        cls = _RecordingLMTP if node.lmtp else _RecordingSMTP
        auth = _authenticator(self)

        def make(loop: asyncio.AbstractEventLoop) -> SMTP:
            banner = str(srv.greeting(server, _now(), lmtp=node.lmtp))
            ident = banner[len("220 ") + len(server.name) + 1:]
            smtp = cls(handler, hostname=server.name, ident=ident, tls_context=tls, data_size_limit=self.size_limit,
                       enable_SMTPUTF8=True, timeout=self.timeout, auth_require_tls=False, authenticator=auth,
                       loop=loop)
            smtp._mh = _Conn(self)  # type: ignore[attr-defined]
            return smtp

        node.controller = _Controller(handler, sock, make)
        node.controller.thread_name = server.name
        try:
            node.controller.start()
        except Exception as err:
            node.controller = None
            raise LiveError(f"The server {server.name} could not start on port {node.port}: {err}.") from None

    def _silence(self, node: _Node) -> None:
        if node.controller is not None:
            node.controller.stop()
            node.controller = None
        if node.http is not None:
            node.http.shutdown()
            node.http.server_close()
            if node.http_thread is not None:
                node.http_thread.join()
            node.http, node.http_thread = None, None

    def stop(self) -> None:
        """Stop every server and worker and free every port (safe to call twice, also after a failed start)."""
        if not self._started:
            return
        self._started = False
        _RUNNING.discard(self)
        for node in self._nodes.values():
            if node.queue is not None:
                node.queue.stop()
        self._drop_cache()
        for node in self._nodes.values():
            with contextlib.suppress(Exception):
                self._silence(node)
            if node.placeholder is not None:
                node.placeholder.close()
                node.placeholder = None
        if self._dns is not None:
            self._dns.stop()
            self._dns = None
        if self._own_dir and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def stop_server(self, name: str) -> None:
        """Take one server down (connections to its port are refused) — e.g. a primary MX, to see the fallback."""
        node = self._node(name)
        if node.kind == "client" or not node.running:
            return
        self._silence(node)
        node.placeholder = _bind(node.port or 0, listen=False)

    def start_server(self, name: str) -> None:
        """Bring a stopped server back on its port."""
        node = self._node(name)
        if node.kind == "client" or node.running:
            return
        self._listen(node)

    def _node(self, name: str) -> _Node:
        node = self._nodes.get(name.lower())
        if node is None:
            raise LiveError(f"There is no live server named {name}; the servers are {', '.join(self._nodes)}.")
        return node

    def _all_ports(self) -> list[int]:
        ports = [n.port for n in self._nodes.values() if n.port is not None]
        return ports + ([self._dns.port] if self._dns is not None else [])

    # -- questions ------------------------------------------------------------------------------
    @property
    def ports(self) -> dict[str, int]:
        """The loopback port of each server that listens (clients have none)."""
        return {name: n.port for name, n in self._nodes.items() if n.port is not None}

    def addresses(self) -> dict[str, tuple[str, int]]:
        """The (host, port) every listening socket is really bound to, read from the sockets themselves."""
        out: dict[str, tuple[str, int]] = {}
        for name, node in self._nodes.items():
            if node.controller is not None and node.controller.server is not None:
                for sock in node.controller.server.sockets:
                    out[name] = sock.getsockname()[:2]
            if node.http is not None:
                out[name] = node.http.socket.getsockname()[:2]
        if self._dns is not None and self._dns._sock is not None:
            out["dns"] = self._dns._sock.getsockname()[:2]
        return out

    @property
    def dns_port(self) -> int | None:
        return self._dns.port if self._dns is not None else None

    def maildir_path(self, address: str) -> Path:
        """Where the mailbox of ``address`` lives (a Maildir; its Junk folder is the ``.Junk`` sub-folder)."""
        address = check_address(address)
        user = self.topology.users.get(address)
        if user is None or user.mailbox is None or self.directory is None:
            raise LiveError(f"{address} has no mailbox in this live topology.")
        return self.directory / "mail" / user.mailbox / address

    def maildir(self, address: str, folder: str | None = None) -> mailbox.Maildir:
        """The Maildir of ``address`` (``folder="Junk"`` for the Junk folder), for reading with :mod:`mailbox`."""
        path = self.maildir_path(address)
        path.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(path, create=True)
        if folder is None or folder == "INBOX":
            return box
        return box.add_folder(folder) if folder not in box.list_folders() else box.get_folder(folder)

    def pending(self) -> list[tuple[str, QueueEntry]]:
        """Messages still waiting in a queue (deferred ones, between retries): (server, entry)."""
        out = []
        for name, node in self._nodes.items():
            if node.queue is not None:
                out.extend((name, e) for e in node.queue.pending())
        return out

    def describe(self) -> str:
        """Which port plays which server, and ready-to-paste ways to send a message into the topology."""
        lines = [f"Live topology {self.topology.name!r} on {LOOPBACK} (DNS on UDP port {self.dns_port}):", ""]
        for name, node in self._nodes.items():
            s = node.server
            if node.kind == "client":
                continue
            proto = {"http": "HTTP", "lmtp": "LMTP"}.get(node.kind, "SMTP")
            state = "" if node.running else "  (down: connections refused)"
            lines.append(f"  {node.port:>5}  {proto:<4}  {name:<26} {s.role:<10} {s.label or ''}{state}")
        lines.append("")
        sender = next((u for u in self.topology.users.values() if u.client), None)
        rcpt = next((u for u in self.topology.users.values() if u.mailbox and u is not sender), None)
        if sender is not None and rcpt is not None and sender.client is not None:
            first = self.topology.next_servers(sender.client)
            sub = first[0] if first else None
            if sub is not None and sub.role == "webmail":
                nxt = self.topology.next_servers(sub.name)
                sub = nxt[0] if nxt else None
            if sub is not None and sub.name in self.ports:
                port = self.ports[sub.name]
                login = sender.address.split("@")[0]
                token = base64.b64encode(f"\0{login}\0{self.password}".encode()).decode()
                lines += [
                    f"Log in as {login} (or {sender.address}), password {self.password!r}, at {sub.name} = {LOOPBACK}:{port}.",
                    "",
                    "swaks:",
                    f"  swaks --server {LOOPBACK}:{port} --tls --auth-user {login} --auth-password {self.password} \\",
                    f"        --from {sender.address} --to {rcpt.address}",
                    "",
                    "Python:",
                    "  import smtplib",
                    "  from email.message import EmailMessage",
                    f"  msg = EmailMessage(); msg['From'] = '{sender.address}'; msg['To'] = '{rcpt.address}'",
                    "  msg['Subject'] = 'Hello'; msg.set_content('Hi!')",
                    f"  with smtplib.SMTP('{LOOPBACK}', {port}) as s:",
                    f"      s.starttls(); s.login('{login}', '{self.password}'); s.send_message(msg)",
                    "",
                    f"telnet {LOOPBACK} {port}   (then type, line by line:)",
                    "  EHLO me.example",
                    f"  AUTH PLAIN {token}",
                    f"  MAIL FROM:<{sender.address}>",
                    f"  RCPT TO:<{rcpt.address}>",
                    "  DATA",
                    "  Subject: Hello from telnet", "", "  Hi!", "  .",
                    "  QUIT",
                    "",
                ]
        if self.directory is not None:
            lines.append("Maildirs (new mail appears in new/; the Junk folder is .Junk/):")
            for user in self.topology.users.values():
                if user.mailbox:
                    lines.append(f"  {user.address:<26} {self.maildir_path(user.address)}")
        return "\n".join(lines)

    # -- sending --------------------------------------------------------------------------------
    def send(
        self,
        sender: str,
        recipient: str,
        *,
        subject: str = "Hello from mailhops",
        body: str = "Hi,\n\nthis message crossed real SMTP servers on 127.0.0.1.\n\nBest wishes\n",
        message: bytes | None = None,
        wait: bool = True,
        final: bool = False,
        timeout: float = 30.0,
    ) -> Journey:
        """Submit a message from ``sender``'s mail client, as that client would, and return its journey.

        With ``wait`` (the default) the call returns once the journey is settled (delivered, refused,
        dropped, looped, or deferred — with ``final=True``, not before a deferred message has bounced).
        """
        if not self._started:
            raise LiveError("The live topology is not running; call start() or use it in a with-block.")
        sender, recipient = check_address(sender), check_address(recipient)
        user = self.topology.users.get(sender)
        if user is None or user.client is None:
            raise TopologyError(f"{sender} cannot send: add them as a user with a client (a mail program or webmail).")
        origin = self.topology.server(user.client)
        route = srv.route(self.topology, origin, Envelope(sender, recipient))
        if not route.servers:
            raise TopologyError(f"{origin.name} has no server to send mail to (add a link).")
        nxt = route.servers[0]
        http = srv.transfer_protocol(origin, nxt)[3]
        if message is None and not http:
            when = _now().astimezone(srv.tz_of(origin))
            with self._rng_lock:
                message = srv.new_message(sender, recipient, subject, body, when, origin.domain or domain_of(sender),
                                          self._rng, sender_name=user.name)
        elif message is not None and b"\r\n" not in message:
            message = message.replace(b"\n", b"\r\n")
        key = self.journal.new(sender, recipient)
        entry = QueueEntry(key, Envelope(sender, recipient), message or b"")
        form = {"_from": sender, "_to": recipient, "_subject": subject, "_message": body}
        if http and message is not None:
            form["_raw"] = message.decode("utf-8", "replace")
        kind, reply = self._transfer(origin, nxt, entry, form=form if http else None)
        if kind == "unreachable":
            self.journal.finish(key, Outcome("deferred", "4.4.1", f"{nxt.name} did not answer; the mail client keeps the "
                                             "message in its outbox and tries again later.", server=origin.name))
        elif kind != "accepted":
            assert reply is not None
            self.journal.finish(key, Outcome("rejected", reply.status or "5.0.0", f"{nxt.name} refused it: {reply}; "
                                             "the mail client shows this error to the sender (no bounce).",
                                             reply=str(reply), server=nxt.name))
        if not wait:
            return self.journal.journey(key)
        return self.journal.wait(key, timeout, final=final)

    # -- the receiving side, shared by SMTP, LMTP and HTTP --------------------------------------
    def _accept(self, node: _Node, conn: _Conn, sess: Session, key: int, env: Envelope, message: bytes) -> Reply:
        """Stamp an accepted message, record the hop, and deliver it (LMTP) or queue it; return the 250 reply."""
        server = node.server
        precise = time.time()
        when = datetime.fromtimestamp(precise, timezone.utc)
        with self._rng_lock:
            # webmail writes no queue id (Roundcube's Received line has none)
            qid = None if sess.http else srv.queue_id(server if not node.lmtp else srv.lmtp_twin(server), self._rng, when)
            stamp_as = dataclasses.replace(server, ip=LOOPBACK)
            stamped, added = srv.stamp(self.topology, stamp_as, sess, env, message, when, qid, self._rng)
        conn.bind(key)
        hop = Hop(n=0, from_name=srv.from_name_of(srv.flavour(server, sess), sess.helo, sess.rdns), ip=sess.client_ip, by_name=server.name, by_ip=LOOPBACK,
                  with_=srv.with_word(server, sess), id=qid,
                  for_=None if (server.mta == "exchange" and not node.lmtp) or sess.http else env.rcpt,
                  date=when.astimezone(srv.tz_of(server)).replace(microsecond=0), helo=sess.helo or None, rdns=sess.rdns,
                  tls=self._tls_version(conn) if sess.tls else None, auth=sess.auth_user,
                  mta=server.mta if not node.lmtp else "dovecot", envelope_from=env.mail_from, added_headers=added,
                  smtp=conn.lines, decision="accepted", from_server=conn.client.name if conn.client else None,
                  by_server=server.name)
        conn.tx_closed = True
        self.journal.add_hop(key, hop, precise)
        entry = QueueEntry(key, env, stamped, qid=qid, hop=hop)
        if node.lmtp:  # LMTP: the reply to DATA means "delivered", so the mailbox server delivers before answering
            if self._after(node, entry):
                if srv.route(self.topology, server, entry.envelope).kind == "local":
                    self._deliver_local(node, entry)
                elif node.queue is not None:
                    node.queue.put(entry)
        elif node.queue is not None:
            node.queue.put(entry)
        return srv.accepted_reply(server, qid, env.rcpt, when, srv.message_id(message))

    @staticmethod
    def _tls_version(conn: _Conn) -> str:
        return conn.tls_version or "TLS"

    # -- after acceptance, routing, delivery ----------------------------------------------------
    def _after(self, node: _Node, entry: QueueEntry) -> bool:
        """Apply :func:`after_accept`; return False when the message's journey ended here (dropped/bounced)."""
        if entry.after_done:
            return True
        entry.after_done = True
        server = node.server
        res = srv.after_accept(self.topology, server, entry.envelope, entry.message, hop_n=entry.hop.n if entry.hop else None,
                           via=entry.hop.from_name if entry.hop else None)
        if res.decision and entry.hop is not None:
            entry.hop.decision = res.decision
        for text in res.copies:
            self.journal.copy(entry.key, text)
            if server.role == "archive":
                self._store(self.directory / "archive" / server.name if self.directory else None, entry.message, None)
        for text in res.notes:
            self.journal.note(entry.key, text)
        if res.action == "drop":
            self.journal.finish(entry.key, Outcome("dropped", "2.0.0", res.detail, server=server.name), message=entry.message)
            entry.envelope = res.envelope
            return False
        if res.action == "bounce":
            assert res.reply is not None
            self._bounce(node, entry, res.reply, kind=res.kind)
            return False
        entry.envelope = res.envelope
        return True

    def _process(self, node: _Node, entry: QueueEntry) -> None:
        """One delivery attempt of a queued message (in a worker thread)."""
        server = node.server
        assert node.queue is not None
        if not self._after(node, entry):
            node.queue.done(entry)
            return
        route = srv.route(self.topology, server, entry.envelope)
        if route.kind == "local":
            self._deliver_local(node, entry)
            node.queue.done(entry)
            return
        if route.kind == "link":
            candidates = route.servers
            if not candidates:
                self._defer(node, entry, Reply(451, "4.3.5", f"{server.name} has no server to send mail to (add a link)"))
                return
        else:
            assert route.domain is not None
            answer = self._mx(server, route.domain, entry.key)
            if answer.kind == "null":
                self._bounce(node, entry, Reply(556, "5.1.10", f"Recipient address rejected: Domain {route.domain} does not accept mail (nullMX)"),
                             kind="bounced")
                node.queue.done(entry)
                return
            if answer.kind == "nxdomain":
                self._bounce(node, entry, Reply(550, "5.1.2", f"Host or domain name not found. Name service error for name={route.domain} type=MX: Host not found"),
                             kind="bounced")
                node.queue.done(entry)
                return
            if answer.kind == "error":
                self._defer(node, entry, Reply(451, "4.4.3", f"Host or domain name not found. Name service error for name={route.domain} type=MX: Host not found, try again"))
                return
            candidates = [self.topology.servers[h] for _, h in answer.candidates if h in self.topology.servers]
            if not candidates:
                self._defer(node, entry, Reply(451, "4.4.3", f"None of the MX hosts of {route.domain} is a server in this topology"))
                return
        last: Reply | None = None
        for nxt in candidates:
            kind, reply = self._transfer(server, nxt, entry)
            if kind == "accepted":
                node.queue.done(entry)
                return
            if kind == "refused":
                assert reply is not None
                if not reply.permanent:
                    last = reply
                    continue
                self._bounce(node, entry, reply, kind="looped" if srv.is_loop(reply) else "rejected", remote=nxt.name)
                node.queue.done(entry)
                return
        names = ", ".join(s.name for s in candidates)
        self._defer(node, entry, last or Reply(421, "4.4.1", f"No server answered ({names})"))

    def _mx(self, server: Server, domain: str, key: int) -> MXAnswer:
        try:
            answer = self._resolver.resolve(domain, "MX")
            records = [(r.preference, r.exchange.to_text().rstrip(".").lower()) for r in answer]
            with self._rng_lock:
                result = order_mx(domain, records, self._rng, asking=server.name)
        except dns.resolver.NoAnswer:
            try:
                addresses = [r.address for r in self._resolver.resolve(domain, "A")]
                result = MXAnswer(domain, "implicit", [(0, domain)], [f"{domain}. A {a}" for a in addresses])
            except dns.exception.DNSException:
                result = MXAnswer(domain, "nxdomain", [], [])
        except dns.resolver.NXDOMAIN:
            result = MXAnswer(domain, "nxdomain", [], [])
        except dns.exception.DNSException as err:
            self.journal.add_lookup(key, Lookup(server.name, domain, "MX", [], f"look-up failed ({err.__class__.__name__}); try again later", 0))
            return MXAnswer(domain, "error", [], [])
        self.journal.add_lookup(key, Lookup(server.name, domain, "MX", result.records, result.conclusion, 0))
        if result.kind == "implicit":  # the domain's own address: find the server that has it
            target = None
            for rec in result.records:
                found = self.topology.server_by_ip(rec.split()[-1])
                if found is not None:
                    target = found
                    break
            result.candidates = [(0, target.name)] if target is not None else []
        return result

    def _port_of(self, server: Server) -> int | None:
        """The loopback port that plays ``server``: its name resolved through the live DNS, the address mapped to a port."""
        try:
            addresses = [r.address for r in self._resolver.resolve(server.name, "A")]
        except dns.exception.DNSException:
            return None
        for address in addresses:
            target = self.topology.server_by_ip(address)
            if target is not None and target.name in self._nodes:
                return self._nodes[target.name].port
        return None

    def _transfer(self, client: Server, nxt: Server, entry: QueueEntry, *, form: dict[str, str] | None = None) -> tuple[str, Reply | None]:
        """Hand ``entry`` from ``client`` to ``nxt`` over a real connection: ("accepted"|"refused"|"unreachable", reply)."""
        tls, auth, lmtp, http = srv.transfer_protocol(client, nxt)
        port = self._port_of(nxt)
        if port is None:
            return self._unreachable(client, nxt, entry, "Host not found in DNS", None)
        if http:
            return self._post(client, nxt, port, entry, form or {})
        caching = client.role not in ("client", "webmail")  # mail programs open a new session per message
        conn = self._cached(client.name, nxt.name) if caching else None
        if conn is not None:
            # Postfix checks a cached session with RSET before using it again (smtp_rset_timeout)
            local_port = conn.sock.getsockname()[1]
            self._outgoing[local_port] = (client, entry.key)
            try:
                usable = conn.rset()[0] == 250
            except (smtplib.SMTPException, OSError):
                usable = False
            if not usable:
                self._outgoing.pop(local_port, None)
                self._end_transaction(local_port)
                conn.close()
                conn = None
        fresh = conn is None
        if conn is None:
            try:  # connecting in the constructor also reads the greeting (and names the host for STARTTLS)
                conn = (smtplib.LMTP if lmtp else smtplib.SMTP)(
                    LOOPBACK, port, local_hostname=client.helo_name, timeout=self.timeout, source_address=(LOOPBACK, 0))
            except smtplib.SMTPConnectError as err:
                return "refused", _reply(err.smtp_code, err.smtp_error)
            except OSError as err:
                return self._unreachable(client, nxt, entry, err.strerror or str(err), port)
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay after the TLS handshake
            local_port = conn.sock.getsockname()[1]
            self._outgoing[local_port] = (client, entry.key)
        keep = False
        try:
            if fresh:
                conn.ehlo()
                if tls and conn.has_extn("starttls"):
                    conn.starttls(context=self._client_tls)
                    conn.ehlo()
                if auth:
                    conn.login(entry.envelope.mail_from.split("@")[0], self.password)
            options = [f"SIZE={len(entry.message)}"] if conn.has_extn("size") else []
            if conn.has_extn("pipelining"):
                code, text = _pipelined(conn, entry.envelope.mail_from, options, entry.envelope.rcpt, entry.message)
                if code != 250:
                    return "refused", _reply(code, text)
            else:
                code, text = conn.mail(entry.envelope.mail_from, options)
                if code != 250:
                    return "refused", _reply(code, text)
                code, text = conn.rcpt(entry.envelope.rcpt)
                if code not in (250, 251):
                    return "refused", _reply(code, text)
                code, text = conn.data(entry.message)
                if code != 250:
                    return "refused", _reply(code, text)
            keep = caching  # relays keep the session for the next message (Postfix's connection cache)
            return "accepted", _reply(code, text)
        except smtplib.SMTPAuthenticationError as err:
            return "refused", _reply(err.smtp_code, err.smtp_error)
        except (smtplib.SMTPException, OSError) as err:
            return "refused", Reply(421, "4.4.2", f"lost connection with {nxt.name}[{LOOPBACK}]:{port} ({err.__class__.__name__})")
        finally:
            if keep:
                self._end_transaction(local_port)
                self._outgoing.pop(local_port, None)
                self._store_cached(client.name, nxt.name, conn)
            else:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    conn.quit()
                conn.close()
                self._end_transaction(local_port)
                self._outgoing.pop(local_port, None)

    def _end_transaction(self, local_port: int) -> None:
        conn = self._inbound.get(local_port)
        if conn is not None:
            conn.end_transaction()

    def _cached(self, client: str, nxt: str) -> smtplib.SMTP | None:
        now = time.monotonic()
        with self._cache_lock:
            pool = self._cache.get((client, nxt), [])
            while pool:
                since, conn = pool.pop()
                if now - since <= CACHE_TIME_LIMIT:
                    return conn
                self._close_quietly(conn)
        return None

    def _store_cached(self, client: str, nxt: str, conn: smtplib.SMTP) -> None:
        with self._cache_lock:
            pool = self._cache.setdefault((client, nxt), [])
            if len(pool) < self.workers:
                pool.append((time.monotonic(), conn))
                return
        self._close_quietly(conn)

    def _drop_cache(self) -> None:
        with self._cache_lock:
            pools, self._cache = self._cache, {}
        for pool in pools.values():
            for _, conn in pool:
                self._close_quietly(conn)

    @staticmethod
    def _close_quietly(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.quit()
        conn.close()

    def _post(self, client: Server, nxt: Server, port: int, entry: QueueEntry, form: dict[str, str]) -> tuple[str, Reply | None]:
        body = urllib.parse.urlencode(form).encode()
        login = entry.envelope.mail_from.split("@")[0]
        token = base64.b64encode(f"{login}:{self.password}".encode()).decode()
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=self.timeout, source_address=(LOOPBACK, 0))
        try:
            conn.connect()
        except OSError as err:
            conn.close()
            return self._unreachable(client, nxt, entry, err.strerror or str(err), port)
        local_port = conn.sock.getsockname()[1]
        self._outgoing[local_port] = (client, entry.key)
        try:
            conn.request("POST", "/?_task=mail&_action=send", body=body, headers={
                "Host": nxt.name, "Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {token}"})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return "accepted", None
            return "refused", Reply(554, "5.7.0", f"HTTP {response.status} {response.reason}")
        except (http.client.HTTPException, OSError) as err:
            return "refused", Reply(421, "4.4.2", f"lost connection with {nxt.name} ({err.__class__.__name__})")
        finally:
            conn.close()
            self._outgoing.pop(local_port, None)

    def _unreachable(self, client: Server, nxt: Server, entry: QueueEntry, why: str, port: int | None) -> tuple[str, None]:
        where = f"{nxt.name}[{LOOPBACK}]:{port}" if port is not None else nxt.name
        text = f"connect to {where}: {why}"
        hop = Hop(n=0, from_name=client.name, ip=LOOPBACK, by_name=nxt.name, by_ip=LOOPBACK, date=_now().replace(microsecond=0),
                  envelope_from=entry.envelope.mail_from, mta=nxt.mta, smtp=[SmtpLine("C", f"({text})")],
                  status="unreachable", decision=text, from_server=client.name, by_server=nxt.name)
        self.journal.add_attempt(entry.key, hop)
        return "unreachable", None

    def _deliver_local(self, node: _Node, entry: QueueEntry) -> None:
        server = node.server
        user = self.topology.users[entry.envelope.rcpt]
        head = entry.message.split(b"\r\n\r\n", 1)[0]
        junk = user.junk_filter and b"\r\nX-Spam-Flag: YES" in b"\r\n" + head
        folder = "Junk" if junk else "INBOX"
        path = self.maildir_path(user.address)
        self._store(path, entry.message, "Junk" if junk else None)
        if entry.hop is not None:
            entry.hop.decision = f"delivered to {user.address} ({folder})"
        where = "" if self._own_dir else f" (Maildir {path})"  # a temporary directory is gone once the servers stop
        detail = f"Delivered to {user.address} on {server.name}, folder {folder}{where}."
        if junk:
            detail += " A filter rule in the mailbox (Sieve) files messages marked X-Spam-Flag: YES into Junk."
        self.journal.finish(entry.key, Outcome("junk" if junk else "delivered", "2.0.0", detail, mailbox=user.address,
                                               folder=folder, server=server.name), message=entry.message)

    def _store(self, path: Path | None, message: bytes, folder: str | None) -> None:
        if path is None:
            return
        lock = self._mail_locks.setdefault(str(path), threading.Lock())
        with lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(path, create=True)
            if folder is not None:
                box = box.add_folder(folder) if folder not in box.list_folders() else box.get_folder(folder)
            box.add(message.replace(b"\r\n", b"\n"))

    def _bounce(self, node: _Node, entry: QueueEntry, reply: Reply, *, kind: str, remote: str | None = None) -> None:
        """End the journey with ``kind`` and send a DSN to the envelope sender through this server's own queue."""
        reporter = node.server
        env = entry.envelope
        where = f"{remote} refused it" if remote else f"{reporter.name} could not deliver it"
        outcome = Outcome(kind, reply.status or ("5.0.0" if reply.permanent else "4.0.0"), f"{where}: {reply}",
                          reply=str(reply), server=remote or reporter.name)
        if env.mail_from == "":
            outcome.detail += (" This message was itself a bounce (null sender <>), so it is never bounced again; "
                               "the server hands it to its postmaster or discards it.")
            self.journal.finish(entry.key, outcome, message=entry.message)
            return
        who = "the sender's own server" if remote else reporter.name
        self.journal.note(entry.key, f"{who} ({reporter.name}) writes a bounce (DSN) to <{env.mail_from}> with the null sender <>.")
        when = _now()
        with self._rng_lock:
            if reply.permanent:
                dsn = srv.make_dsn(reporter, env, entry.message, reply, when, remote=remote, rng=self._rng)
            else:
                dsn = srv.make_dsn(reporter, env, entry.message, reply, when, rng=self._rng, final=True)
            qid = srv.queue_id(reporter, self._rng, when)
        bkey = self.journal.new("", env.mail_from, parent=entry.key)
        local = when.astimezone(srv.tz_of(reporter)).replace(microsecond=0)
        field_text = srv.local_injection(reporter, local, qid)
        if field_text is not None:  # the bounce daemon injects the DSN locally; cleanup stamps it (as the simulator does)
            dsn = hdr.prepend(dsn, [field_text])
            self.journal.add_hop(bkey, Hop(n=0, by_name=reporter.name, by_ip=LOOPBACK, id=qid, date=local, mta="postfix",
                                           envelope_from="", added_headers=[field_text], by_server=reporter.name,
                                           decision="bounce written and queued locally by the bounce daemon"), time.time())
        self.journal.finish(entry.key, outcome, message=entry.message, bounce=bkey)
        assert node.queue is not None
        node.queue.put(QueueEntry(bkey, Envelope("", env.mail_from), dsn, qid=qid, after_done=True))

    def _defer(self, node: _Node, entry: QueueEntry, reply: Reply) -> None:
        """A temporary failure: retry on the schedule, or bounce once the schedule is used up."""
        assert node.queue is not None
        entry.attempts += 1
        server = node.server
        if entry.attempts <= len(self.retry_schedule):
            delay = self.retry_schedule[entry.attempts - 1]
            self.journal.note(entry.key, f"{server.name}: {reply}; the message stays in its queue, next try in {delay:g} s "
                                         f"(try {entry.attempts + 1} of {len(self.retry_schedule) + 1}).")
            journey = self.journal.journey(entry.key)
            if journey.outcome is None:
                self.journal.finish(entry.key, Outcome("deferred", reply.status or "4.0.0",
                                                       f"{reply}; the message waits in the queue of {server.name} and is "
                                                       f"retried after {', '.join(f'{d:g}' for d in self.retry_schedule)} s, "
                                                       "then bounced (Postfix keeps trying for 5 days: maximal_queue_lifetime).",
                                                       server=server.name), message=entry.message)
            node.queue.put(entry, delay=delay)
            return
        self.journal.note(entry.key, f"{server.name} gave up after {entry.attempts} tries: {reply}.")
        self._bounce(node, entry, reply, kind="bounced")
        node.queue.done(entry)
