"""What the README promises of the findings as a whole: which are shown by default (1 MiB, 1% of
the peak, never lossy ones) and which only with --all-findings, which kinds sample mode and
--no-census still make, and the keys of the JSON's findings. The sizes come from the programs'
own arithmetic: the tests check which side of each threshold a finding falls on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "advice"

# Two classes alike but for their number of instances: __slots__ saves one per-instance values
# array each, tens of bytes: 10,000 instances save well under 1 MiB, 100,000 well over it. The
# float64 array (80 MB) could be float32: a lossy finding.
THRESHOLDS = """
import numpy as np


class Small:
    def __init__(self, i):
        self.a = i
        self.b = i + 1


class Big:
    def __init__(self, i):
        self.a = i
        self.b = i + 1


def build():
    # In place: a temporary of `np.arange(...) * 0.5` (NumPy elides it, but not under ASan)
    # put the peak before the instances existed, where slots save nothing.
    readings = np.arange(10_000_000, dtype=np.float64)
    readings *= 0.5
    small = [Small(i) for i in range(10_000)]
    big = [Big(i) for i in range(100_000)]
    return small, big, readings


kept = build()
print(len(kept[0]) + len(kept[1]), float(kept[2][-1]))
"""

# The same 100,000 instances beside a 450 MB buffer: their saving is over 1 MiB but under 1% of
# the peak.
ONE_PERCENT = """
class Big:
    def __init__(self, i):
        self.a = i
        self.b = i + 1


def build():
    big = [Big(i) for i in range(100_000)]
    blob = bytearray(450_000_000)
    return big, blob


kept = build()
print(len(kept[0]), len(kept[1]))
"""

# One line for each kind made from per-site facts, and a class for a type-level one.
PER_SITE = """
class Order:
    def __init__(self, i):
        self.id = i
        self.qty = i % 7
        self.price = i * 0.5


def build():
    orders = [Order(i) for i in range(100_000)]
    records = [{"id": i, "name": "x", "price": 1.5, "qty": 2} for i in range(100_000)]
    points = [[i, i + 1.5, i + 2.5] for i in range(150_000)]
    floats = [i * 0.25 for i in range(600_000)]
    hosts = ["web-%02d" % (i % 12) for i in range(300_000)]
    return orders, records, points, floats, hosts


kept = build()
print(sum(len(x) for x in kept))
"""


def _report(tmp_path: Path, source: str, *flags: str, cwd: Path | None = None) -> dict[str, Any]:
    script = tmp_path / "job.py"
    if source:
        script.write_text(source)
    out = tmp_path / f"report{len(list(tmp_path.glob('report*.json')))}.json"
    done = subprocess.run(
        [sys.executable, "-m", "memslim", "run", *flags, "--json", str(out),
         "before.py" if cwd else str(script)],
        capture_output=True, text=True, timeout=300, cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text())


def _line(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def _shown(report: dict[str, Any]) -> set[tuple[str, str | None, int]]:
    return {(f["kind"], f["symbol"], f["line"]) for f in report["findings"]}


def test_small_and_lossy_findings_only_with_all_findings(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    big = ("slots", "Big", _line(THRESHOLDS, "class Big"))
    small = ("slots", "Small", _line(THRESHOLDS, "class Small"))
    readings = _line(THRESHOLDS, "readings = np.arange")
    default = _report(tmp_path, THRESHOLDS)
    assert _shown(default) == {big}, default["findings"]

    everything = _report(tmp_path, THRESHOLDS, "--all-findings")
    by_key = {(f["kind"], f["symbol"], f["line"]): f for f in everything["findings"]}
    assert big in by_key and small in by_key, everything["findings"]
    assert 0 < by_key[small]["saving_bytes"] < 1 << 20 <= by_key[big]["saving_bytes"]
    (lossy,) = [f for f in everything["findings"] if f["kind"] == "dtype"]
    assert lossy["lossy"] and lossy["line"] == readings
    # The lossy finding is hidden whatever it saves: float32 halves 80 MB.
    assert lossy["saving_bytes"] == 10_000_000 * 4


def test_a_finding_under_one_percent_of_the_peak_only_with_all_findings(tmp_path: Path) -> None:
    default = _report(tmp_path, ONE_PERCENT)
    assert default["findings"] == []
    everything = _report(tmp_path, ONE_PERCENT, "--all-findings")
    (big,) = [f for f in everything["findings"] if f["symbol"] == "Big"]
    peak = everything["peak"]["traced_bytes"]
    assert peak > 450_000_000
    assert 1 << 20 <= big["saving_bytes"] < 0.01 * peak


def test_sample_mode_makes_no_per_site_findings(tmp_path: Path) -> None:
    per_site = {"record-dict", "tuple", "array", "intern"}
    exact = _report(tmp_path, PER_SITE, "--all-findings")
    kinds = {f["kind"] for f in exact["findings"]}
    assert per_site | {"slots"} <= kinds, exact["findings"]  # each is there to be left out
    sample = _report(tmp_path, PER_SITE, "--all-findings", "--mode", "sample", "--seed", "1")
    kinds = {f["kind"] for f in sample["findings"]}
    assert "slots" in kinds and not kinds & per_site, sample["findings"]


def test_no_census_keeps_the_deque_finding(tmp_path: Path) -> None:
    source = (EXAMPLES / "deque" / "before.py").read_text()
    report = _report(tmp_path, "", "--no-census", cwd=EXAMPLES / "deque")
    (deque,) = [f for f in report["findings"] if f["kind"] == "deque"]
    assert deque["line"] == _line(source, "here = queue.pop(0)") and deque["time_only"]


def test_findings_in_the_json_have_the_keys_the_readme_lists(tmp_path: Path) -> None:
    report = _report(tmp_path, PER_SITE, "--all-findings")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    listed = readme.split("The JSON gets `findings` (", 1)[1].split(":", 1)[0]
    keys = {key.strip(" `\n") for key in listed.split(",")}
    assert len(keys) == 13, keys
    for finding in report["findings"]:
        assert set(finding) == keys
        assert finding["saving_bytes"] == finding["bytes_now"] - finding["bytes_after"]
        assert isinstance(finding["line"], int) and finding["file"].endswith("job.py")
