"""ipywidgets for the lessons: a scenario explorer, a hop stepper, a header view, a topology builder,
an MX look-up panel and an export button, and :func:`app`, which puts them together.

Every widget is a thin layer over the package: the simulator (:mod:`mailhops.simulate`) makes the
journey, :mod:`mailhops.render` draws it, and the functions at the top of this module
(:func:`headers_at`, :func:`apply_knobs`, ...) decide what to show. Those are plain functions, tested
without Jupyter; the widgets only wire them to controls. Widget state is kept in ``.value`` of HTML
widgets and in ``.outputs`` of Output widgets, so it can be checked without a running kernel.

>>> from mailhops import scenarios
>>> journey = scenarios.run("three-hops")
>>> [line.hop for line in headers_at(journey, 2) if line.kind == "trace"]  # the MX adds SPF results too
[2, 2, 2, 1]
>>> stepper = HopStepper(journey)
>>> stepper.slider.value = 2
>>> stepper.highlighted, stepper.shown_hops
(2, [2, 1])
"""

from __future__ import annotations

import base64
import functools
import html
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ipywidgets as W

from .. import draw as rd
from .. import scenarios as sc
from ..dns import TopologyDNS, live_mx
from ..errors import DNSLookupError, MailhopsError
from ..journey import Hop, Journey
from ..mta.roles import message_id
from ..simulate import dns_for, send
from ..topology import MTAS, ROLES, SPAM_ACTIONS, Topology, domain_of

__all__ = [
    "AnalyzePanel",
    "App",
    "DiagramView",
    "ExportPanel",
    "HeaderLine",
    "HeaderView",
    "HopStepper",
    "Knobs",
    "MXLookupPanel",
    "ScenarioExplorer",
    "TopologyBuilder",
    "app",
    "apply_knobs",
    "diagram",
    "email_vs_xmpp",
    "header_fields",
    "headers_at",
    "live_lookup_text",
    "mx_order_text",
    "recipients_of",
    "relevant_knobs",
    "run_with",
]

_MONO = "'Liberation Mono', 'DejaVu Sans Mono', Menlo, Consolas, monospace"
_NEW_BG = "#fff3bf"
#: Header and dialogue views look like a sheet of paper, readable in JupyterLab's light and dark themes alike.
_PAPER = "background:#ffffff;color:#1f1f1f;padding:6px 8px;border-radius:4px;"
_NEW_BAR = "#e69f00"


# ============================================================================ headers, step by step
def header_fields(raw: bytes | str | None) -> list[str]:
    """The header fields of a raw message, top to bottom, each with its folded lines joined by ``\\n``.

    >>> header_fields(b"Received: from a\\r\\n\\tby b; x\\r\\nSubject: hi\\r\\n\\r\\nbody")
    ['Received: from a\\n\\tby b; x', 'Subject: hi']
    """
    if raw is None:
        return []
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.replace("\r\n", "\n")
    head = text.split("\n\n", 1)[0]
    fields: list[str] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] += "\n" + line
        elif line:
            fields.append(line)
    return fields


def _norm(field_text: str) -> str:
    return " ".join(field_text.split())


@dataclass(frozen=True)
class HeaderLine:
    """One header field in the header view: ``hop`` that added it (``None`` for the sender's own fields),
    ``kind`` ``"trace"`` (added by a server) or ``"original"`` (written by the mail program), ``new``
    when the hop being shown added it."""

    hop: int | str | None
    text: str
    kind: str
    new: bool = False


def _fields_by_hop(journey: Journey) -> tuple[dict[int, list[str]], list[str]]:
    """(the fields each hop added, top to bottom; the fields the sender's mail program wrote).

    A simulated hop knows the fields it added. For a message read from real headers, each Received
    field belongs to its hop (the bottom one is hop 1), and any field between two Received fields to the
    hop of the Received just below it (servers prepend their other fields above their Received).
    """
    fields = header_fields(journey.message)
    if journey.hops and all(h.added_headers for h in journey.hops):
        added = {h.n: [f.replace("\r\n", "\n") for f in h.added_headers] for h in journey.hops}
        count = sum(len(v) for v in added.values())
        flat = sorted(_norm(f) for v in added.values() for f in v)
        if count <= len(fields) and sorted(_norm(f) for f in fields[:count]) == flat:
            return added, fields[count:]
        stamped = set(flat)
        return added, [f for f in fields if _norm(f) not in stamped]
    received = [i for i, f in enumerate(fields) if f.lower().startswith("received:")]
    if not received:
        return {}, fields
    by_hop: dict[int, list[str]] = {}
    total = len(received)
    group: list[str] = []
    for i, f in enumerate(fields[: received[-1] + 1]):
        group.append(f)
        if i in received:
            n = total - received.index(i)
            by_hop[n] = group
            group = []
    return by_hop, fields[received[-1] + 1:]


def _split_step(step: int | str | None) -> tuple[bool, int]:
    if step is None:
        return False, 0
    if isinstance(step, str) and step[:1] in ("B", "b"):
        return True, int(step[1:])
    return False, int(step)


def headers_at(journey: Journey, step: int | str | None) -> list[HeaderLine]:
    """The header fields a message carries after ``step`` (hop ``k``, or ``"Bk"`` for the bounce's hop k).

    Newest on top, as in a real message: the fields of hop ``step`` first (``new=True``), then those of
    the hops before it, then the fields the sender's mail program wrote. ``step=None`` or ``0`` gives the
    message before any server touched it. For a bounce step the message is the bounce (DSN) itself.

    >>> from mailhops import scenarios
    >>> lines = headers_at(scenarios.run("three-hops"), 1)
    >>> [(line.hop, line.new) for line in lines if line.kind == "trace"]
    [(1, True)]
    >>> lines[-1].kind, lines[-1].text.split(":")[0]
    ('original', 'MIME-Version')
    """
    bounce, k = _split_step(step)
    source = journey.bounce if bounce and journey.bounce is not None else journey
    label: Callable[[int], int | str] = (lambda n: f"B{n}") if bounce else (lambda n: n)
    by_hop, original = _fields_by_hop(source)
    out: list[HeaderLine] = []
    for n in sorted((n for n in by_hop if n <= k), reverse=True):
        out += [HeaderLine(label(n), f, "trace", n == k) for f in by_hop[n]]
    out += [HeaderLine(None, f, "original") for f in original]
    return out


def _step_hops(journey: Journey, step: int | str | None) -> tuple[Journey, list[Hop]]:
    """The journey (main or bounce) a step belongs to and its transfers at that step, failed ones first."""
    bounce, k = _split_step(step)
    source = journey.bounce if bounce and journey.bounce is not None else journey
    return source, [h for h in source.timeline() if h.n == k]


def step_caption(journey: Journey, step: int | str | None) -> str:
    """One plain sentence about what happens at ``step``.

    >>> from mailhops import scenarios
    >>> step_caption(scenarios.run("three-hops"), 1)
    'Hop 1: laptop.example.org hands the message to smtp.example.org with ESMTPSA; it accepts it (queue id F7242485E3A).'
    """
    if step in (None, 0):
        who = journey.envelope_from or "the sender"
        return (f"Before the first hop: the message as {who}'s mail program wrote it. "
                "Press Step to send it one hop further.")
    source, hops = _step_hops(journey, step)
    bounce = source is not journey
    parts = []
    for hop in hops:
        sender = hop.from_server or hop.from_name or "?"
        if hop.status == "accepted":
            qid = f" (queue id {hop.id})" if hop.id else ""
            parts.append(f"{sender} hands the message to {hop.by_name} with {hop.with_}; it accepts it{qid}.")
            if hop.decision and hop.decision != "accepted":
                parts.append(f"Then: {hop.decision}.")
        elif hop.status == "unreachable":
            parts.append(f"{sender} cannot reach {hop.by_name}: the server is down (no Received header).")
        else:
            reply = hop.decision.split(": ", 1)[-1] if hop.decision else hop.status
            parts.append(f"{sender} offers it to {hop.by_name}, which refuses: {reply}.")
    head = f"Bounce hop {str(step)[1:]}" if bounce else f"Hop {step}"
    text = f"{head}: " + " ".join(parts)
    if bounce and str(step) == "B1":
        text += " The bounce is a new message, sent with the null sender MAIL FROM:<>."
    return text


def _header_html(lines: list[HeaderLine], step: int | str | None) -> str:
    rows = []
    shown_original = False
    for line in lines:
        text = html.escape(line.text)
        if line.kind == "original" and not shown_original:
            shown_original = True
            rows.append('<div style="margin:6px 0 2px;color:#666;font-family:sans-serif;font-size:12px">'
                        "&#8595; written by the sender's mail program (the servers' lines above were added on top)</div>")
        if line.kind == "trace":
            tag = f"hop {line.hop}"
            style = (f"background:{_NEW_BG};border-left:4px solid {_NEW_BAR};" if line.new
                     else "border-left:4px solid #d0d0d0;")
            badge = (f'<span style="float:right;font-family:sans-serif;font-size:11px;color:#8a5a00">'
                     f'{"new: " if line.new else ""}{tag}</span>')
            rows.append(f'<div class="mh-field mh-trace{" mh-new" if line.new else ""}" data-hop="{line.hop}" '
                        f'style="{style}padding:2px 6px;margin:1px 0">{badge}{text}</div>')
        else:
            rows.append(f'<div class="mh-field mh-original" style="border-left:4px solid transparent;'
                        f'padding:2px 6px;color:#555">{text}</div>')
    if not any(line.kind == "trace" for line in lines):
        rows.insert(0, '<div style="color:#666;font-family:sans-serif;font-size:12px;margin-bottom:4px">'
                       "No server has handled the message yet, so it has no trace headers.</div>")
    return (f'<div style="{_PAPER}font-family:{_MONO};font-size:12px;white-space:pre-wrap;line-height:1.35;'
            f'max-height:420px;overflow:auto">{"".join(rows)}</div>')


def _smtp_html(journey: Journey, step: int | str | None) -> str:
    if step in (None, 0):
        return f'<div style="{_PAPER}color:#555">Step to a hop to see what the two servers said to each other.</div>'
    _, hops = _step_hops(journey, step)
    blocks = []
    for hop in hops:
        who = f"{hop.from_server or hop.from_name} &#8594; {hop.by_name}"
        rows = []
        for line in hop.smtp:
            color = "#0b5394" if line.side == "C" else "#38761d"
            side = "client" if line.side == "C" else "server"
            rows.append(f'<div style="color:{color}"><b>{line.side}:</b> {html.escape(line.text)}'
                        f'<span style="display:none"> ({side})</span></div>')
        blocks.append(f'<div style="margin-bottom:8px"><div style="font-family:sans-serif;font-weight:bold">{who}'
                      f' <span style="font-weight:normal;color:#666">({html.escape(hop.status)})</span></div>'
                      f'<div style="font-family:{_MONO};font-size:12px;white-space:pre-wrap">{"".join(rows)}</div></div>')
    return f'<div style="{_PAPER}">' + ("".join(blocks) or "<p>No dialogue at this step.</p>") + "</div>"


def _outcome_html(journey: Journey) -> str:
    parts = []
    if journey.outcome is not None:
        o = journey.outcome
        parts.append(f"<p><b>Outcome: {html.escape(o.kind)} ({html.escape(o.status)})</b><br>{html.escape(o.detail)}</p>")
    for note in journey.notes:
        parts.append(f"<p>Note: {html.escape(note)}</p>")
    for copy in journey.copies:
        parts.append(f"<p>Copy: {html.escape(copy)}</p>")
    for lookup in journey.lookups:
        answers = "<br>".join(html.escape(a) for a in lookup.answers) or "(no answer)"
        parts.append(f'<p>DNS before hop {lookup.before_hop}: {html.escape(lookup.asked_by)} asks '
                     f'{lookup.rdtype} {html.escape(lookup.qname)}<br><span style="font-family:{_MONO}">{answers}</span>'
                     f"<br>&#8594; {html.escape(lookup.conclusion)}</p>")
    return f'<div style="{_PAPER}">' + "".join(parts) + "</div>"


# ============================================================================ scenario knobs
@dataclass(frozen=True)
class Knobs:
    """The changes the scenario explorer can make to a scenario.

    ``spam``: ``"scenario"`` (as built), ``"off"``, or a spam action (reject, bounce, drop, junk);
    ``spammy``: send the scenario's spam-like message (``None``: the scenario's own message);
    ``primary_mx_down`` (``None``: as in the scenario); ``forwarder``: write to a forwarding address
    that forwards to the recipient; ``hop_limit``: the limit every server applies (``None``: each MTA's
    default); ``recipient`` (``None``: the scenario's).
    """

    spam: str = "scenario"
    spammy: bool | None = None
    primary_mx_down: bool | None = None
    forwarder: bool = False
    hop_limit: int | None = None
    recipient: str | None = None


FORWARDING_DOMAIN = "alumni.example.edu"


@functools.lru_cache(maxsize=64)
def _facts(name: str) -> tuple[tuple[str, ...], tuple[str, ...], Knobs]:
    """(relevant knobs, recipients, defaults) of a scenario; scenarios never change, so this is cached."""
    scenario = sc.get(name)
    return tuple(relevant_knobs(scenario)), tuple(recipients_of(scenario)), scenario_defaults(scenario)


def recipients_of(scenario: sc.Scenario) -> list[str]:
    """Addresses worth writing to in ``scenario``: its own recipient first, then its other users and aliases.

    >>> recipients_of(sc.get("migration"))
    ['bob@example.net', 'carol@example.net']
    """
    topo = scenario.build()
    out = [scenario.recipient]
    for user in topo.users.values():
        if user.address != scenario.sender and (user.mailbox or user.forward_to):
            out.append(user.address)
    for dom in topo.domains.values():
        out.extend(dom.aliases)
    return list(dict.fromkeys(out))


def _primary_mx(topo: Topology, domain: str) -> str | None:
    mxs = topo.mx_hosts(domain)
    return mxs[0][1].name if mxs else None


def relevant_knobs(scenario: sc.Scenario) -> list[str]:
    """The knobs that change something in ``scenario`` (the explorer hides the others).

    >>> relevant_knobs(sc.get("three-hops"))
    ['spam', 'spammy', 'primary_mx_down', 'forwarder', 'hop_limit']
    """
    topo = scenario.build()
    roles = {s.role for s in topo.servers.values()}
    knobs = []
    if scenario.name not in ("forwarding-loop", "deferred"):
        knobs += ["spam", "spammy"]
    if scenario.name != "forwarding-loop" and _primary_mx(topo, domain_of(scenario.recipient)):
        knobs.append("primary_mx_down")
    if "forwarder" not in roles and FORWARDING_DOMAIN not in topo.domains:
        knobs.append("forwarder")
    knobs.append("hop_limit")
    if len(recipients_of(scenario)) > 1:
        knobs.append("recipient")
    return knobs


def scenario_defaults(scenario: sc.Scenario) -> Knobs:
    """The knob values that reproduce ``scenario`` exactly as built."""
    topo = scenario.build()
    primary = _primary_mx(topo, domain_of(scenario.recipient))
    return Knobs(spammy=scenario.subject == sc.SPAM_SUBJECT,
                 primary_mx_down=(not topo.servers[primary].up) if primary else False,
                 recipient=scenario.recipient)


def apply_knobs(scenario: sc.Scenario, knobs: Knobs) -> tuple[Topology, str, str, str]:
    """Build ``scenario`` changed by ``knobs``: (topology, recipient, subject, body) to send.

    >>> topo, rcpt, subject, _ = apply_knobs(sc.get("three-hops"), Knobs(primary_mx_down=True))
    >>> topo.server("mx.example.net").up, rcpt
    (False, 'bob@example.net')
    """
    topo = scenario.build()
    recipient = knobs.recipient or scenario.recipient
    spammy = (scenario.subject == sc.SPAM_SUBJECT) if knobs.spammy is None else knobs.spammy
    if spammy:
        subject, body = sc.SPAM_SUBJECT, sc.SPAM_BODY
    elif scenario.subject == sc.SPAM_SUBJECT:
        subject, body = "Lunch on Friday?", "Hi Bob,\n\nshall we have lunch on Friday?\n\nAlice\n"
    else:
        subject, body = scenario.subject, scenario.body
    if knobs.spam == "off":
        for server in topo.servers.values():
            server.spam_threshold = None
    elif knobs.spam in SPAM_ACTIONS:
        filters = [s for s in topo.servers.values() if s.spam_threshold is not None]
        if not filters:
            filters = [s for s in topo.servers.values() if s.role == "filter"][:1]
        if not filters:
            primary = _primary_mx(topo, domain_of(recipient))
            filters = [topo.servers[primary]] if primary else []
        for server in filters:
            server.spam_threshold = server.spam_threshold if server.spam_threshold is not None else 5.0
            server.spam_action = knobs.spam
    if knobs.primary_mx_down is not None:
        primary = _primary_mx(topo, domain_of(recipient))
        if primary is not None:
            topo.servers[primary].up = not knobs.primary_mx_down
    if knobs.forwarder and domain_of(recipient) != FORWARDING_DOMAIN:
        if FORWARDING_DOMAIN not in topo.domains:
            topo.add_domain(FORWARDING_DOMAIN)
            topo.add_server(f"mx.{FORWARDING_DOMAIN}", "forwarder", "198.51.100.200", domain=FORWARDING_DOMAIN,
                            mx_preference=10, label="alumni forwarding service")
        address = f"{recipient.split('@')[0]}@{FORWARDING_DOMAIN}"
        if address not in topo.users:
            topo.add_user(address, forward_to=recipient)
        recipient = address
    if knobs.hop_limit is not None:
        for server in topo.servers.values():
            server.hop_limit = knobs.hop_limit
    return topo, recipient, subject, body


def run_with(name: str, knobs: Knobs | None = None, *, seed: int = 0, live: bool = False) -> tuple[Journey, Topology]:
    """Run scenario ``name`` changed by ``knobs``; returns the journey and the topology it crossed.

    By default the journey is simulated; with ``live=True`` the same topology starts as real servers on
    127.0.0.1 (:class:`mailhops.live.LiveTopology`), the message crosses them, and they stop again. A
    live journey that delivered carries, in ``journey.message``, the message as read back from the Maildir.

    >>> journey, _ = run_with("three-hops", Knobs(primary_mx_down=True))
    >>> journey.outcome.kind
    'deferred'
    >>> journey, _ = run_with("three-hops", live=True)
    >>> journey.source, journey.outcome.kind, [h.with_ for h in journey.hops]
    ('live', 'delivered', ['ESMTPSA', 'ESMTPS', 'LMTP'])
    """
    scenario = sc.get(name)
    topo, recipient, subject, body = apply_knobs(scenario, knobs or Knobs())
    if live:
        from ..live import LiveTopology

        with LiveTopology(topo, seed=seed) as servers:
            journey = servers.send(scenario.sender, recipient, subject=subject, body=body, timeout=60.0)
            outcome = journey.outcome
            if outcome is not None and outcome.mailbox and outcome.kind in ("delivered", "junk") and journey.message:
                wanted = message_id(journey.message)
                box = servers.maildir(outcome.mailbox, outcome.folder)
                for key in box.keys():
                    if box.get_message(key)["Message-ID"] == wanted:
                        journey.message = box.get_bytes(key).replace(b"\n", b"\r\n")
                        break
    else:
        journey = send(topo, scenario.sender, recipient, subject=subject, body=body, seed=seed)
    journey.scenario = scenario.name
    return journey, topo


# ============================================================================ the widgets
def _error_html(message: str) -> str:
    return (f'<div class="mailhops-error" style="color:#8b1a1a;background:#fdecea;border-left:4px solid #d55e00;'
            f'padding:4px 8px">&#9888; {html.escape(message)}</div>')


def _ok_html(message: str) -> str:
    return (f'<div class="mailhops-ok" style="color:#1d4d2b;background:#e8f5ec;border-left:4px solid #009e73;'
            f'padding:4px 8px">&#10003; {html.escape(message)}</div>')


#: Widest picture Graphviz draws for a widget, in inches (72 pt each); the browser then shrinks it to the
#: cell's width (see :data:`STYLE`), so this only keeps very long journeys from becoming unreadably thin.
FIT_WIDTH_IN = 18.0

#: CSS for the widgets: a diagram shrinks to the width of its cell instead of being cut off at the right edge
#: (JupyterLab shows SVG as an ``<img>`` at its natural size inside widget outputs).
STYLE = """<style>
.mailhops-diagram, .mailhops-diagram .jp-OutputArea, .mailhops-diagram .jp-OutputArea-child,
.mailhops-diagram .jp-OutputArea-output { max-width: 100%; min-width: 0; }
.mailhops-diagram img { max-width: 100%; height: auto; }
</style>"""


def _style() -> W.HTML:
    """An invisible HTML widget that carries :data:`STYLE` into the page."""
    return W.HTML(STYLE, layout=W.Layout(display="none"))


def fit_width(graph: Any, width_in: float = FIT_WIDTH_IN) -> Any:
    """A copy of ``graph`` that Graphviz scales down (never up) to at most ``width_in`` inches wide.

    JupyterLab shows an SVG at its natural size inside widgets, so a long journey would be cut off at the
    right edge; slides (a fixed ``size`` already set) are left alone.

    >>> fit_width(rd.render(Topology("t"))).graph_attr["size"]
    '18,40'
    """
    import graphviz

    if not isinstance(graph, (graphviz.Digraph, graphviz.Graph)) or graph.graph_attr.get("size"):
        return graph
    copy = graph.copy()
    copy.graph_attr["size"] = f"{width_in:g},40"
    return copy


class Diagram:
    """A diagram for a notebook cell: Jupyter shows it as SVG (or, without Graphviz, a friendly note).

    >>> "image/svg+xml" in diagram(Topology("empty"))._repr_mimebundle_()
    True
    """

    def __init__(self, obj: Any, **kw: Any) -> None:
        self.obj, self.kw = obj, kw

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return rd.repr_mimebundle(fit_width(rd.render(self.obj, **self.kw)))

    def svg(self) -> str:
        return rd.to_svg(fit_width(rd.render(self.obj, **self.kw)))


def diagram(obj: Any, **kw: Any) -> Diagram:
    """Show ``obj`` (a Journey, a Topology or a graphviz graph) as a picture; keywords as :func:`mailhops.render.render`."""
    return Diagram(obj, **kw)


class DiagramView(W.Output):
    """An Output area that shows one diagram as SVG (CSS class ``mailhops-diagram``).

    The SVG goes in as display data, so JupyterLab renders it as an image; ``.svg`` holds its text.
    """

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("layout", W.Layout(width="100%", overflow="auto"))
        super().__init__(**kw)
        self.add_class("mailhops-diagram")
        self.svg: str | None = None
        self.drawn: tuple[Any, dict[str, Any]] | None = None
        self._cache: dict[Any, dict[str, str]] = {}

    def draw(self, obj: Any, *, cache_key: Any = None, **kw: Any) -> None:
        """Replace the picture by the diagram of ``obj`` (keywords as :func:`mailhops.render.render`)."""
        bundle = self._cache.get(cache_key) if cache_key is not None else None
        if bundle is None:
            bundle = rd.repr_mimebundle(fit_width(rd.render(obj, **kw)))
            if cache_key is not None:
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[cache_key] = bundle
        data = dict(bundle)
        data.setdefault("text/plain", "(a mailhops diagram)")
        self.svg = data.get("image/svg+xml")
        self.drawn = (obj, kw)
        self.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


class HeaderView(W.HTML):
    """The message's header fields, newest on top, the latest hop's lines highlighted (class ``mailhops-headers``)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.add_class("mailhops-headers")
        self.lines: list[HeaderLine] = []

    def show(self, journey: Journey, step: int | str | None) -> None:
        self.lines = headers_at(journey, step)
        self.value = _header_html(self.lines, step)


def _data_link(name: str, mime: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<a download="{html.escape(name)}" href="data:{mime};base64,{b64}" '
            f'style="margin-right:12px">&#11015; {html.escape(name)}</a>')


class ExportPanel(W.HBox):
    """A button that turns the diagram currently shown in a :class:`DiagramView` into download links (SVG, PNG)."""

    def __init__(self, view: DiagramView, *, stem: str = "mailhops-diagram") -> None:
        self.view = view
        self.stem = stem
        self.button = W.Button(description="Export diagram", icon="download", tooltip="make SVG and PNG downloads")
        self.links = W.HTML()
        self.button.on_click(lambda _b: self.export())
        super().__init__([self.button, self.links], layout=W.Layout(align_items="center"))

    def export(self) -> None:
        """Fill in the download links for the current diagram (an error sentence instead if it cannot)."""
        if self.view.drawn is None:
            self.links.value = _error_html("There is no diagram to export yet.")
            return
        obj, kw = self.view.drawn
        try:
            svg = rd.to_svg(obj, **kw).encode("utf-8")
            with tempfile.TemporaryDirectory() as tmp:
                png = rd.export(obj, Path(tmp) / "diagram.png", **kw).read_bytes()
        except MailhopsError as err:
            self.links.value = _error_html(str(err))
            return
        self.links.value = (_data_link(f"{self.stem}.svg", "image/svg+xml", svg)
                            + _data_link(f"{self.stem}.png", "image/png", png))


class HopStepper(W.VBox):
    """Walk a journey one hop at a time: the diagram highlights hop k, the header view shows the fields of
    hops 1..k (newest on top, hop k's highlighted), a second tab shows hop k's SMTP dialogue.

    Controls: Back, Step (CSS class ``mailhops-step``), Play and a slider; ``slider.value`` is the step
    (0 = before the first hop; then each hop, failed attempts included, then the bounce's hops).
    """

    def __init__(self, journey: Journey | None = None, *, topology: Topology | None = None, step: int = 0,
                 show_export: bool = True) -> None:
        self.journey: Journey | None = None
        self.topology = topology
        self.steps: list[int | str] = []
        self._quiet = False
        self._generation = 0  # changes with every journey shown: the key of the diagram cache
        self.diagram = DiagramView()
        self.headers = HeaderView()
        self.smtp = W.HTML()
        self.outcome = W.HTML()
        self.caption = W.HTML()
        self.slider = W.IntSlider(value=0, min=0, max=0, description="hop", continuous_update=False,
                                  layout=W.Layout(width="320px"))
        self.play = W.Play(value=0, min=0, max=0, interval=1500, description="play")
        W.link((self.play, "value"), (self.slider, "value"))
        self.back = W.Button(description="Back", icon="step-backward", layout=W.Layout(width="90px"))
        self.step_button = W.Button(description="Step", icon="step-forward", button_style="primary",
                                    layout=W.Layout(width="110px"), tooltip="send the message one hop further")
        self.step_button.add_class("mailhops-step")
        self.back.on_click(lambda _b: self.step_back())
        self.step_button.on_click(lambda _b: self.step_forward())
        self.slider.observe(self._on_slider, "value")
        self.tabs = W.Tab(children=[self.headers, self.smtp, self.outcome])
        self.tabs.titles = ("Headers", "SMTP dialogue", "Outcome & DNS")
        self.export = ExportPanel(self.diagram)
        controls = W.HBox([self.back, self.step_button, self.play, self.slider],
                          layout=W.Layout(align_items="center", flex_flow="row wrap"))
        self.body = W.Box([self.diagram, self.tabs], layout=W.Layout(width="100%", flex_flow="column"))
        children: list[W.Widget] = [_style(), controls, self.caption, self.body]
        if show_export:
            children.append(self.export)
        super().__init__(children)
        if journey is not None:
            self.set_journey(journey, topology=topology, step=step)

    # -- state -----------------------------------------------------------------------------------
    @property
    def step(self) -> int | str | None:
        """The step shown: ``None`` before the first hop, else a hop number or ``"B<k>"``."""
        k = self.slider.value
        return self.steps[k - 1] if 0 < k <= len(self.steps) else None

    @property
    def highlighted(self) -> int | str | None:
        """The hop highlighted on the diagram (same as :attr:`step`)."""
        return self.step

    @property
    def shown_hops(self) -> list[int | str]:
        """The hops whose header fields the header view shows, top to bottom."""
        return list(dict.fromkeys(line.hop for line in self.headers.lines if line.kind == "trace"))

    def set_journey(self, journey: Journey, *, topology: Topology | None = None, step: int | str = 0) -> None:
        """Show ``journey``; ``step`` is an index (0..number of steps) or ``"last"``."""
        self.journey = journey
        self.topology = topology
        self._generation += 1
        self.steps = rd.frame_steps(journey)
        self._quiet = True
        try:
            last = len(self.steps)
            index = last if step == "last" else max(0, min(int(step), last))
            self.slider.max = self.play.max = last
            self.slider.value = index
        finally:
            self._quiet = False
        self.export.stem = journey.scenario or "mailhops-journey"
        self.outcome.value = _outcome_html(journey)
        self.refresh()

    @property
    def tall(self) -> bool:
        """Is the diagram taller than wide? Then it stands beside the headers, not above them."""
        m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', self.diagram.svg or "")
        return bool(m) and float(m.group(2)) > float(m.group(1))

    def _arrange(self) -> None:
        tall = self.tall
        flow = "row" if tall else "column"
        if self.body.layout.flex_flow != flow:
            self.body.layout.flex_flow = flow
            self.diagram.layout.width = "45%" if tall else "100%"
            self.tabs.layout.width = "55%" if tall else "100%"

    def step_forward(self) -> None:
        """One hop further (after the last step, start again from the beginning)."""
        self.slider.value = self.slider.value + 1 if self.slider.value < self.slider.max else 0

    def step_back(self) -> None:
        self.slider.value = max(0, self.slider.value - 1)

    def _on_slider(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self.refresh()

    def refresh(self) -> None:
        """Redraw the diagram, the header view, the SMTP tab and the caption for the current step."""
        if self.journey is None:
            return
        step = self.step
        self.diagram.draw(self.journey, highlight=step, topology=self.topology, cache_key=(self._generation, step))
        self.headers.show(self.journey, step)
        self._arrange()
        self.smtp.value = _smtp_html(self.journey, step)
        total = len(self.steps)
        at_end = self.slider.value >= total
        self.step_button.description = "Again" if at_end and total else "Step"
        self.caption.value = (f'<div style="font-size:13px;margin:4px 0"><b>Step {self.slider.value} of {total}.</b> '
                              f"{html.escape(step_caption(self.journey, step))}</div>")


_SPAM_OPTIONS = [
    ("as in the scenario", "scenario"),
    ("off", "off"),
    ("reject during SMTP", "reject"),
    ("accept, then bounce", "bounce"),
    ("accept, then drop silently", "drop"),
    ("deliver to the Junk folder", "junk"),
]


class ScenarioExplorer(W.VBox):
    """Pick a scenario, change what matters (spam filter, primary MX, forwarder, hop limit, recipient) and
    see the journey: the diagram, the headers hop by hop (a :class:`HopStepper`) and the outcome.

    >>> ex = ScenarioExplorer("three-hops")
    >>> ex.mx_down.value = True
    >>> ex.journey.outcome.kind
    'deferred'
    """

    def __init__(self, scenario: str = "three-hops", *, names: list[str] | None = None, seed: int = 0) -> None:
        self.seed = seed
        self._loading = False
        self.journey: Journey | None = None
        self.topology: Topology | None = None
        options = names or sc.names()
        sc.get(scenario)
        self.picker = W.Dropdown(options=options, value=scenario, description="Scenario",
                                 layout=W.Layout(width="340px"))
        self.summary = W.HTML()
        style = {"description_width": "110px"}
        self.spam = W.Dropdown(options=_SPAM_OPTIONS, value="scenario", description="Spam filter", style=style)
        auto = {"indent": False, "layout": W.Layout(width="auto")}
        self.spammy = W.Checkbox(description="the message looks like spam", **auto)
        self.mx_down = W.Checkbox(description="the primary MX is down", **auto)
        self.forwarder = W.Checkbox(description=f"write to a forwarding address (@{FORWARDING_DOMAIN})", **auto)
        self.limit_on = W.Checkbox(description="set the same hop limit on every server", **auto)
        self.hop_limit = W.IntSlider(value=50, min=1, max=100, description="hop limit", disabled=True,
                                     continuous_update=False, style=style)
        self.recipient = W.Dropdown(description="Recipient", style=style, layout=W.Layout(width="340px"))
        self.message = W.HTML()
        self.transport = W.ToggleButtons(options=[("simulate", "simulate"), ("real servers", "live")], value="simulate",
                                         description="Run on", style=style,
                                         tooltips=["computed in Python, instantly",
                                                   "real SMTP servers on 127.0.0.1: real sockets, TLS, a real Maildir"])
        self.delivered = W.Textarea(disabled=True, layout=W.Layout(width="100%", height="220px"))
        self.delivered_box = W.Accordion(children=[self.delivered], layout=W.Layout(display="none"))
        self.delivered_box.set_title(0, "The delivered message, read back from the Maildir")
        self.stepper = HopStepper()
        self._rows = {
            "spam": self.spam, "spammy": self.spammy, "primary_mx_down": self.mx_down, "forwarder": self.forwarder,
            "hop_limit": W.HBox([self.limit_on, self.hop_limit]), "recipient": self.recipient,
        }
        for control in (self.spam, self.spammy, self.mx_down, self.forwarder, self.limit_on, self.hop_limit,
                        self.recipient):
            control.observe(self._on_knob, "value")
        self.picker.observe(self._on_pick, "value")
        self.transport.observe(self._on_knob, "value")
        knobs_box = W.VBox(list(self._rows.values()), layout=W.Layout(border="1px solid #ddd", padding="6px"))
        super().__init__([W.HBox([self.picker]), self.summary, knobs_box, self.transport, self.message,
                          self.stepper, self.delivered_box])
        self._load(scenario, step=0)

    # -- state -----------------------------------------------------------------------------------
    @property
    def knobs(self) -> Knobs:
        """The knob values the controls show now."""
        shown = _facts(self.picker.value)[0]
        return Knobs(
            spam=self.spam.value if "spam" in shown else "scenario",
            spammy=self.spammy.value if "spammy" in shown else None,
            primary_mx_down=self.mx_down.value if "primary_mx_down" in shown else None,
            forwarder=self.forwarder.value and "forwarder" in shown,
            hop_limit=self.hop_limit.value if self.limit_on.value else None,
            recipient=self.recipient.value if "recipient" in shown else None,
        )

    def _load(self, name: str, *, step: int | str) -> None:
        scenario = sc.get(name)
        shown, recipients, defaults = _facts(name)
        self._loading = True
        try:
            self.spam.value = "scenario"
            self.spammy.value = bool(defaults.spammy)
            self.mx_down.value = bool(defaults.primary_mx_down)
            self.forwarder.value = False
            self.limit_on.value = False
            self.hop_limit.disabled = True
            self.recipient.options = recipients
            self.recipient.value = recipients[0]
            for key, row in self._rows.items():
                row.layout.display = "" if key in shown else "none"
        finally:
            self._loading = False
        self.summary.value = (f'<div style="margin:4px 0 6px"><b>{html.escape(scenario.summary)}</b><br>'
                              f'<span style="color:#444">{html.escape(scenario.description)}</span></div>')
        self.update(step=step)

    def _on_pick(self, change: dict[str, Any]) -> None:
        self._load(change["new"], step="last")

    def _on_knob(self, _change: dict[str, Any]) -> None:
        self.hop_limit.disabled = not self.limit_on.value
        if not self._loading:
            self.update(step="last")

    @property
    def live(self) -> bool:
        """True when the journeys run on real servers on 127.0.0.1 rather than in the simulator."""
        return self.transport.value == "live"

    def update(self, *, step: int | str = "last") -> None:
        """Run with the current settings and show the result (an error sentence if it cannot)."""
        live = self.live
        if live:
            self.message.value = _ok_html("Starting real servers on 127.0.0.1 and sending the message …")
        try:
            journey, topo = run_with(self.picker.value, self.knobs, seed=self.seed, live=live)
        except MailhopsError as err:
            self.message.value = _error_html(str(err))
            return
        self.message.value = (_ok_html("This journey crossed real SMTP servers on 127.0.0.1: the SMTP tab shows "
                                       "what was really said, the headers are the ones those servers wrote.")
                              if live else "")
        self.journey, self.topology = journey, topo
        self.stepper.set_journey(journey, topology=topo, step=step)
        shown = live and journey.message is not None and journey.outcome is not None \
            and journey.outcome.kind in ("delivered", "junk")
        self.delivered.value = journey.message.decode("utf-8", "replace").replace("\r\n", "\n") if shown else ""
        self.delivered_box.layout.display = "" if shown else "none"


# ============================================================================ MX look-ups
def mx_order_text(topology: Topology, domain: str, *, down: tuple[str, ...] | list[str] | None = None,
                  seed: int = 0) -> str:
    """What a sending server concludes from the MX records of ``domain``, and which host takes the mail.

    ``down`` names the servers that do not answer (by default, those that are down in ``topology``).

    >>> print(mx_order_text(sc.get("mx-fallback").build(), "example.net"))
    MX records of example.net:
      example.net. MX 10 mx1.example.net.
      example.net. MX 20 mx2.example.net.
    Conclusion: try mx1.example.net (10), then mx2.example.net (20)
      1. mx1.example.net (preference 10): down - no connection, try the next one
      2. mx2.example.net (preference 20): answers and takes the message
    """
    import random

    answer = dns_for(topology).mx_candidates(domain, random.Random(seed))
    lines = [f"MX records of {domain}:"]
    lines += [f"  {r}" for r in answer.records] or ["  (none)"]
    lines.append(f"Conclusion: {answer.conclusion}")
    down_set = set(down) if down is not None else {s.name for s in topology.servers.values() if not s.up}
    taken = False
    for i, (pref, host) in enumerate(answer.candidates, start=1):
        if taken:
            lines.append(f"  {i}. {host} (preference {pref}): not needed")
        elif host in down_set:
            lines.append(f"  {i}. {host} (preference {pref}): down - no connection, try the next one")
        else:
            lines.append(f"  {i}. {host} (preference {pref}): answers and takes the message")
            taken = True
    if answer.candidates and not taken:
        lines.append("  Nobody answers: the message waits in the sender's queue and is retried later (4xx, deferred).")
    return "\n".join(lines)


def zone_text(topology: Topology, domain: str) -> str:
    """The simulated DNS zone of ``domain`` as a zone file, every name written out in full (no $ORIGIN short forms).

    >>> [line for line in zone_text(sc.get("three-hops").build(), "example.net").splitlines() if " MX " in line]
    ['example.net. 3600 IN MX 10 mx.example.net.']
    """
    zone = dns_for(topology).zones.get(domain)
    if zone is None:
        raise DNSLookupError(f"The topology has no DNS zone for {domain}.")
    return zone.to_text(sorted=True, relativize=False)


def live_lookup_text(domain: str, *, timeout: float = 2.0) -> str:
    """Ask the real DNS for ``domain``'s MX records (needs the Internet); always returns a sentence, never raises.

    >>> live_lookup_text("example.invalid", timeout=0.5).startswith("Live look-up failed")
    True
    """
    domain = (domain or "").strip().rstrip(".")
    if not domain:
        return "Type a domain name first, for example gmail.com."
    try:
        records = live_mx(domain, timeout=timeout)
    except DNSLookupError as err:
        return f"Live look-up failed: {err}"
    except MailhopsError as err:
        return f"Live look-up failed: {err}"
    rows = "\n".join(f"  MX {pref:>3} {host or '.'}" for pref, host in records)
    if len(records) == 1 and records[0][1] in ("", "."):
        return f"{domain} publishes a null MX (0 .): it accepts no mail at all (RFC 7505).\n{rows}"
    return f"The real DNS says (lowest preference is tried first):\n{rows}"


class MXLookupPanel(W.VBox):
    """The MX records of a scenario's domains (the simulated DNS zone and what a sender concludes),
    and a clearly marked live look-up of a real domain that fails with a sentence when offline."""

    def __init__(self, scenario: str = "mx-fallback", *, timeout: float = 2.0) -> None:
        self.timeout = timeout
        self._refreshing = False
        self.topology = sc.get(scenario).build()
        self.scenario = W.Dropdown(options=sc.names(), value=scenario, description="Scenario")
        self.domain = W.Dropdown(description="Domain")
        self.down = W.SelectMultiple(description="Down", rows=3, layout=W.Layout(width="340px"))
        self.zone = W.HTML()
        self.answer = W.HTML()
        self.live_domain = W.Text(value="gmail.com", description="Domain", placeholder="e.g. gmail.com")
        self.live_button = W.Button(description="Ask the real DNS", icon="globe", button_style="warning")
        self.live_result = W.HTML()
        self.scenario.observe(lambda c: self._load(c["new"]), "value")
        self.domain.observe(lambda _c: self.refresh(), "value")
        self.down.observe(lambda _c: self.refresh(), "value")
        self.live_button.on_click(lambda _b: self.live_lookup())
        live_box = W.VBox([
            W.HTML('<div style="margin-top:10px"><b>Live look-up &#8212; needs the Internet.</b> '
                   "This asks your real DNS resolver; nothing else leaves the machine. Offline it fails with a "
                   "sentence, and a failure proves nothing about the domain.</div>"),
            W.HBox([self.live_domain, self.live_button]), self.live_result,
        ], layout=W.Layout(border="1px dashed #e69f00", padding="6px"))
        super().__init__([W.HBox([self.scenario, self.domain]), self.down, W.HBox([self.zone, self.answer]), live_box])
        self._load(scenario)

    def _load(self, name: str) -> None:
        self.topology = sc.get(name).build()
        domains = sorted(self.topology.domains)
        recipient = domain_of(sc.get(name).recipient)
        self.domain.options = domains
        self.domain.value = recipient if recipient in domains else domains[0]
        self.refresh()

    def refresh(self) -> None:
        domain = self.domain.value
        if not domain:
            return
        if self._refreshing:
            return
        self._refreshing = True
        try:
            hosts = [s.name for _, s in self.topology.mx_hosts(domain)]
            if tuple(self.down.options) != tuple(hosts):  # another domain: start from what the scenario says
                self.down.options = hosts
                self.down.value = tuple(h for h in hosts if not self.topology.servers[h].up)
            else:
                self.down.value = tuple(h for h in self.down.value if h in hosts)
        finally:
            self._refreshing = False
        zone = zone_text(self.topology, domain)
        self.zone.value = (f'<div style="margin-right:16px"><b>Zone file of {html.escape(domain)}</b>'
                           f'<pre style="font-size:12px">{html.escape(zone)}</pre></div>')
        text = mx_order_text(self.topology, domain, down=self.down.value)
        self.answer.value = (f'<div><b>What a sending server does</b><pre style="font-size:12px">'
                             f"{html.escape(text)}</pre></div>")

    def live_lookup(self) -> None:
        """Run the live look-up for the typed domain and show its answer or the reason it failed."""
        text = live_lookup_text(self.live_domain.value, timeout=self.timeout)
        if text.startswith("Live look-up failed") or text.startswith("Type"):
            self.live_result.value = _error_html(text)
        else:
            self.live_result.value = f'<pre style="font-size:12px">{html.escape(text)}</pre>'


# ============================================================================ topology builder
class TopologyBuilder(W.VBox):
    """Build a topology with forms: domains, servers with roles, MX records with preferences, links, users
    and forwarding rules; then send a message through it. Problems appear as a sentence, never a traceback.
    """

    def __init__(self, start: str | None = "three-hops") -> None:
        self.start = start
        self.topology = Topology("my-topology")
        self.journey: Journey | None = None
        full = W.Layout(width="300px")
        self.status = W.HTML()
        self.status.add_class("mailhops-builder-status")
        self.start_from = W.Dropdown(options=[("an empty topology", "")] + [(n, n) for n in sc.names()],
                                     value=start or "", description="Start from")
        self.reset_button = W.Button(description="Start over", icon="refresh")
        # domains
        self.domain_name = W.Text(description="Domain", placeholder="example.com", layout=full)
        self.domain_null = W.Checkbox(description="accepts no mail (null MX)", indent=False,
                                      layout=W.Layout(width="auto"))
        self.domain_button = W.Button(description="Add domain", icon="plus")
        # servers
        self.server_name = W.Text(description="Host name", placeholder="mx.example.com", layout=full)
        self.server_role = W.Dropdown(options=list(ROLES), value="mx", description="Role")
        self.server_ip = W.Text(description="IP address", placeholder="203.0.113.25", layout=full)
        self.server_domain = W.Dropdown(description="Domain")
        self.server_mta = W.Dropdown(options=list(MTAS), value="postfix", description="Software")
        self.server_down = W.Checkbox(description="this server is down (refuses connections)", indent=False,
                                      layout=W.Layout(width="auto"))
        self.server_button = W.Button(description="Add server", icon="plus")
        # MX records
        self.mx_domain = W.Dropdown(description="Domain")
        self.mx_server = W.Dropdown(description="Server")
        self.mx_pref = W.IntText(value=10, description="Preference")
        self.mx_button = W.Button(description="Set MX record", icon="plus")
        # links
        self.link_from = W.Dropdown(description="From")
        self.link_to = W.Dropdown(description="To")
        self.link_button = W.Button(description="Add link", icon="plus")
        # users and forwarding
        self.user_address = W.Text(description="Address", placeholder="dave@example.com", layout=full)
        self.user_mailbox = W.Dropdown(description="Mailbox on")
        self.user_client = W.Dropdown(description="Writes from")
        self.user_forward = W.Text(description="Forward to", placeholder="(optional) dave@example.net", layout=full)
        self.user_button = W.Button(description="Add user", icon="plus")
        # sending
        self.send_from = W.Dropdown(description="From")
        self.send_to = W.Text(description="To", layout=full)
        self.send_button = W.Button(description="Send a message", icon="paper-plane", button_style="primary")
        self.diagram = DiagramView()
        self.stepper = HopStepper(show_export=True)
        self.stepper.layout.display = "none"

        self.start_from.observe(lambda c: self.reset(c["new"] or None), "value")
        self.reset_button.on_click(lambda _b: self.reset(self.start_from.value or None))
        self.domain_button.on_click(lambda _b: self.add_domain())
        self.server_button.on_click(lambda _b: self.add_server())
        self.mx_domain.observe(lambda _c: self._refresh_mx_servers(), "value")
        self.mx_button.on_click(lambda _b: self.set_mx())
        self.link_button.on_click(lambda _b: self.add_link())
        self.user_button.on_click(lambda _b: self.add_user())
        self.send_button.on_click(lambda _b: self.send())

        forms = W.Accordion(children=[
            W.VBox([self.domain_name, self.domain_null, self.domain_button]),
            W.VBox([self.server_name, self.server_role, self.server_ip, self.server_domain, self.server_mta,
                    self.server_down, self.server_button]),
            W.VBox([W.HTML("An MX record says which server receives mail for a domain; the lowest preference is "
                           "tried first."), self.mx_domain, self.mx_server, self.mx_pref, self.mx_button]),
            W.VBox([W.HTML("A link is a configured next hop: everything the first server accepts goes to the "
                           "second (for example client to submission, MX to mailbox)."),
                    self.link_from, self.link_to, self.link_button]),
            W.VBox([self.user_address, self.user_mailbox, self.user_client, self.user_forward, self.user_button]),
            W.VBox([self.send_from, self.send_to, self.send_button]),
        ])
        forms.titles = ("1. Domains", "2. Servers", "3. MX records", "4. Links", "5. Users and forwarding",
                        "6. Send a message")
        super().__init__([_style(), W.HBox([self.start_from, self.reset_button]), self.status, forms, self.diagram,
                          self.stepper])
        self.reset(start)

    # -- helpers -----------------------------------------------------------------------------------
    def _run(self, action: Callable[[], str]) -> bool:
        """Do ``action``; show its success sentence, or the MailhopsError sentence it raised."""
        try:
            message = action()
        except MailhopsError as err:
            self.status.value = _error_html(str(err))
            return False
        hint = ""
        try:
            self.topology.check()
        except MailhopsError as err:
            hint = f" Before you can send: {err}"
        self.status.value = _ok_html(message + hint)
        self._refresh_options()
        self.diagram.draw(self.topology)
        return True

    @property
    def error(self) -> str | None:
        """The error sentence shown now, or ``None``."""
        m = re.search(r'class="mailhops-error"[^>]*>&#9888; (.*)</div>', self.status.value, re.S)
        return html.unescape(m.group(1)) if m else None

    def _refresh_options(self) -> None:
        servers = list(self.topology.servers)
        domains = list(self.topology.domains)
        none = [("(none)", "")]
        self.server_domain.options = none + [(d, d) for d in domains]
        self.mx_domain.options = domains
        self.link_from.options = servers
        self.link_to.options = servers
        self.user_mailbox.options = none + [(s, s) for s in servers if self.topology.servers[s].role == "mailbox"]
        self.user_client.options = none + [(s, s) for s in servers
                                           if self.topology.servers[s].role in ("client", "webmail")]
        senders = [u.address for u in self.topology.users.values() if u.client]
        self.send_from.options = senders
        self._refresh_mx_servers()

    def _refresh_mx_servers(self) -> None:
        dom = self.mx_domain.value
        self.mx_server.options = [s.name for s in self.topology.servers.values() if s.domain in (dom, None)]

    # -- actions (the buttons call these; so can a test or a notebook cell) --------------------------
    def reset(self, start: str | None = None) -> None:
        """Start again from scenario ``start`` (or an empty topology)."""
        self.topology = sc.get(start).build() if start else Topology("my-topology")
        self.journey = None
        self.stepper.layout.display = "none"
        self._refresh_options()
        if start:
            scenario = sc.get(start)
            self.send_to.value = scenario.recipient
            if scenario.sender in self.send_from.options:
                self.send_from.value = scenario.sender
        self.status.value = _ok_html(f"Started from {'the scenario ' + start if start else 'an empty topology'}.")
        self.diagram.draw(self.topology)

    def add_domain(self) -> bool:
        name = self.domain_name.value.strip()

        def act() -> str:
            self.topology.add_domain(name, null_mx=self.domain_null.value)
            return f"Added the domain {name}" + (" with a null MX (it accepts no mail)." if self.domain_null.value else ".")
        return self._run(act)

    def add_server(self) -> bool:
        name, ip = self.server_name.value.strip(), self.server_ip.value.strip()

        def act() -> str:
            domain = self.server_domain.value or None
            self.topology.add_server(name, self.server_role.value, ip, domain=domain, mta=self.server_mta.value,
                                     up=not self.server_down.value)
            down = " It is down." if self.server_down.value else ""
            return f"Added {name}, role {self.server_role.value}: {ROLES[self.server_role.value].split(':')[0]}.{down}"
        return self._run(act)

    def set_mx(self) -> bool:
        domain, host, pref = self.mx_domain.value, self.mx_server.value, self.mx_pref.value

        def act() -> str:
            if not domain:
                raise MailhopsError("Add a domain first: an MX record belongs to a domain.")
            if not host:
                raise MailhopsError(f"Choose the server that receives mail for {domain} (add one in 2. Servers).")
            if not 0 <= int(pref) <= 65535:
                raise MailhopsError(f"An MX preference is a number from 0 to 65535 (RFC 5321), not {pref}.")
            server = self.topology.server(host)
            if server.domain not in (None, domain):
                raise MailhopsError(f"{host} belongs to {server.domain}; in this model an MX serves its own domain, "
                                    f"so choose a server of {domain}.")
            server.domain = domain
            server.mx_preference = int(pref)
            return f"{domain} now has the record MX {pref} {host}."
        return self._run(act)

    def add_link(self) -> bool:
        src, dst = self.link_from.value, self.link_to.value

        def act() -> str:
            if not src or not dst:
                raise MailhopsError("Add two servers first: a link goes from one server to another.")
            if src == dst:
                raise MailhopsError(f"A link from {src} to itself would send every message round in a loop.")
            self.topology.link(src, dst)
            return f"{src} now hands everything it accepts to {dst}."
        return self._run(act)

    def add_user(self) -> bool:
        address = self.user_address.value.strip()
        forward = self.user_forward.value.strip() or None

        def act() -> str:
            from ..topology import check_address

            if forward is not None:
                check_address(forward)
            existing = self.topology.users.get(check_address(address))
            if existing is not None and forward is not None:
                existing.forward_to = forward
                return f"Mail for {existing.address} is now forwarded to {forward}."
            self.topology.add_user(address, mailbox=self.user_mailbox.value or None,
                                   client=self.user_client.value or None, forward_to=forward)
            what = [f"mailbox on {self.user_mailbox.value}" if self.user_mailbox.value else "",
                    f"writes from {self.user_client.value}" if self.user_client.value else "",
                    f"forwards to {forward}" if forward else ""]
            return f"Added the user {address} ({', '.join(w for w in what if w) or 'no mailbox yet'})."
        return self._run(act)

    def send(self) -> bool:
        """Send a message from ``send_from`` to ``send_to`` and show its journey in the stepper."""
        sender, rcpt = self.send_from.value, self.send_to.value.strip()
        try:
            if not sender:
                raise MailhopsError("Nobody can send yet: add a user who writes from a client (a mail program).")
            journey = send(self.topology, sender, rcpt, seed=0)
        except MailhopsError as err:
            self.status.value = _error_html(str(err))
            return False
        journey.scenario = self.topology.name
        self.journey = journey
        assert journey.outcome is not None
        self.status.value = _ok_html(f"Sent: {journey.outcome.kind} ({journey.outcome.status}) after "
                                     f"{len(journey.hops)} hops. Step through it below.")
        self.stepper.layout.display = ""
        self.stepper.set_journey(journey, topology=self.topology, step="last")
        return True


# ============================================================================ analyse a real message
class AnalyzePanel(W.VBox):
    """Paste a real message's headers, press the button, see its route: diagram, hop table, header stepper.

    Nothing leaves the machine: :func:`mailhops.analyze.analyze` only reads the text, looks nothing up.
    """

    def __init__(self, text: str = "") -> None:
        self.journey: Journey | None = None
        self.text = W.Textarea(value=text, placeholder="Paste the headers (or the whole message) here",
                               layout=W.Layout(width="100%", height="180px"))
        self.button = W.Button(description="Show the route", icon="search", button_style="primary")
        self.status = W.HTML()
        self.table = W.HTML()
        self.stepper = HopStepper()
        self.stepper.layout.display = "none"
        self.button.on_click(lambda _b: self.analyze())
        note = W.HTML('<div style="color:#444">&#128274; Privacy: the headers are read here, in this Python process. '
                      "Nothing is sent anywhere and no name or address in them is looked up.</div>")
        super().__init__([note, self.text, self.button, self.status, self.table, self.stepper])
        if text:
            self.analyze()

    def analyze(self) -> bool:
        """Analyze the pasted text; show the route, or a sentence saying why there is none."""
        from ..read.analyze import analyze, journey_table

        text = self.text.value
        if not text.strip():
            self.status.value = _error_html("Paste the headers of a message first (in your mail program: "
                                            "'Show original' or 'View source').")
            return False
        try:
            journey = analyze(text)
        except MailhopsError as err:
            self.status.value = _error_html(str(err))
            return False
        self.journey = journey
        if not journey.hops:
            reason = journey.notes[-1] if journey.notes else "no Received header was found"
            self.status.value = _error_html(f"No route to show: {reason}.")
            self.table.value = ""
            self.stepper.layout.display = "none"
            return False
        self.status.value = _ok_html(f"{len(journey.hops)} hops found, oldest first. Step through them below.")
        self.table.value = f'<pre style="font-size:12px;overflow:auto">{html.escape(journey_table(journey))}</pre>'
        self.stepper.layout.display = ""
        self.stepper.set_journey(journey, step="last")
        return True


# ============================================================================ the whole app
class App(W.VBox):
    """The explorer lesson's app: tabs for the scenario explorer, the topology builder and the MX look-up."""

    def __init__(self, scenario: str = "three-hops") -> None:
        self.explorer = ScenarioExplorer(scenario)
        self.builder = TopologyBuilder("three-hops")
        self.mx = MXLookupPanel("mx-fallback")
        self.tabs = W.Tab(children=[self.explorer, self.builder, self.mx])
        self.tabs.titles = ("Scenario explorer", "Build your own", "MX look-up")
        title = W.HTML('<div style="font-size:18px;font-weight:bold;margin-bottom:4px">&#9993; mailhops explorer</div>'
                       '<div style="color:#444;margin-bottom:6px">Change the situation, then press Step to follow '
                       "the message hop by hop.</div>")
        super().__init__([title, self.tabs])


def app(scenario: str = "three-hops") -> App:
    """The app-like view of the explorer lesson."""
    return App(scenario)


# ============================================================================ lesson figures
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


# ============================================================================ small conveniences
def _knob_names() -> list[str]:
    return [f for f in Knobs.__dataclass_fields__]


def with_knobs(knobs: Knobs, **changes: Any) -> Knobs:
    """A copy of ``knobs`` with ``changes`` (a tiny helper for lesson cells)."""
    return replace(knobs, **changes)


def topology_dns(topology: Topology) -> TopologyDNS:
    """The simulated DNS of ``topology`` (zones you can print with ``.zone_text(domain)``)."""
    return dns_for(topology)
