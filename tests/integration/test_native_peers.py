"""On a pandas program (read_csv, groupby, merge), memslim's peak, with native memory, is that of
memray --trace-python-allocators measured on the same program in the same test run
(an outside tracer of the same allocations), within 10%."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests import conftest
from tests.integration.test_run import memslim_run

pytest.importorskip("pandas")
pytest.importorskip("memray")

ROWS = 300_000

PROGRAM = f"""
import sys
import numpy as np
import pandas as pd

path = sys.argv[1]
rng = np.random.default_rng(7)
pd.DataFrame({{
    "key": rng.integers(0, 5000, {ROWS}),
    "city": rng.choice(["Lyon", "Oslo", "Lima", "Pune"], {ROWS}),
    "amount": rng.random({ROWS}) * 100,
}}).to_csv(path, index=False)
frame = pd.read_csv(path)
totals = frame.groupby(["key", "city"]).amount.sum().reset_index()
merged = frame.merge(totals, on=["key", "city"], suffixes=("", "_total"))
print(len(merged))
"""


def test_peak_with_native_memory_matches_memray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where PyArrow is installed, pandas keeps strings in Arrow's pool: its mimalloc is linked
    # into libarrow, and memray counts the 1 GiB of address space it reserves where memslim
    # leaves reservations out. Through malloc (the system pool) both see the same blocks.
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(PROGRAM))
    csv = tmp_path / "data.csv"

    out = tmp_path / "report.json"
    result = memslim_run("--json", str(out), "--no-census", str(script), str(csv))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    # memslim's run first: the sanitized run stops where memray's begins (outside_truth).
    memray_peak, memray = conftest.memray_peak(script, tmp_path / "job.bin", str(csv))
    assert result.stdout.strip() == memray.stdout.strip()  # the same program, the same output
    peak = report["peak"]["traced_bytes"]
    # Most of the peak is native: the CSV parser's buffers and pandas' hash tables.
    assert report["peak"]["by_domain"]["native"] > report["peak"]["by_domain"]["python"]
    print(f"memslim peak {peak}, memray peak {memray_peak}")
    assert abs(peak - memray_peak) <= 0.10 * memray_peak, (peak, memray_peak)
