"""One server of a live topology on loopback: its port, what listens there, and its mail handling.

A :class:`Node` keeps its port for the whole run: while the server is down (not started yet, or taken
down with :meth:`Node.take_down`) a bound but not listening socket holds the port, so connections are
refused and nobody else can take it. :meth:`Node.listen` serves it — SMTP or LMTP
(:mod:`mailhops.live.smtp`) or the webmail's HTTP (:mod:`mailhops.live.webmail`) — in its own thread.

>>> from mailhops.topology import Server
>>> Node.kind_of(Server("imap.example.net", "mailbox", "192.0.2.9")), Node.kind_of(Server("mx.example.net", "mx", "192.0.2.8"))
('lmtp', 'smtp')
>>> node = Node(Server("mx.example.net", "mx", "192.0.2.8"))
>>> node.reserve(0); node.port > 0, node.running
(True, False)
>>> node.close()
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from dataclasses import dataclass

import dns.asyncresolver
import dns.resolver

from ..errors import LiveError
from ..mta import roles as srv
from ..topology import Server
from .loopback_dns import LOOPBACK
from .mailserver import MailServer
from .smtp import LoopbackController, start_server
from .webmail import WebmailServer

#: How many connections wait to be accepted (the kernel caps it at net.core.somaxconn); Postfix's default is 100,
#: which left clients of a 500-connection burst hanging, so the servers ask for more.
BACKLOG = 1024


def bind(port: int, *, listen: bool, host: str = LOOPBACK) -> socket.socket:
    """A TCP socket bound to ``host:port`` (listening if asked); :class:`LiveError` if the port is taken."""
    # proto=IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted connections (it checks the protocol number)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if os.name == "posix":  # rebinding past TIME_WAIT; on Windows SO_REUSEADDR would let two servers share a port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OverflowError:
        sock.close()
        raise LiveError(f"Port {port} is not a port number (0 to 65535); choose another port base.") from None
    except OSError as err:
        sock.close()
        raise LiveError(f"Port {port} on {host} is already in use ({err.strerror}); choose another port base.") from None
    return sock


@dataclass(eq=False)
class Node:
    """A server node; ``kind`` is ``smtp``, ``lmtp`` (a mailbox server), ``http`` (webmail) or ``client`` (no port)."""

    server: Server
    kind: str = "smtp"
    host: str = LOOPBACK
    port: int | None = None
    mail: MailServer | None = None
    controller: LoopbackController | None = None
    webmail: WebmailServer | None = None
    placeholder: socket.socket | None = None

    @staticmethod
    def kind_of(server: Server) -> str:
        if server.role == "mailbox":  # LMTP, unless the MTA delivers over SMTP (Exchange's Mailbox Transport)
            return "lmtp" if srv.transfer_protocol(server, server)[2] else "smtp"
        return {"client": "client", "webmail": "http"}.get(server.role, "smtp")

    @property
    def lmtp(self) -> bool:
        return self.kind == "lmtp"

    @property
    def running(self) -> bool:
        return self.controller is not None or self.webmail is not None

    @property
    def protocol(self) -> str:
        """What the port speaks: SMTP, LMTP or HTTP."""
        return {"http": "HTTP", "lmtp": "LMTP"}.get(self.kind, "SMTP")

    def reserve(self, port: int) -> None:
        """Hold ``port`` (0: one the system chooses) without listening: connections are refused until :meth:`listen`."""
        sock = bind(port, listen=False, host=self.host)
        self.port = sock.getsockname()[1]
        self.placeholder = sock

    def listen(self, *, tls: ssl.SSLContext, resolver: dns.resolver.Resolver, aresolver: dns.asyncresolver.Resolver) -> None:
        """Serve the port: the webmail's HTTP, or SMTP/LMTP with STARTTLS from ``tls`` where the server offers it."""
        assert self.port is not None and self.mail is not None
        if self.placeholder is not None:
            self.placeholder.close()
            self.placeholder = None
        sock = bind(self.port, listen=True, host=self.host)
        if self.kind == "http":
            self.webmail = WebmailServer(sock, self.mail, resolver)
        else:
            self.controller = start_server(sock, self.mail, tls=tls, aresolver=aresolver)

    def silence(self) -> None:
        """Stop listening (the queue keeps working)."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        if self.webmail is not None:
            self.webmail.stop()
            self.webmail = None

    def take_down(self) -> None:
        """Stop listening but keep the port: connections to it are refused, as to a server that is down."""
        self.silence()
        self.placeholder = bind(self.port or 0, listen=False, host=self.host)

    def close(self) -> None:
        """Stop listening and free the port."""
        with contextlib.suppress(Exception):
            self.silence()
        if self.placeholder is not None:
            self.placeholder.close()
            self.placeholder = None

    def address(self) -> tuple[str, int] | None:
        """The (host, port) the listening socket is really bound to, read from the socket itself (None when down)."""
        found = None
        if self.controller is not None and self.controller.server is not None:
            for sock in self.controller.server.sockets:
                found = sock.getsockname()[:2]
        if self.webmail is not None:
            found = self.webmail.address()
        return found
