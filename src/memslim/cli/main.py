"""The ``memslim`` command."""

from __future__ import annotations

import argparse
import platform
import sys

from memslim import __version__
from memslim.cli.target import Target, TargetError, prepare, print_syntax_error, run


def _add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a module, like python -m")
    parser.add_argument(
        "target",
        nargs=argparse.REMAINDER,
        metavar="script.py [args...]",
        help="the script to run and its arguments",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memslim",
        description="Find out where a Python program's memory goes.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"memslim {__version__} (CPython {platform.python_version()})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sizeof = commands.add_parser(
        "sizeof",
        help="run a script, then show the true deep size of each of its global variables",
        description=(
            "Run a script (or -m module) to the end, then measure each of its global "
            "variables with memslim.sizeof and show the largest, with a breakdown by type."
        ),
    )
    sizeof.add_argument(
        "--top", type=int, default=10, metavar="N", help="how many globals to show (default 10)"
    )
    _add_target_arguments(sizeof)
    return parser


def _target_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Target:
    rest = list(args.target)
    if args.module is not None:
        return Target(module=args.module, args=rest)
    if not rest:
        parser.error(f"{args.command}: give a script to run (or -m MODULE)")
    return Target(script=rest[0], args=rest[1:])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "sizeof":
        if args.top < 1:
            parser.error("sizeof: --top must be at least 1")
        target = _target_from(args, parser)
        try:
            prepared = prepare(target)
        except TargetError as e:
            print(f"memslim: {e}", file=sys.stderr)
            return e.exit_code
        except SyntaxError as e:
            print_syntax_error(e)
            return 1
        from memslim.report.globals_table import print_globals_report

        outcome = run(prepared, target)
        print_globals_report(outcome.main_globals, top=args.top, title=" ".join(target.argv))
        return outcome.exit_code
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse checks first
    return 2
