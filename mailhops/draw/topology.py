"""The topology drawing: one cluster per domain, one node per server, the configured links and the DNS MX records.

>>> from mailhops.topology import Topology
>>> t = Topology("demo")
>>> _ = t.add_domain("example.net")
>>> _ = t.add_server("mx.example.net", "mx", "198.51.100.25", domain="example.net", mx_preference=10)
>>> g = render_topology(t)
>>> "MX 10" in g.source and "cluster_" in g.source
True
"""

from __future__ import annotations

from dataclasses import replace

import graphviz

from ..topology import Domain, Server, Topology
from .canvas import Canvas, Node, role_text
from .escape import escape_label, wrap_label
from .themes import Theme, get_theme

__all__ = ["render_topology"]


def render_topology(topology: Topology, *, theme: str | Theme = "light", slide: bool = False) -> graphviz.Digraph:
    """Draw ``topology``: one cluster per domain, one node per server (shape and colour by role),
    configured links as solid arrows, and the DNS MX records the sending side looks up (dotted).

    ``slide=True`` gives a 16:9 picture with titles only (host name and role) in large type.
    """
    long_chain = _longest_chain(topology) > _LR_MAX_CHAIN
    cv = Canvas(get_theme(theme), slide, "topology", rankdir="TB" if slide or long_chain else "LR")
    ids = _draw_servers(cv, topology)
    _draw_links(cv, topology, ids)
    _draw_mx_routes(cv, topology, ids)
    if long_chain and not slide:
        _fold_chain(cv, topology, ids)
    _draw_dns(cv, topology, ids)
    about = "<BR/>".join(wrap_label(topology.description, 120)) if topology.description and not slide else ""
    cv.caption(escape_label(topology.name), subtitle=about)
    return cv.g


def _draw_servers(cv: Canvas, topology: Topology) -> dict[str, str]:
    """Every server, inside its domain's cluster when it has one; returns {server name: node id}."""
    ids: dict[str, str] = {}
    users_on = _users_on(topology)

    def add(server: Server, sub: graphviz.Digraph) -> None:
        ids[server.name] = cv.new_id()
        extra = []
        if server.role in ("mx", "filter") and server.spam_threshold is not None:
            extra.append(f"spam ≥ {server.spam_threshold:g} → {server.spam_action}")
        extra.extend(users_on.get(server.name, [])[:3])
        node = Node(ids[server.name], server.name, server.role, server.ip, down=not server.up,
                    role_text=role_text(server))
        cv.server_node(node, faded=False, extra=extra, slide_titles=cv.slide, in_graph=sub)

    for i, dom in enumerate(topology.domains.values()):
        with cv.g.subgraph(name=f"cluster_d{i}") as sub:
            th = cv.theme
            sub.attr(label=f"<{'<BR/>'.join(_domain_lines(cv, topology, dom))}>", labeljust="l", labelloc="t",
                     style="rounded,filled", fillcolor=th.cluster_fill, color=th.cluster_line,
                     fontcolor=th.foreground, **{"class": "domain"})
            for server in topology.servers.values():
                if server.domain == dom.name:
                    add(server, sub)
    for server in topology.servers.values():
        if server.name not in ids:
            add(server, cv.g)
    return ids


def _users_on(topology: Topology) -> dict[str, list[str]]:
    """{server name: what the users do there ("alice@... writes here", "mailbox of bob@...")}."""
    users_on: dict[str, list[str]] = {}
    for user in topology.users.values():
        if user.client:
            client = topology.servers.get(user.client)
            forged = client is not None and client.domain is not None and user.address.rpartition("@")[2] not in (
                client.domain, *(client.domain.split(".", 1)[1:]))
            # a client outside the address's domain only claims it (spam-accept-then-bounce's bot)
            users_on.setdefault(user.client, []).append(
                f"forges {user.address} as its sender" if forged else f"{user.address} writes here")
        if user.mailbox:
            users_on.setdefault(user.mailbox, []).append(f"mailbox of {user.address}")
    return users_on


def _domain_lines(cv: Canvas, topology: Topology, dom: Domain) -> list[str]:
    """A domain cluster's label: its name, then (not on slides) its forwards, aliases and null MX."""
    lines = [f"<B>{escape_label(dom.name)}</B>"]
    if not cv.slide:
        notes = [f"{u.address} → {u.forward_to} (forward)" for u in topology.users.values()
                 if u.forward_to and u.address.endswith("@" + dom.name)]
        notes += [f"{a} → {b} (alias)" for a, b in dom.aliases.items()]
        if dom.null_mx:
            notes.append("null MX (0 .): accepts no mail")
        lines += [cv.small(escape_label(n)) for n in notes[:4]]
    return lines


def _draw_links(cv: Canvas, topology: Topology, ids: dict[str, str]) -> None:
    """The configured next hops, as solid arrows (named LMTP or port 587 where that is the protocol)."""
    th = cv.theme
    for k, (src, dst) in enumerate(topology.links):
        dst_role = topology.servers[dst].role
        word = {"mailbox": "LMTP", "submission": "port 587, AUTH"}.get(dst_role)
        label = cv.small(escape_label(word), th.foreground) if word else None
        cv.edge(ids[src], ids[dst], th.edges["hop"], label=label, classes=["link"], eid=f"link-{k}")


#: A topology whose longest chain of links has more servers than this is drawn top to bottom (a 16:9-ish box).
_LR_MAX_CHAIN = 5


def _chain(topology: Topology) -> list[str]:
    """The servers on the longest path of configured links (cycles are cut)."""
    nexts: dict[str, list[str]] = {}
    for src, dst in topology.links:
        nexts.setdefault(src, []).append(dst)

    def path(name: str, seen: frozenset[str]) -> list[str]:
        longest = max((path(d, seen | {d}) for d in nexts.get(name, []) if d not in seen), key=len, default=[])
        return [name, *longest]

    return max((path(name, frozenset({name})) for name in nexts), key=len, default=[])


def _longest_chain(topology: Topology) -> int:
    """The number of servers on the longest path of configured links."""
    return len(_chain(topology)) or 1


def _fold_chain(cv: Canvas, topology: Topology, ids: dict[str, str]) -> None:
    """Top to bottom, a long chain of servers of one domain reads in rows of three (left to right), so the
    picture stays a 16:9-ish box rather than a tower."""
    chain = _chain(topology)
    for start in range(0, len(chain), 3):
        row = chain[start:start + 3]
        domains = {topology.servers[name].domain for name in row}
        if len(row) > 1 and len(domains) == 1:
            dom = next(iter(domains))
            index = list(topology.domains).index(dom) if dom in topology.domains else None
            with cv.g.subgraph(name=f"cluster_d{index}" if index is not None else None) as inside, \
                    inside.subgraph() as same:
                same.attr(rank="same")
                for name in row:
                    same.node(ids[name])


def _senders(topology: Topology) -> list[Server]:
    """The servers that send onwards through DNS: submission, relay, forwarder."""
    return [s for s in topology.servers.values() if s.role in ("submission", "relay", "forwarder")]


def _draw_mx_routes(cv: Canvas, topology: Topology, ids: dict[str, str]) -> None:
    """The hand-off each sending server makes through DNS: an arrow to the MX hosts of the other domains
    (SMTP on port 25), beside the dotted lines of the lookup that finds them."""
    th = cv.theme
    k = 0
    for server in _senders(topology):
        for dom in topology.domains.values():
            if dom.name == server.domain:
                continue
            for pref, mx in topology.mx_hosts(dom.name):
                label = cv.small(escape_label(f"port 25 (MX {pref})"), th.foreground)
                style = th.edges["hop"] if mx.up else replace(th.edges["unreachable"], color=th.edges["hop"].color)
                cv.edge(ids[server.name], ids[mx.name], style, label=label, classes=["mx-route"],
                        eid=f"mx-route-{k}", tooltip=escape_label(
                            f"{server.name} → {mx.name}: SMTP on port 25, found by the MX lookup of {dom.name}"))
                k += 1


def _draw_dns(cv: Canvas, topology: Topology, ids: dict[str, str]) -> None:
    """The MX records as one DNS note pointing at each MX, and the servers that look them up
    (those that send onwards: submission, relay, forwarder)."""
    records: list[tuple[str, str, Server | None]] = []
    for dom in topology.domains.values():
        if dom.null_mx:
            records.append((dom.name, "MX 0 .", None))
        for pref, server in topology.mx_hosts(dom.name):
            records.append((dom.name, f"MX {pref} {server.name}", server))
    if not records:
        return
    th = cv.theme
    dns = cv.new_id()
    rows = [f'<TR><TD COLSPAN="2"><B>{escape_label("DNS")}</B></TD></TR>']
    for r, (dom_name, text, _) in enumerate(records):
        rows.append(f'<TR><TD ALIGN="LEFT">{escape_label(dom_name)}</TD>'
                    f'<TD ALIGN="LEFT" PORT="r{r}">{escape_label(text)}</TD></TR>')
    cv.g.node(dns, label=f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="3">{"".join(rows)}</TABLE>>',
              shape="note", fillcolor=th.fills["dns"], color=th.muted, **{"class": "dns"})
    dns_style = th.edges["dns"]
    for r, (_, _text, server) in enumerate(records):
        if server is not None:
            cv.edge(f"{dns}:r{r}", ids[server.name], dns_style, label=None, classes=["dns"], eid=f"mx-{r}")
    for k, server in enumerate(_senders(topology)):
        cv.edge(ids[server.name], dns, dns_style, label=cv.small(escape_label("MX lookup"), th.foreground),
                classes=["dns", "lookup"], eid=f"lookup-{k}")
