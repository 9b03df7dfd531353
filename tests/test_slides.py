"""Slides, builds, views, decks and text alternatives (issue 15): checked on the SVG and the .pptx themselves."""

from __future__ import annotations

import re
import warnings

import pytest
from test_render_helpers import _dot_guard, classes, groups, parse_svg, text_of  # noqa: F401

from mailhops import scenarios
from mailhops.cli import main
from mailhops.draw import export, export_frames, frame_steps, to_svg
from mailhops.draw.export import SlideTooSmall

needs_dot = pytest.mark.needs_dot
SVG = "{http://www.w3.org/2000/svg}"


def node_places(svg: str) -> dict[str, tuple[str, ...]]:
    """{node title: where its name is written}, for every server node (its outline may thicken when lit)."""
    root = parse_svg(svg)
    out = {}
    for g in groups(root, "server"):
        name = next(g.iter(f"{SVG}text"))
        title = "".join(next(e for e in g.iter() if e.tag == f"{SVG}title").itertext())
        out[title] = (name.get("x"), name.get("y"))
    transform = root.find(f"{SVG}g").get("transform")
    return {k: (*v, transform) for k, v in out.items()}


def type_sizes(svg: str) -> tuple[float, float]:
    """(names, smallest): on the 13.333 x 7.5 in slide, in points, the smallest of what the room must read
    (server names, and hop numbers with their protocols: the first line of each hand-off's label) and the
    smallest text of any kind, from the font sizes in the SVG times dot's scale."""
    root = parse_svg(svg)
    scale = float(re.search(r"scale\(([\d.]+)", root.find(f"{SVG}g").get("transform")).group(1))

    def sizes(g):
        return [float(t.get("font-size")) for t in g.iter(f"{SVG}text") if "".join(t.itertext()).strip()]

    main = []
    for g in groups(root, "server"):
        main += [float(t.get("font-size")) for t in g.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
    for kind in ("hop", "attempt", "loop", "bounce"):
        for g in groups(root, kind):
            if sizes(g):
                main.append(max(sizes(g)))  # the head: the number and protocol (or "refused"), in the large type
    every = sizes(root)
    return min(main) * scale, min(every) * scale


#: What a room reads from the back row (points on the slide): names, hop numbers, protocols; anything else.
NAMES_PT, TEXT_PT = 18.0, 12.0


def slide_pt(svg: str, *, bold: bool) -> float:
    """The smallest (bold: server-name and hop-number) type on the 13.333 x 7.5 in slide, in points."""
    root = parse_svg(svg)
    scale = float(re.search(r"scale\(([\d.]+)", root.find(f"{SVG}g").get("transform")).group(1))
    sizes = []
    for g in [*groups(root, "server"), *groups(root, "hop")]:
        sizes += [float(t.get("font-size")) * scale for t in g.iter(f"{SVG}text")
                  if (t.get("font-weight") == "bold") == bold]
    return min(sizes)


@needs_dot
@pytest.mark.parametrize("name", ["three-hops", "spam-rejected", "spam-to-junk"])
def test_short_journeys_on_a_slide_read_from_the_back_row(name):
    svg = to_svg(scenarios.run(name), slide=True)
    assert slide_pt(svg, bold=True) >= 18  # names and hop numbers
    assert slide_pt(svg, bold=False) >= 12  # roles, delays


@needs_dot
@pytest.mark.parametrize("name", scenarios.names())
@pytest.mark.parametrize("kind", ["slide", "headers", "frame"])
def test_every_slide_reads_from_the_back_row_or_says_so(name, kind):
    """Names, hop numbers and protocols >= 18 pt and nothing under 12 pt on the 16:9 slide, for every scenario:
    the plain slide, the slide with its header panel, and a frame of a build with headers (every frame of a
    build has the same layout, :func:`test_every_frame_of_a_build_keeps_every_node_in_its_place`). Where a
    slide cannot, the export says so (one line, suggesting what reads better) -- and only there."""
    j = scenarios.run(name)
    kw = {"slide": True, "headers": kind != "slide"}
    if kind == "frame":
        steps = frame_steps(j)
        kw["highlight"] = steps[len(steps) // 2]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        svg = to_svg(j, **kw)
    names, smallest = type_sizes(svg)
    reads = names >= NAMES_PT and smallest >= TEXT_PT
    said = [str(w.message) for w in caught if issubclass(w.category, SlideTooSmall)]
    near = abs(names - NAMES_PT) < 0.2 or abs(smallest - TEXT_PT) < 0.15  # dot rounds its scale to 2 digits
    assert reads == (not said) or near, (names, smallest, said)
    assert all("\n" not in text and ("--frames" in text or "deck" in text) for text in said)
    servers = len(groups(parse_svg(svg), "server"))
    if servers <= 6 and kind != "frame":  # a route of up to six servers fits a slide, with its header lines too
        assert reads, (names, smallest)
    if kind != "slide":  # header lines: never under 12 pt where a route of up to six servers fits
        assert smallest >= TEXT_PT or servers > 6, smallest


@needs_dot
def test_a_slide_too_small_to_read_says_so_in_one_line(capsys, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        svg = to_svg(scenarios.run("enterprise"), slide=True, headers=True, highlight=3)
    small = slide_pt(svg, bold=True) < 18
    assert small == any(issubclass(w.category, SlideTooSmall) for w in caught)
    assert main(["export", "enterprise", "--slide", "--headers", "-o", str(tmp_path / "e.svg")]) == 0
    err = capsys.readouterr().err
    assert (("--frames" in err or "deck" in err) and err.count("\n") == 1) if small else err == ""


@needs_dot
@pytest.mark.parametrize("name", ["three-hops", "mx-fallback", "forwarding-loop"])
@pytest.mark.parametrize("headers", [False, True])
def test_every_frame_of_a_build_keeps_every_node_in_its_place(name, headers):
    j = scenarios.run(name)
    places = [node_places(to_svg(j, slide=True, headers=headers, highlight=s)) for s in frame_steps(j)]
    assert places[0] and all(p == places[0] for p in places), name


@needs_dot
def test_build_hide_leaves_later_hops_out_and_fade_greys_them(tmp_path):
    j = scenarios.run("three-hops")
    hidden = parse_svg(to_svg(j, highlight=1, build="hide"))
    faded = parse_svg(to_svg(j, highlight=1, build="fade"))
    assert "mx.example.net" not in text_of(hidden) and "mx.example.net" in text_of(faded)
    assert [g for g in groups(faded, "edge") if "faded" in classes(g)]
    paths = export_frames(j, tmp_path, build="hide")
    assert [p.name for p in paths] == ["step-01.svg", "step-02.svg", "step-03.svg"]


@needs_dot
def test_retries_are_numbered_2a_2b():
    text = text_of(parse_svg(to_svg(scenarios.run("mx-fallback"))))
    assert "2a" in text and "2b" in text and "Connection refused" in text


@needs_dot
@pytest.mark.parametrize("name", scenarios.names())
def test_every_svg_has_a_text_alternative(name):
    j = scenarios.run(name)
    svg = to_svg(j)
    root = parse_svg(svg)
    assert root.get("role") == "img"
    title = "".join(root.find(f"{SVG}title").itertext())
    desc = "".join(root.find(f"{SVG}desc").itertext())
    assert name in title and j.outcome.kind in title
    assert desc == j.describe() and ("Hop 1:" in desc or "Attempt 1" in desc)
    edge_titles = ["".join(g.find(f"{SVG}title").itertext()) for g in [*groups(root, "hop"), *groups(root, "attempt")]]
    assert edge_titles and all(re.match(r"(hop|rejected attempt|unreachable attempt|deferred attempt) \d", t)
                               and "→" in t for t in edge_titles)
    assert 'font-family="Liberation Sans, Arial, Helvetica, sans-serif"' in svg


@needs_dot
def test_sequence_view_holds_each_hops_commands_and_replies():
    j = scenarios.run("three-hops")
    text = text_of(parse_svg(to_svg(j, view="sequence")))
    for hop in j.hops:
        for line in hop.smtp:
            if line.side == "C" and not line.text.startswith("("):
                assert line.text in text, line
    assert "250 2.0.0 Ok: queued as" in text and "221 2.0.0 Bye" in text
    one = text_of(parse_svg(to_svg(j, view="sequence", highlight=2)))
    assert "hop 2" in one and "hop 3" not in one


@needs_dot
def test_headers_view_stacks_newest_on_top():
    j = scenarios.run("three-hops")
    text = text_of(parse_svg(to_svg(j, view="headers")))
    marks = [m for m in re.findall(r"hop (\d+)", text)]
    assert marks[:3] == ["3", "2", "1"]


@needs_dot
def test_deck_has_a_title_slide_then_one_slide_per_step_with_picture_and_notes(tmp_path):
    pptx = pytest.importorskip("pptx")
    j = scenarios.run("three-hops")
    out = export(j, tmp_path / "deck.pptx")
    deck = pptx.Presentation(str(out))
    slides = list(deck.slides)
    assert len(slides) == len(frame_steps(j)) + 1
    for slide, hop in zip(slides[1:], j.hops, strict=True):
        assert [s for s in slide.shapes if s.shape_type == 13]  # a picture
        notes = slide.notes_slide.notes_text_frame.text
        received = next(x for x in hop.added_headers if x.startswith("Received:"))
        assert " ".join(received.split()) in notes
        assert slide.shapes.title.text.startswith(f"Step {hop.n}")
    assert deck.slide_width * 9 == deck.slide_height * 16 or abs(deck.slide_width / deck.slide_height - 16 / 9) < 0.01
