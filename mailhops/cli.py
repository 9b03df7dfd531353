"""The ``mailhops`` command line (also ``python -m mailhops``).

Commands: ``scenarios``, ``send``, ``export``, ``analyze``, ``serve``. Every error mailhops
raises on purpose is printed as one sentence on stderr, without a traceback, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    from .report import journey_text

    if args.live:
        from . import live

        journey = live.run_scenario(args.scenario, seed=args.seed)
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
    from .errors import MailhopsError

    raise MailhopsError(
        f"Nothing reached a mailbox in this scenario (outcome: {journey.outcome.kind if journey.outcome else 'none'})."
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from .render import export_cli

    return export_cli(args)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from .analyze import analyze_cli

    return analyze_cli(args)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .live import serve_cli

    return serve_cli(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
