r"""The receiving side: aiosmtpd SMTP and LMTP servers that record every line of every session.

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

What a client sends is checked before anything uses it, with Postfix's replies: invalid UTF-8 gets
``500 5.5.2 Error: bad UTF-8 syntax``; a control character (CR, LF, NUL, ESC, ...) in HELO/EHLO gets
``501 Syntax: EHLO hostname``, in MAIL FROM ``501 5.1.7 Bad sender address syntax``, in RCPT TO
``501 5.1.3 Bad recipient address syntax`` — so nothing a client typed can start a header line of its own.

>>> _hostile("mx.example.net"), _hostile("a\rBcc: x"), _hostile("caf\udce9"), _hostile("\x1b[31m")
(None, 'control', 'utf8', 'control')

Limits, as Postfix's defaults: 1000 recipients a message (``452 4.5.3 Error: too many recipients``; a
recipient named twice is delivered once), lines of 998 octets plus CRLF, the size counted as the client
sent it, 20 error replies a session (then ``421 4.7.0 <host> Error: too many errors``), a timeout for
each read (not for a whole DATA). A bare LF in a message is refused as Postfix 3.9 does in its
``smtpd_forbid_bare_newline = reject`` mode (``550 5.5.2 <host> Error: bare <LF> received``, then the
connection is closed), so a ``\n.\n`` can never end a message early at a later hop. AUTH is offered only
by submission servers and only after STARTTLS (``smtpd_tls_auth_only``); a login sends only as its own
address (``reject_sender_login_mismatch``).
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
from ..topology import Server, check_address
from .addresses import is_public, upstream_names
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


#: How much larger than the size limit a message may grow on its way (the hops' own headers): the size a
#: client sends is checked at the first server, so a message is never refused later for what the hops added.
HEADROOM = 256 * 1024

#: Postfix's ``in_flow_delay`` (1 s): how long a new message may wait while the queue has a backlog ...
IN_FLOW_DELAY = 1.0
#: ... of more than this many messages waiting for their first try (Postfix gives each delivered message a token).
BACKLOG_LIMIT = 100

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _hostile(text: str | None) -> str | None:
    """``'utf8'`` (invalid UTF-8, kept as surrogates by aiosmtpd), ``'control'`` (a control character) or None."""
    if not text:
        return None
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        return "utf8"
    if _CONTROL.search(text):
        return "control"
    return None


class _ReaderTap:
    """Wraps aiosmtpd's StreamReader so that every line the client sends is recorded (and each read restarts the timer)."""

    def __init__(self, reader: asyncio.StreamReader, conn: Connection, smtp: Any) -> None:
        object.__setattr__(self, "_r", reader)
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_smtp", smtp)

    def _read(self, line: bytes) -> bytes:
        self._conn.client_line(line)
        self._smtp._reset_timeout()  # a timeout per read, as Postfix's smtpd_timeout: a slow but active client goes on
        return line

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        return self._read(await self._r.readuntil(separator))

    async def readline(self) -> bytes:
        return self._read(await self._r.readline())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._r, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._r, name, value)


_PLAIN_PATH = re.compile(r"\s*<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                         r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)?)>(.*)\Z",
                         re.DOTALL)


class _Recording:
    """Mixed into aiosmtpd's SMTP and LMTP classes: record both sides, check what the client sends, count errors."""

    _mh: Connection
    #: 998 octets and CRLF (RFC 5321 §4.5.3.1.6); aiosmtpd's own default lets 999 through
    line_length_limit = 1000
    _mh_errors = 0
    _mh_error_limit = 20
    _mh_submission = False

    def __dir__(self) -> list[str]:
        # aiosmtpd builds its command tables on every new connection from dir(self), reading every attribute
        # (inspect.getmembers), about half a millisecond per connection; only the smtp_* and auth_* names count
        # there, so those are what these internal objects list (computed once per class)
        return _names_for_aiosmtpd(type(self), ("smtp_", "auth_"))

    def _cb_client_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super()._cb_client_connected(_ReaderTap(reader, self._mh, self), writer)  # type: ignore[misc, arg-type]

    # -- what the client sends, checked before anything uses it (Postfix's replies) -----------------
    async def _refuse_hostile(self, arg: str | None, control_reply: str) -> bool:
        found = _hostile(arg)
        if found is None:
            return False
        await self.push("500 5.5.2 Error: bad UTF-8 syntax" if found == "utf8" else control_reply)
        return True

    async def smtp_HELO(self, hostname: str) -> None:
        if not await self._refuse_hostile(hostname, "501 Syntax: HELO hostname"):
            await super().smtp_HELO(hostname)  # type: ignore[misc]

    async def smtp_EHLO(self, hostname: str) -> None:
        if not await self._refuse_hostile(hostname, "501 Syntax: EHLO hostname"):
            await super().smtp_EHLO(hostname)  # type: ignore[misc]

    async def smtp_MAIL(self, arg: str | None) -> None:
        if not await self._refuse_hostile(arg, "501 5.1.7 Bad sender address syntax"):
            await super().smtp_MAIL(arg)  # type: ignore[misc]

    async def smtp_RCPT(self, arg: str | None) -> None:
        if not await self._refuse_hostile(arg, "501 5.1.3 Bad recipient address syntax"):
            await super().smtp_RCPT(arg)  # type: ignore[misc]

    async def smtp_VRFY(self, arg: str | None) -> None:
        if not await self._refuse_hostile(arg, "501 5.5.4 Syntax: VRFY address"):
            await super().smtp_VRFY(arg)  # type: ignore[misc]

    async def smtp_AUTH(self, arg: str) -> None:
        # smtpd_tls_auth_only: AUTH exists only on a submission server, and only inside TLS
        if not self._mh_submission or self._tls_protocol is None:  # type: ignore[attr-defined]
            await self.push("503 5.5.1 Error: authentication not enabled")
            return
        if not await self._refuse_hostile(arg, "501 5.5.4 Syntax: AUTH mechanism"):
            await super().smtp_AUTH(arg)  # type: ignore[misc]

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self._tls_protocol is not None:  # type: ignore[attr-defined] # Postfix's words (smtpd.c), not a traceback
            await self.push("554 5.5.1 Error: TLS already active")
            return
        await super().smtp_STARTTLS(arg)  # type: ignore[misc]

    async def challenge_auth(self, *args: Any, **kw: Any) -> Any:
        blob = await super().challenge_auth(*args, **kw)  # type: ignore[misc]
        if isinstance(blob, bytes) and _hostile(blob.decode("utf-8", "surrogateescape")) is not None:
            return b"\x00"  # a login or password with control characters or bad UTF-8 can only fail
        return blob

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every MAIL/RCPT path with the email package's full RFC 5322 parser, which is slow;
        # plain <local@domain> paths (and <>) are read with a regular expression, anything else goes to it
        match = _PLAIN_PATH.match(arg) if arg else None
        if match is not None:
            return (match.group(1) or "<>"), match.group(2)
        return super()._getaddr(arg)  # type: ignore[misc]

    async def push(self, status: Any) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        await self._push(status, text)
        if text[:1] in ("4", "5") and text[:3] != "421" and text[3:4] == " ":
            # smtpd_hard_error_limit: after this many errors, one 421 and the connection is closed
            self._mh_errors += 1
            if self._mh_errors >= self._mh_error_limit and self.transport is not None:  # type: ignore[attr-defined]
                await self._push(None, f"421 4.7.0 {self.hostname} Error: too many errors")  # type: ignore[attr-defined]
                self.transport.close()  # type: ignore[attr-defined]

    async def _push(self, status: Any, text: str) -> None:
        if status is None:
            status = text
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

    _mh_deadline = 0.0

    def _reset_timeout(self, duration: float | None = None) -> None:
        # aiosmtpd cancels its timer and makes a new one at every reset; a reset for every line read (a timeout per
        # read) then filled the event loop's timer heap with cancelled timers. Here a reset only moves the deadline,
        # and the pending timer, when it fires, waits on until the deadline if it has moved.
        loop = self.loop  # type: ignore[attr-defined]
        self._mh_deadline = loop.time() + (duration or self._timeout_duration)  # type: ignore[attr-defined]
        handle = self._timeout_handle  # type: ignore[has-type]
        if handle is not None and not handle.cancelled() and handle.when() <= self._mh_deadline:
            return
        if handle is not None:
            handle.cancel()
        self._timeout_handle = loop.call_at(self._mh_deadline, self._mh_timeout_check)

    def _mh_timeout_check(self) -> None:
        loop = self.loop  # type: ignore[attr-defined]
        if loop.time() < self._mh_deadline:
            self._timeout_handle = loop.call_at(self._mh_deadline, self._mh_timeout_check)
            return
        self._timeout_cb()  # type: ignore[attr-defined]

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
    async def smtp_LHLO(self, hostname: str) -> None:
        if not await self._refuse_hostile(hostname, "501 Syntax: LHLO hostname"):
            await super().smtp_LHLO(hostname)


class LoopbackController(Controller):
    """aiosmtpd's threaded Controller on a socket we bound ourselves (a loopback address, port known in advance)."""

    def __init__(self, handler: Any, sock: socket.socket, make: Callable[[asyncio.AbstractEventLoop], SMTP], **kw: Any) -> None:
        super().__init__(handler, hostname=sock.getsockname()[0], port=sock.getsockname()[1], ready_timeout=10.0, **kw)
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
        with socket.create_connection((self.hostname, self.port), 2.0) as s:
            s.recv(1024)


class Handler:
    """aiosmtpd hooks for one server: the policy comes from :mod:`mailhops.mta.roles`, the rest from ``mail``."""

    def __init__(self, mail: MailServer, aresolver: dns.asyncresolver.Resolver) -> None:
        self.mail = mail
        self.aresolver = aresolver
        #: mynetworks: an internal server takes mail only from the servers linked to it (None: from anyone)
        self.allowed: set[str] | None = None
        if mail is not None and not _public(mail.shared.topology, mail.server):
            self.allowed = upstream_names(mail.shared.topology, mail.server)

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
            found = self.mail.shared.peers.sender((peer[0], peer[1]))
            if found is not None and self.mail.shared.distinct and peer[0] != found[0].ip:
                found = None  # the port is one of ours but the address is not the sending server's: a stranger
            if found is not None:
                conn.client, conn.key = found
                conn.peer = (peer[0], peer[1])
                self.mail.shared.peers.receiving(conn.peer, conn)
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
        # the size limit a client is told is the one its message is checked against (the hops' headers aside)
        responses = [f"250-SIZE {self.mail.shared.size_limit}" if r.startswith("250-SIZE") else r for r in responses]
        # aiosmtpd reads one command after the other from its buffer, so pipelined commands work; say so, as
        # Postfix, Exim and Exchange do (and as every LMTP server must, RFC 2033 §4.1)
        return responses[:1] + ["250-PIPELINING"] + responses[1:]

    async def handle_MAIL(self, smtp: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        conn = await self._identify(smtp)
        await in_flow_delay(self.mail.queue.backlog)
        if not address.isascii() and not envelope.smtp_utf8:  # RFC 6531 §3.4, in Postfix's words
            return "553 5.6.7 Must declare SMTPUTF8 to send unicode address"
        mismatch = self._login_mismatch(session, conn, _null(address))
        if mismatch is not None:
            return mismatch
        envelope.mail_from = address or "<>"
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    def _login_mismatch(self, session: Any, conn: Connection, address: str) -> str | None:
        """Postfix's reject_sender_login_mismatch at a submission server: a login sends only as its own address."""
        if self.mail.server.role != "submission" or not address:
            return None
        if conn.client is not None and conn.client.role not in ("client", "webmail"):
            return None  # one of the organisation's own servers (a bounce, a forward) sends for others
        users = self.mail.shared.topology.users
        login = session.auth_data if session.authenticated else None
        if login is not None:
            user = users.get(login) or next((u for u in users.values() if u.address.split("@")[0] == login), None)
            if user is None or user.address != address.lower():
                return f"553 5.7.1 <{address}>: Sender address rejected: not owned by user {login}"
            return None
        owned = users.get(address.lower())
        if owned is not None and owned.client is not None:
            return f"553 5.7.1 <{address}>: Sender address rejected: not logged in"
        return None

    def _stranger(self, smtp: SMTP, conn: Connection) -> str | None:
        """mynetworks: the refusal an internal server gives a client that is not one of its upstream servers."""
        if self.allowed is None:
            return None
        if conn.client is not None and conn.client.name in self.allowed:
            return None
        peer = smtp.session.peer if smtp.session else None
        ip = peer[0] if peer else "unknown"
        return f"554 5.7.1 <{conn.rdns or 'unknown'}[{ip}]>: Client host rejected: Access denied"

    async def handle_RCPT(self, smtp: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        conn = await self._identify(smtp)
        stranger = self._stranger(smtp, conn)
        if stranger is not None:
            return stranger
        if not address.isascii() and not envelope.smtp_utf8:
            return "553 5.6.7 Must declare SMTPUTF8 to send unicode address"
        try:
            rcpt = check_address(address)
        except TopologyError:
            return "501 5.1.3 Bad recipient address syntax"
        if rcpt in envelope.rcpt_tos:  # named twice: accepted, delivered once (Postfix's duplicate_filter_limit)
            return "250 2.1.5 Ok"
        if len(envelope.rcpt_tos) >= self.mail.shared.recipient_limit:  # smtpd_recipient_limit
            return "452 4.5.3 Error: too many recipients"
        reply = srv.rcpt_reply(self.mail.shared.topology, self.mail.server, self._session(smtp, conn), rcpt,
                               mail_from=_null(envelope.mail_from))
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
        bare = _BARE.search(message)
        if bare is not None:  # Postfix 3.9's smtpd_forbid_bare_newline = reject: refuse, then hang up
            what = "<LF>" if bare.group(0) == b"\n" else "<CR>"
            if smtp.transport is not None:
                smtp.loop.call_later(0.05, smtp.transport.close)
            return f"550 5.5.2 {server.name} Error: bare {what} received"
        if conn.client is None and len(message) > mail.shared.size_limit:  # counted as the client sent it
            return "552 5.3.4 Message size exceeds fixed limit"
        sess = self._session(smtp, conn)
        rcpts: list[str] = list(envelope.rcpt_tos)
        refused = srv.data_reply(mail.shared.topology, server, sess, Envelope(mail_from, rcpts[0]), message,
                                 greylist=mail.greylist, when=now())
        if refused is not None:
            for rcpt in rcpts:
                self._refused(smtp, conn, mail_from, rcpt, refused)
            return "\r\n".join([str(refused)] * len(rcpts)) if mail.lmtp else str(refused)
        recipients = [(conn.key if (i == 0 and conn.key is not None) else journal.new(mail_from, rcpt), Envelope(mail_from, rcpt))
                      for i, rcpt in enumerate(rcpts)]
        replies = [str(reply) for reply in mail.accept_message(conn, sess, recipients, message)]  # one spool file
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


async def in_flow_delay(backlog: Callable[[], int], *, limit: int = BACKLOG_LIMIT, delay: float = IN_FLOW_DELAY) -> None:
    """Postfix's ``in_flow_delay``: while more than ``limit`` messages wait for their first delivery attempt, a
    new message waits (up to ``delay`` seconds) for the queue to catch up before the server takes it.

    Mail comes in faster than it goes out under load (a submission server answers 250 long before the
    relays are done); without this, the backlog and the memory it takes grow without bound.

    >>> asyncio.run(in_flow_delay(lambda: 0))  # nothing waiting: no pause
    """
    if backlog() <= limit:
        return
    deadline = asyncio.get_running_loop().time() + delay
    while backlog() > limit and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


_BARE = re.compile(rb"(?<!\r)\n|\r(?!\n)")


def _public(network: Any, server: Server) -> bool:
    """Does ``server`` take mail from anyone: a submission server, an MX, or the host a domain's A record names?"""
    return is_public(server) or any(d.a == server.ip for d in network.domains.values())


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
    submission = server.role == "submission" and not lmtp
    tls_context = tls if (server.tls or submission) and not lmtp else None
    cls = RecordingLMTP if lmtp else RecordingSMTP
    auth = authenticator(shared) if submission else None

    def make(loop: asyncio.AbstractEventLoop) -> SMTP:
        banner = str(srv.greeting(server, now(), lmtp=lmtp))
        ident = banner[len("220 ") + len(server.name) + 1:]
        smtp = cls(handler, hostname=server.name, ident=ident, tls_context=tls_context,
                   data_size_limit=shared.size_limit + HEADROOM, enable_SMTPUTF8=True, timeout=shared.timeout,
                   auth_require_tls=True, authenticator=auth, loop=loop)
        smtp._mh = Connection(shared.journal, shared.peers)  # type: ignore[attr-defined]
        smtp._mh_submission = submission  # type: ignore[attr-defined]
        smtp._mh_error_limit = shared.error_limit  # type: ignore[attr-defined]
        return smtp

    thread = LoopbackController(handler, sock, make)
    thread.thread_name = server.name
    try:
        thread.start()
    except Exception as err:
        raise LiveError(f"The server {server.name} could not start on port {sock.getsockname()[1]}: {err}.") from None
    return thread
