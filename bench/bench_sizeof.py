"""Benchmark: wall time of deep-size computations, memslim against Pympler and a pure-Python walk.

What it measures
----------------
Three workloads are built in this process:

* ``dict``: a dict of 1,000,000 fresh ``str`` keys, each mapping to a small fresh list
  ``[int, float, str]`` (ints above 256, so none is a cached small int);
* ``instances``: a list of 1,000,000 instances of a plain class (no ``__slots__``) with three
  attributes set in ``__init__``;
* ``json``: a JSON-like document, a list of 100,000 records, each a dict of about 20 nodes
  (nested dicts, a list of floats, strings, ints): about 2,000,000 nodes.

For each workload the deep size is computed by

* ``memslim.sizeof(x)`` (C++ walk);
* ``pympler.asizeof.asizeof(x)``;
* :func:`pure_python_deep_size`, written here: explicit stack, a ``seen`` set of ``id()``,
  ``sys.getsizeof`` summed, children from ``gc.get_referents`` (plus the ``str`` keys of dicts,
  which ``dict_traverse`` leaves out on CPython 3.11+), with the boundaries memslim uses by
  default: types, modules, functions and methods, code objects are neither entered nor counted.

Each measurement runs with ``gc.collect()`` before and the cyclic GC disabled during the timed
call, timed with ``time.perf_counter``. memslim and the pure-Python walk are repeated 5 times,
Pympler 3 times (once only if a run takes more than 60 s); the median is reported. Pympler runs
last on each workload because ``asizeof`` reads ``obj.__dict__``, which materialises the
``__dict__`` of plain instances on CPython 3.11+ and so changes the objects measured; when that
happens the workload is rebuilt before the next Pympler run, and the change is reported.

The byte totals differ by design: memslim counts the interpreter's pre-headers (GC header,
managed-dict words) and the inline attribute values of plain instances, which ``sys.getsizeof``
leaves out, and does not count interpreter-static objects such as ``None``; Pympler has its own
accounting (alignment, its own boundaries).

Targets (issue 2): memslim at least 30x faster than Pympler and at least 5x faster than the
pure-Python walk. Misses are printed as ``MISS``; the script exits 0 regardless.

How to run
----------
::

    python bench/bench_sizeof.py                  # full scale (several minutes)
    python bench/bench_sizeof.py --scale 0.01     # quick check
    python bench/bench_sizeof.py --skip-pympler --repeat 3

Progress goes to stderr; the machine line and Markdown tables go to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import memslim

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_common.py
from _common import git_head, memslim_build

try:
    from pympler import asizeof as pympler_asizeof
except ImportError:  # pragma: no cover - depends on the environment
    pympler_asizeof = None

MEMSLIM_REPEATS = 5
PURE_REPEATS = 5
PYMPLER_REPEATS = 3
PYMPLER_SLOW_SECONDS = 60.0
TARGET_VS_PYMPLER = 30.0
TARGET_VS_PURE = 5.0

# The kinds memslim treats as boundaries by default (src/_core/cpython/deep_size.cpp, classify).
BOUNDARY_TYPES: tuple[type, ...] = (
    type,
    types.ModuleType,
    types.CodeType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
)


# --------------------------------------------------------------------------------------------
# Workloads


class Plain:
    """A plain class: no ``__slots__``, three attributes set in ``__init__``."""

    def __init__(self, i: int) -> None:
        self.number = i + 1000
        self.ratio = i + 0.5
        self.label = f"item{i}"


def build_dict(n: int) -> dict[str, list[Any]]:
    return {f"k{i}": [i + 1000, i + 0.5, str(i + 1000)] for i in range(n)}


def build_instances(n: int) -> list[Plain]:
    return [Plain(i) for i in range(n)]


def _record(i: int) -> dict[str, Any]:
    # 20 counted nodes: the dict, 4 scalars, address (dict + 3 str), values (list + 4 float),
    # tags (list + 2 str), meta (dict + 2 int). Keys are interned literals, shared by all records.
    return {
        "id": i + 1000,
        "name": f"user{i}",
        "email": f"user{i}@example.com",
        "score": i * 0.25 + 0.1,
        "address": {
            "street": f"{i % 997 + 10} Main Street",
            "city": f"city{i % 100}",
            "zip": f"{10000 + i % 90000}",
        },
        "values": [i + 0.5, i + 1.5, i + 2.5, i + 3.5],
        "tags": [f"tag{i % 50}", f"group{i % 7}"],
        "meta": {"created": 1_600_000_000 + i, "version": i % 7 + 300},
    }


def build_json(n_records: int) -> list[dict[str, Any]]:
    return [_record(i) for i in range(n_records)]


@dataclass
class Workload:
    name: str
    description: str
    build: Callable[[], Any]


def workloads(scale: float) -> list[Workload]:
    n = max(1, round(1_000_000 * scale))
    records = max(1, round(100_000 * scale))
    return [
        Workload("dict", f"dict of {n:,} str keys -> [int, float, str]", lambda: build_dict(n)),
        Workload(
            "instances", f"list of {n:,} plain instances (3 attrs)", lambda: build_instances(n)
        ),
        Workload("json", f"JSON-like list of {records:,} records", lambda: build_json(records)),
    ]


# --------------------------------------------------------------------------------------------
# The pure-Python walk


def pure_python_deep_size(root: Any) -> int:
    """Sum ``sys.getsizeof`` over everything reachable from ``root``, each object once.

    Children come from ``gc.get_referents``, plus the keys of dicts (CPython 3.11+ does not
    report the ``str`` keys of a dict to the GC). Types, modules, functions and methods, and code
    objects are boundaries, as in memslim; the root is always counted.
    """
    getsizeof = sys.getsizeof
    get_referents = gc.get_referents
    boundary = BOUNDARY_TYPES
    seen = {id(root)}
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        total += getsizeof(obj)
        children = get_referents(obj)
        if isinstance(obj, dict):
            children.extend(obj)
        for child in children:
            if isinstance(child, boundary):
                continue
            key = id(child)
            if key not in seen:
                seen.add(key)
                stack.append(child)
    return total


# --------------------------------------------------------------------------------------------
# Timing


def timed(func: Callable[[Any], int], obj: Any) -> tuple[float, int]:
    """One timed call with the cyclic GC collected beforehand and disabled during the call."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = func(obj)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed, int(result)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Measurement:
    times: list[float] = field(default_factory=list)
    result: int | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


@dataclass
class Row:
    workload: Workload
    objects: int
    memslim: Measurement
    pure: Measurement
    pympler: Measurement
    notes: list[str] = field(default_factory=list)


def repeat(label: str, func: Callable[[Any], int], obj: Any, times: int) -> Measurement:
    m = Measurement()
    for k in range(times):
        elapsed, result = timed(func, obj)
        m.times.append(elapsed)
        if m.result is None:
            m.result = result
        elif m.result != result:
            log(f"    note: {label} result changed between runs: {m.result:,} -> {result:,}")
            m.result = result
        log(f"    {label} run {k + 1}/{times}: {elapsed:.4f} s, {result:,} bytes")
    return m


def measure(workload: Workload, repeats: int | None, skip_pympler: bool) -> Row:
    log(f"[{workload.name}] building: {workload.description}")
    start = time.perf_counter()
    obj = workload.build()
    log(f"    built in {time.perf_counter() - start:.2f} s")
    detail = memslim.sizeof(obj, detail=True)
    log(f"    nodes (memslim objects): {detail.objects:,}")

    ms = repeat("memslim", memslim.sizeof, obj, repeats or MEMSLIM_REPEATS)
    pure = repeat("pure-python", pure_python_deep_size, obj, repeats or PURE_REPEATS)
    row = Row(workload, detail.objects, ms, pure, Measurement())

    if skip_pympler or pympler_asizeof is None:
        return row
    baseline = detail.bytes
    planned = repeats or PYMPLER_REPEATS
    for k in range(planned):
        elapsed, result = timed(pympler_asizeof.asizeof, obj)
        row.pympler.times.append(elapsed)
        row.pympler.result = result if row.pympler.result is None else row.pympler.result
        log(f"    pympler run {k + 1}/{planned}: {elapsed:.4f} s, {result:,} bytes")
        after = memslim.sizeof(obj, detail=True)
        changed = after.bytes != baseline
        if changed:
            log(
                f"    note: after this Pympler run memslim.sizeof is {after.bytes:,} bytes, "
                f"{after.objects:,} objects (was {baseline:,} bytes, {detail.objects:,} objects)"
            )
            if not row.notes:
                row.notes.append(
                    f"Pympler's asizeof changed the workload (instance `__dict__`s "
                    f"materialised): after its first run memslim.sizeof gave {after.bytes:,} "
                    f"bytes / {after.objects:,} objects instead of {baseline:,} bytes / "
                    f"{detail.objects:,} objects. The workload was rebuilt before each further "
                    "Pympler run, so every Pympler run includes that materialisation."
                )
        if elapsed > PYMPLER_SLOW_SECONDS:
            log(f"    pympler run took > {PYMPLER_SLOW_SECONDS:.0f} s: no further repeats")
            break
        if changed and k + 1 < planned:
            del obj
            gc.collect()
            obj = workload.build()
            baseline = memslim.sizeof(obj)
            log(f"    rebuilt the workload for the next Pympler run ({baseline:,} bytes)")
    return row


# --------------------------------------------------------------------------------------------
# Report


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value >= 0.1 else f"{value:.4f}"


def fmt_ratio(slow: float | None, fast: float | None) -> tuple[str, float | None]:
    if slow is None or fast is None or fast <= 0:
        return "—", None
    ratio = slow / fast
    return f"{ratio:.1f}×", ratio


def verdict(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "n/a"
    return "PASS" if ratio >= target else "MISS"


def fmt_bytes(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def machine_line() -> str:
    pympler_version = "not installed"
    if pympler_asizeof is not None:
        import pympler

        pympler_version = pympler.__version__
    return (
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"memslim {memslim.__version__}, Pympler {pympler_version}"
    )


def report(rows: list[Row], repeat_note: str) -> str:
    lines = [
        f"Median wall time in seconds ({repeat_note}); ratio = other tool's median / memslim's.",
        "",
        "| workload | nodes | memslim (s) | Pympler (s) | pure-Python walk (s) "
        f"| vs Pympler (≥{TARGET_VS_PYMPLER:.0f}×) | vs pure walk (≥{TARGET_VS_PURE:.0f}×) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ms = row.memslim.median
        r_pym, v_pym = fmt_ratio(row.pympler.median, ms)
        r_pure, v_pure = fmt_ratio(row.pure.median, ms)
        pym_runs = f" ({len(row.pympler.times)} run)" if len(row.pympler.times) == 1 else ""
        lines.append(
            f"| {row.workload.name} | {row.objects:,} | {fmt_seconds(ms)} "
            f"| {fmt_seconds(row.pympler.median)}{pym_runs} | {fmt_seconds(row.pure.median)} "
            f"| {r_pym} {verdict(v_pym, TARGET_VS_PYMPLER)} "
            f"| {r_pure} {verdict(v_pure, TARGET_VS_PURE)} |"
        )
    lines += [
        "",
        "Deep size in bytes (differs by design: memslim adds pre-headers and inline instance",
        "values that sys.getsizeof misses, and skips interpreter-static objects; Pympler has",
        "its own accounting).",
        "",
        "| workload | memslim | Pympler | pure-Python walk (sys.getsizeof) |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.workload.name} | {fmt_bytes(row.memslim.result)} "
            f"| {fmt_bytes(row.pympler.result)} | {fmt_bytes(row.pure.result)} |"
        )
    notes = [f"- {row.workload.name}: {note}" for row in rows for note in row.notes]
    if notes:
        lines += ["", "Notes:", "", *notes]
    lines.append("")
    lines.append("Workloads:")
    lines.append("")
    lines += [f"- {row.workload.name}: {row.workload.description}" for row in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply workload sizes (default 1.0)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        metavar="N",
        help=(
            f"runs per measurement for all three tools (default: memslim {MEMSLIM_REPEATS}, "
            f"pure walk {PURE_REPEATS}, Pympler {PYMPLER_REPEATS}; Pympler stops after a run "
            f"of more than {PYMPLER_SLOW_SECONDS:.0f} s)"
        ),
    )
    parser.add_argument("--skip-pympler", action="store_true", help="do not run Pympler")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    skip_pympler = args.skip_pympler or pympler_asizeof is None
    if pympler_asizeof is None and not args.skip_pympler:
        log("Pympler is not installed: skipping it (pip install pympler)")
    started = dt.datetime.now().astimezone()
    rows = [measure(w, args.repeat, skip_pympler) for w in workloads(args.scale)]

    if args.repeat is not None:
        repeat_note = f"{args.repeat} runs each"
    else:
        repeat_note = (
            f"memslim and pure walk {MEMSLIM_REPEATS} runs, Pympler {PYMPLER_REPEATS} "
            f"(1 if a run exceeds {PYMPLER_SLOW_SECONDS:.0f} s)"
        )
    print(f"Command: python {' '.join(sys.argv)}")
    print(
        f"Date: {started.isoformat(timespec='seconds')}, commit {git_head()}, "
        f"memslim build {memslim_build()}"
    )
    print(machine_line())
    print()
    print(report(rows, repeat_note))
    print()
    for row in rows:
        ms = row.memslim.median
        _, v_pym = fmt_ratio(row.pympler.median, ms)
        _, v_pure = fmt_ratio(row.pure.median, ms)
        print(
            f"{row.workload.name}: memslim vs Pympler ≥{TARGET_VS_PYMPLER:.0f}×: "
            f"{verdict(v_pym, TARGET_VS_PYMPLER)}; memslim vs pure-Python walk "
            f"≥{TARGET_VS_PURE:.0f}×: {verdict(v_pure, TARGET_VS_PURE)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
