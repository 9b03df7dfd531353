"""One escaping function for every text in a diagram: nasty strings render exactly as written."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_render_helpers import SVG, _dot_guard, groups, parse_svg, squeeze, text_of  # noqa: F401

from mailhops.draw import render_journey, to_svg
from mailhops.draw.escape import display_text, escape_label, wrap_label
from mailhops.journey import Hop, Journey, Outcome

NASTY = [
    "<alice@example.org>",
    "a < b & c",
    "C:\\mail",
    "\\N",
    "\\G \\E \\T \\H \\L",
    "ends with a backslash\\",
    'say "hi" and \'bye\'',
    "{braces} [brackets] |pipes|",
    "host:587",
    "bücher.example",
    "xn--bcher-kva.example",
    "例え.テスト",
    "Ünïcödé Señor Ελληνικά",
    "&amp; is not &",
    "]]> <!-- -->",
]


@pytest.mark.parametrize("value", NASTY)
def test_escaped_text_has_no_markup_or_lone_backslash(value):
    out = escape_label(value)
    assert not re.search(r"[<>\"']", out)
    assert "&" not in out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "").replace("&quot;", "").replace(
        "&#x27;", "")
    # every backslash doubled: undoing the doubling and the entities gives back the text
    assert html.unescape(out.replace("\\\\", "\\")) == value


def test_header_lines_are_unfolded_and_controls_replaced():
    assert display_text("Received: from a\r\n\tby b\r\n  id 1") == "Received: from a\tby b  id 1".replace("\t", " ")
    assert display_text("x\ny") == "x y"
    assert display_text("bell\x07 nul\x00 del\x7f") == "bell\ufffd nul\ufffd del\ufffd"
    assert display_text(None) == ""
    assert display_text(587) == "587"


@given(st.text())
def test_escape_is_safe_for_any_text(value):
    out = escape_label(value)
    assert "\n" not in out and "\r" not in out and "<" not in out and ">" not in out and '"' not in out
    assert not re.search(r"(?<!\\)\\(\\\\)*(?!\\)", out.replace("\\\\", ""))  # no single backslash left
    assert html.unescape(out.replace("\\\\", "\\")) == display_text(value)


@given(st.text(max_size=300), st.integers(min_value=10, max_value=80))
def test_wrapping_keeps_every_character(value, width):
    lines = [html.unescape(x.replace("\\\\", "\\")) for x in wrap_label(value, width)]
    assert all(len(line) <= width for line in lines)
    assert squeeze("".join(lines)) == squeeze(display_text(value))


@pytest.mark.needs_dot
def test_nasty_strings_render_as_written_in_nodes_edges_and_panels():
    hops = []
    for n, value in enumerate(NASTY, start=1):
        hops.append(Hop(n, from_name=None, ip="192.0.2.7", by_name=value, with_="ESMTP", for_=value,
                        added_headers=[f"X-Nasty: {value}", f"Received: from x\r\n\tby {value}; no date"]))
    j = Journey(hops=hops, outcome=Outcome("delivered", "2.0.0", "ok", mailbox=NASTY[0], folder="INBOX"),
                source="analyzed", envelope_from=NASTY[2], envelope_to=NASTY[0])
    svg = to_svg(j, headers=True)
    root = parse_svg(svg)
    titles = {"".join(next(g.iter(f"{SVG}text")).itertext()).replace("\xa0", " ") for g in groups(root, "server")}
    for value in NASTY:
        assert value in titles, value  # node titles: exactly as written, spaces and all
    panels = squeeze(" ".join(text_of(g) for g in groups(root, "panel")))
    for value in NASTY:
        assert squeeze(f"X-Nasty: {value}") in panels, value
    # "host:587" is a node of its own, not a port of a node called "host"
    assert len(groups(root, "server")) == len(NASTY) + 1
    assert not titles & {"n0", "n1", "n2", "n3", "n4"}  # \N was not expanded into a node ID


def test_node_ids_are_opaque():
    j = Journey(hops=[Hop(1, from_name="host:587", by_name="<alice@example.org>")], source="analyzed")
    source = render_journey(j).source
    ids = set(re.findall(r"^\s*(\S+) \[", source, flags=re.M))
    assert ids and all(re.fullmatch(r"n\d+|graph|node|edge", i) for i in ids), ids
    # HTML-like labels (<...>) must carry the text escaped; quoted DOT strings (the description kept for the SVG's
    # <desc>, which is XML-escaped when written) may hold it as it is
    outside_quoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', source)
    assert "&lt;alice@example.org&gt;" in outside_quoted and "<alice@example.org>" not in outside_quoted
