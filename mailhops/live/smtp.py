"""The receiving side: aiosmtpd SMTP and LMTP servers that record every line of every session.

:func:`start_server` runs one server node on a socket bound in advance: aiosmtpd's protocol classes with
the :class:`_Recording` mix-in (both sides of the dialogue go into a
:class:`~mailhops.live.connections.Connection`; a multi-line reply leaves in one write), a
:class:`Handler` whose hooks ask :mod:`mailhops.mta.roles` for every RCPT and DATA reply and hand an
accepted message to the node's :class:`~mailhops.live.mailserver.MailServer`, and aiosmtpd's threaded
controller (:class:`LoopbackController`), one event loop per server.

>>> [cls.__name__ for cls in RecordingLMTP.__mro__[:3]]
['RecordingLMTP', '_Recording', 'LMTP']
>>> _null("<>"), _null("alice@example.org")
('', 'alice@example.org')
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dns.asyncresolver
import dns.exception
import dns.reversename
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult

from ..errors import LiveError, TopologyError
from ..journey import Hop, Outcome
from ..mta import roles as srv
from ..mta.roles import Envelope, Reply, Session
from ..topology import check_address
from .connections import Connection
from .loopback_dns import LOOPBACK
from .shared import Shared, now

if TYPE_CHECKING:
    from .mailserver import MailServer


class _QuietLoginData(logging.Filter):
    """aiosmtpd 1.4 warns on every successful AUTH that its own ``login_data`` is deprecated; say it once, not per login."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_QuietLoginData())


class _ReaderTap:
    """Wraps aiosmtpd's StreamReader so that every line the client sends is recorded."""

    def __init__(self, reader: asyncio.StreamReader, conn: Connection) -> None:
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


_PLAIN_PATH = re.compile(r"\s*<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                         r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)?)>(.*)\Z",
                         re.DOTALL)


class _Recording:
    """Mixed into aiosmtpd's SMTP and LMTP classes: record both sides of the dialogue."""

    _mh: Connection

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


class RecordingSMTP(_Recording, SMTP):
    pass


class RecordingLMTP(_Recording, LMTP):
    pass


class LoopbackController(Controller):
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


class Handler:
    """aiosmtpd hooks for one server: the policy comes from :mod:`mailhops.mta.roles`, the rest from ``mail``."""

    def __init__(self, mail: MailServer, aresolver: dns.asyncresolver.Resolver) -> None:
        self.mail = mail
        self.aresolver = aresolver

    def __dir__(self) -> list[str]:  # aiosmtpd reads the handler's hooks from dir() on every connection too
        return _names_for_aiosmtpd(type(self), ("handle_", "auth_"))

    # identification of the client and its reverse name
    async def _identify(self, smtp: SMTP) -> Connection:
        conn: Connection = smtp._mh  # type: ignore[attr-defined]
        peer = smtp.session.peer if smtp.session else None
        if peer and (not conn.identified or conn.client is not None):
            # one of our own sending sides registered its source port; a cached connection carries a new
            # message (journey) in each transaction, so the journey is looked up again every time
            conn.identified = True
            found = self.mail.shared.peers.sender(peer[1])
            if found is not None:
                conn.client, conn.key = found
                conn.peer_port = peer[1]
                self.mail.shared.peers.receiving(peer[1], conn)
        if not conn.rdns_done:
            conn.rdns_done = True
            peer = smtp.session.peer if smtp.session else None
            if peer:
                try:
                    answer = await self.aresolver.resolve(dns.reversename.from_address(peer[0]), "PTR")
                    conn.rdns = next(iter(answer)).target.to_text().rstrip(".")
                except dns.exception.DNSException:
                    conn.rdns = None
        return conn

    def _session(self, smtp: SMTP, conn: Connection) -> Session:
        s = smtp.session
        assert s is not None
        auth = s.auth_data if s.authenticated else None
        if s.ssl is not None and conn.tls_version is None:
            obj = s.ssl.get("ssl_object")
            conn.tls_version = obj.version() if obj is not None else "TLS"
        return Session(client_ip=s.peer[0] if s.peer else LOOPBACK, helo=s.host_name or "", rdns=conn.rdns, client=conn.client,
                       tls=s.ssl is not None, auth_user=auth, lmtp=self.mail.lmtp)

    async def handle_EHLO(self, smtp: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.mail.server.role != "submission":
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
        reply = srv.rcpt_reply(self.mail.shared.topology, self.mail.server, self._session(smtp, conn), rcpt)
        if reply.ok:
            envelope.rcpt_tos.append(rcpt)
            envelope.rcpt_options.extend(options)
        else:
            self._refused(smtp, conn, _null(envelope.mail_from), rcpt, reply)
        return str(reply)

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        conn = await self._identify(smtp)
        mail, server, journal = self.mail, self.mail.server, self.mail.shared.journal
        message: bytes = envelope.original_content or b""
        mail_from = _null(envelope.mail_from)
        sess = self._session(smtp, conn)
        rcpts: list[str] = list(envelope.rcpt_tos)
        refused = srv.data_reply(mail.shared.topology, server, sess, Envelope(mail_from, rcpts[0]), message)
        if refused is not None:
            for rcpt in rcpts:
                self._refused(smtp, conn, mail_from, rcpt, refused)
            return "\r\n".join([str(refused)] * len(rcpts)) if mail.lmtp else str(refused)
        replies = []
        for i, rcpt in enumerate(rcpts):
            key = conn.key if (i == 0 and conn.key is not None) else journal.new(mail_from, rcpt)
            reply = mail.accept(conn, sess, key, Envelope(mail_from, rcpt), message)
            replies.append(str(reply))
        return "\r\n".join(replies) if mail.lmtp else replies[0]

    def _refused(self, smtp: SMTP, conn: Connection, mail_from: str, rcpt: str, reply: Reply) -> None:
        journal, server = self.mail.shared.journal, self.mail.server
        key = conn.key
        external = key is None
        if key is None:
            key = journal.new(mail_from, rcpt)
        conn.bind(key)
        sess = self._session(smtp, conn)
        hop = Hop(n=0, from_name=srv.from_name_of(srv.flavour(server, sess), sess.helo, sess.rdns), ip=sess.client_ip, by_name=server.name, by_ip=LOOPBACK,
                  with_=sess.protocol, for_=rcpt, date=now().replace(microsecond=0), helo=sess.helo, rdns=sess.rdns,
                  mta=server.mta if not self.mail.lmtp else "dovecot", envelope_from=mail_from, smtp=conn.lines,
                  status="rejected", decision=f"{server.name} refused: {reply}",
                  from_server=conn.client.name if conn.client else None, by_server=server.name)
        conn.tx_closed = True
        journal.add_attempt(key, hop)
        if external:
            journal.finish(key, Outcome("rejected", reply.status or "5.0.0",
                                        f"{server.name} refused it: {reply} (the client was told directly, so "
                                        "it is the client's job to tell the sender).", reply=str(reply),
                                        server=server.name))

    async def handle_RSET(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Ok"

    async def handle_exception(self, error: Exception) -> str:
        return f"451 4.3.0 Error: internal error in mailhops ({error.__class__.__name__})"


def _null(address: str | None) -> str:
    return "" if address in (None, "", "<>") else str(address)


def authenticator(shared: Shared) -> Callable[..., AuthResult]:
    """aiosmtpd's AUTH check: every user with a mail client, by address or local part, with the topology's password."""

    def check(server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data.login, bytes) else str(auth_data.login)
        password = auth_data.password.decode("utf-8", "replace") if isinstance(auth_data.password, bytes) else str(auth_data.password)
        known = any(u.client and (login == u.address or login == u.address.split("@")[0]) for u in shared.topology.users.values())
        if known and password == shared.password:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    return check


def start_server(sock: socket.socket, mail: MailServer, *, tls: ssl.SSLContext,
                 aresolver: dns.asyncresolver.Resolver) -> LoopbackController:
    """Serve ``mail``'s server on ``sock`` (SMTP, or LMTP for a mailbox server) in its own thread and event loop."""
    server, lmtp, shared = mail.server, mail.lmtp, mail.shared
    handler = Handler(mail, aresolver)
    tls_context = tls if server.tls and not lmtp else None
    cls = RecordingLMTP if lmtp else RecordingSMTP
    auth = authenticator(shared)

    def make(loop: asyncio.AbstractEventLoop) -> SMTP:
        banner = str(srv.greeting(server, now(), lmtp=lmtp))
        ident = banner[len("220 ") + len(server.name) + 1:]
        smtp = cls(handler, hostname=server.name, ident=ident, tls_context=tls_context, data_size_limit=shared.size_limit,
                   enable_SMTPUTF8=True, timeout=shared.timeout, auth_require_tls=False, authenticator=auth,
                   loop=loop)
        smtp._mh = Connection(shared.journal, shared.peers)  # type: ignore[attr-defined]
        return smtp

    thread = LoopbackController(handler, sock, make)
    thread.thread_name = server.name
    try:
        thread.start()
    except Exception as err:
        raise LiveError(f"The server {server.name} could not start on port {sock.getsockname()[1]}: {err}.") from None
    return thread
