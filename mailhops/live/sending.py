"""The sending side of every hop: find the next server in the live DNS, connect, and hand the message over.

A :class:`Sender` does what a relay's SMTP client does (Postfix's ``smtp``, or a mail program submitting):
it looks up the MX records of the recipient's domain (:meth:`Sender.find_mx`), finds the loopback port
that plays a server by resolving its name (:meth:`Sender.address_of`), and speaks SMTP or LMTP with smtplib
— STARTTLS and AUTH when the hop calls for them, MAIL, RCPT and DATA pipelined (RFC 2920) when the server
offers it — or posts the webmail's compose form over HTTP. A relay keeps its session for the next
message to the same server (Postfix's connection cache) and checks it with ``RSET`` before using it again.

Before it speaks, a sender registers its source port with :class:`~mailhops.live.connections.Peers`, so
the receiving server knows which server of the topology is calling and for which journey.

>>> smtp_reply(550, b"5.7.1 <bob@example.net>: Relay access denied")
Reply(code=550, status='5.7.1', text='<bob@example.net>: Relay access denied')
>>> smtp_reply(250, b"HELP")
Reply(code=250, status='', text='HELP')
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import re
import smtplib
import socket
import ssl
import threading
import time
import urllib.parse

import dns.exception
import dns.resolver

from ..dns import MXAnswer, order_mx
from ..journey import Hop, Lookup, SmtpLine
from ..mta import roles as srv
from ..mta.roles import Reply
from ..topology import Server
from .loopback_dns import LOOPBACK
from .mail_queue import QueueEntry
from .shared import Shared, now

#: Seconds an idle cached SMTP connection is kept for the next message (Postfix's smtp_connection_cache_time_limit).
CACHE_TIME_LIMIT = 2.0


def smtp_reply(code: int, text: bytes | str) -> Reply:
    """An SMTP reply as smtplib returns it, split into code, enhanced status code and text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split("\n"))
    first, _, rest = text.partition(" ")
    parts = first.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and first[0] in "245":
        return Reply(code, first, rest)
    return Reply(code, "", text)


def pipelined(conn: smtplib.SMTP, mail_from: str, options: list[str], rcpt: str, message: bytes) -> tuple[int, bytes]:
    """One transaction with PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write, then their replies in order.

    Returns the first refusal (MAIL's, RCPT's or DATA's) or, after the message, the final reply — what
    Postfix's SMTP client does when the server lists PIPELINING. smtplib has no pipelining, so the group
    is written with its ``send`` and read back with its ``getreply``.
    """
    params = "".join(f" {o}" for o in options)
    conn.send(f"MAIL FROM:<{mail_from}>{params}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
    (m_code, m_text), (r_code, r_text), (d_code, d_text) = conn.getreply(), conn.getreply(), conn.getreply()
    refused = ((m_code, m_text) if m_code != 250 else (r_code, r_text) if r_code not in (250, 251) else None)
    if d_code != 354:
        return refused or (d_code, d_text)
    if refused is not None:  # a server that says 354 without a recipient gets an empty message (RFC 2920 §3.1)
        conn.send(b".\r\n")
        conn.getreply()
        return refused
    conn.send(dot_stuffed(message))
    return conn.getreply()


def dot_stuffed(message: bytes) -> bytes:
    r"""The message as DATA carries it: a dot doubled at the start of each line (RFC 5321 §4.5.2), then ``.``.

    Only a line's start counts, and lines end in CRLF: a bare LF is not a line end, so no dot is ever added
    after one (the receiving side takes off exactly the dots added here, so the body crosses any number of
    hops byte for byte).

    >>> dot_stuffed(b".a\r\nb\n.c\r\n.\r\n")
    b'..a\r\nb\n.c\r\n..\r\n.\r\n'
    """
    body = re.sub(rb"(?:^|(?<=\r\n))\.", b"..", message)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _data(conn: smtplib.SMTP, message: bytes) -> tuple[int, bytes]:
    """DATA without smtplib's line-end rewriting (it turns every bare CR and LF into CRLF): the bytes as they are."""
    code, text = conn.docmd("data")
    if code != 354:
        return code, text
    conn.send(dot_stuffed(message))
    return conn.getreply()


def _transaction(conn: smtplib.SMTP, entry: QueueEntry) -> tuple[int, bytes]:
    """MAIL, RCPT and DATA for ``entry`` (pipelined when offered): the first refusal, or DATA's final reply."""
    options = [f"SIZE={len(entry.message)}"] if conn.has_extn("size") else []
    if not (entry.envelope.mail_from + entry.envelope.rcpt).isascii():  # RFC 6531: say so, or do not send
        if not conn.has_extn("smtputf8"):
            return 553, b"5.6.7 Must declare SMTPUTF8 to send unicode address"
        options.append("SMTPUTF8")
        conn.command_encoding = "utf-8"
    if conn.has_extn("pipelining"):
        return pipelined(conn, entry.envelope.mail_from, options, entry.envelope.rcpt, entry.message)
    code, text = conn.docmd(f"MAIL FROM:<{entry.envelope.mail_from}>" + "".join(f" {o}" for o in options))
    if code != 250:
        return code, text
    code, text = conn.docmd(f"RCPT TO:<{entry.envelope.rcpt}>")
    if code not in (250, 251):
        return code, text
    return _data(conn, entry.message)


def _close_quietly(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        conn.quit()
    conn.close()


class _SessionCache:
    """Open SMTP sessions kept per (client, next server) for :data:`CACHE_TIME_LIMIT` seconds, at most ``size`` each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pools: dict[tuple[str, str], list[tuple[float, smtplib.SMTP]]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, nxt: str) -> smtplib.SMTP | None:
        now = time.monotonic()
        with self._lock:
            pool = self._pools.get((client, nxt), [])
            while pool:
                since, conn = pool.pop()
                if now - since <= CACHE_TIME_LIMIT:
                    return conn
                _close_quietly(conn)
        return None

    def put(self, client: str, nxt: str, conn: smtplib.SMTP) -> None:
        with self._lock:
            pool = self._pools.setdefault((client, nxt), [])
            if len(pool) < self.size:
                pool.append((time.monotonic(), conn))
                return
        _close_quietly(conn)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = self._pools, {}
        for pool in pools.values():
            for _, conn in pool:
                _close_quietly(conn)


class Sender:
    """The client side of every hop of one running topology (shared by all its servers' queue workers).

    ``where`` maps each server's name to the loopback (address, port) that plays it (a client's address is
    where it sends from); ``cache_size`` is how many idle sessions a relay keeps to each next server.
    """

    def __init__(self, shared: Shared, resolver: dns.resolver.Resolver, client_tls: ssl.SSLContext,
                 where: dict[str, tuple[str, int | None]], cache_size: int) -> None:
        self.shared = shared
        self.resolver = resolver
        self.client_tls = client_tls
        self.where = where
        self._cache = _SessionCache(cache_size)

    def close(self) -> None:
        """Close every cached session."""
        self._cache.close()

    # -- where to ---------------------------------------------------------------------------------
    def find_mx(self, server: Server, domain: str, key: int) -> MXAnswer:
        """Ask the live DNS for ``domain``'s MX records as ``server`` does, note the look-up in journey ``key``."""
        shared = self.shared
        try:
            answer = self.resolver.resolve(domain, "MX")
            records = [(r.preference, r.exchange.to_text().rstrip(".").lower()) for r in answer]
            with shared.rng_lock:
                result = order_mx(domain, records, shared.rng, asking=server.name)
        except dns.resolver.NoAnswer:
            try:
                addresses = [r.address for r in self.resolver.resolve(domain, "A")]
                result = MXAnswer(domain, "implicit", [(0, domain)], [f"{domain}. A {a}" for a in addresses])
            except dns.exception.DNSException:
                result = MXAnswer(domain, "nxdomain", [], [])
        except dns.resolver.NXDOMAIN:
            result = MXAnswer(domain, "nxdomain", [], [])
        except dns.exception.DNSException as err:
            shared.journal.add_lookup(key, Lookup(server.name, domain, "MX", [], f"look-up failed ({err.__class__.__name__}); try again later", 0))
            return MXAnswer(domain, "error", [], [])
        shared.journal.add_lookup(key, Lookup(server.name, domain, "MX", result.records, result.conclusion, 0))
        if result.kind == "implicit":  # the domain's own address: find the server that has it
            target = None
            for rec in result.records:
                found = shared.topology.server_by_ip(rec.split()[-1])
                if found is not None:
                    target = found
                    break
            result.candidates = [(0, target.name)] if target is not None else []
        return result

    def address_of(self, server: Server) -> tuple[str, int] | None:
        """The loopback (address, port) that plays ``server``: its name resolved through the live DNS, then its port."""
        try:
            addresses = [r.address for r in self.resolver.resolve(server.name, "A")]
        except dns.exception.DNSException:
            return None
        for address in addresses:
            target = self.shared.topology.server_by_ip(address)
            if target is not None and target.name in self.where:
                host, port = self.where[target.name]
                if port is not None:
                    return host, port
        return None

    def source_of(self, client: Server) -> str:
        """The loopback address ``client`` sends from (its own; 127.0.0.1 where all share it)."""
        found = self.where.get(client.name)
        return found[0] if found is not None else LOOPBACK

    # -- handing over -----------------------------------------------------------------------------
    def transfer(self, client: Server, nxt: Server, entry: QueueEntry, *,
                 form: dict[str, str] | None = None) -> tuple[str, Reply | None]:
        """Hand ``entry`` from ``client`` to ``nxt`` over a real connection: ("accepted"|"refused"|"unreachable", reply).

        ``form`` is what a mail client posts when ``nxt`` is a webmail front end (HTTP).
        """
        tls, auth, lmtp, http = srv.transfer_protocol(client, nxt)
        if srv.outbound_blocked(client, nxt):  # the client's ISP drops its packets to port 25
            return self.unreachable(client, nxt, entry, f"Connection timed out (the network of {client.name} blocks "
                                    f"outgoing port {srv.port_of(nxt)})", None)
        found = self.address_of(nxt)
        if found is None:
            return self.unreachable(client, nxt, entry, "Host not found in DNS", None)
        host, port = found
        source = self.source_of(client)
        if http:
            return self._post(client, nxt, (host, port), source, entry, form or {})
        caching = client.role not in ("client", "webmail")  # mail programs open a new session per message
        conn = self._reuse(client, nxt, entry.key) if caching else None
        fresh = conn is None
        if conn is None:
            try:  # connecting in the constructor also reads the greeting (and names the host for STARTTLS)
                conn = (smtplib.LMTP if lmtp else smtplib.SMTP)(
                    host, port, local_hostname=client.helo_name, timeout=self.shared.timeout, source_address=(source, 0))
            except smtplib.SMTPConnectError as err:
                return "refused", smtp_reply(err.smtp_code, err.smtp_error)
            except OSError as err:
                return self.unreachable(client, nxt, entry, err.strerror or str(err), (host, port))
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay after the TLS handshake
            self.shared.peers.sending(conn.sock.getsockname()[:2], client, entry.key)
        local_port = conn.sock.getsockname()[:2]  # (address, port): the same port may be in use from another address
        keep = False
        try:
            if fresh:
                self._open_session(conn, tls=tls, auth=auth, login=entry.envelope.mail_from.split("@")[0])
            code, text = _transaction(conn, entry)
            if code != 250:
                return "refused", smtp_reply(code, text)
            keep = caching  # relays keep the session for the next message (Postfix's connection cache)
            return "accepted", smtp_reply(code, text)
        except smtplib.SMTPAuthenticationError as err:
            return "refused", smtp_reply(err.smtp_code, err.smtp_error)
        except (smtplib.SMTPException, OSError) as err:  # a temporary failure: the message is deferred and retried
            return "refused", Reply(421, "4.4.2", f"lost connection with {nxt.name}[{host}]:{port} ({err.__class__.__name__})")
        finally:
            self._release(client, nxt, conn, local_port, keep=keep)

    def _reuse(self, client: Server, nxt: Server, key: int) -> smtplib.SMTP | None:
        """A cached session from ``client`` to ``nxt`` that still answers, registered for journey ``key``."""
        conn = self._cache.take(client.name, nxt.name)
        if conn is None:
            return None
        # Postfix checks a cached session with RSET before using it again (smtp_rset_timeout)
        local_port = conn.sock.getsockname()[:2]
        self.shared.peers.sending(local_port, client, key)
        try:
            usable = conn.rset()[0] == 250
        except (smtplib.SMTPException, OSError):
            usable = False
        if usable:
            return conn
        self.shared.peers.sent(local_port)
        self.shared.peers.end_transaction(local_port)
        conn.close()
        return None

    def _open_session(self, conn: smtplib.SMTP, *, tls: bool, auth: bool, login: str) -> None:
        """EHLO, then STARTTLS and EHLO again when the hop uses TLS, then AUTH when it is a submission."""
        conn.ehlo()
        if (tls or auth) and conn.has_extn("starttls"):  # AUTH is offered only inside TLS (smtpd_tls_auth_only)
            conn.starttls(context=self.client_tls)
            conn.ehlo()
        if auth:
            conn.login(login, self.shared.password)

    def _release(self, client: Server, nxt: Server, conn: smtplib.SMTP, local_port: tuple[str, int], *, keep: bool) -> None:
        """End the transaction on both sides; keep the session in the cache, or say QUIT and close it."""
        peers = self.shared.peers
        if keep:
            peers.end_transaction(local_port)
            peers.sent(local_port)
            self._cache.put(client.name, nxt.name, conn)
        else:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.quit()
            conn.close()
            peers.end_transaction(local_port)
            peers.sent(local_port)

    def _post(self, client: Server, nxt: Server, where: tuple[str, int], source: str, entry: QueueEntry,
              form: dict[str, str]) -> tuple[str, Reply | None]:
        """A mail client's webmail session: the compose form posted with HTTP Basic login."""
        body = urllib.parse.urlencode(form).encode()
        login = entry.envelope.mail_from.split("@")[0]
        token = base64.b64encode(f"{login}:{self.shared.password}".encode()).decode()
        conn = http.client.HTTPConnection(where[0], where[1], timeout=self.shared.timeout, source_address=(source, 0))
        try:
            conn.connect()
        except OSError as err:
            conn.close()
            return self.unreachable(client, nxt, entry, err.strerror or str(err), where)
        local_port = conn.sock.getsockname()[:2]
        self.shared.peers.sending(local_port, client, entry.key)
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
            self.shared.peers.sent(local_port)

    def unreachable(self, client: Server, nxt: Server, entry: QueueEntry, why: str,
                    address: tuple[str, int] | None) -> tuple[str, None]:
        """Record a failed connection attempt in the journey (nobody answered, so no transcript but this)."""
        where = f"{nxt.name}[{address[0]}]:{address[1]}" if address is not None else nxt.name
        text = f"connect to {where}: {why}"
        hop = Hop(n=0, from_name=client.name, ip=self.source_of(client), by_name=nxt.name,
                  by_ip=address[0] if address is not None else None, date=now().replace(microsecond=0),
                  envelope_from=entry.envelope.mail_from, mta=nxt.mta, smtp=[SmtpLine("C", f"({text})")],
                  status="unreachable", decision=text, from_server=client.name, by_server=nxt.name)
        self.shared.journal.add_attempt(entry.key, hop)
        return "unreachable", None
