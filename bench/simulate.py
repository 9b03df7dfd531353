"""Simulation speed: journeys per second and import time. Prints `name: value` lines.

Run: python bench/simulate.py
Targets (issue 2): import < 0.3 s; >= 2,000 three-hops journeys/s on one core.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing


def import_time(runs: int = 5) -> float:
    code = "import time; t = time.perf_counter(); import mailhops; print(time.perf_counter() - t)"
    root = str(Path(__file__).resolve().parent.parent)
    samples = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    cwd=root).stdout)
               for _ in range(runs)]
    return statistics.median(samples)


def rate(fn, seconds: float = 2.0) -> float:  # noqa: ANN001
    fn(0)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(n)
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    from mailhops import scenarios
    from mailhops.simulate import send

    print(f"import_mailhops_s: {import_time():.3f}")
    sc = scenarios.get("three-hops")
    topo = sc.build()
    print(f"three_hops_journeys_per_s: {rate(lambda i: send(topo, sc.sender, sc.recipient, seed=i)):.0f}")
    print(f"three_hops_run_scenario_per_s: {rate(lambda i: scenarios.run('three-hops', seed=i)):.0f}")
    loop = scenarios.get("forwarding-loop")
    ltopo = loop.build()
    hops = len(send(ltopo, loop.sender, loop.recipient).hops)
    print(f"forwarding_loop_hops: {hops}")
    print(f"forwarding_loop_journeys_per_s: {rate(lambda i: send(ltopo, loop.sender, loop.recipient, seed=i)):.1f}")


if __name__ == "__main__":
    main()
