"""``dtype``: large NumPy arrays whose values fit a narrower dtype."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from typing import Any

from memslim.advice._finding import Finding, Run
from memslim.advice.source import calls_a_reader, draws_random_values, line_text, user_frame

_INTEGER_DTYPES = [
    ("uint8", 1, 0, 2**8 - 1),
    ("int8", 1, -(2**7), 2**7 - 1),
    ("uint16", 2, 0, 2**16 - 1),
    ("int16", 2, -(2**15), 2**15 - 1),
    ("uint32", 4, 0, 2**32 - 1),
    ("int32", 4, -(2**31), 2**31 - 1),
]


# The largest finite float32, (2 - 2**-23) * 2**127: a float64 beyond it is inf as float32.
_FLOAT32_MAX = 3.4028234663852886e38


def overflows_float32(row: dict[str, Any]) -> bool:
    """Whether an array's or a column's values (``row``'s min and max) include a finite one
    that float32 cannot hold (it would be inf): "values from 0 to 3e+306 fit float32" was said
    of one. (inf and NaN stay what they are; a range of NaN, which reductions give an array
    holding one, says nothing, and is kept as before.)"""
    return any(
        value is not None and math.isfinite(value) and abs(value) > _FLOAT32_MAX
        for value in (row.get("min"), row.get("max"))
    )


def narrowest_integer(low: int, high: int) -> tuple[str, int] | None:
    for name, itemsize, lowest, highest in _INTEGER_DTYPES:
        if lowest <= low and high <= highest:
            return name, itemsize
    return None


def _finding(
    rows: list[dict[str, Any]],
    frame: tuple[str, str, int],
    name: str,
    itemsize: int,
    lossy: bool,
    running_call: str | None = None,
) -> Finding:
    """One finding for the arrays of one dtype made at one line (``rows``, one or more) that
    fit ``name``: a line such as ``rows = ...; cols = ...`` makes two alike."""
    file, _function, line = frame
    size = sum(row["size"] for row in rows)
    held = sum(row["bytes"] for row in rows)
    saved = sum(row["size"] * (row["itemsize"] - itemsize) for row in rows)
    low, high = min(row["min"] for row in rows), max(row["max"] for row in rows)
    dtype = rows[0]["dtype"]
    source = line_text(file, line)
    values = (
        f"values from {low} to {high}"
        if not lossy
        else f"float values from {low:.6g} to {high:.6g}"
    )
    made = (
        f"An array of {size:,} {dtype} items made here holds {held:,} bytes at the peak; its"
        if len(rows) == 1
        else f"{len(rows)} arrays of {size:,} {dtype} items in all made here hold {held:,} bytes"
        " at the peak; their"
    )
    message = f"{made} {values} fit {name}, {itemsize} byte(s) per item."
    fix = f"{source}  # then: .astype(np.{name}), or dtype=np.{name} where it is made"
    if draws_random_values(source):
        fix = (
            f"{source}  # then: .astype(np.{name}) on the draw (a dtype= in it would draw other"
            " values)"
        )
    if running_call is not None:
        message += (
            f" It is a working array of {running_call}(), which made it and was still running at"
            " the peak: it takes the dtype of the array passed in, so narrow that one where it"
            " is made (an .astype() on what the call returns does not reach it)."
        )
        fix = f"{source}  # narrow the array passed to {running_call}() where it is made"
    elif calls_a_reader(source):
        # A pandas reader's own arrays (a parse's chunks at its peak): `.astype()` after the
        # read changes none of them; the column's dtype in the read does.
        message += (
            " They are the parser's, made inside this read: give the column whose values they"
            " are its dtype in the read."
        )
        fix = f'{source}  # add: dtype={{"<column>": "{name}"}}'
    if lossy:
        message = "Lossy: " + message + " float32 keeps about 7 significant digits, not 16."
    return Finding(
        kind="dtype",
        file=file,
        line=line,
        symbol=dtype,
        count=size,
        bytes_now=held,
        bytes_after=held - saved,
        message=message,
        fix=fix,
        lossy=lossy,
    )


def _made_inside_a_library(frames: list[tuple[str, str, int]], frame: tuple[str, str, int]) -> bool:
    """Whether a library other than NumPy made the array inside the call on the user's line
    (scikit-learn's `fit`, scipy.sparse's index arrays, pandas' group codes): no `.astype()`
    or `dtype=` on that line reaches it, and the library may need its dtype. A pandas reader's
    own arrays are kept: the column's dtype in the read is their fix (see _finding)."""
    inner = frames[: frames.index(frame)]
    if all(f"{os.sep}numpy{os.sep}" in file for file, _function, _line in inner):
        return False
    return not calls_a_reader(line_text(frame[0], frame[2]))


def find(run: Run) -> Iterator[Finding]:
    facts = run.facts
    if facts is None:
        return
    # The arrays of one line, dtype and narrower dtype make one finding (first seen, first).
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in facts.arrays:
        frame = user_frame(row["frames"])
        if frame is None or not row["owns_data"] or row["min"] is None or row.get("in_frame"):
            continue
        if _made_inside_a_library(row["frames"], frame):
            continue
        if row["integral"] and row["kind"] in "iu":
            narrow = narrowest_integer(row["min"], row["max"])
            if narrow is not None and narrow[1] < row["itemsize"]:
                groups.setdefault((frame, row["dtype"], *narrow, False), []).append(row)
        elif row["kind"] == "f" and row["itemsize"] == 8 and not overflows_float32(row):
            groups.setdefault((frame, row["dtype"], "float32", 4, True), []).append(row)
    # Consecutive (callee, caller) frames of the census's thread: calls still running then.
    running = set(itertools.pairwise(facts.running))
    for (frame, _dtype, name, itemsize, lossy), rows in groups.items():
        if _filled_by_a_running_library(rows, frame, running):
            continue
        yield _finding(rows, frame, name, itemsize, lossy, _running_call(rows, frame, running))


Running = set[tuple[tuple[str, int], tuple[str, int]]]


def _running_callees(
    rows: list[dict[str, Any]], frame: tuple[str, str, int], running: Running
) -> list[tuple[str, str, int]] | None:
    """The frame each row's array was made in under ``frame`` (the call at the user's line),
    when every one of those calls was still running at the census; None otherwise (an array
    made by the line's own C call, or what a finished call returned)."""
    callees = []
    for row in rows:
        frames = row["frames"]
        at = frames.index(frame)
        if at == 0:
            return None
        file, function, line = frames[at - 1]
        if ((file, line), (frame[0], frame[2])) not in running:
            return None
        callees.append((file, function, line))
    return callees


def _in_numpy(file: str) -> bool:
    return f"{os.sep}numpy{os.sep}" in file


def _filled_by_a_running_library(
    rows: list[dict[str, Any]], frame: tuple[str, str, int], running: Running
) -> bool:
    """Whether these arrays hold one value each and were made by a call other than NumPy's (a
    pandas reader) that was still running at the census: a buffer it had not filled yet. A
    census inside pandas 3's parallel read saw one of 4,000,000 zeros, "from 0 to 0, fit
    uint8" (2026-12-05). (A finished chunk of pandas 2's serial parse has its values: kept.)"""
    if any(row["min"] != row["max"] for row in rows):
        return False
    callees = _running_callees(rows, frame, running)
    return callees is not None and not any(_in_numpy(file) for file, _f, _l in callees)


def _running_call(
    rows: list[dict[str, Any]], frame: tuple[str, str, int], running: Running
) -> str | None:
    """The NumPy function called at ``frame`` that made these arrays, when that call was still
    running at the census: they are its working arrays (np.unique's sorted copy of its input,
    the bench's NumPy job), which no .astype() or dtype= on the user's line reaches; they
    follow the dtype of the arrays passed in. None otherwise, or for another library's call
    (a pandas reader's: see _finding)."""
    callees = _running_callees(rows, frame, running)
    if callees is None or not all(_in_numpy(file) for file, _f, _l in callees):
        return None
    return callees[-1][1]
