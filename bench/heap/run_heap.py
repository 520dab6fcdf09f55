"""Benchmark: heap census and dominators on synthetic heaps, memslim against guppy3, objgraph and
Pympler.

What it measures
----------------
Each measurement is a fresh process (``python3 bench/heap/run_heap.py --child TOOL SIZE``) that
builds a synthetic heap of about SIZE objects, collects the cyclic GC once, then times one call
of the tool:

* ``memslim``: ``memslim.snapshot(top=10)``: the heap walk, the census by type, the dominator
  tree and the top retainers with their paths. If the census has a ``timings`` dict (for
  example ``walk_s``, ``dominators_s``), its entries are reported too.
* ``memslim-census``: ``memslim.heap.take_raw_census(10, advice=True)``: the census that
  ``memslim run`` takes (in a forked child) at the peak, the advice facts included. Its whole
  call is what the census target is checked against.
* ``guppy3``: ``h = hpy().heap(); str(h)``: the reachable set and its partition by kind (the
  ``str`` forces the partition, which ``heap()`` leaves lazy).
* ``objgraph``: ``objgraph.most_common_types(limit=20)`` (counts the objects the GC tracks).
* ``pympler``: ``summary.summarize(muppy.get_objects())``.

Only memslim computes dominators and retained sizes; the peers are census-only, so the time
ratios compare memslim's whole snapshot against a census alone.

The heap (``build_heap``) is held from one module-level list. Per unit (26 objects as memslim
counts them): a plain instance with an int, a str and a float attribute (4 objects); a dict with
4 str keys whose values are a str, an int, a float and a str shared between units (4); a list
of 8 small ints (1: small ints are interpreter-static); a tuple of a str and an int (3); a str,
a float and a bytes (3); a tree node (an instance with ``parent``, ``children`` list and an int
``value``: 3), the nodes forming an 8-ary tree whose root alone is in the list (parent links
make cycles, and the tree makes the dominator tree deep); and a nested container
``{"items": [(int, str), (int, str)], ...}`` (8). The number of units is SIZE / 26; the object
count memslim reports (``objects``) is printed, with ``len(gc.get_objects())``, as a check.

Memory: the child reads VmRSS from ``/proc/self/status`` just before the call, resets the peak
by writing ``5`` to ``/proc/self/clear_refs``, and after the call reads VmHWM: the RSS growth is
VmHWM after minus VmRSS before, everything the call allocated at its peak, its result included.
Where ``clear_refs`` is not writable, ``ru_maxrss`` stands in for VmHWM (then the heap's build
may mask the call's peak; the run says which was used). B/object is RSS growth / the heap's
object count (memslim's count at that size, the same heap for every tool).

memslim runs ``--repeat`` times (default 3) per size; each peer runs once per size, under a
SIGALRM of ``--peer-timeout`` seconds (default 300) armed just before its call (the heap build
is not counted). A peer that times out is recorded as "timeout" and not run at larger sizes.

Targets (at 10M objects, 2-core machine): census (walk + census) ≤ 3 s, dominators ≤ 5 s,
analysis memory ≤ 48 bytes per object, measured as RSS growth / objects. Without a
``timings`` split, the census and dominator times are checked against the snapshot's total
time, an upper bound of both (a PASS is then certain, a FAIL is not).

How to run
----------
From the repository root, after ``pip install .`` and ``pip install guppy3 objgraph pympler``
(missing peers are skipped and named)::

    python3 bench/heap/run_heap.py                             # 1M and 10M, about 30 minutes
    python3 bench/heap/run_heap.py --objects 1000000 --skip-peers --repeat 5
    python3 bench/heap/run_heap.py --objects 100000 --repeat 1 --json /tmp/heap.json  # smoke

The 10M heap takes about 2 GB; the peers need several GB more. Progress goes to stderr; the
machine line and the Markdown section go to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/_common.py
from _common import git_head, memslim_build, version

SCRIPT = Path(__file__).resolve()
TOOLS = ["memslim", "memslim-census", "guppy3", "objgraph", "pympler"]
PEERS = TOOLS[2:]
OURS = TOOLS[:2]
DISTRIBUTIONS = {"memslim": "memslim", "guppy3": "guppy3", "objgraph": "objgraph"}
DISTRIBUTIONS["pympler"] = "Pympler"
DEFAULT_SIZES = [1_000_000, 10_000_000]
TARGET_SIZE = 10_000_000
TARGET_CENSUS_S = 3.0
TARGET_DOMINATORS_S = 5.0
TARGET_BYTES_PER_OBJECT = 48.0
UNIT_OBJECTS = 26  # objects per unit of build_heap, as memslim counts them
TREE_FANOUT = 8
MEMSLIM_RETRIES = 2  # the owner may be reinstalling memslim: retry a failed run after a pause
RETRY_PAUSE_S = 30.0

# --------------------------------------------------------------------------------------------
# The synthetic heap (child side)

HEAP: list[Any] = []  # everything the benchmark builds hangs from here
TAGS = ("red", "green", "blue", "amber", "teal", "plum", "sand", "rust")


class Plain:
    """A plain class: three attributes (int, str, float), values inline in the instance."""

    def __init__(self, i: int) -> None:
        self.number = i + 1000
        self.label = f"item{i}"
        self.ratio = i + 0.5


class Node:
    """A tree node: a parent link (so there are cycles), a list of children and a value."""

    def __init__(self, parent: Node | None, i: int) -> None:
        self.parent = parent
        self.children: list[Node] = []
        self.value = i + 1000
        if parent is not None:
            parent.children.append(self)


def build_heap(size: int) -> int:
    """Fill HEAP with about ``size`` objects (UNIT_OBJECTS per unit); returns the unit count."""
    units = max(1, round(size / UNIT_OBJECTS))
    append = HEAP.append
    nodes: list[Node] = []  # by index, to find each node's parent; dropped at the end
    for i in range(units):
        append(Plain(i))
        append({"name": f"name{i}", "id": i + 1000, "score": i * 0.5, "tag": TAGS[i % 8]})
        append([(i + k) % 256 for k in range(8)])
        append((f"key{i}", i + 2000))
        append(f"text-{i}")
        append(i + 0.25)
        append(b"b%d" % i)
        nodes.append(Node(nodes[(i - 1) // TREE_FANOUT] if i else None, i))
        append({"items": [(i + 3000, f"a{i}"), (i + 4000, f"b{i}")], "kind": TAGS[i % 8]})
    append(nodes[0])
    return units


# --------------------------------------------------------------------------------------------
# One measurement (child side)


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as f:
        m = re.search(rf"^{field_name}:\s+(\d+) kB", f.read(), re.MULTILINE)
    if m is None:
        raise RuntimeError(f"no {field_name} in /proc/self/status")
    return int(m.group(1))


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS; False if the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _prepare(tool: str) -> tuple[Any, str]:
    """Import the tool; return the function to time and the tool's version."""
    if tool == "memslim":
        import memslim

        return lambda: memslim.snapshot(top=10), memslim.__version__
    if tool == "memslim-census":
        import memslim
        from memslim.heap import take_raw_census

        return lambda: take_raw_census(10, advice=True), memslim.__version__
    if tool == "guppy3":
        from guppy import hpy

        def census() -> Any:
            h = hpy().heap()
            return h, str(h)

        return census, importlib.metadata.version("guppy3")
    if tool == "objgraph":
        import objgraph

        return lambda: objgraph.most_common_types(limit=20), objgraph.__version__
    if tool == "pympler":
        from pympler import muppy, summary

        def summarize() -> Any:
            objects = muppy.get_objects()
            return len(objects), summary.summarize(objects)

        return summarize, importlib.metadata.version("Pympler")
    raise ValueError(f"unknown tool {tool!r}")


def _objects_seen(tool: str, result: Any) -> int | None:
    """How many objects the tool's result covers, where it says."""
    if tool == "memslim":
        return int(result.objects)
    if tool == "memslim-census":
        return int(result["objects"])
    if tool == "guppy3":
        return int(result[0].count)
    if tool == "pympler":
        return int(result[0])
    return None  # objgraph: only the top 20 types' counts (it goes through gc.get_objects())


def child(tool: str, size: int, timeout: float | None) -> int:
    call, version = _prepare(tool)
    gc.disable()  # no collections while building: they would only slow the build down
    start = time.perf_counter()
    units = build_heap(size)
    build_s = time.perf_counter() - start
    gc.enable()
    gc.collect()
    gc_objects = len(gc.get_objects())
    gc.collect()
    print(
        f"    [{tool} {size:,}] built {units:,} units in {build_s:.1f} s, "
        f"{gc_objects:,} GC-tracked objects",
        file=sys.stderr,
        flush=True,
    )

    rss_before = _status_kib("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm_reset = _reset_peak()
    if timeout:
        # The default action of SIGALRM ends the process even while C code holds the GIL.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(max(1, round(timeout)))
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    signal.alarm(0)
    if hwm_reset:
        peak, method = _status_kib("VmHWM"), "VmHWM after clear_refs"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "ru_maxrss"

    out: dict[str, Any] = {
        "tool": tool,
        "version": version,
        "size": size,
        "units": units,
        "build_s": build_s,
        "gc_objects": gc_objects,
        "rss_before_kib": rss_before,
        "ru_maxrss_before_kib": maxrss_before,
        "peak_kib": peak,
        "growth_kib": max(0, peak - rss_before),
        "peak_method": method,
        "seconds": seconds,
        "objects_seen": gc_objects if tool == "objgraph" else _objects_seen(tool, result),
    }
    if tool == "memslim":
        out["objects"] = result.objects
        out["bytes"] = result.bytes
        out["analysis_bytes"] = result.analysis_bytes
        out["timings"] = dict(getattr(result, "timings", None) or {})
    if tool == "memslim-census":
        out["timings"] = dict(result["timings"])
    print(json.dumps(out))
    return 0


# --------------------------------------------------------------------------------------------
# Driver (parent side)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Cell:
    """The runs of one tool at one size."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"  # or "timeout", "failed", "skipped: ..."
    detail: str = ""

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    def median_timing(self, key: str) -> float | None:
        values = [r["timings"][key] for r in self.runs if key in r.get("timings", {})]
        return statistics.median(values) if values else None


def run_child(tool: str, size: int, timeout: float | None) -> tuple[str, dict[str, Any] | str]:
    """One measurement in a fresh process: ("ok", result), ("timeout", msg) or ("failed", msg)."""
    argv = [sys.executable, str(SCRIPT), "--child", tool, str(size)]
    if timeout:
        argv += ["--peer-timeout", str(timeout)]
    # Safety net for a hang outside the timed call (the SIGALRM covers the call itself).
    limit = None if timeout is None else timeout + 600
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", f"no result after {limit:.0f} s"
    for line in proc.stderr.splitlines():
        if line.startswith("    ["):
            log(line)
    if proc.returncode == -signal.SIGALRM:
        return "timeout", f"call exceeded {timeout:.0f} s"
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return "failed", f"exit {proc.returncode}: {tail}"
    try:
        return "ok", json.loads(lines[-1])
    except json.JSONDecodeError:
        return "failed", f"unreadable result: {lines[-1][:200]!r}"


def run_measurement(
    tool: str, size: int, timeout: float | None
) -> tuple[str, dict[str, Any] | str]:
    """run_child, noting memslim's build and the load average in the result. A failed memslim
    run is retried after a pause: the owner may be reinstalling memslim."""
    for attempt in range(MEMSLIM_RETRIES + 1 if tool in OURS else 1):
        build = memslim_build() if tool in OURS else None
        load_1min = os.getloadavg()[0]
        status, result = run_child(tool, size, timeout)
        if isinstance(result, dict):
            result.update(build=build, load_1min=load_1min)
        if status != "failed" or tool not in OURS or attempt == MEMSLIM_RETRIES:
            break
        log(f"    failed ({result}); retrying in {RETRY_PAUSE_S:.0f} s")
        time.sleep(RETRY_PAUSE_S)
    return status, result


def measure(
    sizes: list[int], tools: list[str], repeat: int, peer_timeout: float
) -> dict[tuple[str, int], Cell]:
    cells: dict[tuple[str, int], Cell] = {}
    timed_out: dict[str, int] = {}
    for size in sizes:
        for tool in tools:
            cell = cells.setdefault((tool, size), Cell())
            if tool in timed_out:
                cell.status = f"skipped: timeout at {timed_out[tool]:,}"
                log(f"  {size:>12,} {tool:<9} skipped (timed out at {timed_out[tool]:,})")
                continue
            runs = repeat if tool in OURS else 1
            timeout = None if tool in OURS else peer_timeout
            for k in range(runs):
                log(f"  {size:>12,} {tool:<9} #{k + 1} ...")
                status, result = run_measurement(tool, size, timeout)
                if status == "ok":
                    assert isinstance(result, dict)
                    cell.runs.append(result)
                    extra = "".join(f", {k} {v:.3f}" for k, v in result.get("timings", {}).items())
                    log(
                        f"    {result['seconds']:.3f} s{extra}, "
                        f"RSS +{result['growth_kib'] / 1024:.0f} MiB "
                        f"(heap {result['rss_before_kib'] / 1024:.0f} MiB)"
                    )
                    continue
                assert isinstance(result, str)
                cell.status, cell.detail = status, result
                log(f"    {status}: {result}")
                if status == "timeout":
                    timed_out[tool] = size
                break
    return cells


# --------------------------------------------------------------------------------------------
# Report


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _fmt_ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or not b else f"{a / b:.1f}×"


def _verdict(value: float | None, target: float, bound_only: bool = False) -> str:
    if value is None:
        return "n/a"
    if value <= target:
        return "PASS"
    return "not shown (upper bound only)" if bound_only else "FAIL"


def heap_objects(cells: dict[tuple[str, int], Cell], size: int) -> float:
    """The heap's object count at ``size``: memslim's count, else the requested size."""
    cell = cells.get(("memslim", size))
    count = cell.median("objects") if cell else None
    return count if count else float(size)


def census_time(cell: Cell) -> tuple[float | None, float | None, bool]:
    """(census time, dominators time, whether both are only the total's upper bound)."""
    walk = cell.median_timing("walk_s")
    dominators = cell.median_timing("dominators_s")
    if walk is not None and dominators is not None:
        census = walk + (cell.median_timing("census_s") or 0.0)
        return census, dominators, False
    total = cell.median("seconds")
    return total, total, True


def load() -> str:
    """The 1-, 5- and 15-minute load averages: other work on the machine skews wall times."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_line(tools: list[str]) -> str:
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, IndexError, ValueError):
        pass
    peers = [f"{t} {version(DISTRIBUTIONS[t])}" for t in PEERS if t in tools]
    return (
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"{mem_kib / 1024**2:.0f} GiB RAM, Python {platform.python_version()} "
        f"({platform.python_implementation()}), memslim {version('memslim')}; "
        f"peers: {', '.join(peers) or 'none'}"
    )


def report(
    cells: dict[tuple[str, int], Cell], sizes: list[int], tools: list[str], repeat: int
) -> list[str]:
    lines: list[str] = []
    for size in sizes:
        objects = heap_objects(cells, size)
        ms = cells.get(("memslim", size))
        ms_time = ms.median("seconds") if ms else None
        ms_growth = ms.median("growth_kib") if ms else None
        any_run = next((c.runs[0] for t in tools if (c := cells[(t, size)]).runs), None)
        lines += [f"### {size:,} objects requested", ""]
        if any_run:
            lines += [
                f"Heap: {objects:,.0f} objects (memslim's count), "
                f"{any_run['gc_objects']:,} tracked by the GC, "
                f"RSS {any_run['rss_before_kib'] / 1024:,.0f} MiB before the call, "
                f"built in {any_run['build_s']:.1f} s.",
                "",
            ]
        lines += [
            "| tool | runs | median s | walk s | dominators s | peak RSS growth (MB) "
            "| B/object | objects seen | time / memslim | memory / memslim |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for tool in tools:
            cell = cells[(tool, size)]
            if not cell.runs:
                lines.append(f"| {tool} | 0 | {cell.status} | | | | | | | |")
                continue
            t = cell.median("seconds")
            growth = cell.median("growth_kib") or 0.0
            seen = cell.median("objects_seen")
            walk = cell.median_timing("walk_s")
            doms = cell.median_timing("dominators_s")
            lines.append(
                f"| {tool} | {len(cell.runs)} | {_fmt_s(t)} | {_fmt_s(walk)} | {_fmt_s(doms)} "
                f"| {growth * 1024 / 1e6:,.0f} | {growth * 1024 / objects:.1f} "
                f"| {'—' if seen is None else f'{seen:,.0f}'} "
                f"| {'—' if tool == 'memslim' else _fmt_ratio(t, ms_time)} "
                f"| {'—' if tool == 'memslim' else _fmt_ratio(growth, ms_growth)} |"
            )
        if ms and ms.runs:
            analysis = ms.median("analysis_bytes")
            keys = sorted({k for r in ms.runs for k in r.get("timings", {})})
            timings = ", ".join(f"{k} {_fmt_s(ms.median_timing(k))}" for k in keys)
            if keys:
                rest = [r["seconds"] - sum(r["timings"].values()) for r in ms.runs]
                timings += f"; the rest of the call {_fmt_s(statistics.median(rest))}"
            lines += [
                "",
                f"memslim: analysis_bytes {analysis / 1e6:,.0f} MB "
                f"= {analysis / objects:.1f} B/object (its own accounting); "
                f"timings: {timings or 'not reported by this build'}.",
            ]
        run_census = cells.get(("memslim-census", size))
        if run_census and run_census.runs:
            keys = sorted({k for r in run_census.runs for k in r.get("timings", {})})
            parts = ", ".join(f"{k} {_fmt_s(run_census.median_timing(k))}" for k in keys)
            lines += [
                "",
                f"memslim-census (the census `memslim run` takes, advice facts included): "
                f"whole call {_fmt_s(run_census.median('seconds'))} s; {parts}.",
            ]
        notes = [
            f"- {tool}: {cells[(tool, size)].status} ({cells[(tool, size)].detail})"
            for tool in tools
            if cells[(tool, size)].detail
        ]
        if notes:
            lines += ["", *notes]
        lines.append("")

    methods = " / ".join(sorted({r["peak_method"] for c in cells.values() for r in c.runs}))
    runs = f"{repeat} run{'s' if repeat > 1 else ''}"
    lines += [
        f"Times: memslim and memslim-census median of {runs}, peers 1 run each; time / memslim "
        "and memory / memslim are the peer's median over memslim's. Peak RSS growth: "
        f"{methods or '—'} minus VmRSS just before the call (MB = 10^6 B); B/object divides "
        "it by the heap's object count. memslim's snapshot includes dominators and retainer "
        "paths; the peers compute a census only.",
        "",
    ]

    ms = cells.get(("memslim", TARGET_SIZE))
    run_census = cells.get(("memslim-census", TARGET_SIZE))
    if ms and ms.runs:
        census, dominators, bound_only = census_time(ms)
        dominators_bound_only = bound_only
        how = (
            "snapshot total (no timings split in this build: an upper bound)"
            if bound_only
            else "walk_s + census_s of memslim.snapshot"
        )
        if run_census and run_census.runs:
            # The census memslim run takes, as a whole call: walk, tally, dominators for the
            # top retainers and the advice facts.
            census, bound_only = run_census.median("seconds"), False
            how = "the whole take_raw_census(advice=True) call, memslim-census"
        objects = heap_objects(cells, TARGET_SIZE)
        per_object = (ms.median("growth_kib") or 0.0) * 1024 / objects
        lines += [
            f"Targets at {TARGET_SIZE:,} objects:",
            "",
            f"- census ≤ {TARGET_CENSUS_S:.0f} s: {_fmt_s(census)} s ({how}): "
            f"{_verdict(census, TARGET_CENSUS_S, bound_only)}",
            f"- dominators ≤ {TARGET_DOMINATORS_S:.0f} s: {_fmt_s(dominators)} s "
            f"({'snapshot total' if dominators_bound_only else 'dominators_s'}): "
            f"{_verdict(dominators, TARGET_DOMINATORS_S, dominators_bound_only)}",
            f"- analysis memory ≤ {TARGET_BYTES_PER_OBJECT:.0f} B/object: "
            f"{per_object:.1f} B/object (peak RSS growth / objects): "
            f"{_verdict(per_object, TARGET_BYTES_PER_OBJECT)}",
        ]
        if run_census and run_census.runs:
            census_per_object = (run_census.median("growth_kib") or 0.0) * 1024 / objects
            lines.append(
                f"- the same for memslim-census: {census_per_object:.1f} B/object: "
                f"{_verdict(census_per_object, TARGET_BYTES_PER_OBJECT)}"
            )
        lines += [
            "",
        ]
    return lines


def parse_sizes(text: str) -> list[int]:
    sizes = [int(float(x.replace("_", ""))) for x in text.split(",") if x.strip()]
    if not sizes or min(sizes) < UNIT_OBJECTS:
        raise argparse.ArgumentTypeError(f"sizes must be at least {UNIT_OBJECTS}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--objects",
        type=parse_sizes,
        default=DEFAULT_SIZES,
        metavar="N,N",
        help="heap sizes in objects, comma-separated (default 1000000,10000000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="memslim runs per size (default 3)")
    parser.add_argument(
        "--peer-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds a peer's call may take; past it: timeout, larger sizes skipped",
    )
    parser.add_argument("--skip-peers", action="store_true", help="run memslim only")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write every run's data here")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        tool, size = args.child
        return child(tool, int(size), args.peer_timeout if tool not in OURS else None)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    notes = []
    tools = list(OURS)
    for peer in [] if args.skip_peers else PEERS:
        if version(DISTRIBUTIONS[peer]) is None:
            notes.append(f"{peer}: skipped, not installed (pip install {DISTRIBUTIONS[peer]})")
        else:
            tools.append(peer)
    started = dt.datetime.now(dt.UTC)
    load_start = load()
    cells = measure(args.objects, tools, args.repeat, args.peer_timeout)
    builds = Counter(r["build"] for c in cells.values() for r in c.runs if r.get("build"))
    elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds()

    command = " ".join(["python3", "bench/heap/run_heap.py", *sys.argv[1:]])
    out = [
        "## Heap census and dominators (synthetic heaps)",
        "",
        "Command (from the repository root, after `pip install .` and "
        "`pip install guppy3 objgraph pympler`):",
        "",
        "```",
        command,
        "```",
        "",
        f"Date: {started:%Y-%m-%d} (run started {started:%H:%M} UTC, took {elapsed / 60:.0f} "
        f"min), commit {git_head()}, memslim build {', '.join(sorted(builds)) or '—'}; "
        f"load average {load_start} at the start, {load()} at the end",
        "",
        machine_line(tools),
        "",
        *[f"Note: {n}" for n in notes],
        *([""] if notes else []),
        *report(cells, args.objects, tools, args.repeat),
    ]
    if len(builds) > 1:
        runs = ", ".join(f"{b}: {n} runs" for b, n in builds.items())
        out += [f"WARNING: memslim's installed files changed during the run ({runs}).", ""]
    print("\n".join(out).rstrip())
    if args.json:
        data = [
            {"tool": t, "size": s, "status": c.status, "detail": c.detail, "runs": c.runs}
            for (t, s), c in cells.items()
        ]
        args.json.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
