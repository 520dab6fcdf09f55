"""Alternating timing runs of one program under several commands: the quick A/B behind the
"alternating runs" entries of bench/RESULTS.md.

    python3 bench/real/ab.py 5 bench/real/programs/json_csv_pipeline.py \\
        'plain=python3' 'sample=python3 -m memslim run --mode sample' \\
        'scratch=PYTHONPATH=/tmp/devA python3 -m memslim run'

Each ``label=command`` is split like a shell line; leading ``NAME=value`` words are set in the
command's environment, and the program's path is appended. Round by round, every command runs
once in the order given (so that a slower hour slows them all alike), as run_real.py runs its
tools (``run_once``: a session of its own, GNU time's peak RSS). Prints each label's median wall
time, its ratio to the first label's, every run, the median CPU time of the whole process
tree (census children included) and its ratio, and the median peak RSS. A run that fails or
times out stops the comparison: its time says nothing."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_real import _last_line, run_once

from _common import labelled_command  # on the path run_real puts it on

TIMEOUT_S = 600.0  # a run this long is not a timing run any more


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=int, help="rounds: each command runs once per round")
    parser.add_argument("program", help="the Python program every command runs")
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("runs must be at least 1")
    try:
        commands = [labelled_command(spec) for spec in args.commands]
    except ValueError as e:
        parser.error(str(e))
    program = os.path.abspath(args.program)
    walls: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    rss: dict[str, list[int]] = {label: [] for label, _, _ in commands}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    with tempfile.TemporaryDirectory(prefix="memslim-ab-") as scratch:
        for _ in range(args.runs):
            for index, (label, words, env) in enumerate(commands):
                log_base = Path(scratch) / f"run-{index}"
                measured = run_once([*words, program], Path.cwd(), log_base, TIMEOUT_S, env)
                if measured.status != "ok":
                    why = _last_line(Path(f"{log_base}.err"))
                    print(f"ab: {label}: {measured.status} ({why})", file=sys.stderr)
                    return 1
                walls[label].append(measured.wall_s)
                rss[label].append(measured.maxrss_kib)
                cpus[label].append(measured.cpu_s)
    name = os.path.basename(program)
    base = statistics.median(walls[commands[0][0]])
    cpu_base = statistics.median(cpus[commands[0][0]]) or 1.0
    for label, runs in walls.items():
        median = statistics.median(runs)
        listed = " ".join(f"{t:.2f}" for t in runs)
        mib = statistics.median(rss[label]) / 1024
        cpu = statistics.median(cpus[label])
        print(
            f"{name:22} {label:14} median {median:.3f}  x{median / base:.3f}  [{listed}]"
            f"  CPU {cpu:.2f} s (x{cpu / cpu_base:.3f})  peak RSS {mib:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
