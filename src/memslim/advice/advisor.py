"""Runs every kind of finding over a run and ranks what they find."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from memslim.advice import (
    arrays,
    cycle,
    deque,
    dtype,
    frames,
    generator,
    growth,
    intern,
    record_dict,
    slots,
    tuples,
)
from memslim.advice._finding import Finding, Run
from memslim.advice.source import is_import_line

MIN_SAVING_BYTES = 1 << 20  # findings below 1 MiB ...
MIN_SAVING_SHARE = 0.01  # ... or below 1% of the peak are not shown unless asked for

KINDS: list[tuple[str, Callable[[Run], Iterable[Finding]]]] = [
    ("slots", slots.find),
    ("record-dict", record_dict.find),
    ("tuple", tuples.find),
    ("array", arrays.find),
    ("dtype", dtype.find),
    ("category", frames.find),  # and arrow-strings, downcast: pandas columns
    ("frame-copy", frames.find_copies),
    ("usecols", frames.find_unused),
    ("intern", intern.find),
    ("generator", generator.find),
    ("deque", deque.find),
    ("cycle", cycle.find),
    ("growth", growth.find),
]


def advise(run: Run, *, everything: bool = False) -> list[Finding]:
    """Findings ranked by saving (speed findings last), none at an import statement. Unless
    ``everything``, findings that save less than 1 MiB or 1% of the peak, and lossy ones, are
    left out. A rule that fails is reported on stderr in one line and skipped: advice never
    breaks the report."""
    found: list[Finding] = []
    for kind, rule in KINDS:
        try:
            found.extend(rule(run))
        except Exception as e:  # a broken rule must not lose the report
            print(f"memslim: the {kind} advice failed and was skipped: {e!r}", file=sys.stderr)
    # What a library made while it was imported is charged to the program's import line (its
    # innermost line of the program's own): no change at that line makes it smaller. A
    # library's 60,000 dicts made at import time were a record-dict finding there, with a
    # dataclass to write for them.
    found = [f for f in found if not is_import_line(f.file, f.line)]
    # A list that a one-pass consumer reads need not be built at all: a generator finding's
    # saving (the line's bytes at the peak) covers what an array or tuple finding on the same
    # line would save by building it smaller. Both shown, they added up to more than the line
    # held (examples/advice/generator: 81.1 MB and 62.8 MB, of a list of 81.1 MB).
    consumed = {(f.file, f.line) for f in found if f.kind == "generator"}
    found = [
        f for f in found if f.kind not in ("array", "tuple") or (f.file, f.line) not in consumed
    ]
    # A frame's columns are advised on by the column rules, their fix in the frame's terms (a
    # reader's `dtype=`). NumPy arrays made on the same line that are not the frame's blocks
    # (those are left out in the census) are the parse's own, alive at its peak: a dtype
    # finding's `.astype()` after the read does not change them, and a column's `dtype=` does.
    column_kinds = ("category", "downcast", "arrow-strings")
    columns = {(f.file, f.line) for f in found if f.kind in column_kinds}
    found = [f for f in found if f.kind != "dtype" or (f.file, f.line) not in columns]
    if not everything:
        floor = max(MIN_SAVING_BYTES, MIN_SAVING_SHARE * run.profile.peak_bytes)
        found = [f for f in found if f.time_only or (f.saving_bytes >= floor and not f.lossy)]
    return sorted(found, key=lambda f: (f.time_only, -f.saving_bytes, f.file, f.line))
