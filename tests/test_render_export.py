"""Export to SVG/PNG/PDF, slide frames, and the `mailhops export` command."""

from __future__ import annotations

import re
import struct

import pytest
from test_render_helpers import (  # noqa: F401
    _dot_guard,
    classes,
    groups,
    parse_svg,
    rejected_with_bounce,
    text_of,
    three_hops,
    topology,
)

from mailhops import scenarios
from mailhops.cli import main
from mailhops.draw import export, export_frames, frame_steps
from mailhops.errors import RenderError

needs_dot = pytest.mark.needs_dot


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [("svg", b"<?xml"), ("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-")])
def test_export_writes_each_format(tmp_path, suffix, magic):
    out = export(three_hops(), tmp_path / "sub" / f"journey.{suffix}", topology=topology())
    data = out.read_bytes()
    assert out == tmp_path / "sub" / f"journey.{suffix}"
    assert data.startswith(magic) and len(data) > 5_000
    if suffix == "pdf":
        assert data.rstrip().endswith(b"%%EOF")


@needs_dot
def test_format_argument_wins_over_the_suffix(tmp_path):
    out = export(topology(), tmp_path / "picture.out", format="png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_unknown_suffix_without_format_is_a_render_error(tmp_path):
    with pytest.raises(RenderError, match=r"\.svg, \.png, \.pdf or \.pptx"):
        export(topology(), tmp_path / "picture.gif")


@needs_dot
def test_png_dpi_scales_the_picture(tmp_path):
    small = png_size(export(topology(), tmp_path / "a.png", dpi=72).read_bytes())
    crisp = png_size(export(topology(), tmp_path / "b.png").read_bytes())  # default: 144 dpi
    assert crisp[0] == pytest.approx(2 * small[0], abs=2)


@needs_dot
def test_slide_png_is_1920_by_1080_and_pdf_is_16_by_9(tmp_path):
    j = rejected_with_bounce()
    assert png_size(export(j, tmp_path / "s.png", slide=True).read_bytes()) == (1920, 1080)
    assert png_size(export(topology(), tmp_path / "t.png", slide=True, dpi=72).read_bytes()) == (960, 540)
    pdf = export(j, tmp_path / "s.pdf", slide=True).read_bytes()
    assert re.search(rb"/MediaBox \[ ?0 0 960 540 ?\]", pdf), pdf[:2000]


@needs_dot
def test_frames_one_picture_per_step_each_highlighting_its_hop(tmp_path):
    j = rejected_with_bounce()
    paths = export_frames(j, tmp_path / "frames", topology=topology())
    assert [p.name for p in paths] == ["step-01.svg", "step-02.svg", "step-03.svg", "step-b1.svg"]
    assert frame_steps(j) == [1, 2, 3, "B1"]
    for path, step in zip(paths, frame_steps(j), strict=True):
        root = parse_svg(path.read_text())
        lit = [g for g in groups(root, "edge") if "highlight" in classes(g) and "dns" not in classes(g)]
        assert len(lit) == 1 and f"step-{step}" in classes(lit[0])


@needs_dot
def test_frames_in_png_for_a_slide_build(tmp_path):
    paths = export_frames(scenarios.run("three-hops"), tmp_path, format="png", slide=True, headers=True, dpi=72)
    assert len(paths) == 3 and all(png_size(p.read_bytes()) == (960, 540) for p in paths)


# ------------------------------------------------------------------------------------------------ CLI
@needs_dot
def test_cli_exports_a_scenario_in_the_format_of_the_extension(tmp_path, capsys):
    out = tmp_path / "loop.svg"
    assert main(["export", "forwarding-loop", "-o", str(out), "--theme", "dark"]) == 0
    root = parse_svg(out.read_text())
    assert groups(root, "loop") and "looped" in text_of(root)
    assert str(out) in capsys.readouterr().out
    png = tmp_path / "loop.bin"
    assert main(["export", "forwarding-loop", "-o", str(png), "--format", "png"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


@needs_dot
def test_cli_topology_headers_and_frames(tmp_path):
    topo = tmp_path / "topo.pdf"
    assert main(["export", "enterprise", "--topology", "-o", str(topo), "--slide"]) == 0
    assert topo.read_bytes()[:5] == b"%PDF-"
    frames = tmp_path / "slides"
    assert main(["export", "spam-rejected", "--frames", str(frames), "--headers"]) == 0
    names = sorted(p.name for p in frames.iterdir())
    j = scenarios.run("spam-rejected")
    assert names == sorted(f"step-{s:02d}.svg" if isinstance(s, int) else f"step-{s.lower()}.svg"
                           for s in frame_steps(j))


def test_cli_unknown_scenario_is_one_sentence(capsys):
    assert main(["export", "no-such-scenario", "-o", "x.svg"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mailhops: ") and "Traceback" not in err and err.count("\n") == 1


def test_cli_without_dot_exits_non_zero_with_install_hints_and_saves_the_source(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "three.svg"
    assert main(["export", "three-hops", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "apt-get install graphviz" in err and "brew install graphviz" in err
    assert not out.exists()
    saved = tmp_path / "three.gv"
    assert str(saved) in err and saved.read_text().startswith("digraph mailhops_journey")


@needs_dot
def test_cli_draws_the_route_of_a_real_message(tmp_path):
    pytest.importorskip("mailhops.read.analyze", reason="the header analyzer (issue 5) is not in this checkout")
    eml = tmp_path / "message.eml"
    eml.write_bytes(scenarios.run("enterprise").message)
    out = tmp_path / "route.svg"
    assert main(["export", str(eml), "-o", str(out), "--headers"]) == 0
    root = parse_svg(out.read_text())
    assert len(groups(root, "hop")) == len(scenarios.run("enterprise").hops)
    assert "route read from the Received headers" in text_of(root)
    assert main(["export", str(eml), "--topology", "-o", str(out)]) == 2


@needs_dot
def test_unwritable_output_is_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RenderError, match=r"^Cannot write the picture to .*\.$"):
        export(topology(), blocker / "t.svg")
