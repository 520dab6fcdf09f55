"""``generator``: a list built only to be consumed once -> a generator expression."""

from __future__ import annotations

import ast
import linecache
from collections.abc import Iterator

from memslim import _core
from memslim.advice._finding import Finding, Run
from memslim.advice.source import is_user_file, nodes_at, parent

# Consumers that read their argument once, front to back, and keep none of it.
ONE_PASS = {
    "sum",
    "min",
    "max",
    "any",
    "all",
    "set",
    "frozenset",
    "enumerate",
    "zip",
    "map",
    "filter",
}


def _consumer(node: ast.ListComp) -> str | None:
    """The one-pass consumer fed by this comprehension, or None."""
    up = parent(node)
    if isinstance(up, ast.Call) and node in up.args and isinstance(up.func, ast.Name):
        if (
            up.func.id in ONE_PASS
            and len(up.args) == 1
            and up.func.id not in ("zip", "map", "filter")
        ):
            return up.func.id
        if up.func.id in ("zip", "map", "filter") and isinstance(parent(up), ast.For):
            return f"{up.func.id} in a for loop"
    if isinstance(up, ast.For) and up.iter is node:
        return "a for loop"
    return None


def find(run: Run) -> Iterator[Finding]:
    per_node: dict[tuple[str, int, int], list[int]] = {}
    nodes: dict[tuple[str, int, int], tuple[ast.ListComp, str]] = {}
    user: dict[str, bool] = {}  # per file: a program imports thousands of lines of each
    for stats in run.profile.lines():  # largest at the peak first
        if stats.bytes_at_peak <= 0:
            break
        # Transient: freed by the end of the run (a list fed to sum() is gone after the line).
        if stats.bytes_live > 0.1 * stats.bytes_at_peak:
            continue
        if (mine := user.get(stats.file)) is None:
            mine = user[stats.file] = is_user_file(stats.file)
        if not mine:
            continue
        for node in nodes_at(stats.file, stats.line, ast.ListComp):
            consumer = _consumer(node)  # type: ignore[arg-type]
            if consumer is None:
                continue
            key = (stats.file, node.lineno, node.col_offset)
            nodes[key] = (node, consumer)  # type: ignore[assignment]
            per_node.setdefault(key, [0, 0])
            per_node[key][0] += stats.bytes_at_peak
            per_node[key][1] += stats.allocations
            break
    generator_bytes = _core.true_sizeof(x for x in ())
    for key, (at_peak, allocations) in per_node.items():
        node, consumer = nodes[key]
        file, line, _col = key
        source = "".join(linecache.getlines(file))
        segment = ast.get_source_segment(source, node) or "[...]"
        generator = f"({segment[1:-1]})"
        call = parent(node)
        fix = segment
        if isinstance(call, ast.Call):
            call_source = ast.get_source_segment(source, call) or ""
            fix = (
                call_source.replace(segment, segment[1:-1], 1) if len(call.args) == 1 else generator
            )
        elif isinstance(call, ast.For):
            fix = f"for ... in {generator}:"
        yield Finding(
            kind="generator",
            file=file,
            line=line,
            symbol=segment if len(segment) <= 60 else segment[:57] + "...",
            count=allocations,
            bytes_now=at_peak,
            bytes_after=generator_bytes,
            message=(
                f"This list comprehension is built only to feed {consumer}, which reads it once: "
                f"the list and its items hold {at_peak:,} bytes at the peak, then are freed. A "
                "generator expression hands over one item at a time."
            ),
            fix=fix,
        )
