"""Peak traced bytes (tracemalloc) of every example program under examples/advice, and a check
that each after.py prints what its before.py prints.

    python3 bench/advice/measure_pairs.py                  # the tables in README.md
    python3 bench/advice/measure_pairs.py examples/advice/slots/before.py  # one: its peak in bytes

Each program runs in a fresh interpreter. Like tests/fixtures/tracemalloc_harness.py (and like
`memslim run`, whose process has them loaded already), the script is compiled and the modules the
examples import are imported before tracing starts, so an `import` that a fix adds is not charged
to its peak. MB are 10**6 bytes. The seconds are one plain run (no tracing) on this machine.
"""

import array  # noqa: F401 - imported before tracing, see above
import ast
import collections  # noqa: F401
import contextlib
import dataclasses  # noqa: F401
import functools  # noqa: F401
import importlib
import math  # noqa: F401
import os
import random  # noqa: F401
import re  # noqa: F401
import subprocess
import sys
import time
import tracemalloc
import types
import weakref  # noqa: F401
from pathlib import Path

HERE = Path(__file__).resolve().parents[2] / "examples" / "advice"


def _imported(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def traced_peak(script: Path) -> int:
    """Run `script` as __main__ in this process and return tracemalloc's peak traced bytes."""
    code = compile(script.read_bytes(), str(script), "exec")
    # The script's own imports too (NumPy, pandas, attrs), and only those: importing more would
    # change when the cyclic GC runs (pandas' objects delayed full collections and the cycle
    # pair's difference fell from 18.5 to 13.9 MB).
    for node in ast.parse(script.read_bytes()).body:
        for name in _imported(node):
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    sys.modules["__main__"] = main
    sys.argv = [str(script)]
    tracemalloc.start()
    exec(code, main.__dict__)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def peak_in_subprocess(script: Path) -> int:
    result = subprocess.run(
        [sys.executable, __file__, str(script)], capture_output=True, text=True, check=True
    )
    return int(result.stdout.split()[-1])


def plain_run(script: Path) -> tuple[str, float]:
    """The program's output and wall-clock seconds, run as `python script.py`."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    )
    return result.stdout, time.perf_counter() - start


def main() -> None:
    if len(sys.argv) == 2:
        script = Path(sys.argv[1]).resolve()
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            peak = traced_peak(script)
        print(peak)
        return
    pairs = sorted(p for p in HERE.iterdir() if (p / "before.py").exists())
    print("| kind | before peak MB | after peak MB | difference MB |")
    print("| --- | ---: | ---: | ---: |")
    for pair in pairs:
        before = peak_in_subprocess(pair / "before.py")
        after = peak_in_subprocess(pair / "after.py")
        saved = before - after
        print(f"| {pair.name} | {before / 1e6:.1f} | {after / 1e6:.1f} | {saved / 1e6:.1f} |")
    print()
    print("| optimal program | peak MB |")
    print("| --- | ---: |")
    optimal = sorted((HERE / "optimal").glob("*.py"))
    for script in optimal:
        print(f"| optimal/{script.name} | {peak_in_subprocess(script) / 1e6:.1f} |")
    print()
    print("| program | plain run s | same output as before.py |")
    print("| --- | ---: | --- |")
    for pair in pairs:
        before_output, before_seconds = plain_run(pair / "before.py")
        after_output, after_seconds = plain_run(pair / "after.py")
        same = "yes" if after_output == before_output else "**NO**"
        print(f"| {pair.name}/before.py | {before_seconds:.2f} | |")
        print(f"| {pair.name}/after.py | {after_seconds:.2f} | {same} |")
    for script in optimal:
        print(f"| optimal/{script.name} | {plain_run(script)[1]:.2f} | |")


if __name__ == "__main__":
    main()
