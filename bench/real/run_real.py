"""Real programs on real libraries, each run side by side under several memory tools.

Every program in ``programs/`` runs as a fresh process under each tool, ``--repeat`` times
(``long_run`` ``--long-repeat`` times). Within a repetition the tools run in turn, so drift in
the machine's speed hits all of them alike; an untimed plain run first (``long_run`` aside)
brings the libraries into the page cache, so that plain, first in every repetition, does not
alone pay for reading them from disk. Per run it records:

* wall time: ``time.perf_counter()`` around the whole process (start-up, the program, the
  tool's report or file writing at exit);
* peak RSS: each command runs under ``/usr/bin/time -f %M -o FILE`` (GNU time), which
  reports the ``ru_maxrss`` that ``wait4`` gives it for the command. On Linux that is the
  larger of the command's own peak RSS and the peak of every descendant it waited for: the
  peak of the largest process in the tree, not a sum. Only ``scalene`` starts a second process
  (a launcher that re-runs ``python -m scalene`` with ``LD_PRELOAD``, then waits for it); its
  figure is the profiled process's peak, the launcher's own memory is not added. ``memray
  run`` tracks in-process. Without GNU time the runner falls back to ``os.wait4`` on its own
  child, whose ``ru_maxrss`` also counts the pages of the runner that the child was forked
  from (Linux keeps the pre-exec high-water mark): a floor of the runner's RSS, about 25 MiB.

A run that exits non-zero or outlives its timeout (10x plain's median + 60 s) is recorded as
failed, with its exit status and the last line of its stderr. Each run's stdout and stderr go
to ``results/logs/PROGRAM.TOOL.{out,err}`` (the last repetition's are kept), and every run's
stdout is checked for the result line that plain Python printed.

After the timed runs of a program, one more (untimed) ``memslim run --json`` gives memslim's
own view: how long the tracked program ran (``duration_s``) against the whole process's wall
time, its bookkeeping bytes, the traced peak, and how close the last heap census came to it.

Usage (from the repository root)::

    python3 bench/real/run_real.py [--repeat N] [--skip-long] [--only NAME] [--tools A,B]

Progress goes to stderr, the Markdown tables to stdout and to the JSON file's ``.md`` sibling;
all raw measurements go to ``--json`` (default ``bench/real/results/latest.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/_common.py
from _common import git_head, memslim_build, version

HERE = Path(__file__).resolve().parent
PROGRAM_DIR = HERE / "programs"
REPO = HERE.parent.parent
RESULTS = HERE / "results"

PROGRAMS = [
    "pandas_job",
    "numpy_job",
    "sklearn_fit",
    "black_format",
    "json_csv_pipeline",
    "threads8",
    "long_run",
]
LONG = "long_run"
LONG_SECONDS_ENV = "MEMSLIM_BENCH_LONG_SECONDS"
SHORT_EXPECTED_S = 5.0  # the timeout's base for a program until plain has a median
VERSIONED = ["memslim", "memray", "scalene", "numpy", "pandas", "scipy", "scikit-learn", "black"]
MIB = 1024 * 1024
# GNU time reports the ru_maxrss of the child it forks from itself, a process of about 2 MB.
# os.wait4 here would not do: a child forked from this runner starts as a copy of it, and
# Linux counts that copy's resident pages in the child's ru_maxrss, even after exec.
GNU_TIME = "/usr/bin/time"
HAVE_GNU_TIME = os.access(GNU_TIME, os.X_OK)


@dataclass
class Tool:
    name: str
    argv: Callable[[str, Path], list[str]]  # (python, scratch dir) -> argv before the program
    module: str | None = None  # must be importable, else every run is "failed"


def _tools() -> list[Tool]:
    memslim = ["-m", "memslim", "run"]
    memray = ["-m", "memray", "run"]
    return [
        Tool("plain", lambda py, tmp: [py]),
        Tool("memslim", lambda py, tmp: [py, *memslim], "memslim"),
        Tool("memslim-nocensus", lambda py, tmp: [py, *memslim, "--no-census"], "memslim"),
        # The default with a capture file, checkpointed while the program runs: what
        # checkpoints cost (issue 12: at most 3%).
        Tool(
            "memslim-capture",
            lambda py, tmp: [py, *memslim, "-o", str(tmp / "run.capture")],
            "memslim",
        ),
        Tool("memslim-sample", lambda py, tmp: [py, *memslim, "--mode", "sample"], "memslim"),
        Tool(
            "memslim-sample-nocensus",
            lambda py, tmp: [py, *memslim, "--mode", "sample", "--no-census"],
            "memslim",
        ),
        # Python's allocators only (no NumPy handler, no native hooks): what native costs.
        Tool("memslim-pyonly", lambda py, tmp: [py, *memslim, "--python-only"], "memslim"),
        Tool(
            "memray",
            lambda py, tmp: [py, *memray, "-o", str(tmp / "memray.bin"), "-f"],
            "memray",
        ),
        Tool(
            "memray-pyalloc",
            lambda py, tmp: [
                *[py, *memray, "--trace-python-allocators"],
                *["-o", str(tmp / "memray.bin"), "-f"],
            ],
            "memray",
        ),
        Tool("tracemalloc", lambda py, tmp: [py, "-X", "tracemalloc=1"]),
        # Scalene 2.x: ``scalene run -o FILE`` profiles CPU and memory and writes JSON, no
        # browser. The 1.x form ``scalene --cli --no-browser --outfile FILE PROG`` exits 1
        # ("not a valid command").
        Tool(
            "scalene",
            lambda py, tmp: [py, "-m", "scalene", "run", "-o", str(tmp / "scalene.json")],
            "scalene",
        ),
    ]


# -- the machine and the software ------------------------------------------------------------


def machine_info(python: str) -> dict:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "git_head": git_head(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": python,
        "platform": platform.platform(),
        "nproc": len(os.sched_getaffinity(0)),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": {name: version(name) for name in VERSIONED},
        "memslim_build": memslim_build(),
        "rss_method": "GNU time %M" if HAVE_GNU_TIME else "os.wait4 ru_maxrss",
    }


# -- running one command ---------------------------------------------------------------------


@dataclass
class Run:
    program: str
    tool: str
    rep: int
    argv: list[str]
    status: str  # "ok", "failed" or "timeout"
    exit_code: int | None
    wall_s: float
    maxrss_kib: int
    stderr_tail: str
    stdout_last: str
    stdout_matches_plain: bool | None = None
    memslim_build: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Measured:
    status: str  # "ok", "failed" or "timeout"
    exit_code: int | None
    wall_s: float
    maxrss_kib: int
    # CPU seconds (user + system) of the command and every process it waited for (census
    # children included): less noisy than the wall time when another load comes and goes.
    cpu_s: float = 0.0


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else ""


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_once(
    argv: list[str], cwd: Path, log_base: Path, timeout: float, env: dict[str, str] | None = None
) -> Measured:
    """Run ``argv`` in a session of its own, under GNU time if there is one (``env``: its
    environment, this process's by default)."""
    rss_file = Path(f"{log_base}.rss")
    rss_file.unlink(missing_ok=True)
    command = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv] if HAVE_GNU_TIME else argv
    with open(f"{log_base}.out", "wb") as out, open(f"{log_base}.err", "wb") as err:
        timed_out = threading.Event()

        def expire(pid: int) -> None:
            timed_out.set()
            _kill_group(pid)

        start = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True
        )
        timer = threading.Timer(timeout, expire, (proc.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: the child is in its own session, so end it here
            _kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    _kill_group(proc.pid)  # whatever the tool left behind in its session
    if HAVE_GNU_TIME:
        # GNU time writes "Command exited with non-zero status N" before the format's line.
        words = rss_file.read_text().split() if rss_file.exists() else []
        rss_kib = int(words[-1]) if words and words[-1].isdigit() else 0
        rss_file.unlink(missing_ok=True)
    else:
        rss_kib = usage.ru_maxrss
    status_name = "timeout" if timed_out.is_set() else "ok" if code == 0 else "failed"
    return Measured(status_name, code, wall, rss_kib, usage.ru_utime + usage.ru_stime)


# -- the benchmark ---------------------------------------------------------------------------


@dataclass
class Bench:
    python: str
    tools: list[Tool]
    log_dir: Path
    scratch: Path
    runs: list[Run] = field(default_factory=list)
    warmups: list[Run] = field(default_factory=list)  # untimed plain runs, not in the tables
    memslim_reports: dict[str, dict] = field(default_factory=dict)

    def _plain(self, program: str) -> list[Run]:
        return [
            r
            for r in self.warmups + self.runs
            if (r.program, r.tool) == (program, "plain") and r.ok
        ]

    def plain_median(self, program: str) -> float | None:
        walls = [r.wall_s for r in self._plain(program)]
        return statistics.median(walls) if walls else None

    def expected_line(self, program: str) -> str | None:
        plain = self._plain(program)
        return plain[0].stdout_last if plain else None

    def timeout(self, program: str) -> float:
        base = self.plain_median(program)
        if base is None:
            long_s = float(os.environ.get(LONG_SECONDS_ENV, "60"))
            base = long_s if program == LONG else SHORT_EXPECTED_S
        return 10 * base + 60

    def run(self, program: str, tool: Tool, rep: int, warmup: bool = False) -> Run:
        script = str(PROGRAM_DIR / f"{program}.py")
        cwd = self.scratch / f"{program}.{tool.name}.{rep}"
        cwd.mkdir()
        argv = [*tool.argv(self.python, cwd), script]
        build = memslim_build() if tool.module == "memslim" else None
        log_base = self.log_dir / f"{program}.{tool.name}"
        timeout = self.timeout(program)
        try:
            if tool.module and importlib.util.find_spec(tool.module) is None:
                m = Measured("failed", None, 0.0, 0)
                Path(f"{log_base}.out").write_text("")
                Path(f"{log_base}.err").write_text(f"{tool.module} is not installed\n")
            else:
                m = run_once(argv, cwd, log_base, timeout)
        finally:
            shutil.rmtree(cwd, ignore_errors=True)  # memray's .bin, scalene's JSON
        err_tail = _last_line(Path(f"{log_base}.err"))
        if m.status == "timeout":
            err_tail = f"killed after {timeout:.0f} s; stderr: {err_tail}"
        out_lines = Path(f"{log_base}.out").read_text(errors="replace").strip().splitlines()
        result = Run(
            program=program,
            tool=tool.name,
            rep=rep,
            argv=argv,
            status=m.status,
            exit_code=m.exit_code,
            wall_s=round(m.wall_s, 4),
            maxrss_kib=m.maxrss_kib,
            stderr_tail="" if m.status == "ok" else err_tail,
            stdout_last=out_lines[-1].strip() if out_lines else "",
            memslim_build=build,
        )
        expected = self.expected_line(program)
        if result.ok and expected is not None:
            # Some tools print lines of their own after the program's.
            result.stdout_matches_plain = expected in (line.strip() for line in out_lines)
        (self.warmups if warmup else self.runs).append(result)
        return result

    def memslim_report(self, program: str) -> None:
        """One untimed ``memslim run --json`` of the program: memslim's own figures."""
        if importlib.util.find_spec("memslim") is None:
            return
        script = str(PROGRAM_DIR / f"{program}.py")
        cwd = self.scratch / f"{program}.memslim-json"
        cwd.mkdir()
        report_path = cwd / "report.json"
        argv = [self.python, "-m", "memslim", "run", "--json", str(report_path), script]
        log_base = self.log_dir / f"{program}.memslim-json"
        try:
            m = run_once(argv, cwd, log_base, self.timeout(program))
            entry: dict = {
                "argv": argv,
                "status": m.status,
                "exit_code": m.exit_code,
                "wall_s": round(m.wall_s, 4),
                "maxrss_kib": m.maxrss_kib,
                "memslim_build": memslim_build(),
            }
            if report_path.exists():
                report = json.loads(report_path.read_text())
                entry["duration_s"] = report.get("duration_s")
                entry["bookkeeping_bytes"] = report.get("memslim", {}).get("bookkeeping_bytes")
                entry["peak_traced_bytes"] = report.get("peak", {}).get("traced_bytes")
                entry["peak_by_domain"] = report.get("peak", {}).get("by_domain", {})
                census = report.get("census")
                if census:
                    entry["census_traced_bytes"] = census.get("traced_bytes")
                    entry["census_peak_traced_bytes"] = census.get("peak_traced_bytes")
                    forked = census.get("forked") or {}
                    entry["census_forks"] = forked.get("forks")
                    entry["census_pause_s"] = forked.get("fork_seconds")
                    entry["census_wait_s"] = forked.get("wait_seconds")
                    entry["census_child_private_bytes"] = forked.get("child_private_bytes_max")
            else:
                entry["error"] = _last_line(Path(f"{log_base}.err"))
        finally:
            shutil.rmtree(cwd, ignore_errors=True)
        self.memslim_reports[program] = entry


def measure(bench: Bench, programs: list[str], repeat: int, long_repeat: int, warmup: bool) -> None:
    for program in programs:
        if warmup and program != LONG:
            # Plain runs first in every repetition: without this run it alone would pay for
            # reading the libraries from disk. It also sets the timeout and the result line.
            print(f"  {program:<18} plain (warm-up, untimed) ...", end="", file=sys.stderr)
            plain = next(t for t in bench.tools if t.name == "plain")
            r = bench.run(program, plain, -1, warmup=True)
            print(f" {r.status}", file=sys.stderr, flush=True)
        reps = long_repeat if program == LONG else repeat
        for rep in range(reps):
            for tool in bench.tools:
                label = f"{program:<18} {tool.name:<17} #{rep + 1}/{reps}"
                print(f"  {label} ...", end="", file=sys.stderr, flush=True)
                r = bench.run(program, tool, rep)
                note = "" if r.ok else f"  {r.status.upper()} ({r.exit_code}): {r.stderr_tail}"
                if r.stdout_matches_plain is False:
                    note += "  (stdout differs from plain's)"
                print(
                    f" {r.wall_s:8.2f} s {r.maxrss_kib / 1024:8.1f} MiB{note}",
                    file=sys.stderr,
                    flush=True,
                )
        print(f"  {program:<18} memslim --json (untimed) ...", end="", file=sys.stderr)
        bench.memslim_report(program)
        entry = bench.memslim_reports.get(program, {})
        print(f" {entry.get('status', 'skipped')}", file=sys.stderr, flush=True)


# -- tables ----------------------------------------------------------------------------------


@dataclass
class Cell:
    """One (program, tool): medians over its successful runs."""

    ok: int
    total: int
    wall: float | None
    rss_mib: float | None
    failure: str | None


def cell(runs: list[Run], program: str, tool: str) -> Cell:
    mine = [r for r in runs if (r.program, r.tool) == (program, tool)]
    good = [r for r in mine if r.ok]
    bad = [r for r in mine if not r.ok]
    failure = None
    if bad:
        last = bad[-1]
        failure = f"{last.status} (exit {last.exit_code}): {last.stderr_tail}"[:110]
    if not good:
        return Cell(0, len(mine), None, None, failure)
    return Cell(
        len(good),
        len(mine),
        statistics.median(r.wall_s for r in good),
        statistics.median(r.maxrss_kib for r in good) / 1024,
        failure,
    )


def _md(value: str) -> str:
    return value.replace("|", "\\|")


def program_table(bench: Bench, program: str) -> list[str]:
    base = cell(bench.runs, program, "plain")
    lines = [
        f"### {program}",
        "",
        "| tool | ok runs | wall (s) | wall × plain | peak RSS (MiB) | RSS × plain "
        "| extra RSS (MiB) | extra RSS (% of plain) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for tool in bench.tools:
        c = cell(bench.runs, program, tool.name)
        if c.wall is None:
            lines.append(f"| {tool.name} | 0/{c.total} | failed | | | | | |")
        elif base.wall is None or base.rss_mib is None:
            lines.append(
                f"| {tool.name} | {c.ok}/{c.total} | {c.wall:.2f} | | {c.rss_mib:.1f} | | | |"
            )
        else:
            extra = c.rss_mib - base.rss_mib
            lines.append(
                f"| {tool.name} | {c.ok}/{c.total} | {c.wall:.2f} | {c.wall / base.wall:.2f}× "
                f"| {c.rss_mib:.1f} | {c.rss_mib / base.rss_mib:.2f}× | {extra:+.1f} "
                f"| {100 * extra / base.rss_mib:+.0f}% |"
            )
        if c.failure:
            notes.append(f"- {tool.name}: {_md(c.failure)}")
        mismatched = [
            r.rep + 1
            for r in bench.runs
            if (r.program, r.tool) == (program, tool.name) and r.stdout_matches_plain is False
        ]
        if mismatched:
            notes.append(f"- {tool.name}: stdout lacks plain's result line (runs {mismatched})")
    if notes:
        lines += ["", "Failures and warnings:", "", *notes]
    return [*lines, ""]


def _ratios(bench: Bench, programs: list[str], tool: str) -> tuple[list, list]:
    """(program, wall ratio) and (program, extra RSS %) for every program both ran."""
    walls, extras = [], []
    for program in programs:
        base, c = cell(bench.runs, program, "plain"), cell(bench.runs, program, tool)
        if None in (base.wall, base.rss_mib, c.wall, c.rss_mib):
            continue
        walls.append((program, c.wall / base.wall))
        extras.append((program, 100 * (c.rss_mib - base.rss_mib) / base.rss_mib))
    return walls, extras


def summary_table(bench: Bench, programs: list[str]) -> list[str]:
    lines = [
        "### Summary over programs",
        "",
        "Per tool: the median and the worst (program) of wall × plain and of extra RSS "
        "(% of plain's peak RSS), over the programs where both plain and the tool succeeded.",
        "",
        "| tool | programs ok | median wall × | worst wall × | median extra RSS % "
        "| worst extra RSS % |",
        "|---|---:|---:|---|---:|---|",
    ]
    for tool in bench.tools:
        if tool.name == "plain":
            continue
        walls, extras = _ratios(bench, programs, tool.name)
        if not walls:
            lines.append(f"| {tool.name} | 0/{len(programs)} | | | | |")
            continue
        worst_wall = max(walls, key=lambda x: x[1])
        worst_extra = max(extras, key=lambda x: x[1])
        lines.append(
            f"| {tool.name} | {len(walls)}/{len(programs)} "
            f"| {statistics.median(w for _, w in walls):.2f}× "
            f"| {worst_wall[1]:.2f}× ({worst_wall[0]}) "
            f"| {statistics.median(e for _, e in extras):+.0f}% "
            f"| {worst_extra[1]:+.0f}% ({worst_extra[0]}) |"
        )
    return [*lines, ""]


def memslim_table(bench: Bench, programs: list[str]) -> list[str]:
    lines = [
        "### memslim's own figures (one extra, untimed `memslim run --json` per program)",
        "",
        "tracked = the report's `duration_s` (the program under tracking); wall = the whole "
        "process of that run (start-up, program, report); bookkeeping = "
        "`memslim.bookkeeping_bytes`; census/peak = the last census's traced bytes over the "
        "traced peak; forks, pause = census children and the time the program stopped for "
        "their forks; wait = how long the report waited for census children after the "
        "program; child pages = the largest census child's own (copied or new) pages, "
        "memory the machine spends while that child walks; python / numpy / native = the "
        "peak's bytes in each domain (native: the C allocator and anonymous maps).",
        "",
        "| program | wall (s) | tracked (s) | tracked % of wall | peak traced (MiB) "
        "| python / numpy / native (MiB) "
        "| bookkeeping (MiB) | bookkeeping % of peak traced | census / peak "
        "| forks | pause (s) | wait (s) | child pages (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for program in programs:
        e = bench.memslim_reports.get(program)
        if e is None:
            continue
        if "duration_s" not in e:
            error = _md(e.get("error", ""))[:80]
            failed = f"{e['status']} (exit {e['exit_code']}): {error}"
            lines.append(f"| {program} | {failed} ||||||||||||")
            continue
        peak, keep = e["peak_traced_bytes"], e["bookkeeping_bytes"]
        census = (
            f"{e['census_traced_bytes'] / e['census_peak_traced_bytes']:.3f}"
            if e.get("census_peak_traced_bytes")
            else "no census"
        )
        forks = e.get("census_forks")
        forked = (
            f"{forks} | {e['census_pause_s']:.3f} | {e.get('census_wait_s') or 0:.2f} "
            f"| {e['census_child_private_bytes'] / MIB:.0f}"
            if forks is not None
            else "- | - | - | -"
        )
        domains = e.get("peak_by_domain") or {}
        split = " / ".join(
            f"{part / MIB:.1f}"
            for part in (
                domains.get("python", 0),
                domains.get("numpy", 0),
                domains.get("native", 0) + domains.get("mmap", 0),
            )
        )
        lines.append(
            f"| {program} | {e['wall_s']:.2f} | {e['duration_s']:.2f} "
            f"| {100 * e['duration_s'] / e['wall_s']:.0f}% | {peak / MIB:.1f} | {split} "
            f"| {keep / MIB:.1f} | {100 * keep / peak if peak else 0:.0f}% | {census} "
            f"| {forked} |"
        )
    return [*lines, ""]


def header(info: dict, args: argparse.Namespace, tools: list[Tool], programs: list[str]) -> list:
    versions = ", ".join(f"{k} {v or 'missing'}" for k, v in info["versions"].items())
    return [
        "## memslim real-program benchmark",
        "",
        f"- date: {info['date']}; repository HEAD: {info['git_head']}; "
        f"memslim build (installed files): {info['memslim_build']}",
        f"- {info['python']} ({info['python_executable']}), {info['platform']}, "
        f"nproc {info['nproc']}, load average at start "
        + " / ".join(str(x) for x in info["load_average"]),
        f"- {versions}",
        f"- repeat {args.repeat} ({LONG}: {args.long_repeat}), "
        + ("no warm-up; " if args.no_warmup else f"one untimed plain warm-up (but {LONG}); ")
        + f"{LONG_SECONDS_ENV}={os.environ.get(LONG_SECONDS_ENV, '60 (default)')}",
        f"- programs: {', '.join(programs)}; tools: {', '.join(t.name for t in tools)}",
        "- wall: median of perf_counter around the process; peak RSS: median of "
        + ("GNU time's %M" if HAVE_GNU_TIME else "os.wait4's ru_maxrss (runner's RSS as floor)")
        + " (the largest process of the tree); MiB = 2^20 bytes",
        "",
    ]


def main() -> int:
    tools = _tools()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (default 3)")
    parser.add_argument(
        "--long-repeat", type=int, default=1, help=f"runs per tool of {LONG} (default 1)"
    )
    parser.add_argument("--skip-long", action="store_true", help=f"do not run {LONG}")
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help=f"no untimed plain run of each program (but {LONG}) before the timed ones",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PROGRAMS,
        metavar="NAME",
        help=f"run only this program (repeatable): {', '.join(PROGRAMS)}",
    )
    parser.add_argument(
        "--tools",
        help="comma-separated tools to run (plain is always added): "
        + ", ".join(t.name for t in tools),
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS / "latest.json",
        help="raw measurements (default bench/real/results/latest.json; tables in its .md)",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter to run (default: this one)"
    )
    args = parser.parse_args()

    programs = args.only or [p for p in PROGRAMS if not (args.skip_long and p == LONG)]
    if args.tools:
        wanted = {"plain", *args.tools.split(",")}
        unknown = wanted - {t.name for t in tools}
        if unknown:
            parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
        tools = [t for t in tools if t.name in wanted]

    info = machine_info(args.python)
    args.json = args.json.resolve()  # the runs' working directory is a temporary one
    log_dir = args.json.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    head = header(info, args, tools, programs)
    print("\n".join(head), file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="memslim-real-") as scratch:
        bench = Bench(args.python, tools, log_dir, Path(scratch))
        started = time.perf_counter()
        measure(bench, programs, args.repeat, args.long_repeat, not args.no_warmup)
        elapsed = time.perf_counter() - started
    print(f"  done in {elapsed / 60:.1f} min", file=sys.stderr)

    build_after = memslim_build()
    builds = {r.memslim_build for r in bench.runs if r.memslim_build} | {build_after}
    lines = list(head)
    if len(builds - {info["memslim_build"]}) > 0:
        lines += [
            f"**Warning**: memslim was reinstalled during the run (builds {sorted(builds)});"
            " see each run's memslim_build in the JSON.",
            "",
        ]
    for program in programs:
        lines += program_table(bench, program)
    lines += summary_table(bench, programs)
    lines += memslim_table(bench, programs)
    text = "\n".join(lines)
    print(text)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "schema": "memslim-bench-real/1",
        "machine": info,
        "memslim_build_after": build_after,
        "elapsed_s": round(elapsed, 1),
        "repeat": args.repeat,
        "long_repeat": args.long_repeat,
        "warmup": not args.no_warmup,
        "programs": programs,
        "tools": {t.name: [*t.argv(args.python, Path("TMP")), "PROGRAM"] for t in tools},
        "warmups": [asdict(r) for r in bench.warmups],
        "runs": [asdict(r) for r in bench.runs],
        "memslim_reports": bench.memslim_reports,
    }
    args.json.write_text(json.dumps(data, indent=1) + "\n")
    args.json.with_suffix(".md").write_text(text + "\n")
    print(f"\nraw measurements: {args.json}; logs: {log_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
