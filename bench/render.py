"""Rendering speed: each scenario's journey to SVG, our overhead over `dot` alone, a 10-server journey with headers.

Run: python bench/render.py [--repeat 15]
Prints `name: value` lines (times in milliseconds, medians of --repeat runs):

- ``build_dot_source_ms.<scenario>``: our part alone, journey -> DOT source (no dot run);
- ``render_svg_ms.<scenario>``: build the Digraph from the journey and run dot to SVG (what
  ``to_svg(journey)`` costs; the journey itself is simulated once, outside the timing);
- ``dot_only_ms.<scenario>``: ``dot -Tsvg`` alone on the same DOT source, started the same way;
- ``overhead_ratio.<scenario>`` and ``overhead_ratio.total``: the first over the second.
  Target (issue 3): <= 1.2, our own work is small next to dot's layout;
- ``slide_header_pt_min.<scenario>``: on 16:9 slide frames with headers (every frame of a build), the
  smallest header-line type in points on the slide. Target: >= 12;
- ``slide_text_pt_min.<scenario>``: the smallest text of any kind on each scenario's slide. Target: >= 12;
- ``slide_names_pt_min.<scenario>``: the smallest server name, hop number or protocol (the slide's large
  type) on each scenario's slide. Target: >= 18;
- ``slide_names_pt_min_unwarned`` and ``slide_text_pt_min_unwarned``: the same minimum over the scenarios whose
  slide does not say "too small, use --frames" (``slide_warned_too_small`` lists those that do; the issue
  allows that one-line warning where a picture cannot meet the sizes);
- ``deck_forwarding_loop_s``: writing forwarding-loop's .pptx deck. Target: < 10 s;
- ``render_10_servers_headers_ms``: a journey through 10 servers with a header panel on every hop.
  Target: < 100 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mailhops import scenarios  # noqa: E402
from mailhops.draw import export, frame_steps, render_journey, to_svg  # noqa: E402
from mailhops.draw.export import SlideTooSmall  # noqa: E402
from mailhops.journey import Hop, Journey, Outcome  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up (imports, font cache)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def paired_median_ms(first, second, repeat: int) -> tuple[float, float]:
    first(), second()
    a, b = [], []
    for i in range(repeat):
        for fn, out in ((first, a), (second, b)) if i % 2 == 0 else ((second, b), (first, a)):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
    return statistics.median(a), statistics.median(b)


def smallest_mono_pt(svg: str) -> float:
    """The smallest Liberation Mono (header line) font size in the SVG, times dot's scale."""
    scale = float(re.search(r'transform="scale\(([\d.]+)', svg).group(1))
    sizes = [float(m) for m in re.findall(r'font-family="Liberation Mono[^"]*" font-size="([\d.]+)"', svg)]
    return min(sizes) * scale if sizes else 99.0


def smallest_pt(svg: str) -> float:
    """The smallest text of any kind in the SVG, in points on the 13.333 x 7.5 in slide."""
    scale = float(re.search(r'transform="scale\(([\d.]+)', svg).group(1))
    return min(float(m) for m in re.findall(r'font-size="([\d.]+)"', svg)) * scale


def names_pt(svg: str) -> float:
    """The smallest of the slide's large type (server names, hop numbers, protocols), in points on the slide."""
    scale = float(re.search(r'transform="scale\(([\d.]+)', svg).group(1))
    sizes = [float(m) for m in re.findall(r'font-size="([\d.]+)"', svg)]
    return min(x for x in sizes if x >= max(sizes) - 1.5) * scale


def dot_only(source: str) -> None:
    subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True, check=True)


def ten_server_journey() -> Journey:
    names = ["laptop.example.org", "smtp.example.org", "relay.example.org", "mx.example.net",
             "spamfilter.example.net", "av.example.net", "archive.example.net", "lists.example.net",
             "hub.example.net", "imap.example.net"]
    t0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
    hops = []
    for n in range(1, len(names)):
        frm, by, when = names[n - 1], names[n], t0 + timedelta(seconds=3 * n)
        proto = "LMTP" if n == len(names) - 1 else ("ESMTPSA" if n == 1 else "ESMTPS")
        received = (f"Received: from {frm} ({frm} [192.0.2.{n}])\r\n\t(using TLSv1.3 with cipher "
                    f"TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n\tby {by} (Postfix) with {proto} id 4F{n:09X}\r\n"
                    f"\tfor <bob@example.net>; {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}")
        extra = [f"X-Spam-Status: No, score=-0.{n} required=5.0 tests=DKIM_SIGNED,DKIM_VALID"] if n % 3 == 0 else []
        hops.append(Hop(n, from_name=frm, ip=f"192.0.2.{n}", by_name=by, with_=proto, date=when, delay_s=3.0,
                        added_headers=[received, *extra], from_server=frm, by_server=by))
    return Journey(hops=hops, outcome=Outcome("delivered", "2.0.0", "Delivered", mailbox="bob@example.net",
                                              folder="INBOX"), envelope_from="alice@example.org",
                   envelope_to="bob@example.net")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the "slide too small" note: the numbers below say it

    total_ours = total_dot = 0.0
    for name in scenarios.names():
        journey = scenarios.run(name)
        source = render_journey(journey).source
        # interleaved, so that a busy machine slows both sides alike
        ours, alone = paired_median_ms(lambda journey=journey: to_svg(journey),
                                       lambda source=source: dot_only(source), args.repeat)
        build = median_ms(lambda journey=journey: render_journey(journey).source, args.repeat)
        total_ours, total_dot = total_ours + ours, total_dot + alone
        print(f"build_dot_source_ms.{name}: {build:.2f}")
        print(f"render_svg_ms.{name}: {ours:.1f}")
        print(f"dot_only_ms.{name}: {alone:.1f}")
        print(f"overhead_ratio.{name}: {ours / alone:.3f}")
    print(f"overhead_ratio.total: {total_ours / total_dot:.3f}")
    print("overhead_ratio.target: 1.2")

    # slide frames: the smallest header-line type on the 13.333 x 7.5 in slide, in points (target >= 12)
    worst = 99.0
    for name in scenarios.names():
        journey = scenarios.run(name)
        sizes = [smallest_mono_pt(to_svg(journey, slide=True, headers=True, highlight=step))
                 for step in frame_steps(journey)]
        print(f"slide_header_pt_min.{name}: {min(sizes):.1f}")
        worst = min(worst, *sizes)
    print(f"slide_header_pt_min.all: {worst:.1f}")
    print("slide_header_pt_min.target: 12")

    # one slide per scenario (no headers): the smallest text of any kind (issue 15: >= 12) and the smallest
    # name, hop number or protocol (>= 18) on the slide
    # a slide that cannot meet the sizes says so (SlideTooSmall, suggesting --frames): the minimum over the
    # slides that do not warn is the honest figure, the warned ones are listed
    smallest = names_min = 99.0
    unwarned_text = unwarned_names = 99.0
    warned = []
    for name in scenarios.names():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            svg = to_svg(scenarios.run(name), slide=True)
        size, names = smallest_pt(svg), names_pt(svg)
        print(f"slide_text_pt_min.{name}: {size:.1f}")
        print(f"slide_names_pt_min.{name}: {names:.1f}")
        smallest, names_min = min(smallest, size), min(names_min, names)
        if any(issubclass(w.category, SlideTooSmall) for w in caught):
            warned.append(name)
        else:
            unwarned_text, unwarned_names = min(unwarned_text, size), min(unwarned_names, names)
    print(f"slide_text_pt_min.all: {smallest:.1f}")
    print(f"slide_text_pt_min_unwarned: {unwarned_text:.1f}")
    print("slide_text_pt_min.target: 12")
    print(f"slide_names_pt_min.all: {names_min:.1f}")
    print(f"slide_names_pt_min_unwarned: {unwarned_names:.1f}")
    print("slide_names_pt_min.target: 18")
    print(f"slide_warned_too_small: {','.join(warned) or '-'}")

    # the forwarding-loop deck (.pptx): one slide per step, PNG frames at 144 dpi
    loop = scenarios.run("forwarding-loop")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        export(loop, Path(tmp) / "deck.pptx")
        print(f"deck_forwarding_loop_s: {time.perf_counter() - start:.1f}")
    print("deck_forwarding_loop_s.target: 10")

    big = ten_server_journey()
    print(f"render_10_servers_headers_ms: {median_ms(lambda: to_svg(big, headers=True), args.repeat):.1f}")
    print("render_10_servers_headers_ms.target: 100")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
