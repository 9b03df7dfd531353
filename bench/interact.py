"""Benchmark the lessons' widgets: time from a widget change to the updated diagram and header view.

Usage::

    python bench/interact.py [--repeat 15]

For every scenario, a :class:`~mailhops.widgets.ScenarioExplorer` is switched to it, then a knob that
always re-runs the scenario (the "same hop limit on every server" checkbox) is flipped ``--repeat``
times; each flip simulates the journey again, draws its SVG with Graphviz ``dot`` and rebuilds the
header view, all before the assignment returns (ipywidgets calls observers synchronously). A step
of the hop stepper (diagram with hop k highlighted + headers of hops 1..k) is timed the same way,
with the diagram cache cleared so every step really runs ``dot``. Prints ``name: value`` lines in
milliseconds (medians); target: every ``change_ms`` < 150.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailhops import scenarios  # noqa: E402
from mailhops.widgets import ScenarioExplorer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)

    explorer = ScenarioExplorer("three-hops")
    worst = 0.0
    for name in scenarios.names():
        explorer.picker.value = name
        changes, steps = [], []
        for _ in range(args.repeat):
            before = explorer.stepper.diagram.outputs
            start = time.perf_counter()
            explorer.limit_on.value = not explorer.limit_on.value
            changes.append(time.perf_counter() - start)
            assert explorer.stepper.diagram.outputs is not before, "the diagram was not redrawn"
        stepper = explorer.stepper
        for i in range(args.repeat):
            stepper.diagram._cache.clear()
            start = time.perf_counter()
            stepper.slider.value = 1 + i % max(1, stepper.slider.max)
            steps.append(time.perf_counter() - start)
        change_ms = statistics.median(changes) * 1000
        worst = max(worst, change_ms)
        print(f"change_ms.{name}: {change_ms:.1f}")
        print(f"step_ms.{name}: {statistics.median(steps) * 1000:.1f}")
    print(f"change_ms.worst: {worst:.1f}")
    print(f"change_ms.target: {150:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
