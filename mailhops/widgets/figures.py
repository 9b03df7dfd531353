"""Pictures the lessons show that are not journeys (drawn with graphviz, no widgets)."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["HOP_REASONS", "email_vs_xmpp", "hop_reasons"]


def email_vs_xmpp(theme: str = "light") -> Any:
    """Lesson 1's picture: an email's store-and-forward path above XMPP's direct server-to-server link,
    column by column (the sender's server above the sender's server, the recipient's above the recipient's).

    >>> g = email_vs_xmpp()
    >>> "_xmpp-server._tcp" in g.source and "MX example.net" in g.source
    True
    """
    import graphviz

    from ..draw.themes import get_theme

    th = get_theme(theme)
    font = "Liberation Sans"
    g = graphviz.Digraph("email_vs_xmpp", graph_attr={
        "rankdir": "LR", "bgcolor": th.background, "fontname": font, "nodesep": "0.3", "ranksep": "0.45",
        "newrank": "true"})
    g.attr("node", fontname=font, fontsize="11", style="filled,rounded", shape="box", color=th.muted,
           fontcolor=th.foreground)
    g.attr("edge", fontname=font, fontsize="10", color=th.foreground, fontcolor=th.foreground)

    def box(sub: Any, nid: str, title: str, note: str, fill: str) -> None:
        sub.node(nid, label=f"<<B>{html.escape(title)}</B><BR/><FONT POINT-SIZE='9'>{html.escape(note)}</FONT>>",
                 fillcolor=fill)

    with g.subgraph(name="cluster_xmpp") as x:
        x.attr(label="Chat (XMPP): one direct server-to-server link", fontsize="13", color=th.muted, style="rounded")
        box(x, "x0", "Alice's chat app", "connected all the time", "#e8f1fb")
        box(x, "x1", "xmpp.example.org", "Alice's server", "#e8f1fb")
        box(x, "x2", "xmpp.example.net", "Bob's server", "#fdf0d5")
        box(x, "x3", "Bob's chat app", "gets it at once if online", "#f3f3f3")
        x.edge("x0", "x1", label="client-to-server\nstream")
        x.edge("x1", "x2", label="server-to-server, direct\n(DNS SRV _xmpp-server._tcp)")
        x.edge("x2", "x3", label="pushed now,\nor stored if offline")
    with g.subgraph(name="cluster_email") as e:
        e.attr(label="Email (SMTP): store and forward, hop by hop", fontsize="13", color=th.muted, style="rounded")
        box(e, "m0", "Alice's laptop", "mail program", "#e8f1fb")
        box(e, "m1", "smtp.example.org", "her provider's submission server", "#e8f1fb")
        box(e, "m2", "mx.example.net", "Bob's MX (found in DNS)", "#fdf0d5")
        box(e, "m3", "imap.example.net", "Bob's mailbox: keeps it", "#e6f4ea")
        box(e, "m4", "Bob's phone", "fetches later (IMAP)", "#f3f3f3")
        e.edge("m0", "m1", label="1  SMTP, port 587,\nlogged in")
        e.edge("m1", "m2", label="2  SMTP, port 25\n(after DNS: MX example.net?)")
        e.edge("m2", "m3", label="3  LMTP")
        e.edge("m3", "m4", label="whenever Bob\nlooks", style="dashed")
    return g


#: Why a message takes several hops, one line each: (number, short name, the hop it explains). The closing
#: lesson's six points and :func:`hop_reasons` share these words.
HOP_REASONS: tuple[tuple[int, str, str], ...] = (
    (1, "trust", "receivers trust a provider's server, not a home connection: the laptop submits to its MSA, logged in"),
    (2, "queue", "someone must keep trying while the next server is down: the sending server queues and retries"),
    (3, "DNS", "the recipient's domain names its own inbound servers (MX, with backups): the next hop is found in DNS"),
    (4, "one job per box", "filters, virus scanners, archives, alias expanders and routers each take a hop"),
    (5, "addresses move", "a forwarder or a mailing list accepts the message and sends it on: one more hop"),
    (6, "nobody is always on", "the mailbox server (MDA) keeps the message until Bob's phone fetches it"),
)


def hop_reasons(theme: str = "light") -> Any:
    """The closing lesson's picture: one route with every reason for a hop, each arrow numbered by the reason
    (:data:`HOP_REASONS`) that explains it.

    >>> g = hop_reasons()
    >>> all(f"({n})" in g.source for n, _, _ in HOP_REASONS) and "mh_desc" in g.source
    True
    """
    import graphviz

    from ..draw.themes import get_theme

    th = get_theme(theme)
    font = "Liberation Sans"
    reasons = {n: f"({n}) {name}" for n, name, _ in HOP_REASONS}
    desc = " ".join(f"({n}) {name}: {text}." for n, name, text in HOP_REASONS)
    g = graphviz.Digraph("hop_reasons", graph_attr={
        "rankdir": "TB", "newrank": "true", "bgcolor": th.background, "fontname": font, "nodesep": "0.5",
        "ranksep": "0.55",
        "mh_title": "Why an email takes several hops: every reason on one route", "mh_desc": desc,
        "label": "Each arrow is a hop; the number says which reason makes it a separate hop.", "fontsize": "11",
        "fontcolor": th.foreground, "labelloc": "b"})
    g.attr("node", fontname=font, fontsize="11", style="filled,rounded", shape="box", color=th.muted,
           fontcolor=th.foreground)
    g.attr("edge", fontname=font, fontsize="10", color=th.foreground, fontcolor=th.foreground)

    def box(sub: Any, nid: str, title: str, note: str, fill: str, **attrs: str) -> None:
        sub.node(nid, label=f"<<B>{html.escape(title)}</B><BR/><FONT POINT-SIZE='9'>{html.escape(note)}</FONT>>",
                 fillcolor=fill, **attrs)

    sender, recipient, middle = "#e8f1fb", "#fdf0d5", "#f3f3f3"
    with g.subgraph(name="cluster_org") as s:
        s.attr(label="example.org (Alice's provider)", fontsize="11", color=th.muted, style="rounded")
        box(s, "laptop", "Alice's laptop", "MUA: not always on", sender)
        box(s, "msa", "smtp.example.org", "MSA + MTA: checks who you are; queues", sender)
    box(g, "fwd", "mx.alumni.university.example", "forwarder: the old address", middle)
    with g.subgraph(name="cluster_net") as r:
        r.attr(label="example.net (Bob's organisation)", fontsize="11", color=th.muted, style="rounded")
        box(r, "mx1", "mx1.example.net", "MX 10: may be down", recipient)
        box(r, "mx2", "mx2.example.net", "MX 20: the backup", recipient)
        box(r, "filter", "spamfilter.example.net", "anti-spam, anti-virus, archive", recipient)
        box(r, "router", "hub.example.net", "alias expansion, internal routing", recipient)
        box(r, "mda", "imap.example.net", "MDA + mailbox: keeps it", recipient)
    box(g, "phone", "Bob's phone", "MUA: fetches later (IMAP)", middle)
    for row in (("laptop", "msa", "fwd"), ("mx1", "mx2"), ("filter", "router", "mda", "phone")):
        with g.subgraph() as same:
            same.attr(rank="same")
            for nid in row:
                same.node(nid)
    g.edge("laptop", "msa", label=f"{reasons[1]}\nport 587, logged in")
    g.edge("msa:n", "msa:n", label=f"{reasons[2]}\nretry: 5, 10, 20 min … 5 days", style="dashed")
    g.edge("msa", "fwd", label="to bob@alumni…", style="dashed")
    g.edge("fwd", "mx2", label=f"{reasons[5]}\nthen (3) its MX", style="dashed")
    g.edge("msa", "mx1", label=f"{reasons[3]}\nMX example.net?", color=th.muted, fontcolor=th.muted, arrowhead="tee")
    g.edge("msa", "mx2", label=f"{reasons[3]}\nnext MX")
    g.edge("mx2", "filter", label=reasons[4])
    g.edge("filter", "router", label=reasons[4])
    g.edge("router", "mda", label=reasons[4])
    g.edge("mda", "phone", label=f"{reasons[6]}\nwhenever Bob looks", style="dotted")
    return g

