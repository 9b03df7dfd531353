"""The analyzer panel: paste a real message's headers and see its route, hop by hop."""

from __future__ import annotations

import html

import ipywidgets as W

from ..errors import MailhopsError
from ..journey import Journey
from .stepper import HopStepper
from .views import error_html, ok_html

__all__ = ["AnalyzePanel"]


class AnalyzePanel(W.VBox):
    """Paste a real message's headers, press the button, see its route: diagram, hop table, header stepper.

    Nothing leaves the machine: :func:`mailhops.read.analyze.analyze` only reads the text, looks nothing up.
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
            self.status.value = error_html("Paste the headers of a message first (in your mail program: "
                                            "'Show original' or 'View source').")
            return False
        try:
            journey = analyze(text)
        except MailhopsError as err:
            self.status.value = error_html(str(err))
            return False
        self.journey = journey
        if not journey.hops:
            reason = journey.notes[-1] if journey.notes else "no Received header was found"
            self.status.value = error_html(f"No route to show: {reason}.")
            self.table.value = ""
            self.stepper.layout.display = "none"
            return False
        self.status.value = ok_html(f"{len(journey.hops)} hops found, oldest first. Step through them below.")
        self.table.value = f'<pre style="font-size:12px;overflow:auto">{html.escape(journey_table(journey))}</pre>'
        self.stepper.layout.display = ""
        self.stepper.set_journey(journey, step="last")
        return True
