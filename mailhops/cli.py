"""The ``mailhops`` command line (also ``python -m mailhops``).

Commands: ``scenarios``, ``send``, ``export``, ``analyze``, ``serve``. Every error mailhops
raises on purpose is printed as one sentence on stderr, without a traceback, with exit status 2.

This is the top layer and the only place that composes the others: "export a scenario or an .eml file"
(scenarios or the analyzer, then the drawing package), "analyze, then draw", "serve a named scenario".
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import MailhopsError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailhops",
        description="See why an email crosses several servers: simulate, draw and analyze mail journeys.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("scenarios", help="list the named scenarios, one per line")
    p.set_defaults(func=_cmd_scenarios)

    p = sub.add_parser("send", help="send a message through a scenario and show every hop")
    p.add_argument("scenario", help="a scenario name (see `mailhops scenarios`)")
    p.add_argument("--format", choices=["text", "json", "eml"], default="text")
    p.add_argument("--seed", type=int, default=0, help="seed for MX tie-breaking and queue ids (default 0)")
    p.add_argument("--live", action="store_true", help="run the scenario on real SMTP servers on 127.0.0.1")
    p.set_defaults(func=_cmd_send)

    p = sub.add_parser("export", help="draw a scenario's journey or a real message's route to SVG/PNG/PDF")
    p.add_argument("source", help="a scenario name or a .eml file")
    p.add_argument("-o", "--output", help="output file (its extension chooses the format)")
    p.add_argument("--format", choices=["svg", "png", "pdf"])
    p.add_argument("--theme", choices=["light", "dark", "print"], default="light")
    p.add_argument("--frames", metavar="DIR", help="write one picture per hop into DIR (hop-01.svg, ...)")
    p.add_argument("--slide", action="store_true", help="16:9 slide layout")
    p.add_argument("--topology", action="store_true", help="draw the topology instead of the journey")
    p.add_argument("--headers", action="store_true", help="add header panels to the journey")
    p.add_argument("--dpi", type=float, default=None, help="PNG resolution (default: crisp on a 1920 px slide)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("analyze", help="show the route of a real message from its headers")
    p.add_argument("file", help="an .eml file, a header block, or - for standard input")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--svg", metavar="OUT", help="also draw the route to this SVG file")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("serve", help="run a scenario's servers on 127.0.0.1 until Ctrl-C")
    p.add_argument("scenario")
    p.add_argument("--port-base", type=int, default=None, help="first port to use (default: ephemeral ports)")
    p.set_defaults(func=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    >>> main(["scenarios"])  # doctest: +ELLIPSIS
    three-hops ...
    0
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MailhopsError as err:
        print(f"mailhops: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from . import scenarios

    for name in scenarios.names():
        print(f"{name} - {scenarios.get(name).summary}")
    return 0


def _cmd_send(args: argparse.Namespace) -> int:
    from . import scenarios
    from .draw.text import journey_text

    if args.live:
        journey = scenarios.run_live(args.scenario, seed=args.seed)
    else:
        journey = scenarios.run(args.scenario, seed=args.seed)
    if args.format == "json":
        print(journey.to_json())
    elif args.format == "eml":
        sys.stdout.write(_final_copy(journey).decode("utf-8", "replace"))
    else:
        print(journey_text(journey))
    return 0


def _final_copy(journey) -> bytes:  # noqa: ANN001
    """The recipient's copy, or when nothing reached the recipient, the bounce in the sender's mailbox."""
    if journey.outcome and journey.outcome.kind in ("delivered", "junk") and journey.message:
        return journey.message
    if journey.bounce is not None and journey.bounce.message:
        return journey.bounce.message
    raise MailhopsError(
        f"Nothing reached a mailbox in this scenario (outcome: {journey.outcome.kind if journey.outcome else 'none'})."
    )


def _cmd_export(args: argparse.Namespace) -> int:
    """``mailhops export``: draw a scenario's journey (or topology) or a real message's route."""
    from .draw.export import export, export_frames
    from .errors import RenderError
    from .journey import Journey

    obj, stem = _export_source(args)
    fmt = args.format
    written: list[Path] = []
    try:
        if args.frames:
            if not isinstance(obj, Journey):
                raise RenderError("--frames draws one picture per hop of a journey; leave out --topology.")
            written += export_frames(obj, args.frames, format=fmt or "svg", theme=args.theme, slide=args.slide,
                                     dpi=args.dpi, headers=args.headers)
        if args.output or not args.frames:
            out = Path(args.output) if args.output else Path(f"{stem}.{fmt or 'svg'}")
            written.append(export(obj, out, format=fmt, theme=args.theme, slide=args.slide, dpi=args.dpi,
                                  headers=args.headers))
    except RenderError as err:
        source = getattr(err, "source", None)
        if source and shutil.which("dot") is None:
            dot_file = Path(args.output).with_suffix(".gv") if args.output else Path(f"{stem}.gv")
            dot_file.write_text(source, encoding="utf-8")
            raise RenderError(f"{str(err).rstrip('.')}; the DOT source was saved to {dot_file}.") from None
        raise
    for path in written:
        print(path, file=sys.stdout)
    return 0


def _export_source(args: argparse.Namespace) -> tuple[Any, str]:
    """The journey (or topology) the export command draws, and a default file stem."""
    from .errors import RenderError

    source = args.source
    path = Path(source)
    if path.suffix.lower() in (".eml", ".txt", ".msg") or path.is_file():
        if args.topology:
            raise RenderError(f"{path.name} is a message, not a scenario, so it has no topology to draw.")
        if not path.is_file():
            raise RenderError(f"There is no file {source}.")
        from .read.analyze import analyze

        return analyze(path.read_bytes()), path.stem
    from . import scenarios

    if args.topology:
        return scenarios.get(source).build(), f"{source}-topology"
    return scenarios.run(source, seed=args.seed), source


def _cmd_analyze(args: argparse.Namespace) -> int:
    """``mailhops analyze FILE|- [--format text|json] [--svg OUT]``: the route of a real message."""
    from .read.analyze import analyze, journey_table, to_json_dict

    name = args.file
    if name == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
        journey = analyze(data)
    else:
        path = Path(name)
        if not path.exists():
            raise MailhopsError(f"The file {name} does not exist.")
        journey = analyze(path)
    if getattr(args, "format", "text") == "json":
        print(json.dumps(to_json_dict(journey), indent=2, ensure_ascii=False))
    else:
        print(journey_table(journey))
    svg = getattr(args, "svg", None)
    if svg:
        from .draw.export import export

        export(journey, svg, format="svg")  # a missing ``dot`` raises its one-sentence RenderError
        print(f"Diagram written to {svg}", file=sys.stderr)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """``mailhops serve SCENARIO [--port-base N]``: run the servers until Ctrl-C."""
    from . import scenarios
    from .live import LiveTopology

    scenario = scenarios.get(args.scenario)
    directory = Path(tempfile.mkdtemp(prefix=f"mailhops-serve-{scenario.name}-"))
    live = LiveTopology(scenario.build(), directory=directory, port_base=getattr(args, "port_base", None),
                        on_event=_print_event)
    stop = threading.Event()
    with live:
        print(live.describe(), flush=True)
        print("\nEach hop is printed as it happens. Press Ctrl-C to stop.\n", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("\nStopping the servers...", file=sys.stderr, flush=True)
    print(f"Stopped. The Maildirs stay in {directory}", file=sys.stderr, flush=True)
    return 0


def _print_event(what: str, journey: Any, item: Any) -> None:
    """One console line per event of ``serve``: a hop, a refused attempt, an outcome."""
    who = f"<{journey.envelope_from or ''}> -> <{journey.envelope_to}>"
    if what == "hop":
        print(f"[hop {item.n}] {item.from_server or item.from_name or item.ip} -> {item.by_server} with {item.with_} "
              f"id {item.id or '-'}  {who}", flush=True)
    elif what == "attempt":
        print(f"[attempt] {item.from_server or item.from_name} -> {item.by_server}: {item.decision}", flush=True)
    elif what == "outcome":
        print(f"[{item.kind}] {item.status} {item.detail}  {who}", flush=True)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
