"""``generator``: a list built only to be consumed once -> a generator expression."""

from __future__ import annotations

import ast
import linecache
from collections.abc import Iterator
from dataclasses import dataclass

from memslim import _core
from memslim.advice._finding import Finding, Run
from memslim.advice.source import is_user_file, nodes_at, parent
from memslim.profile_data import LineStats

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


@dataclass
class _Temporary:
    """A comprehension's list: its lines' stats merged (bytes at the run's peak, its own peak
    and everything live then)."""

    node: ast.ListComp
    consumer: str
    stats: LineStats


def _temporaries(run: Run) -> dict[tuple[str, int, int], _Temporary]:
    """The one-pass comprehensions of the user's lines that held a share of the peak's bytes at
    the peak or at their own peak, and were gone by the end."""
    found: dict[tuple[str, int, int], _Temporary] = {}
    user: dict[str, bool] = {}  # per file: a program imports thousands of lines of each
    least = run.profile.peak_bytes // 100
    for stats in run.profile.lines():
        largest = max(stats.bytes_at_peak, stats.high_bytes)
        if largest <= least or stats.bytes_at_peak < 0:
            continue
        # Transient: freed by the end of the run (a list fed to sum() is gone after the line).
        if stats.bytes_live > 0.1 * largest:
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
            if key not in found:
                merged = LineStats(stats.file, node.lineno, stats.function)
                found[key] = _Temporary(node, consumer, merged)  # type: ignore[arg-type]
            found[key].stats.merge(stats)
            break
    return found


def _fix_of(source: str, node: ast.ListComp) -> tuple[str, str]:
    """(the comprehension's source, its fix)."""
    segment = ast.get_source_segment(source, node) or "[...]"
    generator = f"({segment[1:-1]})"
    call = parent(node)
    fix = segment
    if isinstance(call, ast.Call):
        call_source = ast.get_source_segment(source, call) or ""
        fix = call_source.replace(segment, segment[1:-1], 1) if len(call.args) == 1 else generator
    elif isinstance(call, ast.For):
        fix = f"for ... in {generator}:"
    return segment, fix


def find(run: Run) -> Iterator[Finding]:
    temporaries = _temporaries(run)
    peak = run.profile.peak_bytes
    generator_bytes = _core.true_sizeof(x for x in ())
    for key, temporary in temporaries.items():
        at_peak = temporary.stats.bytes_at_peak
        if at_peak <= 0:
            continue  # not at the peak: fixing it alone changes nothing there
        file, line, _col = key
        # The others of the file that were mostly gone at the peak but held, in their own
        # moment, more than what fixing this one leaves: fixed alone, this one would hand the
        # peak to them. Fixed together, the peak falls to the highest of what this one leaves
        # and what each of them leaves in its moment.
        others = sorted(
            (
                other
                for other_key, other in temporaries.items()
                if other_key != key
                and other_key[0] == file
                and other.stats.bytes_at_peak < other.stats.high_bytes / 2
                and other.stats.traced_at_high > peak - at_peak
            ),
            key=lambda other: other.stats.line,
        )
        left = max([peak - at_peak, *(o.stats.traced_at_high - o.stats.high_bytes for o in others)])
        saving = max(0, peak - left)
        source = "".join(linecache.getlines(file))
        segment, fix = _fix_of(source, temporary.node)
        message = (
            f"This list comprehension is built only to feed {temporary.consumer}, which reads it "
            f"once: the list and its items hold {at_peak:,} bytes at the peak, then are freed. A "
            "generator expression hands over one item at a time."
        )
        also = tuple(other.stats.line for other in others)
        if also:
            where = ", ".join(str(n) for n in also)
            message += (
                f" Line{'s' if len(also) > 1 else ''} {where} build{'' if len(also) > 1 else 's'}"
                " such a list too, as large in its own moment: fixed alone, this one would leave "
                f"the peak to {'them' if len(also) > 1 else 'it'}. Fixed together, the peak falls "
                f"by {saving:,} bytes."
            )
            fix += "".join(f"\n{_fix_of(source, o.node)[1]}  # line {o.stats.line}" for o in others)
        yield Finding(
            kind="generator",
            file=file,
            line=line,
            symbol=segment if len(segment) <= 60 else segment[:57] + "...",
            count=temporary.stats.allocations,
            bytes_now=at_peak,
            bytes_after=generator_bytes + at_peak - saving,
            message=message,
            fix=fix,
            also_lines=also,
        )
