"""`memslim diff OLD NEW` (issue 13, item 2): two runs compared, and a CI check on the peak."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from memslim.diff import diff_reports, peak_grew_over

SCRIPT = """
import sys
n = int(sys.argv[1])
kept = [float(i) for i in range(n)]  # line 4: n floats and the list
print(len(kept))
"""


def memslim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memslim", *args], capture_output=True, text=True, timeout=300
    )


def test_two_runs_of_one_script(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    old, new = tmp_path / "old.json", tmp_path / "new.capture"
    assert memslim("run", "--json", str(old), str(script), "100000").returncode == 0
    assert memslim("run", "-o", str(new), str(script), "300000").returncode == 0
    out = tmp_path / "diff.json"
    shown = memslim("diff", str(old), str(new), "--json", str(out))
    assert shown.returncode == 0, shown.stderr
    diff = json.loads(out.read_text())
    from memslim.capture import read_capture

    old_report = json.loads(old.read_text())
    new_report = read_capture(str(new)).report
    peak_old, peak_new = old_report["peak"]["traced_bytes"], new_report["peak"]["traced_bytes"]
    assert diff["peak"]["old"] == peak_old and diff["peak"]["new"] == peak_new
    assert diff["peak"]["change_bytes"] == peak_new - peak_old
    # The list of line 4 grew by 200,000 floats (24 bytes each) and list slots (8 bytes each).
    top = diff["lines"][0]
    assert (top["file"], top["line"]) == (str(script), 4)
    assert top["change_bytes"] >= 200_000 * (24 + 8)
    assert "peak traced" in shown.stderr and "job.py:4" in shown.stderr
    # As a CI check: the peak roughly tripled.
    grew = memslim("diff", str(old), str(new), "--fail-over", "50")
    assert grew.returncode == 1
    assert grew.stderr.strip().splitlines()[-1].startswith("memslim: the peak grew by +")
    assert memslim("diff", str(old), str(new), "--fail-over", "1000").returncode == 0
    assert memslim("diff", str(new), str(old), "--fail-over", "0").returncode == 0  # shrank


def test_unreadable_sides_are_one_line_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_report(1, [], [])))
    cases = {
        "missing": None,
        # A schema and nothing else read as a run of 0 bytes.
        "stub": json.dumps({"schema": "memslim/1"}).encode(),
        "garbage": b"\x00\x01 not json",
        "other": json.dumps({"schema": "other/1"}).encode(),
        "cut-capture": b"MSLMCAPT\x01\x00",
    }
    for name, content in cases.items():
        bad = tmp_path / f"{name}.file"
        if content is not None:
            bad.write_bytes(content)
        shown = memslim("diff", str(good), str(bad))
        assert shown.returncode == 2, (name, shown.stderr)
        assert shown.stderr.startswith("memslim: ") and shown.stderr.count("\n") == 1, name
        assert str(bad) in shown.stderr or f"{name}.file" in shown.stderr, (name, shown.stderr)


def _report(peak: int, lines: list, findings: list, types: list | None = None) -> dict:
    report = {
        "schema": "memslim/1",
        "peak": {"traced_bytes": peak, "by_domain": {"python": peak}},
        "end": {"traced_bytes": 0, "by_domain": {"python": 0}},
        "lines": [
            {"file": f, "function": fn, "line": ln, "bytes_at_peak": b} for f, fn, ln, b in lines
        ],
        "findings": [
            {"kind": k, "file": "a.py", "line": ln, "symbol": s, "saving_bytes": 10}
            for k, ln, s in findings
        ],
    }
    if types is not None:
        report["census"] = {"types": [{"type": t, "count": c, "bytes": b} for t, c, b in types]}
    return report


def test_lines_types_and_findings_by_arithmetic() -> None:
    old = _report(
        1000,
        [("a.py", "f", 1, 600), ("a.py", "g", 2, 400)],
        [("slots", 5, "Point"), ("tuple", 9, "rows")],
        [("Point", 10, 500), ("dict", 3, 300)],
    )
    new = _report(
        1500,
        [("a.py", "f", 1, 1100), ("a.py", "g", 2, 400), ("b.py", "h", 7, 50)],
        [("slots", 5, "Point"), ("intern", 3, "names")],
        [("Point", 20, 1000), ("dict", 3, 300)],
    )
    diff = diff_reports(old, new)
    assert diff["peak"] == {
        "old": 1000, "new": 1500, "change_bytes": 500, "change_percent": 50.0,
        "by_domain": {"python": {"old": 1000, "new": 1500, "change_bytes": 500,
                                 "change_percent": 50.0}},
    }  # fmt: skip
    assert [(r["file"], r["line"], r["change_bytes"]) for r in diff["lines"]] == [
        ("a.py", 1, 500),
        ("b.py", 7, 50),  # only the new run lists it: 0 before
    ]  # the unchanged line g is not listed
    types = [(r["type"], r["change_bytes"], r["count_old"], r["count_new"]) for r in diff["types"]]
    assert types == [("Point", 500, 10, 20)]
    assert [f["symbol"] for f in diff["findings"]["appeared"]] == ["names"]
    assert [f["symbol"] for f in diff["findings"]["disappeared"]] == ["rows"]
    assert peak_grew_over(diff, 49.9) and not peak_grew_over(diff, 50.0)
