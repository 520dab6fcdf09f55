"""``dtype``: large NumPy arrays whose values fit a narrower dtype."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from memslim.advice._finding import Finding, Run
from memslim.advice.source import line_text, user_frame

_INTEGER_DTYPES = [
    ("uint8", 1, 0, 2**8 - 1),
    ("int8", 1, -(2**7), 2**7 - 1),
    ("uint16", 2, 0, 2**16 - 1),
    ("int16", 2, -(2**15), 2**15 - 1),
    ("uint32", 4, 0, 2**32 - 1),
    ("int32", 4, -(2**31), 2**31 - 1),
]


def narrowest_integer(low: int, high: int) -> tuple[str, int] | None:
    for name, itemsize, lowest, highest in _INTEGER_DTYPES:
        if lowest <= low and high <= highest:
            return name, itemsize
    return None


def _finding(
    row: dict[str, Any], frame: tuple[str, str, int], name: str, itemsize: int, lossy: bool
) -> Finding:
    file, _function, line = frame
    saved = row["size"] * (row["itemsize"] - itemsize)
    source = line_text(file, line)
    values = (
        f"values from {row['min']} to {row['max']}"
        if not lossy
        else f"float values from {row['min']:.6g} to {row['max']:.6g}"
    )
    message = (
        f"An array of {row['size']:,} {row['dtype']} items made here holds {row['bytes']:,} bytes "
        f"at the peak; its {values} fit {name}, {itemsize} byte(s) per item."
    )
    if lossy:
        message = "Lossy: " + message + " float32 keeps about 7 significant digits, not 16."
    return Finding(
        kind="dtype",
        file=file,
        line=line,
        symbol=row["dtype"],
        count=row["size"],
        bytes_now=row["bytes"],
        bytes_after=row["bytes"] - saved,
        message=message,
        fix=f"{source}  # then: .astype(np.{name}), or dtype=np.{name} where it is made",
        lossy=lossy,
    )


def find(run: Run) -> Iterator[Finding]:
    facts = run.facts
    if facts is None:
        return
    for row in facts.arrays:
        frame = user_frame(row["frames"])
        if frame is None or not row["owns_data"] or row["min"] is None or row.get("in_frame"):
            continue
        if row["integral"] and row["kind"] in "iu":
            narrow = narrowest_integer(row["min"], row["max"])
            if narrow is not None and narrow[1] < row["itemsize"]:
                yield _finding(row, frame, narrow[0], narrow[1], lossy=False)
        elif row["kind"] == "f" and row["itemsize"] == 8:
            yield _finding(row, frame, "float32", 4, lossy=True)
