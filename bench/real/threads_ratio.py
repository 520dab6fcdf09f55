"""Threads against one thread: what a tool's overhead becomes when eight threads allocate.

Issue 11's threads target: allocation-heavy code in eight threads costs at most 1.2x the
single-thread overhead ratio. ``programs/threads8.py`` runs eight workers as threads, and with
``--sequential`` the same eight workers one after another in the main thread (the same work and
allocations). For each tool, over ``--repeat`` alternating rounds:

    overhead(form) = median wall(tool, form) / median wall(plain, form)
    threads penalty = overhead(threads) / overhead(sequential)

A penalty of 1.0 means the threads cost the tool nothing beyond what the same allocations cost
in one thread. Usage::

    python3 bench/real/threads_ratio.py --repeat 7 --tools memslim-nocensus,memslim,memray
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from run_real import PROGRAM_DIR, _tools, run_once  # noqa: E402

from _common import memslim_build  # noqa: E402

FORMS = {"threads": [], "sequential": ["--sequential"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tools", default="memslim-nocensus,memslim,memray,memray-pyalloc")
    args = parser.parse_args()
    tools = {tool.name: tool for tool in _tools()}
    chosen = ["plain", *[name for name in args.tools.split(",") if name != "plain"]]
    unknown = [name for name in chosen if name not in tools]
    if unknown:
        print(f"threads_ratio: unknown tool(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    program = str(PROGRAM_DIR / "threads8.py")
    walls: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="memslim-threads-") as tmp:
        scratch = Path(tmp)
        for round_ in range(args.repeat):
            for form, extra in FORMS.items():
                for name in chosen:
                    argv = [*tools[name].argv(sys.executable, scratch), program, *extra]
                    measured = run_once(argv, scratch, scratch / f"{name}-{form}", 300)
                    if measured.status != "ok":
                        print(f"threads_ratio: {name} {form} {measured.status}", file=sys.stderr)
                        return 1
                    walls.setdefault((name, form), []).append(measured.wall_s)
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
    print(f"memslim build {memslim_build()}; {args.repeat} rounds; medians of wall time\n")
    print("| tool | sequential (s) | × plain | 8 threads (s) | × plain | threads penalty |")
    print("|---|---:|---:|---:|---:|---:|")
    plain = {form: statistics.median(walls[("plain", form)]) for form in FORMS}
    for name in chosen:
        seq = statistics.median(walls[(name, "sequential")])
        thr = statistics.median(walls[(name, "threads")])
        seq_x, thr_x = seq / plain["sequential"], thr / plain["threads"]
        row = [f"{seq:.2f}", f"{seq_x:.2f}×", f"{thr:.2f}", f"{thr_x:.2f}×", f"{thr_x / seq_x:.2f}"]
        print(f"| {name} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
