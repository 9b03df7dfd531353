"""The webmail front end: a small HTTP server on loopback that takes the compose form and sends it on.

It plays Roundcube behind nginx: the browser's ``POST`` of the compose form with HTTP Basic login, the
``with HTTP`` Received line the webmail writes (no queue id, as Roundcube's has none), and then SMTP to
the submission server like any mail client, through the node's
:class:`~mailhops.live.mailserver.MailServer`. The transcript records the request line and headers
(credentials masked), the size of the form, and the status line of the answer.

>>> _WebmailHTTP.daemon_threads, _WebmailHTTP.block_on_close
(True, True)
"""

from __future__ import annotations

import base64
import http.server
import re
import socket
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

import dns.exception
import dns.resolver

from ..errors import TopologyError
from ..journey import SmtpLine
from ..mta import roles as srv
from ..mta.roles import Envelope, Session
from ..topology import check_address, domain_of
from .connections import Connection
from .shared import now

if TYPE_CHECKING:
    from .mailserver import MailServer


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class WebmailServer:
    """``mail``'s webmail front end serving HTTP on ``sock`` (bound and listening) in its own thread."""

    def __init__(self, sock: socket.socket, mail: MailServer, resolver: dns.resolver.Resolver) -> None:
        self._http = _WebmailHTTP(sock.getsockname()[:2], _handler_class(mail, resolver), bind_and_activate=False)
        self._http.socket.close()
        self._http.socket = sock
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"mailhops-http-{mail.server.name}", daemon=True)
        self._thread.start()

    def address(self) -> tuple[str, int]:
        """The (host, port) the listening socket is bound to."""
        return self._http.socket.getsockname()[:2]

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()


def content_length(values: list[str], limit: int) -> int | tuple[int, str]:
    """The body's length from the request's Content-Length fields, or the error to answer (RFC 9110 §8.6).

    >>> content_length(["120"], 1000), content_length(["-1"], 1000), content_length(["abc"], 1000)
    (120, (400, 'Bad Request'), (400, 'Bad Request'))
    >>> content_length([], 1000), content_length(["5000"], 1000), content_length(["1", "2"], 1000)
    ((411, 'Length Required'), (413, 'Content Too Large'), (400, 'Bad Request'))
    """
    if not values:
        return 411, "Length Required"
    if len(values) > 1 or not values[0].strip().isdigit() or not values[0].strip().isascii():
        return 400, "Bad Request"
    length = int(values[0].strip())
    if length > limit:
        return 413, "Content Too Large"
    return length


class _WebmailHTTP(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True


class _ComposeHandler(http.server.BaseHTTPRequestHandler):
    """The webmail's request handler: one ``POST`` of the compose form per message (see :func:`_handler_class`)."""

    mail: MailServer
    resolver: dns.resolver.Resolver
    server_version = "nginx"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        shared = self.mail.shared
        conn = Connection(shared.journal, shared.peers)
        lines = conn.lines
        lines.append(SmtpLine("C", self.requestline))
        for name, value in self.headers.items():
            shown = "Basic ********" if name.lower() == "authorization" else value
            lines.append(SmtpLine("C", f"{name}: {shown}"))
        length = content_length(self.headers.get_all("Content-Length") or [], shared.size_limit)
        if isinstance(length, tuple):  # never read (nor buffer) what is not announced right, or past the limit
            self.close_connection = True
            self._answer(conn, *length)
            return
        body = self.rfile.read(length)
        lines.append(SmtpLine("C", f"({len(body)} bytes of form data: _from, _to, _subject, _message)"))
        try:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=False).items()}
            if any(_CONTROL.search(form.get(name, "")) for name in ("_from", "_to", "_subject")):
                raise ValueError("a control character in a header field")
            sender = check_address(form.get("_from", ""))
            rcpt = check_address(form.get("_to", ""))
        except (TopologyError, ValueError):  # bad UTF-8, a CR or LF in a field: one line of the header each
            self._answer(conn, 400, "Bad Request")
            return
        login = self._login()
        if login is None or login not in (sender, sender.split("@")[0]):
            self._answer(conn, 401, "Unauthorized")
            return
        peer = self.client_address
        found = shared.peers.sender((peer[0], peer[1]))
        if found is not None and shared.distinct and found[0].ip != peer[0]:
            found = None
        client, key = found if found is not None else (None, None)
        if key is None:
            key = shared.journal.new(sender, rcpt)
        message = self._message(form, sender, rcpt)
        sess = Session(client_ip=peer[0], helo="", rdns=self._reverse_name(peer[0]), client=client, http=True)
        conn.client = client
        self.mail.accept(conn, sess, key, Envelope(sender, rcpt), message)
        self._answer(conn, 200, "OK")
        conn.close()

    def _message(self, form: dict[str, str], sender: str, rcpt: str) -> bytes:
        """The message as the webmail writes it from the form (or as posted whole, in ``_raw``)."""
        when = now()
        server = self.mail.server
        if "_raw" in form:
            return form["_raw"].encode("utf-8").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        user = self.mail.shared.topology.users.get(sender)
        return srv.new_message(sender, rcpt, form.get("_subject", ""), form.get("_message", ""),
                               when.astimezone(srv.tz_of(server)), server.domain or domain_of(sender),
                               self.mail.shared.rng, sender_name=user.name if user else None)

    def _reverse_name(self, ip: str) -> str | None:
        try:
            return self.resolver.resolve_address(ip)[0].target.to_text().rstrip(".")
        except dns.exception.DNSException:
            return None

    def _login(self) -> str | None:
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if password == self.mail.shared.password else None

    def _answer(self, conn: Connection, code: int, phrase: str) -> None:
        text = f"{code} {phrase}\n".encode()
        conn.lines.append(SmtpLine("S", f"HTTP/1.1 {code} {phrase}"))
        self.send_response(code, phrase)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)


def _handler_class(mail: MailServer, resolver: dns.resolver.Resolver) -> type[http.server.BaseHTTPRequestHandler]:
    """The request handler class for ``mail``'s webmail server (the stdlib makes one handler per request)."""
    return type("Handler", (_ComposeHandler,), {"mail": mail, "resolver": resolver, "timeout": mail.shared.timeout})
