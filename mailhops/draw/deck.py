"""A journey as a slide deck (``.pptx``, python-pptx): a title slide, then one slide per step with that
step's frame as a picture, the step's caption as the slide title, and speaker notes holding the header
lines and SMTP lines of that hop. Opens in PowerPoint, LibreOffice Impress and Google Slides.

>>> from pptx import Presentation  # the library that writes (and here reads) the deck
>>> callable(write_deck)
True
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

from ..errors import RenderError
from ..journey import Journey
from ..topology import Topology
from .canvas import Canvas
from .export import SLIDE_DPI, SlideTooSmall, export_frames
from .journey import frame_steps
from .labels import step_caption
from .route import Route
from .themes import Theme, get_theme

__all__ = ["write_deck"]


def _notes(journey: Journey, step: int | str) -> str:
    """The header lines and the SMTP dialogue of ``step``'s hop (and failed attempts), for the speaker."""
    prefix, n = ("B", int(str(step)[1:])) if isinstance(step, str) else ("", step)
    source = journey.bounce if prefix and journey.bounce is not None else journey
    out: list[str] = []
    for hop in [h for h in source.timeline() if h.n == n]:
        if hop.status != "accepted":
            out.append(f"Attempt ({hop.status}): {hop.decision}")
        for line in hop.added_headers:
            out.append(" ".join(line.split()))
        if hop.smtp:
            out.append("")
            out += [str(line) for line in hop.smtp]
        out.append("")
    return "\n".join(out).strip() or "(nothing recorded for this step)"


def write_deck(journey: Journey, path: str | os.PathLike[str], *, theme: str | Theme = "light",
               headers: bool = False, topology: Topology | None = None, build: str = "fade",
               view: str = "journey") -> Path:
    """Write ``journey`` as a 16:9 deck to ``path``: a title slide, then one slide per step (frame picture at
    :data:`~mailhops.draw.export.SLIDE_DPI`, 1920 x 1080 px; caption as title; header and SMTP lines as notes)."""
    try:
        from pptx import Presentation
        from pptx.util import Emu, Inches, Pt
    except ImportError:
        raise RenderError("Writing a .pptx deck needs python-pptx: pip install python-pptx.") from None
    path = Path(path)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    cv = Canvas(get_theme(theme), True, "deck")
    route = Route.of(journey, cv, topology)
    first = prs.slides.add_slide(prs.slide_layouts[0])
    first.shapes.title.text = journey.scenario or "The route of a message, read from its Received headers"
    first.shapes.title.left, first.shapes.title.width = Inches(0.8), Inches(11.7)
    first.placeholders[1].left, first.placeholders[1].width = Inches(0.8), Inches(11.7)
    first.placeholders[1].text = journey.describe()
    for para in first.placeholders[1].text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(18)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", SlideTooSmall)
        frames = export_frames(journey, tmp, format="png", theme=theme, slide=True, dpi=SLIDE_DPI, headers=headers,
                               topology=topology, build=build, view=view)
        for step, frame in zip(frame_steps(journey), frames, strict=True):
            slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only"
            title = slide.shapes.title
            title.left, title.top, title.width, title.height = Inches(0.4), Inches(0.15), Inches(12.5), Inches(0.9)
            title.text = step_caption(route, step)
            for para in title.text_frame.paragraphs:
                for run in para.runs:
                    run.font.size = Pt(24)
            top = Inches(1.1)
            height = prs.slide_height - top - Inches(0.1)
            width = Emu(int(height * 16 / 9))
            slide.shapes.add_picture(io.BytesIO(frame.read_bytes()), (prs.slide_width - width) // 2, top,
                                     width=width, height=height)
            slide.notes_slide.notes_text_frame.text = _notes(journey, step)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prs.save(str(path))
    except OSError as err:
        raise RenderError(f"Cannot write the deck to {path}: {err.strerror or err}.") from None
    return path
