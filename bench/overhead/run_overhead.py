"""Benchmark: what tracking costs, memslim against tracemalloc, memray and memory_profiler.

What it measures
----------------
Each workload is a standalone script, run as a fresh process under each tool:

* ``plain``: ``python3 workload.py``
* ``memslim exact``: ``python3 -m memslim run --mode exact --no-census workload.py`` (the
  allocation tracker alone, what the issue 3 targets are about)
* ``memslim sample``: ``python3 -m memslim run --mode sample --no-census workload.py``
* ``memslim default``: ``python3 -m memslim run workload.py`` (exact mode plus heap censuses as
  traced bytes reach new highs: the tracker's cost plus the census's)
* ``tracemalloc 1``: ``python3 -X tracemalloc=1 workload.py``
* ``tracemalloc 25``: ``python3 -X tracemalloc=25 workload.py``
* ``memray``: ``python3 -m memray run -q -f -o TMP workload.py``
* ``memray pyalloc``: the same with ``--trace-python-allocators``
* ``mprof``: ``python3 -m mprof run --interval 0.1 -E -o TMP workload.py``. memory_profiler reads
  the process's RSS every 0.1 s from a second process; it does not see single allocations, so
  its cost is of another kind than the allocation tracers'.

``python3`` is the interpreter running this script (``sys.executable``), so a version
manager's shim does not add its own start-up time to every run.

For each run the wall time (``time.perf_counter`` around the whole process, start-up and the
tool's report at exit included) and the peak RSS (``/usr/bin/time -f %M``, or ``os.wait4``'s
``ru_maxrss`` if GNU time is missing) are recorded. ``ru_maxrss`` of a process tree is the
peak of its largest process, not a sum: for ``mprof`` it is the larger of the sampler and the
profiled process. Each run's stdout and stderr go to files under ``--log-dir``; the last stdout
line of every own workload is checked against the plain run's.

Each workload runs ``--repeat`` times (default 3); within a repeat every tool runs once, in
turn, so drift in the machine's speed hits all tools alike. The tables give, per workload and
tool, the ratio of the tool's median to plain Python's median, for wall time and for peak RSS,
and the median of each ratio over the workloads. A separate table gives the fixed cost: an
empty script under each tool, in seconds and MiB.

Workloads (``bench/overhead/workloads/``, each 1-3 s under plain Python on a 2-core machine,
deterministic): ``objects`` (small instances made and dropped), ``dict_str`` (dicts of
formatted strings), ``list_growth`` (large lists by append and comprehension), ``json``
(dump/load round trips), ``regex`` (compile, findall, sub), ``recursion`` (deep recursion
building tuples). If pyperformance is installed, three of its pure-Python benchmarks (float,
richards, go) also run, each in pyperf's in-process worker mode
(``--worker -l 1 -n N -w 0``: no child processes, so every tool sees the whole benchmark).

Targets (issue 3): memslim exact at most 1.5x plain wall time, memslim sample at most 1.05x;
memslim's own memory at most 20% of the target's peak, measured as (peak RSS under memslim
exact - plain peak RSS) / plain peak RSS. PASS/MISS is printed per workload and for the median
over workloads; the script exits 0 regardless.

How to run
----------
From the repository root, after ``pip install .`` and ``pip install memray memory_profiler
pyperformance`` (peers that are missing are skipped and named)::

    python3 bench/overhead/run_overhead.py                       # full run, about 50 minutes
    python3 bench/overhead/run_overhead.py --quick --repeat 1    # smoke test, about 3 minutes
    python3 bench/overhead/run_overhead.py --only json --skip-peers --repeat 5

``--quick`` sets ``BENCH_SCALE=0.1`` for the workloads (pyperformance: a tenth of the values).
Progress goes to stderr; the machine line and the Markdown tables go to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/_common.py
from _common import git_head, memslim_build, version

HERE = Path(__file__).resolve().parent
WORKLOAD_DIR = HERE / "workloads"
REPO = HERE.parent.parent
DEFAULT_LOG_DIR = REPO / "bench" / "results" / "overhead_logs"
GNU_TIME = "/usr/bin/time"

TARGET_EXACT_TIME = 1.5
TARGET_SAMPLE_TIME = 1.05
TARGET_EXTRA_MEMORY = 20.0  # percent of the target's peak RSS


@dataclass
class Workload:
    name: str
    script: Path
    args: Callable[[float], list[str]] = field(default=lambda scale: [])
    own: bool = True  # written here: deterministic stdout, scaled by BENCH_SCALE


@dataclass
class Tool:
    name: str
    prefix: Callable[[Path], list[str]]  # argv before the script; gets a scratch file path
    peer: bool = True
    package: str | None = None  # distribution that must be installed


def _own_workloads() -> list[Workload]:
    names = ["objects", "dict_str", "list_growth", "json", "regex", "recursion"]
    files = {"json": "json_roundtrip.py"}
    return [Workload(n, WORKLOAD_DIR / files.get(n, f"{n}.py")) for n in names]


# pyperformance benchmark -> values (timed calls of one loop each) at scale 1, chosen so that
# each takes 1-2 s under plain Python on the reference machine. Three of different character:
# float (many short-lived instances and floats), richards (object-oriented control flow, few
# allocations), go (a game-tree search over mutable objects). raytrace and chaos work too, but
# they are of float's kind, and tracemalloc with 25 frames takes 60-100x as long on them, which
# would add about 20 minutes to a full run.
PYPERFORMANCE = {"float": 20, "richards": 20, "go": 10}


def _pyperformance_workloads() -> tuple[list[Workload], str | None]:
    spec = importlib.util.find_spec("pyperformance")
    if spec is None or spec.origin is None:
        return [], "pyperformance is not installed (pip install pyperformance)"
    root = Path(spec.origin).parent / "data-files" / "benchmarks"
    found = []
    for name, values in PYPERFORMANCE.items():
        script = root / f"bm_{name}" / "run_benchmark.py"
        if not script.exists():
            continue

        def args(scale: float, values: int = values) -> list[str]:
            n = max(1, round(values * scale))
            return ["--worker", "-l", "1", "-n", str(n), "-w", "0"]

        found.append(Workload(f"pyperf:{name}", script, args, own=False))
    return found, None


def _tools() -> list[Tool]:
    py = sys.executable
    return [
        Tool("plain", lambda tmp: [py], peer=False),
        Tool(
            "memslim exact",
            lambda tmp: [py, "-m", "memslim", "run", "--mode", "exact", "--no-census"],
            peer=False,
            package="memslim",
        ),
        Tool(
            "memslim sample",
            lambda tmp: [py, "-m", "memslim", "run", "--mode", "sample", "--no-census"],
            peer=False,
            package="memslim",
        ),
        Tool(
            "memslim default",
            lambda tmp: [py, "-m", "memslim", "run"],
            peer=False,
            package="memslim",
        ),
        Tool("tracemalloc 1", lambda tmp: [py, "-X", "tracemalloc=1"]),
        Tool("tracemalloc 25", lambda tmp: [py, "-X", "tracemalloc=25"]),
        Tool(
            "memray",
            lambda tmp: [py, "-m", "memray", "run", "-q", "-f", "-o", str(tmp)],
            package="memray",
        ),
        Tool(
            "memray pyalloc",
            lambda tmp: [
                *[py, "-m", "memray", "run", "-q", "-f", "--trace-python-allocators"],
                *["-o", str(tmp)],
            ],
            package="memray",
        ),
        Tool(
            "mprof",
            lambda tmp: [py, "-m", "mprof", "run", "--interval", "0.1", "-E", "-o", str(tmp)],
            package="memory_profiler",
        ),
    ]


def _load() -> str:
    """The 1-, 5- and 15-minute load averages: other work on the machine skews wall times."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Run:
    seconds: float
    rss_kib: int
    returncode: int
    lines: list[str]


def run_once(argv: list[str], env: dict[str, str], log_base: Path) -> Run:
    """Run ``argv`` once; return its wall time, peak RSS (KiB), exit status and stdout lines."""
    out_path = Path(f"{log_base}.out")
    err_path = Path(f"{log_base}.err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        if os.path.exists(GNU_TIME):
            rss_path = Path(f"{log_base}.rss")
            cmd = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *argv]
            start = time.perf_counter()
            proc = subprocess.run(cmd, stdout=out, stderr=err, env=env, check=False)
            seconds = time.perf_counter() - start
            # GNU time writes "Command exited with non-zero status N" before the format line.
            lines = rss_path.read_text().split()
            rss_kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
            returncode = proc.returncode
        else:
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            rss_kib = usage.ru_maxrss  # KiB on Linux
            returncode = proc.returncode
    lines = out_path.read_text(errors="replace").strip().splitlines()
    return Run(seconds, rss_kib, returncode, lines)


_UNITS = {"B": 1 / 1024, "KiB": 1, "MiB": 1024, "GiB": 1024 * 1024}
_MEMSLIM_RSS = re.compile(r"peak RSS ([0-9.]+) (B|KiB|MiB|GiB)")


def memslim_reported_rss(err_path: Path) -> float | None:
    """The peak RSS (KiB) in memslim's report header: ``ru_maxrss`` when tracking stopped,
    before the report is built; None if the header is not found."""
    text = " ".join(err_path.read_text(errors="replace").split())  # undo the terminal wrap
    m = _MEMSLIM_RSS.search(text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    reported_rss_kib: list[float] = field(default_factory=list)  # memslim's own header
    builds: list[str] = field(default_factory=list)  # memslim_build() before each memslim run
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.seconds) and not self.failures

    @property
    def time(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rss(self) -> float:
        return statistics.median(self.rss_kib)


def measure(
    workloads: list[Workload],
    tools: list[Tool],
    repeat: int,
    scale: float,
    log_dir: Path,
    scratch: Path,
) -> dict[tuple[str, str], Result]:
    results: dict[tuple[str, str], Result] = {}
    env = dict(os.environ, BENCH_SCALE=str(scale), PYTHONDONTWRITEBYTECODE="1")
    for w in workloads:
        argv_tail = [str(w.script), *w.args(scale)]
        expected: str | None = None
        for rep in range(repeat):
            for tool in tools:
                res = results.setdefault((w.name, tool.name), Result())
                safe = f"{w.name}.{tool.name}.{rep}".replace(" ", "_").replace(":", "-")
                tmp = scratch / f"{safe}.bin"
                argv = [*tool.prefix(tmp), *argv_tail]
                print(f"  {w.name:<16} {tool.name:<15} #{rep + 1} ...", end="", file=sys.stderr)
                sys.stderr.flush()
                if tool.name.startswith("memslim"):
                    res.builds.append(memslim_build())
                run = run_once(argv, env, log_dir / safe)
                tmp.unlink(missing_ok=True)
                print(f" {run.seconds:7.3f} s {run.rss_kib / 1024:8.1f} MiB", file=sys.stderr)
                if run.returncode != 0:
                    res.failures.append(f"exit {run.returncode}, see {log_dir / safe}.err")
                    continue
                if w.own:
                    # The workload's result line; mprof adds lines of its own around it.
                    if tool.name == "plain" and expected is None:
                        expected = run.lines[-1] if run.lines else ""
                    elif expected is not None and expected not in run.lines:
                        res.failures.append(f"stdout lacks plain's {expected!r} ({safe}.out)")
                        continue
                res.seconds.append(run.seconds)
                res.rss_kib.append(run.rss_kib)
                if tool.name.startswith("memslim"):
                    reported = memslim_reported_rss(log_dir / f"{safe}.err")
                    if reported is not None:
                        res.reported_rss_kib.append(reported)
    return results


def _fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def _ratio(results, wname: str, tool: str, attr: str) -> float | None:
    base, res = results.get((wname, "plain")), results.get((wname, tool))
    if base is None or res is None or not base.ok or not res.ok:
        return None
    return getattr(res, attr) / getattr(base, attr)


def _median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def _verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value <= limit else "MISS"


def _startup_adjusted(results, names: list[str], tools: list[Tool], startup: Workload) -> None:
    """Each memslim mode's wall-time ratio with its fixed cost taken out: the tool's median on
    the empty script less plain's, subtracted from the tool's median on each workload."""
    plain_empty = results[(startup.name, "plain")]
    modes = [t.name for t in tools if t.name.startswith("memslim")]
    if not plain_empty.ok or not modes:
        return
    fixed = {
        m: results[(startup.name, m)].time - plain_empty.time
        for m in modes
        if results[(startup.name, m)].ok
    }
    if not fixed:
        return
    print(
        "\nWith the fixed cost taken out: (tool's median − (tool's − plain's median on the empty "
        "script)) / plain's median; fixed costs "
        + ", ".join(f"{m} {fixed[m]:.3f} s" for m in fixed)
        + ".\n"
    )
    print("| workload | " + " | ".join(fixed) + " |")
    print("|---|" + "---:|" * len(fixed))
    adjusted: dict[str, list[float | None]] = {m: [] for m in fixed}
    for name in names:
        base = results[(name, "plain")]
        cells = []
        for m in fixed:
            run = results[(name, m)]
            value = (run.time - fixed[m]) / base.time if base.ok and run.ok else None
            adjusted[m].append(value)
            cells.append(_fmt_ratio(value))
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        f"| **median ({len(names)})** | "
        + " | ".join(f"**{_fmt_ratio(_median(adjusted[m]))}**" for m in fixed)
        + " |"
    )


def report(results, workloads: list[Workload], tools: list[Tool], startup: Workload | None):
    names = [w.name for w in workloads]
    others = [t.name for t in tools if t.name != "plain"]
    groups = [("all", names)]
    own = [w.name for w in workloads if w.own]
    if len(own) != len(names) and own:
        groups.append(("own", own))

    for attr, title, unit in (
        ("time", "Wall time", "s"),
        ("rss", "Peak RSS", "MiB"),
    ):
        print(f"\n{title}: plain Python's median, and each tool's median / plain's median.\n")
        print(f"| workload | plain ({unit}) | " + " | ".join(others) + " |")
        print("|---|---:|" + "---:|" * len(others))
        for name in names:
            base = results[(name, "plain")]
            if base.ok:
                value = base.time if attr == "time" else base.rss / 1024
                cell = f"{value:.3f}" if attr == "time" else f"{value:.1f}"
            else:
                cell = "failed"
            ratios = []
            for t in others:
                r = _ratio(results, name, t, attr)
                ratios.append("failed" if r is None and results[(name, t)].failures else r)
            cells = [x if isinstance(x, str) else _fmt_ratio(x) for x in ratios]
            print(f"| {name} | {cell} | " + " | ".join(cells) + " |")
        for label, group in groups:
            meds = [_median([_ratio(results, n, t, attr) for n in group]) for t in others]
            print(
                f"| **median ({label}, {len(group)})** | | "
                + " | ".join(f"**{_fmt_ratio(m)}**" for m in meds)
                + " |"
            )

    have_memslim = any(t.name == "memslim exact" for t in tools)
    if have_memslim:
        print(
            "\nTargets (issue 3): memslim exact ≤ "
            f"{TARGET_EXACT_TIME}× wall time, memslim sample ≤ {TARGET_SAMPLE_TIME}×, "
            f"memslim extra memory ≤ {TARGET_EXTRA_MEMORY:.0f}% of the target's peak RSS "
            "(peak RSS under memslim exact − plain peak RSS) / plain peak RSS.\n"
        )
        print(
            "The column 'exact, RSS when tracking stopped' is the peak RSS memslim's own report "
            "gives (ru_maxrss read when tracking stops, before the report is built); the "
            "process's peak RSS can be higher if building and printing the report grows it.\n"
        )
        print(
            "| workload | exact, time | sample, time | plain peak RSS (MiB) "
            "| exact peak RSS (MiB) | exact, RSS when tracking stopped (MiB) "
            "| memslim extra memory, % of target's peak RSS |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        extra: dict[str, float | None] = {}
        for name in names:
            te = _ratio(results, name, "memslim exact", "time")
            ts = _ratio(results, name, "memslim sample", "time")
            rr = _ratio(results, name, "memslim exact", "rss")
            extra[name] = None if rr is None else (rr - 1) * 100
            base, ex = results[(name, "plain")], results[(name, "memslim exact")]
            prss = f"{base.rss / 1024:.1f}" if base.ok else "failed"
            erss = f"{ex.rss / 1024:.1f}" if ex.ok else "failed"
            trss = (
                f"{statistics.median(ex.reported_rss_kib) / 1024:.1f}"
                if ex.ok and ex.reported_rss_kib
                else "—"
            )
            em = "—" if extra[name] is None else f"{extra[name]:.0f}%"
            print(
                f"| {name} | {_fmt_ratio(te)} {_verdict(te, TARGET_EXACT_TIME)} "
                f"| {_fmt_ratio(ts)} {_verdict(ts, TARGET_SAMPLE_TIME)} | {prss} | {erss} | {trss} "
                f"| {em} {_verdict(extra[name], TARGET_EXTRA_MEMORY)} |"
            )
        print()
        for label, group in groups:
            te = _median([_ratio(results, n, "memslim exact", "time") for n in group])
            ts = _median([_ratio(results, n, "memslim sample", "time") for n in group])
            em = _median([extra[n] for n in group])
            met = {
                "exact": sum(
                    1
                    for n in group
                    if _verdict(_ratio(results, n, "memslim exact", "time"), TARGET_EXACT_TIME)
                    == "PASS"
                ),
                "sample": sum(
                    1
                    for n in group
                    if _verdict(_ratio(results, n, "memslim sample", "time"), TARGET_SAMPLE_TIME)
                    == "PASS"
                ),
                "memory": sum(
                    1 for n in group if _verdict(extra[n], TARGET_EXTRA_MEMORY) == "PASS"
                ),
            }
            n = len(group)
            print(
                f"- median over {label} {n} workloads: memslim exact {_fmt_ratio(te)} "
                f"{_verdict(te, TARGET_EXACT_TIME)} (met on {met['exact']}/{n}); "
                f"memslim sample {_fmt_ratio(ts)} {_verdict(ts, TARGET_SAMPLE_TIME)} "
                f"(met on {met['sample']}/{n}); memslim extra memory "
                f"{'—' if em is None else f'{em:.0f}%'} {_verdict(em, TARGET_EXTRA_MEMORY)} "
                f"(met on {met['memory']}/{n})"
            )

    if startup is not None:
        print(
            "\nFixed cost: an empty script (`pass`) under each tool, median wall time (s) and "
            "peak RSS (MiB); not in the medians above.\n"
        )
        print("| tool | wall time (s) | peak RSS (MiB) |")
        print("|---|---:|---:|")
        for t in tools:
            res = results[(startup.name, t.name)]
            if res.ok:
                print(f"| {t.name} | {res.time:.3f} | {res.rss / 1024:.1f} |")
            else:
                print(f"| {t.name} | failed | failed |")
        _startup_adjusted(results, names, tools, startup)

    builds: dict[str, set[str]] = {}
    for (wname, _), res in results.items():
        for b in res.builds:
            builds.setdefault(b, set()).add(wname)
    if len(builds) > 1:
        print(
            "\nWARNING: memslim's installed files changed during the run, so its ratios mix "
            "builds; re-run on one build (`--skip-peers` is quick):\n"
        )
        for b, wnames in builds.items():
            print(f"- build {b}: {', '.join(sorted(wnames))}")

    failures = [(k, r.failures) for k, r in results.items() if r.failures]
    if failures:
        print("\nFailed runs (left out of the ratios):\n")
        for (wname, tname), msgs in failures:
            for m in msgs:
                print(f"- {wname} / {tname}: {m}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload and tool")
    parser.add_argument("--only", metavar="NAME", help="run one workload (e.g. json, go)")
    parser.add_argument(
        "--skip-peers", action="store_true", help="run plain Python and memslim only"
    )
    parser.add_argument("--quick", action="store_true", help="shorter workloads (BENCH_SCALE=0.1)")
    parser.add_argument(
        "--no-pyperformance", action="store_true", help="leave out pyperformance benchmarks"
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=DEFAULT_LOG_DIR,
        help=f"where each run's stdout/stderr go (default {DEFAULT_LOG_DIR.relative_to(REPO)})",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    scale = 0.1 if args.quick else 1.0

    notes = []
    workloads = _own_workloads()
    if args.no_pyperformance:
        notes.append("pyperformance: left out (--no-pyperformance)")
    else:
        extra, why = _pyperformance_workloads()
        workloads += extra
        if why:
            notes.append(f"pyperformance: skipped, {why}")
    startup: Workload | None = Workload("startup", WORKLOAD_DIR / "empty.py", own=False)
    if args.only:
        wanted = args.only.removeprefix("pyperf:")
        workloads = [w for w in workloads if wanted in (w.name, w.name.removeprefix("pyperf:"))]
        if not workloads:
            parser.error(f"no workload named {args.only!r}")
        startup = None

    tools = []
    for tool in _tools():
        if args.skip_peers and tool.peer:
            continue
        if tool.package and version(tool.package) is None:
            notes.append(f"{tool.name}: skipped, {tool.package} is not installed")
            continue
        tools.append(tool)

    versions = [
        f"{d} {version(d)}"
        for d in ("memray", "memory_profiler", "pyperformance", "pyperf")
        if version(d)
    ]
    started = dt.datetime.now(dt.UTC)
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()} ({platform.python_implementation()}), "
        f"memslim {version('memslim')}; peers: {', '.join(versions) or 'none'}"
    )
    print(f"memslim build at start: {memslim_build()}; load average {_load()}")
    peak_tool = "/usr/bin/time -f %M" if os.path.exists(GNU_TIME) else "os.wait4 ru_maxrss"
    print(
        f"Run: {started:%Y-%m-%d %H:%M} UTC, commit {git_head()}, --repeat {args.repeat}, "
        f"BENCH_SCALE={scale}, "
        f"interpreter {sys.executable}, peak RSS from {peak_tool}"
    )
    for note in notes:
        print(f"Note: {note}")
    sys.stdout.flush()

    args.log_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="memslim-overhead-"))
    try:
        all_workloads = [*workloads, *([startup] if startup else [])]
        results = measure(all_workloads, tools, args.repeat, scale, args.log_dir, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds()
    print(f"memslim build at end: {memslim_build()}; load average {_load()}")
    report(results, workloads, tools, startup)
    print(f"\nTotal benchmark time: {elapsed:.0f} s; logs in {args.log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
