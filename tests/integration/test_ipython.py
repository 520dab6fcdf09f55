"""%load_ext memslim in IPython (issue 13, item 4): %%memslim runs a cell tracked and displays
its report (HTML for notebooks, text for terminals); %memslim_sizeof shows a deep size. Run in
an IPython shell of its own (a subprocess); truth: tracemalloc on the same code in another
process, and counts of objects known by construction."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("IPython")

CELL = "points = [(i, str(i)) for i in range(100_000)]"

SESSION = f"""
import json
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "memslim")
with capture_output() as cell:
    shell.run_cell("%%memslim\\n{CELL}\\n")
shown = cell.outputs[0].data
with capture_output() as sizeof:
    shell.run_cell("%memslim_sizeof points")
with capture_output() as failing:
    failed = shell.run_cell("%%memslim\\nraise ValueError('the cell fails')\\n")
print(json.dumps({{
    "plain": shown["text/plain"],
    "html": shown.get("text/html", ""),
    "points": len(shell.user_ns["points"]),
    "sizeof": sizeof.stdout,
    "error_in_exec": type(failed.error_in_exec).__name__,
}}))
"""


def tracemalloc_peak() -> int:
    code = "import tracemalloc\ntracemalloc.start()\n" + CELL
    code += "\nprint(tracemalloc.get_traced_memory()[1])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_cell_magic_and_sizeof() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SESSION], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["points"] == 100_000  # the cell ran, its variables are the session's
    assert out["error_in_exec"] == "ValueError"  # a failing cell fails as without memslim
    plain = out["plain"]
    assert "%%memslim cell — exact mode — peak traced" in plain
    peak = next(word for word in plain.split("peak traced ")[1:2])
    number, unit = peak.split()[:2]
    assert unit.rstrip(",") == "MiB"
    assert float(number) * (1 << 20) == pytest.approx(tracemalloc_peak(), rel=0.02)
    assert "<iframe" in out["html"] and "icicle" in out["html"]
    # sizeof's breakdown: one list, 100,000 tuples, by construction.
    rows = {line.split()[0]: line.split() for line in out["sizeof"].splitlines() if line.strip()}
    assert rows["tuple"][1] == "100,000" and rows["list"][1] == "1"
