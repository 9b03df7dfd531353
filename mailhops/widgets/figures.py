"""Pictures the lessons show that are not journeys (drawn with graphviz, no widgets)."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["email_vs_xmpp"]


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
