"""How near the peak the report's census is when several threads make the peak together.

Three workers each build a list of 300,000 strings and drop it, three times: the peak is
reached while all three hold theirs, and the heap falls as soon as one of them drops its list.
A census asked for by one worker must be taken before the others run on. Each run prints the
report's census traced bytes over the peak's; a CPU hog (``--hog``) stands for a busy machine.
Runs go two at a time, each pair after the last. Usage::

    PYTHONPATH=/tmp/devX python3 bench/real/threads_census.py --runs 10 --hog
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROGRAM = """\
import threading
def work(n):
    for r in range(3):
        parts = [f"{n}-{r}-{i}" for i in range(300_000)]
        total = sum(len(p) for p in parts)
        del parts
threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="pairs of runs")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--hog", action="store_true", help="a busy loop beside the runs")
    args = parser.parse_args()
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        script = directory / "three_workers.py"
        script.write_text(PROGRAM)
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.hog else None
        try:
            for round_ in range(args.runs):
                outputs = [directory / f"run{round_}-{i}.json" for i in range(2)]
                runs = [
                    subprocess.Popen(
                        [args.python, "-m", "memslim", "run", "--json", str(out), str(script)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for out in outputs
                ]
                for run in runs:
                    if run.wait() != 0:
                        print(f"a run failed with status {run.returncode}", file=sys.stderr)
                        return 1
                for out in outputs:
                    report = json.loads(out.read_text())
                    census = report["census"]["traced_bytes"]
                    ratios.append(census / report["peak"]["traced_bytes"])
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    ratios.sort()
    print(f"runs {len(ratios)}: census / peak median {statistics.median(ratios):.3f}, "
          f"min {ratios[0]:.3f}, below 0.95: {sum(r < 0.95 for r in ratios)}")  # fmt: skip
    print(" ".join(f"{r:.2f}" for r in ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
