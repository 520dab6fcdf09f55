"""``array``: long lists of floats, or of ints beyond the small-int cache -> ``array.array``."""

from __future__ import annotations

import ast
import linecache
from collections.abc import Iterator
from typing import Any

from memslim.advice import measure
from memslim.advice._finding import Finding, Run
from memslim.advice.source import nodes_at, user_frame

MIN_ITEMS = 10_000
MIN_AVERAGE_LENGTH = 16


def array_typecode(row: dict[str, Any]) -> str | None:
    """ "d" or "q" when the lists from a site hold only floats or only 64-bit ints, and are
    long enough for an array's header not to matter."""
    items = row["items"]
    if items < MIN_ITEMS or items < MIN_AVERAGE_LENGTH * row["lists"]:
        return None
    if row["float_items"] == items:
        return "d"
    if row["int_items"] == items:
        return "q"
    return None


def _array_fix(file: str, line: int, typecode: str) -> str:
    source = "".join(linecache.getlines(file))
    for node in nodes_at(file, line, ast.ListComp):
        segment = ast.get_source_segment(source, node)
        if segment:
            return f'array.array("{typecode}", ({segment[1:-1]}))'
    return f'array.array("{typecode}", values)  # instead of a list of the same values'


def find(run: Run) -> Iterator[Finding]:
    facts = run.site_facts  # per-site facts need exact mode
    if facts is None:
        return
    for row in facts.lists:
        typecode = array_typecode(row)
        frame = user_frame(row["frames"])
        if typecode is None or frame is None:
            continue
        file, _function, line = frame
        scale = run.peak_scale([row["site"]])  # census near the peak -> at the peak
        items = round(row["items"] * scale)
        bytes_now = round((row["bytes"] + row["owned_number_bytes"]) * scale)
        bytes_after = measure.arrays(typecode, max(1, round(row["lists"] * scale)), items)
        shared = round((row["items"] - row["owned_numbers"]) * scale)
        kind = "floats" if typecode == "d" else "ints"
        message = (
            f"{row['lists']:,} list(s) made here hold {items:,} {kind}: "
            f"{bytes_now:,} bytes at the peak with the number objects only they hold; "
            f'array.array("{typecode}") stores them in {bytes_after:,} bytes '
            f"({measure.arrays(typecode, 1, 1) - measure.arrays(typecode, 1, 0)} per item)."
        )
        if shared:
            message += f" {shared:,} of the numbers are shared with other objects: they stay."
        message += " NumPy (np.array(values)) stores them the same way, with vector maths."
        yield Finding(
            kind="array",
            file=file,
            line=line,
            symbol=f"list of {kind}",
            count=items,
            bytes_now=bytes_now,
            bytes_after=bytes_after,
            message=message,
            fix=_array_fix(file, line, typecode),
        )
