"""Diagrams drawn in the browser (WebAssembly Graphviz) wherever ``dot`` cannot run: the Python side.

Checked without a browser: which display Jupyter gets, that the Graphviz module travels once (in the shared
engine) and not in every diagram, that stepping only sends new DOT source to the same widget, and that the
friendly note stays when this installation has no WebAssembly Graphviz. The browser side is exercised by
tests/test_site.py (JupyterLite) in headless Chromium.
"""

from __future__ import annotations

import json
from pathlib import Path

import graphviz
import pytest
from conftest import need

from mailhops import draw, scenarios, widgets
from mailhops.widgets import browser_graph

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH without Graphviz, as on most Windows laptops; needs the WebAssembly Graphviz of ./dev.sh."""
    need(browser_graph.graphviz_module() is not None,
         "no WebAssembly Graphviz in mailhops/widgets/_vendor/ (`./dev.sh test` fetches it from npm)")
    monkeypatch.setenv("PATH", str(tmp_path))


def test_with_dot_diagrams_stay_svg() -> None:
    need(browser_graph.shutil.which("dot") is not None, "Graphviz dot is not installed")
    assert not browser_graph.draws_in_browser()
    assert list(scenarios.run("three-hops")._repr_mimebundle_()) == ["image/svg+xml"]


def test_a_record_without_dot_is_drawn_in_the_browser(no_dot: None) -> None:
    journey = scenarios.run("three-hops")
    bundle = journey._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and "image/svg+xml" not in bundle
    from ipywidgets.widgets.widget import _instances

    model = _instances[bundle[WIDGET_VIEW]["model_id"]]
    assert model.dot == draw.render(journey).source  # the very DOT source dot would have drawn


def test_the_graphviz_module_travels_once_in_the_shared_engine(no_dot: None) -> None:
    first, second = browser_graph.BrowserDiagram("digraph { a }"), browser_graph.BrowserDiagram("digraph { b }")
    assert first.engine is second.engine is browser_graph.engine()
    module = browser_graph.graphviz_module()
    assert len(module) > 300_000 and "Graphviz" in module
    assert first.engine.source == module
    for widget in (first, second):  # each diagram's own state is its DOT source and a reference, not the module
        assert len(json.dumps(widget.get_state(), default=str)) < 5_000


def test_stepping_without_dot_sends_only_new_dot_source_to_the_same_widget(no_dot: None) -> None:
    stepper = widgets.HopStepper(scenarios.run("three-hops"))
    view = stepper.diagram
    shown = view.browser
    assert shown is not None and view.svg is None
    outputs, before = view.outputs, shown.dot
    stepper.slider.value = 2
    assert view.browser is shown and view.outputs == outputs  # same widget, nothing re-displayed
    assert shown.dot != before and "penwidth" in shown.dot


def test_dot_that_cannot_start_as_in_pyodide_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the browser, graphviz raises OSError("emscripten does not support processes"), not ExecutableNotFound."""
    need(browser_graph.graphviz_module() is not None, "no WebAssembly Graphviz in mailhops/widgets/_vendor/")

    def no_processes(*args: object, **kw: object) -> bytes:
        raise OSError(138, "emscripten does not support processes.")

    monkeypatch.setattr(graphviz.Digraph, "pipe", no_processes)
    bundle = draw.repr_mimebundle(scenarios.run("three-hops"))
    assert WIDGET_VIEW in bundle


def test_without_the_module_the_friendly_note_stays(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(browser_graph, "graphviz_module", lambda: None)
    assert not browser_graph.draws_in_browser()
    bundle = scenarios.run("three-hops")._repr_mimebundle_()
    assert WIDGET_VIEW not in bundle and "install" in bundle["text/plain"] and "digraph" in bundle["text/plain"]


def test_the_explorer_names_the_server_it_needs_only_in_the_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not widgets.ScenarioExplorer("three-hops").transport.disabled
    monkeypatch.setattr("mailhops.widgets.explorer.IN_BROWSER", True)
    explorer = widgets.ScenarioExplorer("three-hops")
    assert explorer.transport.disabled
    assert "need a Jupyter server" in explorer.transport_note.value
