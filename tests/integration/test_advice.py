"""The advice comes true: for each pair in examples/advice/<kind>/ (before.py, and after.py with
exactly the suggested fix applied), `memslim run --json` on before.py reports the finding at a
line the fix changes, and its saving is within 20% of the real difference in peak traced bytes
between the two programs. The real difference comes from outside memslim: tracemalloc's peaks,
each program run alone in a fresh interpreter on the interpreter running these tests (memslim's
own peaks would hide an observer effect, such as a census that delays the cyclic GC).
Already-optimal programs get no findings at all.

A pair whose saving is native memory (``usecols``: a CSV parser's buffers, which tracemalloc
does not see) is measured with memray instead: ``memray run --trace-python-allocators`` and its
peak, an outside tracer of the C allocator too."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import memray_peak, outside_truth, unsanitized_from_here

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "advice"
PAIRS = sorted(p.name for p in EXAMPLES.iterdir() if (p / "before.py").exists())
OPTIMAL = sorted(p.name for p in (EXAMPLES / "optimal").glob("*.py"))

# Runs a script under tracemalloc after the examples' imports (an import a fix adds is not a
# saving) and writes its peak; NumPy reports its data buffers to tracemalloc.
HARNESS = Path(__file__).resolve().parents[1] / "fixtures" / "tracemalloc_harness.py"


def _run(script: Path, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / f"{script.parent.name}-{script.stem}.json"
    done = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--json", str(out), *extra, script.name],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text())


def _tracemalloc_peak(script: Path, tmp_path: Path) -> int:
    outside_truth()
    out = tmp_path / f"{script.parent.name}-{script.stem}.tracemalloc.json"
    subprocess.run(
        [sys.executable, str(HARNESS), str(out), script.name],
        cwd=script.parent,
        capture_output=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.read_text())["peak"]


# Pairs whose saving is mostly native memory, measured with memray (see the module's doc).
NATIVE = {"usecols"}


def _memray_peak(script: Path, tmp_path: Path) -> int:
    return memray_peak(script, tmp_path / f"{script.parent.name}-{script.stem}.bin")[0]


def _changed_lines(before: Path, after: Path) -> set[int]:
    """Lines of before.py (1-based) the fix replaces or deletes, and those around an insertion;
    a decorator changed changes the statement it decorates (a finding names the class)."""
    old = before.read_text().splitlines()
    new = after.read_text().splitlines()
    lines: set[int] = set()
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag in ("replace", "delete"):
            lines.update(range(i1 + 1, i2 + 1))
        elif tag == "insert":
            lines.update({i1, i1 + 1})
    for line in sorted(lines):
        below = line
        while below <= len(old) and old[below - 1].lstrip().startswith("@"):
            below += 1
            lines.add(below)
    return lines


def _needs(pair: str) -> None:
    """Skip a pair whose programs import a library this interpreter lacks (pandas, attrs)."""
    source = (EXAMPLES / pair / "before.py").read_text()
    for module in ("pandas", "attr", "numpy"):
        if f"import {module}" in source:
            pytest.importorskip(module)
    if pair.split("_")[0] in NATIVE:
        pytest.importorskip("memray")


@pytest.mark.parametrize("pair", PAIRS)
def test_finding_comes_true(pair: str, tmp_path: Path) -> None:
    _needs(pair)
    kind = pair.split("_")[0]
    before, after = EXAMPLES / pair / "before.py", EXAMPLES / pair / "after.py"
    report = _run(before, tmp_path)
    findings = [f for f in report.get("findings", []) if f["kind"] == kind]
    forked = report.get("census", {}).get("forked")
    assert findings, f"no {kind} finding: {report.get('findings')}; censuses: {forked}"
    finding = findings[0]
    assert finding["file"] == str(before)
    assert finding["line"] in _changed_lines(before, after), finding
    unsanitized_from_here("after.py's run and the truth")
    fixed = _run(after, tmp_path)
    assert not [f for f in fixed.get("findings", []) if f["kind"] == kind], "after.py still has it"
    if kind == "deque":
        assert finding["saving_bytes"] == 0 and finding["time_only"]
        return
    peak = _memray_peak if kind in NATIVE else _tracemalloc_peak
    real = peak(before, tmp_path) - peak(after, tmp_path)
    assert real > 0
    assert abs(finding["saving_bytes"] - real) <= 0.2 * real, (finding["saving_bytes"], real)
    # Findings about the same lists (built smaller, or not built) are alternatives: the report
    # must not offer them as savings that add up (the generator pair's list was an array
    # finding too: 81.1 + 62.8 MB of an 81.1 MB list).
    same_lists = [
        f
        for f in report["findings"]
        if (f["file"], f["line"]) == (finding["file"], finding["line"])
        and f["kind"] in ("generator", "array", "tuple")
    ]
    together = sum(f["saving_bytes"] for f in same_lists)
    assert together <= 1.2 * real, (real, same_lists)


@pytest.mark.parametrize("program", OPTIMAL)
def test_no_false_alarms_on_optimal_programs(program: str, tmp_path: Path) -> None:
    report = _run(EXAMPLES / "optimal" / program, tmp_path, "--all-findings")
    assert report["findings"] == [], report["findings"]
