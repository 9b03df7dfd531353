"""The text :meth:`LiveTopology.describe <mailhops.live.runner.LiveTopology.describe>` shows (``mailhops serve`` prints it).

Which address and port plays which server (one line each: address:port, protocol, host name, role),
then ready-to-paste ways to send a message into the topology (swaks, Python's smtplib, ``openssl s_client
-starttls smtp`` with an ``AUTH PLAIN`` token — AUTH is offered only inside TLS), then where the Maildirs are.

>>> from mailhops.scenarios import get
>>> print(_how_to_send(get("three-hops").build(), {"smtp.example.org": ("127.0.0.3", 2525)}, "mailhops")[0])
Log in as alice (or alice@example.org), password 'mailhops', at smtp.example.org = 127.0.0.3:2525.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path

from ..topology import Topology
from .loopback_dns import LOOPBACK
from .mailboxes import maildir_path
from .node import Node


def describe(topology: Topology, nodes: Iterable[Node], *, dns_port: int | None, password: str,
             directory: Path | None, note: str | None = None) -> str:
    """The whole text: addresses and ports, how to send, Maildirs (when the topology has a directory)."""
    nodes = list(nodes)
    lines = [f"Live topology {topology.name!r} on loopback (DNS on {LOOPBACK} UDP port {dns_port}):"]
    if note:
        lines.append(note)
    lines.append("")
    lines += _ports(nodes)
    lines.append("")
    where = {n.server.name: (n.host, n.port) for n in nodes if n.port is not None}
    lines += _how_to_send(topology, where, password)
    if directory is not None:
        lines.append("Maildirs (new mail appears in new/; the Junk folder is .Junk/):")
        for user in topology.users.values():
            if user.mailbox:
                lines.append(f"  {user.address:<26} {maildir_path(topology, directory, user.address)}")
    return "\n".join(lines)


def _ports(nodes: list[Node]) -> list[str]:
    lines = []
    for node in nodes:
        s = node.server
        if node.kind == "client":
            continue
        state = "" if node.running else "  (down: connections refused)"
        lines.append(f"  {node.host + ':' + str(node.port):<21} {node.protocol:<4}  {s.name:<26} {s.role:<10} "
                     f"{s.label or ''}{state}")
    return lines


def _how_to_send(topology: Topology, where: dict[str, tuple[str, int]], password: str) -> list[str]:
    """How the first user with a mail client can send to the first other user with a mailbox (empty if none)."""
    sender = next((u for u in topology.users.values() if u.client), None)
    rcpt = next((u for u in topology.users.values() if u.mailbox and u is not sender), None)
    if sender is None or rcpt is None or sender.client is None:
        return []
    first = topology.next_servers(sender.client)
    sub = first[0] if first else None
    if sub is not None and sub.role == "webmail":  # the webmail's own submission server takes SMTP
        nxt = topology.next_servers(sub.name)
        sub = nxt[0] if nxt else None
    if sub is None or sub.name not in where:
        return []
    host, port = where[sub.name]
    login = sender.address.split("@")[0]
    token = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
    return [
        f"Log in as {login} (or {sender.address}), password {password!r}, at {sub.name} = {host}:{port}.",
        "",
        "swaks:",
        f"  swaks --server {host}:{port} --tls --auth-user {login} --auth-password {password} \\",
        f"        --from {sender.address} --to {rcpt.address}",
        "",
        "Python:",
        "  import smtplib",
        "  from email.message import EmailMessage",
        f"  msg = EmailMessage(); msg['From'] = '{sender.address}'; msg['To'] = '{rcpt.address}'",
        "  msg['Subject'] = 'Hello'; msg.set_content('Hi!')",
        f"  with smtplib.SMTP('{host}', {port}) as s:",
        f"      s.starttls(); s.login('{login}', '{password}'); s.send_message(msg)",
        "",
        f"openssl s_client -starttls smtp -crlf -quiet -connect {host}:{port}   (then type, line by line:)",
        "  EHLO me.example",
        f"  AUTH PLAIN {token}",
        f"  MAIL FROM:<{sender.address}>",
        f"  RCPT TO:<{rcpt.address}>",
        "  DATA",
        "  Subject: Hello from telnet", "", "  Hi!", "  .",
        "  QUIT",
        "",
    ]
