"""The `dtype` finding's fix names the change that makes the arrays smaller where they are made:
`.astype()` / `dtype=` for NumPy's arrays, the column's `dtype=` for a pandas reader's own
arrays (a parse's chunks at its peak, which `.astype()` after the read does not change)."""

from __future__ import annotations

from pathlib import Path

from memslim.advice.dtype import _finding


def row(size: int) -> dict:
    return {"size": size, "bytes": size * 8, "itemsize": 8, "min": 0, "max": 199, "dtype": "<i8"}


def test_a_readers_arrays_get_the_columns_dtype_in_the_read(tmp_path: Path) -> None:
    source = tmp_path / "program.py"
    source.write_text("orders = pd.read_csv(path)\nvalues = np.arange(n) % 200\n")
    read = _finding([row(393_216)] * 3, (str(source), "main", 1), "uint8", 1, False)
    assert read.fix == 'orders = pd.read_csv(path)  # add: dtype={"<column>": "uint8"}'
    assert "made inside this read" in read.message
    # 3 arrays of 393,216 items, 7 bytes saved per item.
    assert read.bytes_now - read.bytes_after == 3 * 393_216 * 7
    made = _finding([row(1000)], (str(source), "main", 2), "uint8", 1, False)
    assert made.fix.endswith("# then: .astype(np.uint8), or dtype=np.uint8 where it is made")
    assert "inside this read" not in made.message
