"""The export panel: a button that turns the diagram a :class:`~mailhops.widgets.views.DiagramView`
shows into SVG and PNG download links, and for a journey a slide deck (``.pptx``, one slide per step)."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

import ipywidgets as W

from .. import draw as rd
from ..errors import MailhopsError
from ..journey import Journey
from .views import DiagramView, error_html

__all__ = ["ExportPanel"]


_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def _data_link(name: str, mime: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<a download="{html.escape(name)}" href="data:{mime};base64,{b64}" '
            f'style="margin-right:12px">&#11015; {html.escape(name)}</a>')


class ExportPanel(W.HBox):
    """A button that turns the diagram currently shown in a :class:`DiagramView` into download links: SVG, PNG and,
    when it shows a journey, the slide deck (PPTX)."""

    def __init__(self, view: DiagramView, *, stem: str = "mailhops-diagram") -> None:
        self.view = view
        self.stem = stem
        self.button = W.Button(description="Export diagram", icon="download", tooltip="make SVG, PNG and slide-deck downloads")
        self.links = W.HTML()
        self.button.on_click(lambda _b: self.export())
        super().__init__([self.button, self.links], layout=W.Layout(align_items="center"))

    def export(self) -> None:
        """Fill in the download links for the current diagram (an error sentence instead if it cannot)."""
        if self.view.drawn is None:
            self.links.value = error_html("There is no diagram to export yet.")
            return
        obj, kw = self.view.drawn
        try:
            svg = rd.to_svg(obj, **kw).encode("utf-8")
            with tempfile.TemporaryDirectory() as tmp:
                png = rd.export(obj, Path(tmp) / "diagram.png", **kw).read_bytes()
                deck = (rd.export(obj, Path(tmp) / "deck.pptx", **kw).read_bytes()
                        if isinstance(obj, Journey) and "pptx" in rd.FORMATS else None)
        except MailhopsError as err:
            self.links.value = error_html(str(err))
            return
        self.links.value = (_data_link(f"{self.stem}.svg", "image/svg+xml", svg)
                            + _data_link(f"{self.stem}.png", "image/png", png)
                            + (_data_link(f"{self.stem}.pptx", _PPTX, deck) if deck is not None else ""))
