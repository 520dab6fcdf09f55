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


# Built-in functions without side effects: a comprehension calling only these computes the same
# items whenever it runs (a generator computes them later, interleaved with its consumer).
_PURE_CALLS = frozenset(
    {
        "abs", "bool", "chr", "dict", "divmod", "enumerate", "float", "frozenset", "hash", "int",
        "isinstance", "len", "list", "max", "min", "ord", "range", "repr", "reversed", "round",
        "set", "sorted", "str", "sum", "tuple", "type", "zip",
    }
)  # fmt: skip
# Methods that change the object they are called on.
_MUTATORS = frozenset(
    {
        "add", "append", "clear", "discard", "extend", "insert", "pop", "popitem", "remove",
        "setdefault", "update", "sort", "reverse",
    }
)  # fmt: skip


def _pure(node: ast.ListComp) -> bool:
    """Whether the comprehension calls nothing but _PURE_CALLS."""
    return all(
        isinstance(n.func, ast.Name) and n.func.id in _PURE_CALLS
        for n in ast.walk(node)
        if isinstance(n, ast.Call)
    )


def _changed_by(body: list[ast.stmt], names: set[str]) -> bool:
    """Whether ``body`` binds, deletes, stores into or calls a mutating method of one of
    ``names`` (a loop that deletes from the dict its comprehension listed: as a generator,
    "dictionary changed size during iteration")."""
    for statement in body:
        for n in ast.walk(statement):
            target = None
            if isinstance(n, (ast.Name, ast.Subscript, ast.Attribute)) and isinstance(
                n.ctx, (ast.Store, ast.Del)
            ):
                target = n
            elif (
                isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and n.func.attr in _MUTATORS
            ):
                target = n.func.value
            while isinstance(target, (ast.Subscript, ast.Attribute)):
                target = target.value
            if isinstance(target, ast.Name) and target.id in names:
                return True
    return False


def _same_as_a_generator(node: ast.ListComp, loop: ast.For | None, consumer: str) -> bool:
    """Whether a generator there computes what the list did. any() and all() stop at their
    answer: the items after it are never computed (`all([validate(r) for r in records])`, where
    validate() records each error, kept one error of 82,855 as a generator). A for loop runs
    its body between the items: the body must not change what the comprehension reads, nor leave
    early while the items' calls have effects of their own."""
    if consumer in ("any", "all"):
        return _pure(node)
    if loop is None:
        return True
    own = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
    read = {
        n.id
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in own
    }
    if _changed_by(loop.body, read):
        return False
    leaves = any(
        isinstance(n, (ast.Break, ast.Return, ast.Raise)) for s in loop.body for n in ast.walk(s)
    )
    return not leaves or _pure(node)


def _consumer(node: ast.ListComp) -> str | None:
    """The one-pass consumer fed by this comprehension (one that a generator expression feeds
    the same items, see _same_as_a_generator), or None."""
    up = parent(node)
    consumer, loop = None, None
    if isinstance(up, ast.Call) and node in up.args and isinstance(up.func, ast.Name):
        if (
            up.func.id in ONE_PASS
            and len(up.args) == 1
            and up.func.id not in ("zip", "map", "filter")
        ):
            consumer = up.func.id
        elif up.func.id in ("zip", "map", "filter") and isinstance(parent(up), ast.For):
            consumer, loop = f"{up.func.id} in a for loop", parent(up)
    elif isinstance(up, ast.For) and up.iter is node:
        consumer, loop = "a for loop", up
    if consumer is None or not _same_as_a_generator(node, loop, consumer):  # type: ignore[arg-type]
        return None
    return consumer


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
        # Nor can the peak fall below the run's end, which the fix leaves as it was but for
        # what the list still held then (nothing, once freed): a list freed before the program
        # built what it kept to the end was "3.1 MiB saved" on a run that ended 0.1% below
        # its peak (measured: 85 KiB).
        left = max(left, run.profile.current_bytes - temporary.stats.bytes_live)
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
