"""Peak traced bytes (tracemalloc) of every example program under examples/advice.

    python3 examples/advice/measure.py                  # table of before/after pairs and optimal/
    python3 examples/advice/measure.py slots/before.py  # one program: its peak in bytes

Each program runs in a fresh interpreter. Like tests/fixtures/tracemalloc_harness.py (and like
`memslim run`, whose process has them loaded already), the script is compiled and the modules the
examples import are imported before tracing starts, so an `import` that a fix adds is not charged
to its peak. The program's own stdout is discarded; MB are 10**6 bytes.
"""

import array  # noqa: F401 - imported before tracing, see above
import collections  # noqa: F401
import dataclasses  # noqa: F401
import functools  # noqa: F401
import math  # noqa: F401
import random  # noqa: F401
import subprocess
import sys
import tracemalloc
import types
import weakref  # noqa: F401
from pathlib import Path

HERE = Path(__file__).resolve().parent


def traced_peak(script: Path) -> int:
    """Run `script` as __main__ in this process and return tracemalloc's peak traced bytes."""
    try:
        import numpy  # noqa: F401 - only the dtype pair needs it
    except ImportError:
        pass
    code = compile(script.read_bytes(), str(script), "exec")
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


def main() -> None:
    if len(sys.argv) == 2:
        script = Path(sys.argv[1]).resolve()
        sys.stdout = open(subprocess.os.devnull, "w")  # noqa: SIM115 - the program's output
        peak = traced_peak(script)
        sys.stdout = sys.__stdout__
        print(peak)
        return
    print("| kind | before peak MB | after peak MB | difference MB |")
    print("| --- | ---: | ---: | ---: |")
    for pair in sorted(p for p in HERE.iterdir() if (p / "before.py").exists()):
        before = peak_in_subprocess(pair / "before.py")
        after = peak_in_subprocess(pair / "after.py")
        mb = 1e6
        print(f"| {pair.name} | {before / mb:.1f} | {after / mb:.1f} | {(before - after) / mb:.1f} |")
    print()
    print("| optimal program | peak MB |")
    print("| --- | ---: |")
    for script in sorted((HERE / "optimal").glob("*.py")):
        print(f"| optimal/{script.name} | {peak_in_subprocess(script) / 1e6:.1f} |")


if __name__ == "__main__":
    main()
