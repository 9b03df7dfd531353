"""The ``mailhops`` command line (also ``python -m mailhops``).

Commands: ``scenarios``, ``send``, ``export``, ``analyze``, ``dns``, ``serve``. Every error mailhops
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
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import MailhopsError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailhops",
        description="See why an email crosses several servers: simulate, draw and analyze mail journeys.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"mailhops {__version__}",
                        help="print the version of mailhops and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("scenarios", help="list the named scenarios, one per line")
    p.set_defaults(func=_cmd_scenarios)

    p = sub.add_parser("send", help="send a message through a scenario and show every hop",
                       epilog=_scenario_list(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", help="a scenario name (listed below, and by `mailhops scenarios`)")
    p.add_argument("--format", choices=["text", "json", "eml"], default="text",
                   help="text: every hop in words (default); json: the journey record; eml: the copy that arrived")
    p.add_argument("--seed", type=int, default=0, help="seed for MX tie-breaking and queue ids (default 0)")
    p.add_argument("--live", action="store_true", help="run the scenario on real SMTP servers on 127.0.0.1")
    _add_mta(p)
    p.set_defaults(func=_cmd_send)

    p = sub.add_parser("export", help="draw a scenario's journey or a real message's route to SVG/PNG/PDF or a .pptx deck")
    p.add_argument("source", help="a scenario name or a .eml file")
    p.add_argument("-o", "--output", help="output file (its extension chooses the format; .pptx: a slide deck)")
    p.add_argument("--format", choices=["svg", "png", "pdf", "pptx"],
                   help="the output format (default: from the extension of -o, else svg); must agree with -o")
    p.add_argument("--theme", choices=["light", "dark", "print"], default="light", help="colours (default light)")
    p.add_argument("--frames", metavar="DIR", help="write one picture per step into DIR (step-01.svg, step-b1.svg, ...)")
    p.add_argument("--view", choices=["journey", "sequence", "headers"], default="journey",
                   help="the route (default), the SMTP dialogue as a sequence diagram, or the header stack")
    p.add_argument("--build", choices=["fade", "hide"], default="fade",
                   help="in frames and decks, later steps faded (default) or absent")
    p.add_argument("--slide", action="store_true", help="16:9 slide layout")
    p.add_argument("--topology", action="store_true", help="draw the topology instead of the journey")
    p.add_argument("--headers", action="store_true", help="add header panels to the journey")
    p.add_argument("--dpi", type=_dpi, default=None,
                   help="PNG resolution, 10 to 1200 (default: crisp on a 1920 px slide)")
    p.add_argument("--seed", type=int, default=0, help="seed for MX tie-breaking and queue ids (default 0)")
    _add_mta(p)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("analyze", help="show the route of a real message from its headers")
    p.add_argument("file", help="an .eml file, a header block, or - for standard input")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--svg", metavar="OUT", help="also draw the route to this SVG file")
    p.add_argument("--verify", action="store_true",
                   help="check the DKIM and ARC signatures with keys from the live DNS (needs the Internet; 3 s time-out)")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("dns", help="print every DNS zone of a scenario (MX, A, SPF, DKIM keys, DMARC) as zone files")
    p.add_argument("scenario")
    p.set_defaults(func=_cmd_dns)

    p = sub.add_parser("serve", help="run a scenario's servers on loopback until Ctrl-C (or SIGTERM)",
                       epilog=_scenario_list(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", help="a scenario name (listed below, and by `mailhops scenarios`)")
    p.add_argument("--port-base", type=_port_base, default=None,
                   help="first port to use, 1 to 65000 (default: ports the system chooses)")
    p.add_argument("--spool", metavar="DIR", default=None,
                   help="keep spools and Maildirs in DIR, and take up again the messages a stopped serve left there")
    _add_mta(p)
    p.set_defaults(func=_cmd_serve)
    return parser


def _add_mta(p: argparse.ArgumentParser) -> None:
    """``--mta FLAVOUR``: every SMTP server of the scenario imitates that MTA (checked by the scenarios)."""
    p.add_argument("--mta", metavar="FLAVOUR", default=None,
                   help="make every SMTP server imitate this MTA: postfix, exim, sendmail, qmail, exchange or gmail")


def _scenario_list() -> str:
    """The scenarios, one per line, for the help of ``send`` and ``serve``."""
    from . import scenarios

    return "scenarios:\n" + "\n".join(f"  {name}" for name in scenarios.names())


def _bounded(convert: type, low: float, high: float, kind: str, what: str):  # noqa: ANN202
    """An argparse ``type`` that reads a number with ``convert`` and accepts it only from ``low`` to ``high``."""

    def read(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text if convert is float else value} is not {what}")
        return value

    return read


#: ``--port-base``: a whole number from 1 to 65000 (room for a topology's ports above it).
_port_base = _bounded(int, 1, 65000, "a whole number", "a port from 1 to 65000")
#: ``--dpi``: a resolution from 10 to 1200.
_dpi = _bounded(float, 10, 1200, "a number", "a resolution from 10 to 1200 dpi")


def _printable(text: str) -> str:
    r"""``text`` with every control character escaped, so nothing a client sent can steer the terminal.

    >>> print(_printable("mx\x1b[31m\r\nBcc: x"))
    mx\x1b[31m\r\nBcc: x
    """
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


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
    except BrokenPipeError:  # `mailhops send ... | head -1`: the reader left; say nothing more
        _quiet_stdout()
        return 141
    except OSError as err:  # a file that cannot be written or read: one sentence, not a traceback
        name = f" {err.filename}" if err.filename else ""
        print(f"mailhops: cannot use{name}: {err.strerror or err}.", file=sys.stderr)
        return 2


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's final flush meets no closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from . import scenarios

    for name in scenarios.names():
        print(f"{name} - {scenarios.get(name).summary}")
    return 0


def _cmd_send(args: argparse.Namespace) -> int:
    from . import scenarios
    from .draw.text import journey_text

    if args.live:
        journey = scenarios.run_live(args.scenario, seed=args.seed, mta=args.mta)
    else:
        journey = scenarios.run(args.scenario, seed=args.seed, mta=args.mta)
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
    _check_output(args.output, fmt)
    written: list[Path] = []
    try:
        if args.frames:
            if not isinstance(obj, Journey):
                raise RenderError("--frames draws one picture per hop of a journey; leave out --topology.")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                written += export_frames(obj, args.frames, format=fmt or "svg", theme=args.theme, slide=args.slide,
                                         dpi=args.dpi, headers=args.headers, build=args.build, view=args.view)
            _say_warnings(caught)
        if args.output or not args.frames:
            out = Path(args.output) if args.output else Path(f"{stem}.{fmt or 'svg'}")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                written.append(export(obj, out, format=fmt, theme=args.theme, slide=args.slide, dpi=args.dpi,
                                      headers=args.headers, build=args.build, view=args.view))
            _say_warnings(caught)
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


def _check_output(output: str | None, fmt: str | None) -> None:
    """One sentence, before anything is drawn, for an output name that cannot work."""
    if not output:
        return
    out = Path(output)
    suffix = out.suffix.lower().lstrip(".")
    if fmt and suffix and suffix != fmt and suffix in ("svg", "png", "pdf", "pptx"):
        raise MailhopsError(f"--format {fmt} does not agree with the file name {out.name}; "
                            f"name it {out.with_suffix('.' + fmt).name} or leave out --format.")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() or any(p.is_file() for p in parent.parents) else "does not exist"
        raise MailhopsError(f"Cannot write {output}: {parent} {what}.")


def _say_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Each distinct drawing warning (a slide too small to read) as one line on standard error."""
    from .draw.export import SlideTooSmall

    for text in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, SlideTooSmall)):
        print(f"mailhops: {text}", file=sys.stderr)


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

        journey = analyze(path.read_bytes())
        if not journey.hops:
            raise RenderError(f"{path.name} has no Received header, so there is no route to draw.")
        return journey, path.stem
    from . import scenarios

    mta = getattr(args, "mta", None)
    if args.topology:
        return scenarios.get(source).build(mta=mta), f"{source}-topology"
    return scenarios.run(source, seed=args.seed, mta=mta), source


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
    if getattr(args, "verify", False):
        journey.auth["verification"] = _verify_live(journey.message or b"")
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


def _verify_live(message: bytes) -> dict[str, Any]:
    """``analyze --verify``: the message's DKIM and ARC signatures checked with dkimpy, keys from the live DNS;
    when the DNS does not answer, ``{"status": "offline", "summary": one sentence}`` instead."""
    from .dns import live_txt_lookup
    from .errors import DNSLookupError
    from .mta.trust import verify_signatures

    try:
        lookup = live_txt_lookup(timeout=3.0)
    except DNSLookupError as err:
        return {"status": "offline", "summary": str(err)}
    return verify_signatures(message, lookup)


def _cmd_dns(args: argparse.Namespace) -> int:
    """Every zone of the scenario's topology in master-file format, each starting with ``$ORIGIN``."""
    from . import scenarios
    from .dns import TopologyDNS

    sys.stdout.write(TopologyDNS(scenarios.get(args.scenario).build()).all_zones_text())
    return 0


#: Seconds ``serve`` lets its queues work after Ctrl-C or SIGTERM before it stops.
DRAIN_SECONDS = 10.0


def _cmd_serve(args: argparse.Namespace) -> int:
    """``mailhops serve SCENARIO [--port-base N] [--spool DIR]``: run the servers until Ctrl-C or SIGTERM.

    On the signal the servers stop accepting, the queues work for up to :data:`DRAIN_SECONDS`, and every
    message still queued is listed with its spool file; ``--spool DIR`` run again takes them up.
    """
    import signal

    from . import scenarios
    from .live import LiveTopology

    scenario = scenarios.get(args.scenario)
    spool = getattr(args, "spool", None)
    directory = Path(spool) if spool else Path(tempfile.mkdtemp(prefix=f"mailhops-serve-{scenario.name}-"))
    if directory.exists() and not directory.is_dir():
        raise MailhopsError(f"--spool {spool} is a file, not a directory.")
    live = LiveTopology(scenario.build(mta=getattr(args, "mta", None)), directory=directory, port_base=getattr(args, "port_base", None),
                        on_event=_print_event)

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate) if threading.current_thread() is threading.main_thread() else None
    stop = threading.Event()
    try:
        with live:
            resumed = len(live.pending())
            print(live.describe(), flush=True)
            if resumed:
                print(f"\nTaken up again from the spool in {directory}: {resumed} queued message(s).", flush=True)
            try:  # the prompt inside: a signal that comes right after it is still a clean stop
                print("\nEach hop is printed as it happens. Press Ctrl-C to stop.\n", flush=True)
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                print(f"\nStopping: no new connections; the queues get {DRAIN_SECONDS:g} s to finish...",
                      file=sys.stderr, flush=True)
                live.drain(DRAIN_SECONDS)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    left = sorted(p for p in (directory / "spool").rglob("*") if p.is_file()) if (directory / "spool").is_dir() else []
    for path in left:
        print(f"still queued: {path}", file=sys.stderr, flush=True)
    if left:
        print(f"{len(left)} message(s) still queued; `mailhops serve {scenario.name} --spool {directory}` takes them up "
              "again.", file=sys.stderr, flush=True)
    print(f"Stopped. The Maildirs stay in {directory}", file=sys.stderr, flush=True)
    return 0


def _print_event(what: str, journey: Any, item: Any) -> None:
    """One console line per event of ``serve``: a hop, a refused attempt, an outcome."""
    who = f"<{journey.envelope_from or ''}> -> <{journey.envelope_to}>"
    if what == "hop":
        line = (f"[hop {item.n}] {item.from_server or item.from_name or item.ip} -> {item.by_server} with {item.with_} "
                f"id {item.id or '-'}  {who}")
    elif what == "attempt":
        line = f"[attempt] {item.from_server or item.from_name} -> {item.by_server}: {item.decision}"
    elif what == "outcome":
        line = f"[{item.kind}] {item.status} {item.detail}  {who}"
    else:
        return
    print(_printable(line), flush=True)  # what a client sent is shown escaped, never steering the terminal


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
