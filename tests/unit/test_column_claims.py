"""A column finding is made for a frame alive at the peak (issue 14, item 2: savings at the
peak, from the tracker's exact bytes). A frame made after the peak, which a later census saw (a
row filter after a read whose parse was the peak: 4.6 MiB claimed, 24 KiB measured by
--verify), saves nothing there; one made by a read whose parse was the peak (its line held
more than its columns then) saves in the read. Truth: arithmetic on the column's size."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from memslim.advice import frames

ROWS = 1_000_000


def _findings(tmp_path: Path, frame_at_peak: int, line_at_peak: int) -> list:
    job = tmp_path / "job.py"
    job.write_text(
        'import pandas as pd\ndf = pd.read_csv("x.csv")\ndf = df[df["a"] > 0]\nprint(len(df))\n'
    )
    column = {
        "name": "a", "kind": "i", "dtype": "int64", "itemsize": 8, "size": ROWS,
        "bytes": 8 * ROWS, "min": 1, "max": 200,
    }  # fmt: skip
    row = {"frames": [(str(job), "<module>", 3)], "columns": [column], "rows": ROWS, "site": 7}
    line = SimpleNamespace(file=str(job), line=3, bytes_at_peak=line_at_peak)
    run = SimpleNamespace(
        site_facts=SimpleNamespace(frames=[row]),
        frame_facts={},
        profile=SimpleNamespace(
            program_lines=lambda: [(line, None)],
            at_peak=lambda site: frame_at_peak if site == 7 else 0,
        ),
    )
    return list(frames.find(run))  # type: ignore[arg-type]


def test_a_frame_made_after_the_peak_claims_nothing(tmp_path: Path) -> None:
    assert _findings(tmp_path, 0, 0) == []


@pytest.mark.parametrize(
    ("frame", "line"),
    [(120, 8 * ROWS), (120, 0), (0, 20 * ROWS)],
    ids=["alive", "alive, its memory made elsewhere", "made by a read that was the peak"],
)
def test_a_frame_of_the_peak_claims_its_column(tmp_path: Path, frame: int, line: int) -> None:
    (finding,) = _findings(tmp_path, frame, line)
    assert (finding.kind, finding.line, finding.symbol) == ("downcast", 3, "a")
    assert (finding.bytes_now, finding.bytes_after) == (8 * ROWS, ROWS)  # int64 -> uint8


def test_a_float_column_beyond_float32_is_not_offered_float32() -> None:
    """float32 holds finite values up to about 3.4e38: a column reaching 1e300 would become
    inf (NumPy's own cast says so); one from 0 to 1 is offered float32, half the bytes."""
    np = pytest.importorskip("numpy")
    _narrower = frames._narrower

    with np.errstate(over="ignore"):
        assert np.isinf(np.float64(1e300).astype(np.float32))
    column = {"kind": "f", "itemsize": 8, "size": 1000, "min": 0.0, "max": 1.0}
    assert _narrower(column) == ("downcast", "float32", 4000, True)
    assert _narrower({**column, "max": 1e300}) is None
    assert _narrower({**column, "min": -1e300}) is None
    assert _narrower({**column, "max": float("inf")}) == ("downcast", "float32", 4000, True)
