"""Alternating timing runs of one program under several commands: the quick A/B behind the
"alternating runs" entries of bench/RESULTS.md.

    python3 bench/real/ab.py 5 bench/real/programs/json_csv_pipeline.py \\
        'plain=python3' 'sample=python3 -m memslim run --mode sample' \\
        'scratch=PYTHONPATH=/tmp/devA python3 -m memslim run'

Each ``label=command`` is split like a shell line; leading ``NAME=value`` words are set in the
command's environment, and the program's path is appended. Round by round, every command runs
once in the order given (so that a slower hour slows them all alike), as a fresh process with its
output discarded; the wall time is the whole process's. Prints each label's median, its ratio to
the first label's, and every run. A command that fails is reported and stops the comparison: a
failed run's time says nothing."""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time


def _command(spec: str) -> tuple[str, list[str], dict[str, str]]:
    label, sep, line = spec.partition("=")
    if not sep or not label or not line.strip():
        raise ValueError(f"expected LABEL=COMMAND, got {spec!r}")
    words = shlex.split(line)
    env = dict(os.environ)
    while words and "=" in words[0] and not words[0].startswith("-"):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if not words:
        raise ValueError(f"{label}: no command after the environment assignments")
    return label, words, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=int, help="rounds: each command runs once per round")
    parser.add_argument("program", help="the Python program every command runs")
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("runs must be at least 1")
    try:
        commands = [_command(spec) for spec in args.commands]
    except ValueError as e:
        parser.error(str(e))
    times: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    for _ in range(args.runs):
        for label, words, env in commands:
            began = time.perf_counter()
            done = subprocess.run(
                [*words, args.program],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                print(f"ab: {label} exited with status {done.returncode}", file=sys.stderr)
                return 1
            times[label].append(time.perf_counter() - began)
    name = os.path.basename(args.program)
    base = statistics.median(times[commands[0][0]])
    for label, runs in times.items():
        median = statistics.median(runs)
        listed = " ".join(f"{t:.2f}" for t in runs)
        print(f"{name:22} {label:14} median {median:.3f}  x{median / base:.3f}  [{listed}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
