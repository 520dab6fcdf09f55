"""``tuple``: many lists from one line that are never resized -> tuples."""

from __future__ import annotations

import ast
import linecache
from collections.abc import Iterator

from memslim.advice import measure
from memslim.advice._finding import Finding, Run
from memslim.advice.arrays import array_typecode
from memslim.advice.source import nodes_at, user_frame

MIN_LISTS = 1000


def _tuple_fix(file: str, line: int) -> str | None:
    source = "".join(linecache.getlines(file))
    for node in nodes_at(file, line, ast.List):
        if isinstance(node.ctx, ast.Load) and node.elts and node.lineno == line:
            inner = ", ".join(ast.get_source_segment(source, e) or "..." for e in node.elts)
            return f"({inner}{',' if len(node.elts) == 1 else ''})"
    for node in nodes_at(file, line, ast.ListComp):
        segment = ast.get_source_segment(source, node)
        if segment:
            return f"tuple({segment[1:-1]})"
    return None


def find(run: Run) -> Iterator[Finding]:
    facts = run.site_facts  # per-site facts need exact mode
    if facts is None:
        return
    for row in facts.lists:
        frame = user_frame(row["frames"])
        lists = row["lists"]
        if frame is None or lists < MIN_LISTS or row["resized_elsewhere"] > 0.05 * lists:
            continue
        if row["frames"][0] != frame:
            # Made by code the line called (a dataclass's generated __init__ running
            # `field(default_factory=list)`): no list display of the line made them. Such
            # 300,000 empty lists were a 16 MiB tuple finding whose fix made the line's own
            # comprehension of instances a tuple (-0.2 MiB measured).
            continue
        if array_typecode(row) is not None:
            continue  # long lists of numbers: the array finding says more
        file, _function, line = frame
        fix = _tuple_fix(file, line)
        if fix is None:
            continue  # not a list display or comprehension on that line: nothing to rewrite
        scale = run.peak_scale([row["site"]])  # census near the peak -> at the peak
        lists = round(lists * scale)
        non_empty = round((row["lists"] - row["empty"]) * scale)
        bytes_after = measure.tuples(non_empty, round(row["items"] * scale))
        bytes_now = round(row["bytes"] * scale)
        spare = round(row["spare_slots"] * 8 * scale)
        yield Finding(
            kind="tuple",
            file=file,
            line=line,
            symbol=fix,
            count=lists,
            bytes_now=bytes_now,
            bytes_after=bytes_after,
            message=(
                f"{lists:,} lists made here are never resized after creation and hold "
                f"{bytes_now:,} bytes at the peak"
                + (f" ({spare:,} of them spare capacity)" if spare else "")
                + f"; as tuples they would take {bytes_after:,}. Only if nothing changes them"
                " in place (item assignment, sort)."
            ),
            fix=fix,
        )
