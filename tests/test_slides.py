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


# --- no line crosses a word -------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def _path_points(d: str, step: float = 1.5) -> list[tuple[float, float]]:
    """Points along an SVG path as dot writes it (``M x,y C x1,y1 x2,y2 x3,y3 ...``: cubic Bézier pieces),
    about every ``step`` units."""
    nums = [float(n) for n in _NUMBER.findall(d)]
    pts = list(zip(nums[::2], nums[1::2], strict=False))
    if not pts:
        return []
    out = [pts[0]]
    for i in range(1, len(pts) - 2, 3):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        length = sum(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5 for a, b in ((p0, p1), (p1, p2), (p2, p3)))
        n = max(2, int(length / step))
        for k in range(1, n + 1):
            t = k / n
            u = 1 - t
            out.append(tuple(u ** 3 * a + 3 * u * u * t * b + 3 * u * t * t * c + t ** 3 * e  # type: ignore[misc]
                             for a, b, c, e in zip(p0, p1, p2, p3, strict=True)))
    return out


def _font_width(words: str, size: float, bold: bool) -> float:
    """How wide ``words`` are in Liberation Sans (dot's font here), measured with Pillow when the font is there,
    else estimated (about 0.55 em a character, 0.6 in bold)."""
    try:
        from PIL import ImageFont

        font = ImageFont.truetype(f"LiberationSans-{'Bold' if bold else 'Regular'}.ttf", 100)
        return font.getlength(words) * size / 100
    except (ImportError, OSError):
        return len(words) * size * (0.6 if bold else 0.55)


def _text_box(t) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) of an SVG <text> from x/y, font size, anchor and its measured width, a little
    inside the ink so that a line touching a word is no crossing."""
    words = "".join(t.itertext()).replace("\xa0", " ").strip()
    if not words:
        return None
    size = float(t.get("font-size", "14"))
    width = _font_width(words, size, t.get("font-weight") == "bold")
    x, y = float(t.get("x")), float(t.get("y"))
    left = {"middle": x - width / 2, "end": x - width}.get(t.get("text-anchor") or "start", x)
    return left + 1, y - 0.65 * size, left + width - 1, y + 0.1 * size


def _inside(p: tuple[float, float], poly: list[tuple[float, float]]) -> bool:
    """Whether point ``p`` lies inside the polygon ``poly`` (ray casting)."""
    x, y = p
    hit = False
    for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def _covers(root) -> list[list[tuple[float, float]]]:
    """The filled outlines of the nodes (drawn after the lines, so a line under one is hidden): polygons as
    they are, other shapes (the cylinder's path) by their bounding box."""
    out = []
    for g in groups(root, "node"):
        for el in g.iter():
            if el.tag not in (f"{SVG}polygon", f"{SVG}path") or el.get("fill") in (None, "none", "transparent"):
                continue
            nums = [float(n) for n in _NUMBER.findall(el.get("points") or el.get("d") or "")]
            pts = list(zip(nums[::2], nums[1::2], strict=False))
            if el.tag == f"{SVG}path" and pts:
                xs, ys = [q[0] for q in pts], [q[1] for q in pts]
                pts = [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]
            if len(pts) >= 3:
                out.append(pts)
            break  # the outline is the first filled shape; the rest is drawn on it
    return out


def crossed_words(svg: str) -> list[tuple[str, str]]:
    """(edge id, the text it crosses) for every edge path of ``svg`` that runs through a text other than its own
    label: the lines of a drawing must go round what the room reads."""
    root = parse_svg(svg)
    own: dict[int, str] = {}
    for g in groups(root, "edge"):
        for t in g.iter(f"{SVG}text"):
            own[id(t)] = g.get("id")
    boxes = [(own.get(id(t)), "".join(t.itertext()).strip(), box)
             for t in root.iter(f"{SVG}text") if (box := _text_box(t)) is not None]
    covers = _covers(root)
    hits = []
    for g in groups(root, "edge"):
        for path in g.iter(f"{SVG}path"):
            if "invis" in (path.get("stroke") or "") or path.get("stroke") == "transparent":
                continue
            points = _path_points(path.get("d") or "")
            points = [p for p in points if not any(_inside(p, shape) for shape in covers)]
            for owner, words, (left, top, right, bottom) in boxes:
                if owner == g.get("id"):
                    continue
                if any(left < x < right and top < y < bottom for x, y in points):
                    hits.append((g.get("id"), words))
    return sorted(set(hits))


def test_crossed_words_finds_a_line_through_a_word():
    """The check itself: a line through a word is found, one beside it is not, and an edge's own label is no hit."""
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><g>'
           '<text text-anchor="middle" x="100" y="100" font-size="14">a word here</text>'
           '<g id="e1" class="edge"><path d="M0,95C30,95 60,95 200,95"/></g>'
           '<g id="e2" class="edge"><path d="M0,150C30,150 60,150 200,150"/></g>'
           '<g id="e3" class="edge"><path d="M100,0C100,50 100,150 100,200"/>'
           '<text x="95" y="40" font-size="14">own label</text></g></g></svg>')
    assert crossed_words(svg) == [("e1", "a word here"), ("e3", "a word here")]


@needs_dot
@pytest.mark.parametrize("name", ["forwarding-loop", "three-hops", "mx-fallback", "spam-accept-then-bounce",
                                  "alias-loop"])
def test_no_line_crosses_a_word_on_a_slide(name):
    """On a slide the lines go round the host names, hop labels, reasons and notes, never through them."""
    svg = to_svg(scenarios.run(name), slide=True)
    assert crossed_words(svg) == []
