"""The text :meth:`LiveTopology.describe <mailhops.live.runner.LiveTopology.describe>` shows (``mailhops serve`` prints it).

Which port plays which server, then ready-to-paste ways to send a message into the topology (swaks,
Python's smtplib, telnet with an ``AUTH PLAIN`` token), then where the Maildirs are.

>>> from mailhops.scenarios import get
>>> print(_how_to_send(get("three-hops").build(), {"smtp.example.org": 2525}, "mailhops")[0])
Log in as alice (or alice@example.org), password 'mailhops', at smtp.example.org = 127.0.0.1:2525.
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
             directory: Path | None) -> str:
    """The whole text: ports, how to send, Maildirs (when the topology has a directory)."""
    nodes = list(nodes)
    lines = [f"Live topology {topology.name!r} on {LOOPBACK} (DNS on UDP port {dns_port}):", ""]
    lines += _ports(nodes)
    lines.append("")
    ports = {n.server.name: n.port for n in nodes if n.port is not None}
    lines += _how_to_send(topology, ports, password)
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
        lines.append(f"  {node.port:>5}  {node.protocol:<4}  {s.name:<26} {s.role:<10} {s.label or ''}{state}")
    return lines


def _how_to_send(topology: Topology, ports: dict[str, int], password: str) -> list[str]:
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
    if sub is None or sub.name not in ports:
        return []
    port = ports[sub.name]
    login = sender.address.split("@")[0]
    token = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
    return [
        f"Log in as {login} (or {sender.address}), password {password!r}, at {sub.name} = {LOOPBACK}:{port}.",
        "",
        "swaks:",
        f"  swaks --server {LOOPBACK}:{port} --tls --auth-user {login} --auth-password {password} \\",
        f"        --from {sender.address} --to {rcpt.address}",
        "",
        "Python:",
        "  import smtplib",
        "  from email.message import EmailMessage",
        f"  msg = EmailMessage(); msg['From'] = '{sender.address}'; msg['To'] = '{rcpt.address}'",
        "  msg['Subject'] = 'Hello'; msg.set_content('Hi!')",
        f"  with smtplib.SMTP('{LOOPBACK}', {port}) as s:",
        f"      s.starttls(); s.login('{login}', '{password}'); s.send_message(msg)",
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
