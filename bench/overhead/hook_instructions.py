"""Instructions the allocation hooks cost per unit of a program's work, counted by callgrind with
one hash seed: the same measure on every run, where this machine's wall times move by 20% from
one minute to the next (bench/RESULTS.md).

    python3 bench/overhead/hook_instructions.py 'plain=python3' \\
        'sample=python3 -m memslim run --mode sample --no-census' \\
        'exact=python3 -m memslim run --no-census'

Each ``label=command`` is split like a shell line (leading ``NAME=value`` words go into its
environment, as in bench/real/ab.py) and runs the workload below twice under
``valgrind --tool=callgrind``, at two sizes; the difference between the two counts, divided by
the items the larger run adds, is what one item costs: interpreter start-up, memslim's set-up
and its report fall out of it. Each item makes a dict, a string and a list (about 12 blocks
from pymalloc) and frees them, as bench/real/programs/threads8.py does. Needs valgrind
(Debian: ``apt-get install valgrind``)."""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WORKLOAD = """\
import sys


def work(rounds):
    for r in range(rounds):
        batch = [{"n": i, "name": f"w-{r}-{i}", "tags": [i, i * 2]} for i in range(1000)]
        del batch


work(int(sys.argv[1]))
"""
ITEMS_PER_ROUND = 1000

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/_common.py
from _common import labelled_command  # noqa: E402


def _instructions(words: list[str], env: dict[str, str], script: Path, rounds: int) -> int:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}/callgrind.%p",
                *words,
                str(script),
                str(rounds),
            ],
            # One hash seed: string hashes decide dict probes, which moved the counts by 0.5%.
            env={"PYTHONHASHSEED": "0", **env},
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(words)} failed ({done.returncode}): {done.stderr[-400:]}")
    # The started process's count: a census child's, if any, comes first (it exits first).
    started = re.search(r"==(\d+)==", done.stderr)
    found = started and re.search(rf"=={started.group(1)}== Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind: {done.stderr[-400:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    parser.add_argument("--rounds", type=int, nargs=2, default=(10, 60), metavar=("FEW", "MORE"))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("hook_instructions: valgrind is not installed", file=sys.stderr)
        return 2
    few, more = args.rounds
    if not 0 < few < more:
        print("hook_instructions: --rounds needs 0 < FEW < MORE", file=sys.stderr)
        return 2
    try:
        commands = [labelled_command(spec) for spec in args.commands]
    except ValueError as e:
        print(f"hook_instructions: {e}", file=sys.stderr)
        return 2
    items = (more - few) * ITEMS_PER_ROUND
    with tempfile.TemporaryDirectory() as work:
        script = Path(work) / "allocations.py"
        script.write_text(WORKLOAD)
        base = None
        for label, words, env in commands:
            try:
                counts = [_instructions(words, env, script, rounds) for rounds in (few, more)]
            except RuntimeError as e:
                print(f"hook_instructions: {label}: {e}", file=sys.stderr)
                return 1
            per_item = (counts[1] - counts[0]) / items
            base = per_item if base is None else base
            print(
                f"{label:12s} {per_item:9.1f} instructions per item  "
                f"(+{per_item - base:7.1f} over {commands[0][0]})  "
                f"runs: {counts[0]:,} {counts[1]:,}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
