"""Diagrams of topologies and journeys: structure of the SVG dot draws, highlight, themes, no-dot behaviour."""

from __future__ import annotations

import importlib
import re
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_render_helpers import (  # noqa: F401  (_dot_guard is an autouse fixture)
    _dot_guard,
    analyzed,
    classes,
    effective_font_sizes,
    fallback_deferred,
    forwarding_loop,
    groups,
    parse_svg,
    rejected_with_bounce,
    squeeze,
    stroke_width,
    strokes,
    text_of,
    three_hops,
    topology,
)

from mailhops import scenarios
from mailhops.draw import frame_steps, render_journey, render_topology, repr_mimebundle, to_svg
from mailhops.draw.escape import display_text
from mailhops.draw.themes import THEMES
from mailhops.errors import RenderError
from mailhops.journey import Hop, Journey, Outcome

needs_dot = pytest.mark.needs_dot


def svg_of(obj, **kw):
    return parse_svg(to_svg(obj, **kw))


def edge_by_id(root, eid):
    found = [g for g in root.iter() if g.get("id") == eid]
    assert len(found) == 1, f"expected one element with id {eid}, found {len(found)}"
    return found[0]


# ------------------------------------------------------------------------------------------ topology
@needs_dot
def test_topology_has_one_node_per_server_a_cluster_per_domain_and_the_links():
    t = topology()
    root = svg_of(t)
    servers = groups(root, "server")
    assert len(servers) == len(t.servers)
    assert {text_of(g).split()[0] for g in servers} == set(t.servers)
    assert len(groups(root, "domain")) == len(t.domains)
    assert len(groups(root, "link")) == len(t.links)
    # the hand-off found through DNS is an arrow too: smtp.example.org to each of example.net's MX hosts
    routes = ["".join(g.find(f"{SVG}title").itertext()) for g in groups(root, "mx-route")]
    assert len(routes) == 2 and all(r.startswith("smtp.example.org") for r in routes), routes


@needs_dot
def test_topology_shows_mx_records_with_preference_and_the_lookup():
    root = svg_of(topology())
    dns = groups(root, "dns")
    assert any("MX 10 mx1.example.net" in text_of(g) and "MX 20 mx2.example.net" in text_of(g) for g in dns)
    # one dotted answer edge per MX record, and the submission server asks DNS
    assert len([g for g in groups(root, "dns") if "edge" in classes(g) and "lookup" not in classes(g)]) == 2
    lookups = groups(root, "lookup")
    assert len(lookups) == 1 and "MX lookup" in text_of(lookups[0])


@needs_dot
def test_down_server_is_struck_through_and_dashed():
    root = svg_of(topology())
    down = groups(root, "down")
    assert len(down) == 1 and "mx2.example.net" in text_of(down[0]) and "DOWN" in text_of(down[0])
    assert any(t.get("text-decoration") == "line-through" for t in down[0].iter() if t.tag.endswith("text"))
    assert any(p.get("stroke-dasharray") for p in down[0].iter() if p.tag.endswith(("polygon", "path")))
    up = [g for g in groups(root, "server") if "down" not in classes(g)]
    assert not any(p.get("stroke-dasharray") for g in up for p in g.iter() if p.tag.endswith(("polygon", "path")))


# ------------------------------------------------------------------------------------------- journey
@needs_dot
def test_journey_counts_nodes_edges_and_numbers_hops():
    j = three_hops()
    root = svg_of(j, topology=topology())
    servers = groups(root, "server")
    assert len(servers) == 5  # laptop, smtp, mx1, spam, imap: one node per server however often visited
    hops = groups(root, "hop")
    assert len(hops) == 4
    for n, hop in enumerate(j.hops, start=1):
        edge = edge_by_id(root, f"hop-{n}")
        assert text_of(edge).split()[:2] == [str(n), hop.with_]
    assert "delivered" in text_of(groups(root, "outcome")[0])
    assert "DNS MX example.net?" in text_of(root)
    # roles from the topology: the mailbox is drawn as a mailbox
    assert "role-mailbox" in classes(next(g for g in servers if "imap.example.net" in text_of(g)))


@needs_dot
def test_header_panels_list_the_lines_each_hop_added():
    j = three_hops()
    root = svg_of(j, headers=True, topology=topology())
    panels = groups(root, "panel")
    assert len(panels) == 4
    text = squeeze(text_of(root))
    for hop in j.hops:
        assert f"hop{hop.n}added" in text
        for line in hop.added_headers:
            assert squeeze(display_text(line)) in text
    assert "X-Spam-Status:" in text_of(root)


@needs_dot
def test_highlight_emphasises_one_hop_keeps_the_past_and_fades_the_future():
    j = three_hops()
    theme = THEMES["light"]
    root = svg_of(j, highlight=2, topology=topology())
    lit = edge_by_id(root, "hop-2")
    assert "highlight" in classes(lit)
    past = edge_by_id(root, "hop-1")
    assert "faded" not in classes(past) and strokes(past) == {theme.edges["hop"].color}
    for edge in [edge_by_id(root, f"hop-{n}") for n in (3, 4)]:  # what comes later does not give the ending away
        assert "faded" in classes(edge)
        assert strokes(edge) == {theme.faded}
        assert stroke_width(lit) > stroke_width(edge)
    assert theme.edges["hop"].color in strokes(lit)
    lit_nodes = {text_of(g).split()[0] for g in groups(root, "server") if "highlight" in classes(g)}
    assert lit_nodes == {"smtp.example.org", "mx1.example.net"}
    # the DNS lookup made before hop 2 stays lit, the outcome (after hop 4) fades
    assert "faded" not in classes(edge_by_id(root, "dns-0"))
    assert "faded" in classes(groups(root, "outcome")[0])
    # with header panels, only the highlighted hop's panel is drawn
    root = svg_of(j, highlight=2, headers=True, topology=topology())
    panels = groups(root, "panel")
    assert len(panels) == 1 and "hop 2 added" in text_of(panels[0])


@needs_dot
def test_highlight_differs_from_plain_drawing_for_every_step():
    j = rejected_with_bounce()
    plain = to_svg(j)
    seen = set()
    for step in frame_steps(j):
        svg = to_svg(j, highlight=step)
        assert svg != plain
        seen.add(svg)
    assert len(seen) == len(frame_steps(j)) == 4  # hops 1, 2, the refused 3, bounce B1


def test_unknown_highlight_is_a_render_error():
    with pytest.raises(RenderError, match="hop number"):
        render_journey(three_hops(), highlight="second")


@needs_dot
def test_rejected_attempt_and_bounce_have_their_own_styles_and_legend():
    j = rejected_with_bounce()
    root = svg_of(j, topology=topology())
    rejected = groups(root, "rejected")
    assert len(rejected) == 1 and "attempt" in classes(rejected[0])
    assert "550 5.7.1" in text_of(rejected[0])
    assert any(p.get("stroke-dasharray") for p in rejected[0].iter() if p.tag.endswith("path"))
    bounce = groups(root, "bounce")
    assert len(bounce) == 1 and "MAIL FROM:<>" in text_of(bounce[0]) and "B1" in text_of(bounce[0])
    dash = {p.get("stroke-dasharray") for g in (rejected[0], bounce[0]) for p in g.iter() if p.tag.endswith("path")}
    assert len(dash) == 2  # dashed and dotted: different line styles, not only colours
    legend = text_of(root)
    assert "refused with a 5xx reply" in legend and "null sender MAIL FROM:<>" in legend
    assert "rejected" in text_of(groups(root, "outcome")[0])


@needs_dot
def test_unreachable_server_is_marked_down_and_outcome_deferred():
    root = svg_of(fallback_deferred(), topology=topology())
    assert len(groups(root, "attempt")) == 2
    assert {text_of(g).split()[0] for g in groups(root, "down")} == {"mx2.example.net"}
    assert "deferred" in text_of(groups(root, "outcome")[0])
    assert "not reached" in text_of(root)


@needs_dot
def test_loop_repeated_hand_offs_merge_into_double_line_edges():
    j = forwarding_loop(rounds=12)
    root = svg_of(j)
    loops = groups(root, "loop")
    assert len(loops) == 2  # there and back, however many rounds
    assert sum(len([c for c in classes(g) if c.startswith("step-")]) for g in loops) == 12
    for g in loops:
        assert len([p for p in g.iter() if p.tag.endswith("path")]) == 3  # a double line: stroke, gap, stroke
    assert "×" in text_of(loops[0]) and "loop: the same hand-off repeated" in text_of(root)
    lit = svg_of(j, highlight=7)
    assert [("highlight" in classes(g)) for g in groups(lit, "loop")].count(True) == 1


@needs_dot
def test_analyzed_journey_with_unknown_hosts_and_no_dates_draws():
    j = analyzed()
    root = svg_of(j, headers=True)
    assert len(groups(root, "hop")) == 3
    unknown = [g for g in groups(root, "server") if "unknown host" in text_of(g)]
    assert len(unknown) == 2  # the sender with only an IP, and the LMTP hop's missing by
    # hops chain: hop 2 leaves the node hop 1 arrived at, whose address it tells
    google = [g for g in groups(root, "server") if "mail-sor-f41.google.com" in text_of(g)]
    assert len(google) == 1 and "209.85.220.41" in text_of(google[0])
    # a sender name that differs from the previous server is shown on the hop
    assert "from localhost [127.0.0.1]" in text_of(edge_by_id(root, "hop-3"))
    assert "route read from the Received headers" in text_of(root)
    assert "(no header recorded)" in text_of(root)


@needs_dot
def test_empty_journey_still_draws():
    root = svg_of(Journey())
    assert root.tag.endswith("svg") and "mail journey" in text_of(root)


# -------------------------------------------------------------------------------------------- themes
@needs_dot
@pytest.mark.parametrize("name", sorted(THEMES))
def test_themes_set_background_and_fonts_explicitly(name):
    theme = THEMES[name]
    root = svg_of(rejected_with_bounce(), theme=name, headers=True)
    background = next(p for p in root.iter() if p.tag.endswith("polygon"))
    assert background.get("fill") == theme.background
    fonts = {t.get("font-family") for t in root.iter() if t.tag.endswith("text")}
    assert fonts == {"Liberation Sans, Arial, Helvetica, sans-serif", "Liberation Mono, Courier New, Courier, monospace"}


def _is_gray(color: str) -> bool:
    if color in ("none", "transparent", "white", "black"):
        return True
    m = re.fullmatch(r"#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})", color)
    assert m, color
    return m.group(1) == m.group(2) == m.group(3)


@needs_dot
def test_print_theme_is_grayscale_and_styles_still_differ():
    svg = to_svg(rejected_with_bounce(), theme="print")
    colors = set(re.findall(r'(?:fill|stroke)="([^"]+)"', svg))
    assert colors and all(_is_gray(c) for c in colors), colors
    root = parse_svg(svg)
    hop, rejected, bounce = (groups(root, k)[0] for k in ("hop", "rejected", "bounce"))
    arrowheads = [next(p for p in g.iter() if p.tag.endswith(("polygon", "ellipse", "path")) and p is not None)
                  for g in (hop, rejected, bounce)]
    assert arrowheads  # drawn
    dashes = [{p.get("stroke-dasharray") for p in g.iter() if p.tag.endswith("path")} for g in (hop, rejected, bounce)]
    assert dashes[0] == {None} and len({frozenset(d) for d in dashes}) == 3


def test_unknown_theme_is_a_render_error():
    with pytest.raises(RenderError, match="Unknown theme 'neon'"):
        render_topology(topology(), theme="neon")


# -------------------------------------------------------------------------------------------- slides
@needs_dot
@pytest.mark.parametrize(("name", "steps"), [("three-hops", 3), ("enterprise", 8), ("forwarding-loop", 4),
                                             ("spam-accept-then-bounce", 6)])
def test_slide_is_16_by_9_and_header_text_stays_readable(name, steps):
    j = scenarios.run(name)
    for step in frame_steps(j)[:steps]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            svg = to_svg(j, slide=True, headers=True, highlight=step)
        root = parse_svg(svg)
        assert (root.get("width"), root.get("height")) == ("960pt", "540pt")  # 13.333 x 7.5 in
        sizes = effective_font_sizes(svg)
        mono = min(v for k, v in sizes.items() if k.startswith("Liberation Mono"))
        # the header lines: >= 12 pt on the slide; only a route too long for one slide (more than six servers)
        # may come out smaller, and then the export says so
        servers = len(groups(root, "server"))
        assert mono >= 12 or (servers > 6 and caught and mono >= 9), (step, sizes)
        assert "hop " + str(step) + " added" in text_of(root)


@needs_dot
def test_slide_topology_shows_titles_only():
    t = topology()
    normal, slide = text_of(svg_of(t)), text_of(svg_of(t, slide=True))
    assert "198.51.100.25" in normal and "198.51.100.25" not in slide
    assert "mx1.example.net" in slide and "MX 10" in slide


# ------------------------------------------------------------------------------------------ scenarios
@needs_dot
@pytest.mark.parametrize("name", scenarios.names())
def test_every_scenario_journey_and_topology_render(name):
    j = scenarios.run(name)
    root = svg_of(j, headers=True)
    text = text_of(root)
    drawn = {int(c[5:]) for g in groups(root, "edge") for c in classes(g) if c[5:].isdigit() and c.startswith("step-")}
    assert drawn == {h.n for h in [*j.hops, *j.attempts]}
    assert j.outcome.kind in {c.split("-", 1)[1] for g in groups(root, "outcome") for c in classes(g) if "-" in c}
    if j.bounce is not None:
        assert groups(root, "bounce") and "MAIL FROM:<>" in text
    t = scenarios.get(name).build()
    assert len(groups(svg_of(t), "server")) == len(t.servers)


# ------------------------------------------------------------------------------------------ escaping
_names = st.text(min_size=1, max_size=24).filter(lambda s: display_text(s).strip())


@needs_dot
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host=_names, address=_names, value=st.text(min_size=1, max_size=120).filter(lambda s: display_text(s).strip()))
def test_any_unicode_gives_valid_svg_containing_the_text(host, address, value):
    hop = Hop(1, from_name="client", by_name=host, with_="ESMTP", for_=address,
              added_headers=[f"X-Test: {value}", f"Received: from client by {host} for <{address}>"])
    j = Journey(hops=[hop], outcome=Outcome("delivered", "2.0.0", "ok", mailbox=address), source="analyzed")
    for headers in (False, True):
        root = parse_svg(to_svg(j, headers=headers))  # raises when the SVG is not well-formed XML
        text = squeeze(text_of(root))
        assert squeeze(display_text(host)) in text
        assert squeeze(display_text(address)) in text
        if headers:
            assert squeeze(display_text(value)) in text


# ---------------------------------------------------------------------------------- Jupyter, no dot
@needs_dot
def test_journey_and_topology_display_as_svg_in_jupyter():
    for obj in (three_hops(), topology()):
        bundle = obj._repr_mimebundle_()
        assert set(bundle) == {"image/svg+xml"}
        assert parse_svg(bundle["image/svg+xml"]).tag.endswith("svg")


def test_without_dot_a_friendly_error_with_install_hints_and_dot_source(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot anywhere
    with pytest.raises(RenderError) as info:
        to_svg(three_hops())
    message = str(info.value)
    assert message.count("\n") == 0 and "Graphviz `dot` is not installed" in message
    for hint in ("apt-get install graphviz", "brew install graphviz", "winget install graphviz",
                 "choco install graphviz", "conda install -c conda-forge graphviz"):
        assert hint in message
    assert info.value.source.startswith("digraph mailhops_journey")


def test_without_dot_jupyter_shows_the_message_and_the_source(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    # importing mailhops.widgets (another test may have) lets the page draw instead: not what this test is about
    monkeypatch.setattr(importlib.import_module("mailhops.draw.export"), "_browser_fallback", None)
    for obj in (three_hops(), topology()):
        bundle = obj._repr_mimebundle_(include=None, exclude=None)
        assert set(bundle) == {"text/plain", "text/html"}
        assert "brew install graphviz" in bundle["text/plain"] and "digraph mailhops_" in bundle["text/plain"]
        assert "Traceback" not in bundle["text/plain"]
        assert "<pre>digraph mailhops_" in bundle["text/html"]
        assert "&lt;B&gt;" in bundle["text/html"]  # the DOT source's markup is shown, not interpreted
    assert repr_mimebundle(three_hops()) == three_hops()._repr_mimebundle_()


@needs_dot
def test_a_bounce_written_by_the_server_itself_is_said_on_that_server_not_a_loop():
    j = scenarios.run("spam-rejected")
    assert not any((j.bounce.hops[0].from_server, j.bounce.hops[0].from_name, j.bounce.hops[0].ip))
    root = svg_of(j)
    first = edge_by_id(root, "bounce-B1")
    title = "".join(next(e for e in first.iter() if e.tag.endswith("title")).itertext())
    assert title.startswith("bounce hop B1: smtp.example.org")  # tied to the server that wrote it
    assert "B1: the bounce starts here" in text_of(groups(root, "bounce-start")[0])
    assert not groups(root, "loop")
    assert not [g for g in groups(root, "server") if "unknown host" in text_of(g)]


@needs_dot
def test_highlighted_pass_of_a_loop_lights_the_loop_and_names_the_step_in_the_caption():
    root = svg_of(forwarding_loop(rounds=12), highlight=7)
    lit = [g for g in groups(root, "loop") if "highlight" in classes(g)][0]
    assert "3, 5 … 13 (6×)" in text_of(lit)  # the label is the same in every frame, so nothing moves
    assert "Step 7:" in text_of(root)


SVG = "{http://www.w3.org/2000/svg}"


def contrast(a: str, b: str) -> float:
    """The WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    def luminance(color: str) -> float:
        channels = [int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_ratio_matches_wcag_examples():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0 and contrast("#777777", "#777777") == 1.0
    assert 4.4 < contrast("#777777", "#ffffff") < 4.5  # the classic "grey on white just fails AA"


@needs_dot
@pytest.mark.parametrize("theme", sorted(THEMES))
@pytest.mark.parametrize("name", ["three-hops", "spam-accept-then-bounce", "enterprise", "mx-fallback"])
def test_text_has_wcag_aa_contrast_on_what_is_behind_it(theme, name):
    """Every text in a drawing, on the fill of the box it sits in (a server, a note, a badge) or else on the
    background or an organisation's lane: >= 4.5:1 (WCAG 2 AA, normal text). Faded text -- what a build has
    not reached yet -- is meant to recede and is left out. The sequence view's replies too."""
    th = THEMES[theme]
    j = scenarios.run(name)
    failures = []
    for svg in (to_svg(j, theme=theme), to_svg(j, theme=theme, slide=True, highlight=2),
                to_svg(j, theme=theme, view="sequence")):
        root = parse_svg(svg)
        for g in root.iter(f"{SVG}g"):
            cls = classes(g)
            if "faded" in cls or not ({"node", "edge"} & set(cls)):
                continue
            shapes = [e.get("fill") for e in g.iter() if e.tag in (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse")
                      and (e.get("fill") or "none").startswith("#")]
            behind = [shapes[0]] if "node" in cls and shapes else [th.background, th.cluster_fill]
            for t in g.iter(f"{SVG}text"):
                fill = t.get("fill") or th.foreground
                if fill in (th.faded,) or not fill.startswith("#") or not "".join(t.itertext()).strip():
                    continue
                worst = min(contrast(fill, b) for b in behind)
                if worst < 4.5:
                    failures.append((cls, "".join(t.itertext()), fill, behind, round(worst, 2)))
    assert not failures, failures[:5]
