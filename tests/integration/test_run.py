"""`memslim run` as a user runs it: accuracy against tracemalloc, exit statuses, threads, fork,
multiprocessing, signals and bad input."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def memslim_run(
    *args: str, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memslim", "run", *args],
        capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False,
    )  # fmt: skip


def run_json(
    tmp_path: Path, script: Path, *extra: str
) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
    out = tmp_path / "report.json"
    result = memslim_run("--json", str(out), *extra, str(script))
    assert out.exists(), result.stderr
    return json.loads(out.read_text()), result


def run_program(
    script: Path, source: str, printed: str
) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
    """`memslim run --json` on `source`, saved as `script`, which must exit 0 and print
    `printed`; the report and the run."""
    script.write_text(source)
    report, result = run_json(script.parent, script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == printed
    return report, result


def tracemalloc_reference(tmp_path: Path, script: Path) -> dict[str, Any]:
    out = tmp_path / "reference.json"
    subprocess.run(
        [sys.executable, str(FIXTURES / "tracemalloc_harness.py"), str(out), str(script)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    return json.loads(out.read_text())


def test_exact_mode_agrees_with_tracemalloc(tmp_path: Path) -> None:
    script = FIXTURES / "accuracy_job.py"
    report, result = run_json(tmp_path, script)
    reference = tracemalloc_reference(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert report["schema"] == "memslim/1" and report["mode"] == "exact"
    peak = report["peak"]["traced_bytes"]
    assert abs(peak - reference["peak"]) / reference["peak"] < 0.01, (peak, reference["peak"])
    # Everything is kept to the end: the reference's lines at the end are the lines at peak.
    ours = {(line["file"], line["line"]): line["bytes_at_peak"] for line in report["lines"]}
    theirs = [line for line in reference["lines"] if line["file"] == str(script)][:10]
    assert len(theirs) == 10
    for line in theirs:
        mine = ours.get((line["file"], line["line"]), 0)
        assert abs(mine - line["bytes"]) / line["bytes"] < 0.02, (line, mine)


def test_memslims_own_setup_is_not_charged_to_the_program(tmp_path: Path) -> None:
    # A program that prints a line allocates a few hundred bytes (tracemalloc, in a process of its
    # own). memslim imported one of its modules after tracking had started, and its dataclasses
    # and enums showed as the program's whole peak: 155 KiB, the top lines of the report.
    script = tmp_path / "hello.py"
    script.write_text('print("hello")\n')
    reference = tracemalloc_reference(tmp_path, script)
    report, result = run_json(tmp_path, script)
    assert result.returncode == 0 and result.stdout == "hello\n", result.stderr
    assert report["peak"]["traced_bytes"] - reference["peak"] < 4096, (report["peak"], reference)


def test_the_census_at_the_peak_sees_what_the_peaks_statement_made(tmp_path: Path) -> None:
    # `blob = bytearray(10**8)` passes a census point inside its call. A census taken there (a
    # pending call runs between the call and the store) found the blob only on the frame's value
    # stack, where the heap walk does not look: the census at the peak missed the peak's largest
    # object (18.6 of 107 MiB seen). Both buffers are counted by their sizes (arithmetic).
    script = tmp_path / "last_statement.py"
    script.write_text(
        "def load():\n"
        "    block = bytearray(60_000_000)\n"
        "    return block\n"
        "parts = [str(i) for i in range(200_000)]\n"
        "kept = load()\n"
        "blob = bytearray(100_000_000)\n"
        "print(len(blob) + len(kept), len(parts))\n"
    )
    report, result = run_json(tmp_path, script)
    assert result.stdout == "160000000 200000\n", result.stderr
    (row,) = [t for t in report["census"]["types"] if t["type"] == "bytearray" and t["count"] >= 2]
    assert row["bytes"] >= 160_000_000, report["census"]["types"][:5]


def test_the_census_after_a_parse_sees_what_the_function_built_on_its_last_line(
    tmp_path: Path,
) -> None:
    # A CSV parse passes a census point (the parser's text and buffers, few objects); what the
    # program builds on the frame holds less than that census saw in all; the peak is reached
    # inside `set(labels)`, a C call on main()'s last line. No line starts in main() after it,
    # and at the end of the run its locals are gone: the census nearest the peak was the
    # parse's, without the 400,000 labels. Now one is taken at main()'s return (None: nothing
    # in flight) and is the report's, since it saw more of what a census sees. The truth is
    # the count the program made.
    pytest.importorskip("pandas")
    script = tmp_path / "after_parse.py"
    report, _ = run_program(
        script,
        (
            "import io\n"
            "import pandas as pd\n"
            "def csv_text(rows):\n"
            "    lines = (f'{i},{i % 977},{i * 7 % 1013},{i % 10}.5\\n' for i in range(rows))\n"
            "    return 'a,b,c,d\\n' + ''.join(lines)\n"
            "def main():\n"
            "    frame = pd.read_csv(io.StringIO(csv_text(400_000)))\n"
            "    labels = [f'{a}:{b}' for a, b in zip(frame['a'], frame['b'], strict=True)]\n"
            "    print(len(frame), len(set(labels)))\n"
            "main()\n"
        ),
        "400000 400000\n",
    )
    at_labels = (str(script), 8)
    counts = [
        row["count"]
        for row in report["census"]["sites"]
        if row["type"] == "str"
        and (row["frames"][0]["file"], row["frames"][0]["line"]) == at_labels
    ]
    assert sum(counts) == 400_000, report["census"]["forked"]


def test_eight_threads_agree_with_tracemalloc(tmp_path: Path) -> None:
    # Eight threads allocate at once (a barrier starts them together) and each keeps its list:
    # every block of every thread is charged, to the thread's own line, as tracemalloc (in a
    # process of its own, without memslim) counts it. Python's domains only, as tracemalloc's.
    script = FIXTURES / "threads_job.py"
    report, result = run_json(tmp_path, script, "--python-only")
    reference = tracemalloc_reference(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "400000"
    peak = report["peak"]["traced_bytes"]
    assert abs(peak - reference["peak"]) / reference["peak"] < 0.01, (peak, reference["peak"])
    # The workers' line: eight lists of 50,000 strings, all held to the end (so its bytes at the
    # peak are its bytes at the end, tracemalloc's snapshot).
    theirs = next(
        line for line in reference["lines"] if line["file"] == str(script) and line["line"] == 11
    )
    assert theirs["bytes"] > 8 * 50_000 * 50  # the reference saw every thread's strings
    ours = next(
        line["bytes_at_peak"]
        for line in report["lines"]
        if line["file"] == str(script) and line["line"] == 11
    )
    assert abs(ours - theirs["bytes"]) / theirs["bytes"] < 0.01, (ours, theirs)


def test_transient_structure_is_live_at_the_peak(tmp_path: Path) -> None:
    script = tmp_path / "transient.py"
    script.write_text(
        "def build():\n"
        "    big = [str(i) * 10 for i in range(300_000)]\n"
        "    return len(big)\n"
        "print(build())\n"
        "small = [1.5] * 1000\n"
    )
    report, result = run_json(tmp_path, script)
    assert result.returncode == 0
    by_line = {line["line"]: line for line in report["lines"] if line["file"] == str(script)}
    assert by_line[2]["bytes_at_peak"] > 0.9 * report["peak"]["traced_bytes"]
    assert report["end"]["traced_bytes"] < 0.1 * report["peak"]["traced_bytes"]
    assert report["stacks"][0]["frames"][-1]["function"] == "<module>"
    assert report["timeline"], "timeline is empty"


def test_census_at_the_peak_sees_a_structure_built_and_dropped(tmp_path: Path) -> None:
    script = tmp_path / "dropped.py"
    report, result = run_program(
        script,
        (
            "class Big:\n"
            "    def __init__(self, i):\n"
            "        self.i = i\n"
            "def build():\n"
            "    held = [Big(i) for i in range(500_000)]\n"
            "    return len(held)\n"
            "print(build())\n"
            "after = [1.5] * 10\n"
        ),
        "500000\n",
    )
    census = report["census"]
    # Forked censuses at 5% margins (2 MiB apart at least, the peak here is ~60 MB): the last
    # census is within 5% of the true peak, whatever the machine's load (the triggers count
    # bytes, not time; a newer census replaces a child still walking, never the reverse).
    assert census["forked"]["forks"] >= 2
    assert census["traced_bytes"] >= 0.95 * report["peak"]["traced_bytes"]
    big = next(row for row in census["types"] if row["type"] == "__main__.Big")
    assert big["count"] >= 0.95 * 500_000
    # By allocation site: all of them made on line 5, in the comprehension of build().
    site = next(row for row in census["sites"] if row["type"] == "__main__.Big")
    assert site["count"] == big["count"]
    assert (site["frames"][0]["file"], site["frames"][0]["line"]) == (str(script), 5)
    # Taken while the comprehension was still building the list, before `held` was bound.
    assert any(
        r["path"].startswith(("a temporary in build", "local held in build"))
        for r in census["retainers"]
    ), census["retainers"]
    assert "Heap census near the peak" in result.stderr


@pytest.mark.parametrize("count", [110_000, 130_000, 170_000, 200_000])
def test_a_small_passing_peak_gets_a_census_near_it(tmp_path: Path, count: int) -> None:
    # Passing peaks of 8-15 MiB traced, held only while a comprehension runs (no plateau): the
    # margin's census points alone must put one near the peak. A census 5% of the traced bytes
    # below the peak, of which the interpreter's own are up to 2.5 MiB, sees at least 92% of
    # the cells. With census points at least 2 MiB apart each of these sizes fell short of the
    # next point (79-91% of the cells seen). The truth is the count the program made.
    script = tmp_path / "passing.py"
    report, _ = run_program(
        script,
        (
            "class Cell:\n"
            "    __slots__ = ('value',)\n"
            "    def __init__(self, value):\n"
            "        self.value = value\n"
            "def build(n):\n"
            "    cells = [Cell(i) for i in range(n)]\n"
            "    return len(cells)\n"
            f"print(build({count}))\n"
        ),
        f"{count}\n",
    )
    cells = next(row for row in report["census"]["types"] if row["type"] == "__main__.Cell")
    assert cells["count"] >= 0.92 * count, (cells["count"], report["census"]["forked"])


def test_census_at_the_peak_of_a_thread_while_the_main_thread_waits(tmp_path: Path) -> None:
    script = tmp_path / "in_thread.py"
    report, _ = run_program(
        script,
        (
            "import threading\n"
            "class Big:\n"
            "    def __init__(self, i):\n"
            "        self.i = i\n"
            "out = []\n"
            "def build():\n"
            "    held = [Big(i) for i in range(300_000)]\n"
            "    out.append(len(held))\n"
            "worker = threading.Thread(target=build)\n"
            "worker.start()\n"
            "worker.join()\n"
            "print(out[0])\n"
        ),
        "300000\n",
    )
    census = report["census"]
    # The main thread waits in join() (no pending call runs there): the worker's own
    # collections run the censuses due at each 5% margin, so the last one sees most of a peak
    # that is gone when the program ends. (Not 95%: the peak is reached inside the list's last
    # resize, while its old and new arrays are both live, and the margin counts from there.)
    big = next(row for row in census["types"] if row["type"] == "__main__.Big")
    assert big["count"] >= 0.9 * 300_000
    assert census["traced_bytes"] >= 0.9 * report["peak"]["traced_bytes"]


@pytest.mark.parametrize("wait", ["join", "result"])
def test_census_in_a_worker_that_makes_no_container(tmp_path: Path, wait: str) -> None:
    # Strings only: no collection runs in the worker, so no census either, and the main thread,
    # waiting in join() or in a future's result(), runs no pending call until the worker has
    # ended and its list is gone. The census is taken in the worker, at its next line.
    start = {
        "join": "t = threading.Thread(target=build, args=(out,))\nt.start()\nt.join()\n",
        "result": (
            "from concurrent.futures import ThreadPoolExecutor\n"
            "with ThreadPoolExecutor(1) as pool:\n"
            "    pool.submit(build, out).result()\n"
        ),
    }[wait]
    report, _ = run_program(
        tmp_path / "worker_strings.py",
        (
            "import threading\n"
            "def build(out):\n"
            "    names = [None] * 600_000\n"
            "    for i in range(600_000):\n"
            "        names[i] = f'item-{i % 1000}'\n"
            "    out.append(len(set(names)))\n"
            "out = []\n" + start + "print(out)\n"
        ),
        "[1000]\n",
    )
    census = report["census"]
    # 600,000 strings made at line 5, every one alive at the loop's end, the peak: the last
    # census, at the worker's line, is within the 5% margin of it (of the traced bytes, the
    # list's 4.8 MB among them). The list is made whole first: a list grown by appends peaks
    # inside its last resize, old and new arrays both live (under ASan, which never resizes in
    # place, 5 MB above any line), where no census can run.
    made = sum(
        row["count"]
        for row in census["sites"]
        if row["type"] == "str" and row["frames"][0]["line"] == 5
    )
    assert made >= 0.9 * 600_000, (made, census["forked"])
    intern = [f for f in report["findings"] if f["kind"] == "intern"]
    assert intern and intern[0]["line"] == 5, report["findings"]


WORKER_CENSUS_PROGRAMS = {
    # A thread that asked for a census and then blocked (an Event) held up every later census
    # (the pending flag stayed set), while another thread built the peak: 10% of it was seen.
    "asker_blocks": (
        "import threading\n"
        "ev, a_ready = threading.Event(), threading.Event()\n"
        "def a():\n"
        "    keep = [('a%d' % i) * 3 for i in range(80_000)]\n"
        "    a_ready.set()\n"
        "    ev.wait()\n"
        "def b():\n"
        "    big = [None] * 800_000\n"
        "    for i in range(800_000):\n"
        "        big[i] = ('b%d' % i) * 4\n"
        "    n = len(big)\n"
        "    del big\n"
        "    ev.set()\n"
        "    print('b built', n)\n"
        "ta = threading.Thread(target=a)\n"
        "ta.start()\n"
        "a_ready.wait()\n"
        "tb = threading.Thread(target=b)\n"
        "tb.start()\n"
        "ta.join()\n"
        "tb.join()\n",
        10,
        800_000,
        "b built 800000\n",
    ),
    # The thread that asked ran its census's pending call and then blocked in a C call on the
    # same line, before the line it waits for (3.12+), while another thread built the peak.
    "asker_blocks_in_c": (
        "import _thread, threading\n"
        "ready, gate = _thread.allocate_lock(), _thread.allocate_lock()\n"
        "ready.acquire(); gate.acquire()\n"
        "def a():\n"
        "    keep = list(map(str, range(300_000))); ready.release(); gate.acquire()\n"
        "    print('a kept', len(keep))\n"
        "def b():\n"
        "    big = [None] * 800_000\n"
        "    for i in range(800_000):\n"
        "        big[i] = ('b%d' % i) * 4\n"
        "    n = len(big)\n"
        "    del big\n"
        "    print('b built', n)\n"
        "    gate.release()\n"
        "ta = threading.Thread(target=a)\n"
        "ta.start()\n"
        "ready.acquire()\n"
        "tb = threading.Thread(target=b)\n"
        "tb.start()\n"
        "ta.join()\n"
        "tb.join()\n",
        10,
        800_000,
        "b built 800000\na kept 300000\n",
    ),
    # More censuses than CPython's queue of pending calls holds (32), all asked for while the
    # main thread waits in join(): once the queue was full, no census was taken any more.
    "more_than_32": (
        "import threading\n"
        "def work():\n"
        "    many = [None] * 2_500_000\n"
        "    for i in range(2_500_000):\n"
        "        many[i] = ('m%d' % i) * 2\n"
        "    print(len(many))\n"
        "t = threading.Thread(target=work)\n"
        "t.start()\n"
        "t.join()\n",
        5,
        2_500_000,
        "2500000\n",
    ),
    # The program's sys.settrace on the line that asked replaced the census's trace function:
    # no census was taken for the rest of the run.
    "settrace_on_the_line": (
        "import sys, threading\n"
        "def work():\n"
        "    first = list(map(str, range(300_000))); sys.settrace(None)\n"
        "    peak = [None] * 700_000\n"
        "    for i in range(700_000):\n"
        "        peak[i] = ('p%d' % i) * 4\n"
        "    print(len(peak), len(first))\n"
        "t = threading.Thread(target=work)\n"
        "t.start()\n"
        "t.join()\n",
        6,
        700_000,
        "700000 300000\n",
    ),
}


@pytest.mark.parametrize("name", sorted(WORKER_CENSUS_PROGRAMS))
def test_a_workers_census_that_cannot_be_taken_is_asked_for_again(
    tmp_path: Path, name: str
) -> None:
    source, line, made, printed = WORKER_CENSUS_PROGRAMS[name]
    report, _ = run_program(tmp_path / f"{name}.py", source, printed)
    census = report["census"]
    seen = sum(
        row["count"]
        for row in census["sites"]
        if row["type"] == "str" and row["frames"][0]["line"] == line
    )
    assert seen >= 0.9 * made, (seen, census["forked"])
    assert census["traced_bytes"] >= 0.9 * report["peak"]["traced_bytes"], census["forked"]


def test_memslims_threads_are_not_the_programs(tmp_path: Path) -> None:
    # The census a worker asks for is set up from a thread of memslim's on 3.11: no thread
    # state the interpreter lists, no audit event ("sys.settrace") for the program's hooks to
    # see or run in memslim's thread (which became a threading._DummyThread). On 3.12+ the
    # worker runs a pending call and waits for its line with PyEval_SetTrace, whose event the
    # program's hooks see, so only the threads are compared there.
    script = tmp_path / "threads_seen.py"
    script.write_text(
        "import sys, threading\n"
        "events = []\n"
        "def hook(event, args):\n"
        "    if event in ('sys.settrace', 'sys.setprofile'):\n"
        "        events.append((event, threading.current_thread().name))\n"
        "sys.addaudithook(hook)\n"
        "def work():\n"
        "    keep = [None] * 500_000\n"
        "    for i in range(500_000):\n"
        "        keep[i] = ('w%d' % i) * 3\n"
        "    print('states', len(sys._current_exceptions()), len(keep))\n"
        "t = threading.Thread(target=work, name='worker')\n"
        "t.start()\n"
        "t.join()\n"
        "print('threads', sorted(t.name for t in threading.enumerate()))\n"
        "if sys.version_info < (3, 12):\n"
        "    print('events', events)\n"
    )
    theirs = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    report, ours = run_json(tmp_path, script)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    # Taken in the worker, at its line.
    assert report["census"]["traced_bytes"] >= 0.9 * report["peak"]["traced_bytes"]


def test_no_census_flag(tmp_path: Path) -> None:
    report, result = run_json(tmp_path, FIXTURES / "threads_job.py", "--no-census")
    assert result.returncode == 0
    assert "census" not in report


def test_json_report_shape(tmp_path: Path) -> None:
    report, _ = run_json(tmp_path, FIXTURES / "threads_job.py")
    for key in ("schema", "version", "python", "mode", "command", "exit_code", "duration_s",
                "peak", "lines", "stacks", "timeline"):  # fmt: skip
        assert key in report
    assert set(report["peak"]) >= {"traced_bytes", "rss_bytes", "at_s", "by_domain"}
    for moment in ("peak", "end"):  # every traced byte is in exactly one domain
        by_domain = report[moment]["by_domain"]
        assert set(by_domain) == {"python", "numpy", "native", "mmap"}
        assert sum(by_domain.values()) == report[moment]["traced_bytes"]
    assert report["command"] == [str(FIXTURES / "threads_job.py")]
    line = report["lines"][0]
    assert set(line) == {
        "file",
        "line",
        "function",
        "bytes_at_peak",
        "bytes_at_peak_by_domain",
        "allocated_bytes",
        "allocations",
    }
    # With NumPy buffers or native memory in the run, each point has their part too.
    for point in report["timeline"]:
        assert set(point) in (
            {"t", "traced_bytes", "rss_bytes"},
            {"t", "traced_bytes", "rss_bytes", "numpy_bytes", "native_bytes"},
        )
        assert point.get("numpy_bytes", 0) >= 0 and point.get("native_bytes", 0) >= 0
    # The last point is taken once tracking stopped: its parts are within its total. (Points
    # taken while threads allocate read the totals a moment apart.)
    last = report["timeline"][-1]
    assert last.get("numpy_bytes", 0) + last.get("native_bytes", 0) <= last["traced_bytes"]


def test_eight_threads_at_once(tmp_path: Path) -> None:
    report, result = run_json(tmp_path, FIXTURES / "threads_job.py")
    assert result.returncode == 0
    assert result.stdout.strip() == "400000"
    work_line = next(
        line
        for line in report["lines"]
        if line["function"].startswith("work") and line["file"].endswith("threads_job.py")
    )
    assert work_line["allocations"] >= 8 * 50_000
    assert work_line["bytes_at_peak"] > 8 * 50_000 * 40


def test_fork_child_runs_and_exits_without_touching_the_report(tmp_path: Path) -> None:
    report, result = run_json(tmp_path, FIXTURES / "fork_job.py")
    assert result.returncode == 0, result.stderr
    assert "child done 50000" in result.stdout
    assert "parent saw child exit 0" in result.stdout
    # The child's 50 MB never reach the parent's report, and only the parent wrote it.
    assert report["peak"]["traced_bytes"] < 10_000_000
    assert result.stderr.count("memslim ") == 1


def test_multiprocessing_pool(tmp_path: Path) -> None:
    # A pool with the platform's default start method: the output passes through, and each
    # worker's list is charged to the worker's line in that worker's own process (the line is
    # not the parent's), at the bytes tracemalloc measures for one call in a process of its own.
    script = FIXTURES / "multiprocessing_job.py"
    report, result = run_json(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(8 * sum(i * i for i in range(10_000)))
    assert report["exit_code"] == 0
    truth = subprocess.run(
        [sys.executable, "-c",
         "import sys, tracemalloc\n"
         f"sys.path.insert(0, {str(FIXTURES)!r})\n"
         "from multiprocessing_job import square_list\n"
         "square_list(10)\n"  # first-call costs
         "tracemalloc.start()\n"
         "square_list(10_000)\n"
         "print(tracemalloc.get_traced_memory()[1])\n"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    one_call = int(truth.stdout)
    # Two workers; one may have run all eight calls before the other started.
    workers = {p["pid"] for p in report["processes"] if "worker" in p["name"]}
    assert 1 <= len(workers) <= 2, report["processes"]
    at_line = [
        line for line in report["lines_across_processes"]
        if line["file"] == str(script) and line["line"] == 7
    ]  # fmt: skip
    assert at_line and {line["pid"] for line in at_line} <= workers
    for line in at_line:
        assert abs(line["bytes_at_peak"] - one_call) <= 0.01 * one_call, (line, one_call)
    parents = [line for line in report["lines"] if line["file"] == str(script)]
    assert 7 not in {line["line"] for line in parents}


def test_exit_status_and_exception_pass_through(tmp_path: Path) -> None:
    exit3 = tmp_path / "exit3.py"
    exit3.write_text("import sys\nkept = [1.5] * 1000\nsys.exit(3)\n")
    report, result = run_json(tmp_path, exit3)
    assert result.returncode == 3 and report["exit_code"] == 3

    boom = tmp_path / "boom.py"
    boom.write_text("kept = [1.5] * 1000\nraise KeyError('missing')\n")
    report, result = run_json(tmp_path, boom)
    assert result.returncode == 1 and report["exit_code"] == 1
    assert "KeyError: 'missing'" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr


def test_a_report_reader_that_leaves_changes_nothing(tmp_path: Path) -> None:
    # `memslim run ... 2>&1 | head -1`: stderr's reader is gone before the report is written.
    script = tmp_path / "exits3.py"
    script.write_text("import sys\nkept = [str(i) for i in range(50_000)]\nsys.exit(3)\n")
    report = tmp_path / "report.json"
    read_end, write_end = os.pipe()
    os.close(read_end)
    done = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--json", str(report), str(script)],
        stderr=write_end,
        timeout=300,
    )
    os.close(write_end)
    assert done.returncode == 3  # the program's status, not a broken pipe's
    assert json.loads(report.read_text())["exit_code"] == 3


# Each wait for any child is made while a census child has ended and is not reaped yet (under
# memslim: the program waits for one to be a zombie), and before the program's worker ends.
WAITS_FOR_ANY_CHILD = """\
import os, sys, time
def census_child_ended(workers):
    # Within 2 s: a census walks a heap this small in milliseconds.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            children = [int(pid) for pid in f.read().split()]
        for pid in set(children) - set(workers):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return True
            except OSError:
                pass
        time.sleep(0.001)
    return False
kept = []
def waited(wait):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(7)
    os.close(r)
    for size in range(12):  # new highs: censuses
        kept.append([str(i) * 3 for i in range(100_000 * (size + 1))])
        if "memslim" not in sys.modules or census_child_ended([pid]):
            break
    os.close(w)
    got = wait()
    return got == pid
print(waited(lambda: os.wait3(0)[0]))
print(waited(lambda: os.wait4(-1, 0)[0]))
def by_waitid():
    info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
    os.waitpid(info.si_pid, 0)
    return info.si_pid
print(waited(by_waitid))
print(waited(lambda: os.waitpid(-1, 0)[0]))
"""


@pytest.mark.parametrize(
    "program",
    [
        "import sys\nkept = [1.5] * 1000\nsys.stderr.close()\n",
        "import os\nkept = [1.5] * 1000\nos.close(2)\n",
        "import io, sys\nkept = [1.5] * 1000\nsys.stderr = io.StringIO()\nsys.exit(5)\n",
        "import io, sys\nkept = [1.5] * 1000\nsys.stdout = io.StringIO()\nprint('hidden')\n",
        "import signal\nsignal.signal(signal.SIGINT, lambda *a: None)\nkept = [1.5] * 1000\n",
        "import sys\nsys.setprofile(lambda *a: None)\nkept = [1.5] * 1000\nprint('ran')\n",
        "import sys\nsys.settrace(lambda *a: None)\nkept = [1.5] * 1000\nprint('ran')\n",
        "import tracemalloc\ntracemalloc.start()\nkept = [str(i) for i in range(1000)]\n"
        "print(tracemalloc.get_traced_memory()[0] > 0)\n",
        # Its idle workers end when the interpreter's threading._shutdown runs the executor's
        # exit function; joining them without it hung the run.
        "from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor(2)\n"
        "print(sum(pool.map(len, [[0] * n for n in range(100)])))\n",
        # Its atexit handler joins the listener's daemon thread, which must still run then.
        "import atexit, logging, logging.handlers, queue, sys\nq = queue.Queue()\n"
        "listener = logging.handlers.QueueListener(q, logging.StreamHandler(sys.stdout))\n"
        "listener.start()\natexit.register(listener.stop)\nlog = logging.getLogger('x')\n"
        "log.addHandler(logging.handlers.QueueHandler(q))\nlog.warning('logged')\n",
        # After the last line, in the program's world: its __main__ (a Queue's feeder thread
        # pickles the program's class; the child waited for it forever), its sys.argv.
        "import multiprocessing as mp\nclass Result:\n    def __init__(self, v): self.v = v\n"
        "def consume(q):\n    for _ in range(3): print('got', q.get().v, flush=True)\n"
        "if __name__ == '__main__':\n    q = mp.Queue()\n"
        "    p = mp.Process(target=consume, args=(q,))\n    p.start()\n"
        "    for i in range(3): q.put(Result(i))\n",
        "import atexit, pickle, sys\nclass Item:\n    pass\nitems = [Item()]\n"
        "atexit.register(lambda: print(len(pickle.dumps(items)), sys.argv[1:]))\n",
        # A census child forked while the pipe's write end was open: the reader sees its end
        # as soon as the program closes it (the child held it while it walked).
        "import os, select\nr, w = os.pipe()\nwords = [str(i) * 3 for i in range(400_000)]\n"
        "os.close(w)\nprint(bool(select.select([r], [], [], 0)[0]), len(words))\n",
        # Waits for any child see the program's children only, never a census child.
        "import os\ntable = {i: str(i) * 10 for i in range(300_000)}\nworkers = {}\n"
        "for n in range(3):\n    pid = os.fork()\n    if pid == 0:\n        os._exit(n)\n"
        "    workers[pid] = n\nmore = [str(i) for i in range(300_000)]\n"
        "while workers:\n    pid, status = os.wait()\n"
        "    print(workers.pop(pid) == os.waitstatus_to_exitcode(status))\n",
        WAITS_FOR_ANY_CHILD,
        # With no children of its own, a wait for any child fails at once, as under python: it
        # returned a census child (11 runs in 11), or WNOHANG said children were running.
        "import os\ndata = [str(i) * 5 for i in range(600_000)]\n"
        "for wait in (os.wait, lambda: os.waitpid(-1, os.WNOHANG), lambda: os.wait4(-1, 0),\n"
        "             lambda: os.waitid(os.P_ALL, 0, os.WEXITED)):\n"
        "    try:\n        print(wait())\n    except ChildProcessError as e:\n"
        "        print(type(e).__name__, e.errno)\n",
        # Its first descriptors are numbered as under python (memslim's copy of stderr was 3).
        "import os\nr, w = os.pipe()\nprint(r, w)\n",
        "import os, signal, time\nreaped = []\ndef on_child(signum, frame):\n"
        "    while True:\n        try:\n            pid, _ = os.waitpid(-1, os.WNOHANG)\n"
        "        except ChildProcessError:\n            return\n"
        "        if pid == 0:\n            return\n        reaped.append(pid)\n"
        "signal.signal(signal.SIGCHLD, on_child)\nstarted = set()\nfor n in range(5):\n"
        "    pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n    started.add(pid)\n"
        "    data = [str(i) * 5 for i in range(100_000 * (n + 1))]\n"
        "while len(reaped) < 5:\n    time.sleep(0.01)\nprint(sorted(reaped) == sorted(started))\n",
        # Their censuses run in them: one still inside memslim's code when they end aborted the
        # process (2 runs in 6) until the end let running censuses finish first.
        "import threading\ndef spin():\n    x = 0\n    while True:\n        x += 1\n"
        "for _ in range(3):\n    threading.Thread(target=spin, daemon=True).start()\n"
        "data = [str(i) for i in range(300_000)]\nprint(len(data))\n",
        # pytest warned that memslim, its plugin's package, was imported before it could
        # rewrite its asserts: an error with warnings as errors (a helper's, 2026-12-06).
        "import contextlib, io, sys, pytest\ndef test_sum():\n    assert 1 + 1 == 2\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = pytest.main([__file__, '-q', '-p', 'no:cacheprovider', '-W', 'error'])\n"
        "print(int(code))\n",
        # tempfile's cache is the program's: memslim had filled it before the program began.
        "import os, tempfile\nmine = os.path.join(os.path.dirname(__file__), 'mytmp')\n"
        "os.makedirs(mine, exist_ok=True)\nos.environ['TMPDIR'] = mine\n"
        "print(tempfile.gettempdir() == mine)\n",
        # A child it forks has its descriptors alone: memslim's copy of stderr held the
        # caller's stderr pipe open through a daemon that closed its descriptors 0-2.
        "import os\ndata = [str(i) for i in range(100_000)]\npid = os.fork()\nif pid == 0:\n"
        "    print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')), flush=True)\n"
        "    os._exit(0)\nos.waitpid(pid, 0)\n",
    ],
    ids=["closes-sys.stderr", "closes-fd-2", "replaces-stderr", "replaces-stdout",
         "own-sigint-handler", "setprofile", "settrace", "tracemalloc",
         "executor-never-shut-down", "queue-listener-stopped-at-exit",
         "queue-fed-after-the-last-line", "atexit-pickles-and-reads-argv",
         "pipe-closed-while-a-census-walks", "os-wait-for-its-workers", "wait3-wait4-waitid",
         "waits-with-no-children", "first-descriptors-are-its-own",
         "sigchld-handler-reaps-its-children", "daemon-threads-allocate-at-the-end",
         "pytest-main-with-warnings-as-errors", "tmpdir-set-while-it-runs",
         "forked-child-descriptors"],
)  # fmt: skip
def test_a_program_that_changes_its_own_world_runs_as_under_python(
    tmp_path: Path, program: str
) -> None:
    script = tmp_path / "prog.py"
    script.write_text(program)
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    report, result = run_json(tmp_path, script)
    assert (result.returncode, result.stdout) == (plain.returncode, plain.stdout)
    assert report["exit_code"] == plain.returncode
    # The report reaches the terminal even where the program closed or replaced its stderr.
    assert "exact mode — peak traced" in result.stderr


AFTER_ATEXIT = """\
import atexit, threading, time
from memslim import _core
ended = []
atexit.register(ended.append, 1)  # registered first: the last to run
def watch():
    while not ended and _core.is_tracking():
        time.sleep(0.001)
    print("a daemon thread ran after the atexit handlers or the tracking", flush=True)
threading.Thread(target=watch, daemon=True).start()
print("main done")
"""


def test_the_programs_threads_end_with_its_atexit_handlers(tmp_path: Path) -> None:
    """As python ends a program: its atexit handlers run, then its daemon threads end at once,
    before memslim's report (under python no other thread runs after the last atexit
    handler). They ran on through the report: this watcher printed, 3 runs in 3."""
    run_program(tmp_path / "prog.py", AFTER_ATEXIT, "main done\n")


SIGNAL_IN_CENSUS = """\
import signal, sys
class Deadline(Exception):
    pass
def on_signal(signum, frame):
    raise {raised}
signal.signal(signal.SIGUSR1, on_signal)
fired = []
def hook(event, args):  # memslim's census frame lookup: a signal arrives during a census
    if event == "sys._getframe" and not fired:
        fired.append(1)
        signal.raise_signal(signal.SIGUSR1)
sys.addaudithook(hook)
items = []
try:
    for i in range(1_000_000):
        items.append(str(i))
    print("ended without the signal")
except {caught}:
    print("stopped by the signal", len(fired))
"""


@pytest.mark.parametrize("raised", ["Deadline()", "TimeoutError('time is up')"])
def test_what_a_signal_handler_raises_during_a_census_reaches_the_program(
    tmp_path: Path, raised: str
) -> None:
    """A signal that arrives while a census runs (here: from an audit hook on the census's
    own frame lookup) runs the program's handler there, and what the handler raises is the
    program's: it was written off as memslim's ("Exception ignored"), and a TimeoutError was
    taken for a failed fork; a program whose loop waited for its alarm looped forever."""
    caught = raised.split("(")[0]
    source = SIGNAL_IN_CENSUS.format(raised=raised, caught=caught)
    run_program(tmp_path / "prog.py", source, "stopped by the signal 1\n")


def test_a_tracer_the_program_leaves_set_sees_what_python_runs_and_not_the_report(
    tmp_path: Path,
) -> None:
    """Under python it sees the program's calls, then threading._shutdown's and the atexit
    handlers'; it saw memslim's report too (thousands of calls)."""
    source = (
        "import atexit, sys, threading  # python joins threads at its end when it has them\n"
        "def tracer(frame, event, arg):\n"
        "    if event == 'call':\n"
        "        print('call', frame.f_code.co_name)\n"
        "sys.settrace(tracer)\n"
        "def work():\n    return 1\n"
        "work()\n"
        "atexit.register(work)\n"
    )
    script = tmp_path / "prog.py"
    script.write_text(source)
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert "call work\ncall _shutdown\n" in plain.stdout
    _, result = run_json(tmp_path, script)
    assert result.returncode == 0, result.stderr
    # One more atexit function runs in memslim's process: nanobind's (memslim._core's
    # bindings), which clears typing's caches.
    assert result.stdout.replace("call cleanup\n", "") == plain.stdout


def test_a_relative_script_path_is_made_absolute_as_python_makes_it(tmp_path: Path) -> None:
    """``./prog.py``: python's __file__ (and its tracebacks' paths) is the working directory
    joined to the path as given, not normalised; memslim's was ``/d/prog.py``."""
    (tmp_path / "sub").mkdir()
    script = tmp_path / "prog.py"
    script.write_text("print(__file__)\nraise SystemExit(__import__('sys').argv[0])\n")
    for given in ("./prog.py", "sub/../prog.py"):
        plain = subprocess.run(
            [sys.executable, given], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert plain.stdout == f"{tmp_path}/{given}\n", plain.stderr
        result = memslim_run(given, cwd=tmp_path)
        assert (result.returncode, result.stdout) == (plain.returncode, plain.stdout)
        assert result.stderr.startswith(plain.stderr), result.stderr


ENDINGS = {
    # sys.exit with an object whose __str__ raises: python writes a newline (3.12+: then the
    # exception); memslim printed its own traceback and no report.
    "unprintable-code": (
        "import sys\nclass Bad:\n    def __str__(self):\n        raise RuntimeError('no str')\n"
        "sys.exit(Bad())\n"
    ),
    # The same with sys.stderr closed or not a file: a newline, exit 1 (120: not flushed).
    "closed-stderr": "import sys\nsys.stderr.close()\nsys.exit('bye')\n",
    "stderr-not-a-file": "import sys\nsys.stderr = object()\nsys.exit('bye')\n",
    # A recursion limit lowered by the program: memslim's report ran under it (exit 1).
    "low-recursion-limit": "import sys\nsys.setrecursionlimit(50)\nprint('ok')\n",
    # A subclass of KeyboardInterrupt: exit 1; only KeyboardInterrupt itself ends by SIGINT.
    "interrupt-subclass": "class K(KeyboardInterrupt):\n    pass\nraise K('sub')\n",
}


def test_a_report_that_cannot_import_its_modules_says_so_in_one_line(tmp_path: Path) -> None:
    """The report's modules are imported after the program (rich, which `python -S` leaves
    off the path when memslim is on PYTHONPATH; here the program blocks it): one line and the
    program's exit status, not memslim's traceback and 1."""
    script = tmp_path / "prog.py"
    script.write_text("import sys\nsys.modules['rich'] = None\nprint('ok')\nsys.exit(3)\n")
    result = memslim_run(str(script), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (3, "ok\n"), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("memslim: no report: "), result.stderr
    assert "rich" in lines[0]


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_the_program_ends_as_python_ends_it(tmp_path: Path, ending: str) -> None:
    """Exit status, stdout and the program's stderr as under python, then the report."""
    script = tmp_path / "prog.py"
    script.write_text(ENDINGS[ending])
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    result = memslim_run("-o", "run.mslm", str(script), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (plain.returncode, plain.stdout), result.stderr
    assert result.stderr.startswith(plain.stderr), (plain.stderr, result.stderr)
    assert f"memslim {script}" in result.stderr[len(plain.stderr) :]  # the report's title


def test_tracemalloc_started_before_memslim_may_be_stopped_by_the_program(tmp_path: Path) -> None:
    """`python -X tracemalloc -m memslim run`: the program's tracemalloc.stop() puts back the
    allocator tracemalloc saved, beneath memslim's hooks; memslim then set tracemalloc's
    (torn down) again as it stopped, and the run died of SIGSEGV after the program, with no
    report."""
    script = tmp_path / "prog.py"
    script.write_text("import tracemalloc\ntracemalloc.stop()\nprint('ok')\n")
    plain = subprocess.run(
        [sys.executable, "-X", "tracemalloc", str(script)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-X", "tracemalloc", "-m", "memslim", "run", str(script)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (plain.returncode, plain.stdout) == (0, "ok\n")
    assert f"memslim {script}" in result.stderr, result.stderr


# Prints the reservations of address space of at least 32 MiB that nothing may use yet (---p),
# as the C allocator makes one for each thread's arena (glibc: 64 MiB), then VmSize in MiB.
ADDRESS_SPACE = """\
data = [str(i) * 3 for i in range(300_000)]  # censuses, timeline points
big = []
for line in open("/proc/self/maps"):
    span, perms, *rest = line.split()
    low, high = (int(x, 16) for x in span.split("-"))
    if perms == "---p" and len(rest) == 3 and high - low >= 32 << 20:
        big.append((high - low) >> 20)
print(big)
"""


@pytest.mark.skipif(
    "MEMSLIM_SANITIZED" in os.environ,
    reason="AddressSanitizer replaces glibc's malloc (no arenas) and reserves its shadow",
)
@pytest.mark.parametrize("mode", ["exact", "sample"])
def test_memslims_threads_take_no_arena_of_the_programs_address_space(
    tmp_path: Path, mode: str
) -> None:
    """A program under `ulimit -v` (batch schedulers set it) has the address space python
    leaves it, less memslim's threads' stacks: a malloc in memslim's timeline thread (fopen of
    /proc, its points' vector growing) made glibc give that thread an arena, 64 MiB reserved,
    and such a program met its MemoryError sooner. Truth: the kernel's map of the process,
    under python and under memslim."""
    script = tmp_path / "prog.py"
    script.write_text(ADDRESS_SPACE)
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert plain.stdout == "[]\n", plain.stdout + plain.stderr
    result = memslim_run("--mode", mode, str(script), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, plain.stdout), result.stderr


@pytest.mark.parametrize("how", ["script", "module"])
def test_the_program_sees_the_command_line_python_would_give_it(tmp_path: Path, how: str) -> None:
    """``sys.orig_argv``: the interpreter's options as typed, the program as python takes it
    and its arguments, not memslim's command line (a program that re-runs itself reads it).
    Truth: python running the program with the same options."""
    (tmp_path / "prog.py").write_text("import sys\nprint(sys.orig_argv[1:])\n")
    program = ["prog.py"] if how == "script" else ["-m", "prog"]
    options = ["-X", "dev", "-W", "ignore::UserWarning"]
    plain = subprocess.run(
        [sys.executable, *options, *program, "a", "-b"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert plain.stdout.startswith("['-X', 'dev', '-W'"), plain.stderr
    result = subprocess.run(
        [sys.executable, *options, "-m", "memslim", "run", "-o", "run.mslm", *program, "a",
         "-b"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (plain.returncode, plain.stdout), result.stderr


def test_a_script_run_through_a_link_imports_the_modules_beside_its_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "bin").mkdir()
    (tmp_path / "src" / "tool.py").write_text("import toolhelpers\nprint(toolhelpers.VALUE)\n")
    (tmp_path / "src" / "toolhelpers.py").write_text("VALUE = 42\n")
    (tmp_path / "bin" / "tool.py").symlink_to(tmp_path / "src" / "tool.py")
    result = memslim_run(str(tmp_path / "bin" / "tool.py"))
    assert (result.returncode, result.stdout) == (0, "42\n"), result.stderr


OWN_MODULES = {
    "token.py": "VALUE = 'mine'\n",
    "resource.py": "def getrlimit(n):\n    return 'mine'\n",
    "json.py": "def dumps(value):\n    return f'mine {value}'\n",
}
USES_OWN_MODULES = """\
import token, resource, json
words = [str(i) * 3 for i in range(300_000)]  # censuses
print(token.VALUE, resource.getrlimit(0), json.dumps(len(words)))
"""
# Its workers write their captures while the program runs (children's JSON): with the program's
# json imported, memslim's module that writes them must still have memslim's.
POOL_USES_OWN_MODULES = """\
import multiprocessing, resource, json
def work(n):
    return json.dumps(n)
if __name__ == "__main__":
    words = [str(i) * 3 for i in range(300_000)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print(resource.getrlimit(0), json.dumps(len(words)), pool.map(work, [1]))
"""


@pytest.mark.parametrize(
    ("program", "printed"),
    [
        (USES_OWN_MODULES, "mine mine mine 300000\n"),
        (POOL_USES_OWN_MODULES, "mine mine 300000 ['mine 1']\n"),
    ],
    ids=["token-resource-json", "a-pool-with-its-own-json"],
)
@pytest.mark.parametrize("where", ["from-its-directory", "from-elsewhere"])
def test_a_program_with_its_own_modules_named_like_memslims_imports_them(
    tmp_path: Path, program: str, printed: str, where: str
) -> None:
    """Modules beside the script named like ones memslim imports before the program (the
    standard library's token, resource, json) are the program's, as under python: it got
    memslim's, and ``python -m memslim`` run from the program's directory failed before the
    program started (memslim's own imports took its token.py)."""
    for name, source in OWN_MODULES.items():
        if name.removesuffix(".py") in program.splitlines()[0]:  # those it imports
            (tmp_path / name).write_text(source)
    script = tmp_path / "prog.py"
    script.write_text(program)
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert plain.stdout == printed, plain.stderr
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    cwd = tmp_path if where == "from-its-directory" else out.parent
    result = memslim_run("--json", str(out), str(script), cwd=cwd)
    assert (result.returncode, result.stdout) == (0, printed), result.stderr
    report = json.loads(out.read_text())
    assert report["exit_code"] == 0
    if "Pool" in program:  # the worker that ran the task wrote its capture (the other may
        # be ended by the pool's exit before it starts)
        assert report["processes"], "the pool's workers' captures"


INTROSPECTS = """\
import faulthandler, inspect, sys, traceback, warnings
warnings.warn("module level, one level up", UserWarning, stacklevel=2)
print(len(inspect.stack()), sys._getframe().f_back)
def where():
    traceback.print_stack()
    faulthandler.dump_traceback(all_threads=False)
where()
"""


def test_memslims_own_files_name_their_encoding(tmp_path: Path) -> None:
    # Under `-X warn_default_encoding` python warns of every text file opened without an
    # encoding: memslim's own (its limits, the census children's /proc reads) warned in the
    # program's run, and with `-W error::EncodingWarning` some 300 tracebacks ended the run
    # (exit 1 where python exits 0).
    script = tmp_path / "prog.py"
    script.write_text("import os\ndata = [str(i) for i in range(300_000)]\nprint(len(data))\n")
    flags = ["-X", "warn_default_encoding", "-W", "error::EncodingWarning"]
    plain = subprocess.run(
        [sys.executable, *flags, str(script)], capture_output=True, text=True, timeout=60
    )
    result = subprocess.run(
        [sys.executable, *flags, "-m", "memslim", "run", str(script)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert (plain.returncode, plain.stdout, plain.stderr) == (0, "300000\n", "")
    assert (result.returncode, result.stdout) == (0, "300000\n"), result.stderr
    assert "EncodingWarning" not in result.stderr and "exact mode — peak traced" in result.stderr


def test_a_scripts_frame_is_its_threads_first_as_under_python(tmp_path: Path) -> None:
    """No frame of memslim's runner below the script's: ``warnings.warn(stacklevel=2)`` at
    module level was charged to memslim's target.py, and ``inspect.stack()``,
    ``traceback.print_stack()`` and faulthandler listed the runner's frames (a helper's
    programs, 2026-12-06)."""
    script = tmp_path / "prog.py"
    script.write_text(INTROSPECTS)
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    assert plain.returncode == 0 and plain.stdout == "1 None\n", plain.stderr
    _, result = run_json(tmp_path, script)
    assert (result.returncode, result.stdout) == (0, plain.stdout), result.stderr
    assert result.stderr.startswith(plain.stderr), result.stderr


def test_under_python_p_the_program_gets_no_directory_of_its_own_first(tmp_path: Path) -> None:
    """``python -P`` (safe_path) puts no directory first on sys.path: memslim put the script's
    there in place of the first entry (PYTHONPATH's, which the program lost)."""
    script = tmp_path / "prog.py"
    script.write_text("import sys\nprint(sys.path[:2])\n")
    plain = subprocess.run(
        [sys.executable, "-P", str(script)], capture_output=True, text=True, timeout=60
    )
    result = subprocess.run(
        [sys.executable, "-P", "-m", "memslim", "run", str(script)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, plain.stdout), result.stderr


@pytest.mark.skipif(
    "MEMSLIM_SANITIZED" in os.environ,
    reason="AddressSanitizer's own allocator cannot work under an address-space limit",
)
def test_a_program_that_handles_its_memory_error_under_a_limit_runs_on(tmp_path: Path) -> None:
    """memslim's own tables run out of room first or with the program's: no new block is
    recorded from then on, and the program's MemoryError is its own to handle. The tracker
    was aborted by its own std::bad_alloc (6 runs in 9), then crashed in a half-grown table."""
    source = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "items = []\n"
        "try:\n"
        "    while True:\n"
        "        items.append(str(len(items)))\n"
        "except MemoryError:\n"
        "    items = None\n"
        "    print('handled')\n"
    )
    run_program(tmp_path / "prog.py", source, "handled\n")


def test_os_exit_still_writes_the_report(tmp_path: Path) -> None:
    script = tmp_path / "quits.py"
    script.write_text(
        "import os\nkept = [str(i) for i in range(100_000)]\n"
        "print('bye', flush=True)\nos._exit(4)\n"
    )
    report, result = run_json(tmp_path, script)
    assert (result.returncode, result.stdout) == (4, "bye\n")
    assert report["exit_code"] == 4
    # The list and its strings are live at the end (the program never unwound): at line 2.
    line = next(row for row in report["lines"] if row["line"] == 2)
    assert line["bytes_at_peak"] >= 100_000 * sys.getsizeof("99999")


def test_sigint_produces_the_report_and_ends_by_sigint(tmp_path: Path) -> None:
    """As python ends on an uncaught KeyboardInterrupt: by SIGINT (a shell shows 130, and its
    loop stops), the report's exit code 130."""
    out = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "memslim", "run", "--json", str(out),
         str(FIXTURES / "sigint_job.py")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGINT)  # whatever memslim is doing then (a census, say)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGINT
    assert "KeyboardInterrupt" in stderr
    report = json.loads(out.read_text())
    assert report["exit_code"] == 130
    assert report["peak"]["traced_bytes"] > 1_000_000


@pytest.mark.parametrize("command", [["-m", "memslim"], ["memslim-command"]])
def test_a_programs_keyboardinterrupt_ends_it_as_under_python(
    tmp_path: Path, command: list[str]
) -> None:
    """The program's atexit handlers run, then the process ends by SIGINT: what python does,
    through `python -m memslim` and the `memslim` command alike (its entry point, run as the
    script pip writes for it runs it)."""
    script = tmp_path / "interrupted.py"
    script.write_text(
        "import atexit\n"
        "atexit.register(print, 'atexit ran')\n"
        "print('before')\n"
        "raise KeyboardInterrupt\n"
    )
    theirs = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    if command == ["memslim-command"]:
        (found,) = importlib.metadata.entry_points(group="console_scripts", name="memslim")
        module, function = found.value.split(":")
        argv = [sys.executable, "-c",
                f"import sys; from {module} import {function}; sys.exit({function}())",
                "run", str(script)]  # fmt: skip
    else:
        argv = [sys.executable, *command, "run", str(script)]
    ours = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert theirs.returncode == -signal.SIGINT
    assert ours.returncode == theirs.returncode, ours.stderr
    assert ours.stdout == theirs.stdout == "before\natexit ran\n"
    assert ours.stderr.startswith(theirs.stderr)  # the traceback, then memslim's report


@pytest.mark.skipif(
    "MEMSLIM_SANITIZED" in os.environ,
    reason="UBSan tells readable memory by writing it to a pipe: with no descriptor free, "
    "every vptr it checks is 'invalid' (std::thread's state, when memslim starts one)",
)
def test_a_program_that_leaves_no_descriptor_free_ends_as_under_python(tmp_path: Path) -> None:
    # memslim imports its report's modules after the program: with every descriptor taken
    # (the program may, and python exits as it did) that failed with memslim's traceback and
    # status 1. Now one line says why there is no report, and the status is the program's.
    import resource

    script = tmp_path / "takes_all.py"
    script.write_text(
        "import os\nfds = []\ntry:\n    while True:\n"
        "        fds.append(os.open(os.devnull, os.O_RDONLY))\n"
        "except OSError as e:\n    print('errno', e.errno)\n"
    )
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    ran = [
        subprocess.run(
            [sys.executable, *argv, str(script)],
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=few_descriptors,
            check=False,
        )
        for argv in ([], ["-m", "memslim", "run"])
    ]
    assert [(r.returncode, r.stdout) for r in ran] == [(0, "errno 24\n")] * 2, ran[1].stderr
    assert "Traceback" not in ran[1].stderr
    assert "memslim: no report: the program left no file descriptor free" in ran[1].stderr


WAITS_AT_ITS_END = """
import atexit, threading, time
atexit.register(print, "atexit ran", flush=True)
def worker():
    while threading.main_thread().is_alive():  # until python waits for it, after the last line
        time.sleep(0.005)
    print("waited for", flush=True)
    time.sleep(60)
threading.Thread(target=worker).start()
kept = [str(i) for i in range(100_000)]
print("main done", flush=True)
"""


def test_ctrl_c_while_python_waits_for_threads_at_the_end_is_as_under_python(
    tmp_path: Path,
) -> None:
    """SIGINT while the interpreter waits for a non-daemon thread after the program's last
    line: python 3.11 and 3.12 report the KeyboardInterrupt as ignored in the threading module,
    run the atexit handlers and exit 0 (memslim ended by SIGINT, nothing said); 3.13 prints
    its traceback and exits 0."""
    script = tmp_path / "waits.py"
    script.write_text(WAITS_AT_ITS_END)
    ran = {}
    for who, argv in (
        ("python", [str(script)]),
        ("memslim", ["-m", "memslim", "run", str(script)]),
    ):
        process = subprocess.Popen(
            [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        assert process.stdout.readline() == "main done\n"
        assert process.stdout.readline() == "waited for\n"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        ran[who] = (process.returncode, out, err)
    theirs, ours = ran["python"], ran["memslim"]
    assert theirs[:2] == (0, "atexit ran\n") and "KeyboardInterrupt" in theirs[2]
    assert ours[:2] == theirs[:2], ours[2]
    assert ours[2].startswith(theirs[2])  # then memslim's report


STORM = """
import sys
kept = []
print("ready", flush=True)
for i in range(3_000_000):  # grows for seconds: censuses are taken all along
    kept.append(str(i) * 8)
sys.exit(3)  # reached only if the Ctrl-C was lost
"""


def test_sigint_is_never_lost_whenever_it_arrives(tmp_path: Path) -> None:
    """Ctrl-C at many moments of a run that takes censuses all along, with a busy core: each
    time the program gets its KeyboardInterrupt (ending by SIGINT, 130 in the report) and the
    report is written."""
    script = tmp_path / "storm.py"
    script.write_text(STORM)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for offset_ms in range(0, 240, 20):
            out = tmp_path / f"report-{offset_ms}.json"
            process = subprocess.Popen(
                [sys.executable, "-m", "memslim", "run", "--json", str(out), str(script)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            # Deliberate offsets, not a wait: the signal must work at any of them.
            time.sleep(offset_ms / 1000)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=300)
            # 3: the program ran to its end, the signal lost.
            assert process.returncode == -signal.SIGINT, (offset_ms, stderr[-500:])
            assert "KeyboardInterrupt" in stderr
            assert json.loads(out.read_text())["exit_code"] == 130
    finally:
        busy.kill()
        busy.wait()


def test_sample_mode_runs_and_estimates(tmp_path: Path) -> None:
    script = FIXTURES / "accuracy_job.py"
    exact, _ = run_json(tmp_path, script)
    sampled, result = run_json(
        tmp_path, script, "--mode", "sample", "--sample-interval", "8192", "--seed", "7"
    )
    assert result.returncode == 0
    assert sampled["mode"] == "sample"
    ratio = sampled["peak"]["traced_bytes"] / exact["peak"]["traced_bytes"]
    assert 0.9 < ratio < 1.1, ratio


def test_sample_mode_census_charges_every_sampled_object_to_its_line(tmp_path: Path) -> None:
    # Sampling every byte samples every block: the census then knows each object's line, as
    # in exact mode. Every instance was made on line 6, and every int -i on line 4 (i from 6
    # on: 0 to -5 are the interpreter's own); the census, taken near the peak, may come
    # before the last ones, so its count of instances says how many there were.
    script = tmp_path / "points.py"
    script.write_text(
        "class Point:\n"
        "    def __init__(self, i):\n"
        "        self.x = i\n"
        "        self.y = -i\n"
        "\n"
        "points = [Point(i) for i in range(50_000)]\n"
        "print(len(points))\n"
    )
    report, result = run_json(
        tmp_path, script, "--mode", "sample", "--sample-interval", "1", "--seed", "3"
    )
    assert result.returncode == 0, result.stderr
    census = report["census"]
    by_line = {
        (row["type"], row["frames"][0]["line"]): row["count"]
        for row in census["sites"]
        if row["frames"] and row["frames"][0]["file"] == str(script)
    }
    points = next(row["count"] for row in census["types"] if row["type"] == "__main__.Point")
    assert points >= 0.9 * 50_000
    assert by_line.get(("__main__.Point", 6)) == points, by_line
    # The census waits for a line's start: the newest instance may not have its y yet.
    assert points - 7 <= by_line.get(("int", 4), 0) <= points - 6, by_line


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [
        (lambda d: d / "missing.py", 2, "can't open file"),
        (lambda d: d, 1, "can't find '__main__' module"),
    ],
)
def test_bad_targets_are_one_line_errors(
    tmp_path: Path, make: Any, status: int, message: str
) -> None:
    result = memslim_run(str(make(tmp_path)))
    assert result.returncode == status
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_syntax_error_in_target(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    result = memslim_run(str(bad))
    assert result.returncode == 1
    assert "SyntaxError" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["no-such-dir/out.json", ".", "hello.py/out.json"])
def test_unwritable_json_path_fails_before_running(tmp_path: Path, where: str) -> None:
    script = tmp_path / "hello.py"
    script.write_text("print('ran')\n")
    result = memslim_run("--json", str(tmp_path / where), str(script))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("memslim: cannot write the JSON report")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "option, what",
    [("--json", "the JSON report"), ("-o", "the capture"), ("--html", "the HTML report"),
     ("--patch", "the patch")],
)  # fmt: skip
def test_an_output_onto_the_program_itself_is_refused(
    tmp_path: Path, option: str, what: str
) -> None:
    """`memslim run --json job.py job.py` replaced the program with its report."""
    script = tmp_path / "hello.py"
    source = "print('ran')\n"
    script.write_text(source)
    for named in (str(script), "./hello.py"):
        result = memslim_run(option, named, str(script), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""  # the program did not run
        assert result.stderr.startswith(f"memslim: cannot write {what} to '"), result.stderr
        assert result.stderr.endswith("hello.py': it is the program's source\n")
        assert result.stderr.count("\n") == 1
        assert script.read_text() == source


def _largest_traceback(script: Path) -> tuple[int, list[tuple[str, int]]]:
    """The bytes and the whole stack (innermost first) of tracemalloc's largest traceback at
    the end of ``script``, run in a separate process."""
    reference = subprocess.run(
        [sys.executable, "-c", (
            "import json, runpy, sys, tracemalloc\n"
            "tracemalloc.start(100)\n"
            f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
            "stat = tracemalloc.take_snapshot().statistics('traceback')[0]\n"
            "sys.stderr.write(json.dumps(\n"
            "    [stat.size, [(f.filename, f.lineno) for f in stat.traceback]]))\n"
        )],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    size, frames = json.loads(reference.stderr)
    return size, [(file, line) for file, line in frames][::-1]  # tracemalloc's: oldest first


def test_a_classs_init_stack_has_only_the_programs_frames(tmp_path: Path) -> None:
    """3.13 runs a class's Python __init__ above a trampoline frame of its own ("__init__", with
    globals it never sets) once the call is specialized: the stack is the program's frames, as
    tracemalloc (in a separate process) has it, whether the call was specialized or not."""
    script = tmp_path / "boxes.py"
    script.write_text(
        "class Box:\n"
        "    def __init__(self, n):\n"
        "        self.items = [str(i) * 3 for i in range(n)]\n"
        "\n"
        "\n"
        "def make():\n"
        "    return [Box(20_000) for _ in range(10)]\n"
        "\n"
        "\n"
        "kept = make()\n"
        "print(len(kept) * 500)\n"
    )
    size, frames = _largest_traceback(script)
    theirs = [(f, line) for f, line in frames if f == str(script)]
    # 3.11 gives each comprehension a frame of its own: (3, 3, 7, 7, 10); 3.12+ (3, 7, 10).
    assert theirs[0] == (str(script), 3) and theirs[-1] == (str(script), 10)
    report, result = run_json(tmp_path, script, "--no-census")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "5000\n"
    at_line = [s for s in report["stacks"] if s["frames"][0]["line"] == 3]
    largest = max(at_line, key=lambda s: s["bytes_at_peak"])
    assert [(f["file"], f["line"]) for f in largest["frames"]] == theirs
    assert abs(largest["bytes_at_peak"] - size) <= size // 100
    # Another stack there is the comprehension's function, made at line 3 of __init__ and alive
    # at the peak (the peak is inside the last list, as under python, whose __main__ namespace
    # is memslim's too): the program's frames only, as well.
    for stack in at_line:
        assert {f["file"] for f in stack["frames"]} == {str(script)}, stack


def test_an_import_is_charged_to_the_importing_line_without_the_import_systems_frames(
    tmp_path: Path,
) -> None:
    (tmp_path / "heavy.py").write_text("BLOB = bytearray(20_000_000)\n")
    script = tmp_path / "main.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport heavy\nprint(len(heavy.BLOB))\n"
    )
    # The allocation's whole stack, from tracemalloc in a separate process: the import system's
    # frames lie between the importing line and the imported module's.
    _size, frames = _largest_traceback(script)
    assert any(file.startswith("<frozen importlib") for file, _line in frames)
    theirs = [(f, line) for f, line in frames if f.startswith(str(tmp_path))]
    assert theirs == [(str(tmp_path / "heavy.py"), 1), (str(script), 3)]

    report, result = run_json(tmp_path, script, "--no-census")
    assert result.returncode == 0, result.stderr
    top = report["stacks"][0]
    assert 20_000_000 <= top["bytes_at_peak"] < 20_001_000
    assert [(f["file"], f["line"]) for f in top["frames"]] == theirs


_HEAVY_WITH_HELPERS = """\
def helper(n):
    out = []
    for _ in range(n):
        out.append(bytearray(1000))
    return out
def middle(n):
    return helper(n)
KEEP = middle(5000)
"""


def _top_stack_of_import(
    tmp_path: Path, script: Path, size: int, *, full: bool
) -> tuple[dict, list[tuple[str, int]]]:
    """The report of ``script`` (which prints 5000) and its top stack's (file, line) frames,
    that stack holding ``size`` bytes within 1%; with --full-import-stacks if ``full``."""
    extra = ["--full-import-stacks"] if full else []
    report, result = run_json(tmp_path, script, "--no-census", *extra)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "5000\n"
    top = report["stacks"][0]
    assert abs(top["bytes_at_peak"] - size) <= size // 100
    return report, [(f["file"], f["line"]) for f in top["frames"]]


@pytest.mark.parametrize("full", [False, True])
def test_a_stack_inside_an_import_keeps_the_modules_line_and_the_allocating_line(
    tmp_path: Path, full: bool
) -> None:
    """Of the frames that ran inside a module being imported, the stack keeps the module's own
    line and the allocating line (the helpers between are folded away), unless
    --full-import-stacks; the bytes are the same either way."""
    (tmp_path / "heavy.py").write_text(_HEAVY_WITH_HELPERS)
    script = tmp_path / "main.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport heavy\nprint(len(heavy.KEEP))\n"
    )
    # The allocating line's whole stack and its bytes, from tracemalloc in a separate process.
    size, frames = _largest_traceback(script)
    theirs = [(f, line) for f, line in frames if f.startswith(str(tmp_path))]
    heavy = str(tmp_path / "heavy.py")
    assert theirs == [(heavy, 4), (heavy, 7), (heavy, 8), (str(script), 3)]
    assert size > 5000 * 1000

    report, ours = _top_stack_of_import(tmp_path, script, size, full=full)
    assert ours == (theirs if full else [(heavy, 4), (heavy, 8), (str(script), 3)])
    line = {(r["file"], r["line"]): r for r in report["lines"]}[(heavy, 4)]
    assert abs(line["bytes_at_peak"] - size) <= size // 100


@pytest.mark.parametrize("full", [False, True])
def test_another_modules_helper_run_at_import_is_charged_to_the_line_that_ran_it(
    tmp_path: Path, full: bool
) -> None:
    """An allocation by another module's code that a module runs while it is imported (a
    library's helper, stdlib's or the program's) is charged to the importing module's line
    that ran it: the helper's own frames are folded away, unless --full-import-stacks."""
    (tmp_path / "tools.py").write_text(
        "def make(n):\n    return [bytearray(1000) for _ in range(n)]\n"
    )
    (tmp_path / "heavy.py").write_text("import tools\nX = 1\nKEEP = tools.make(5000)\n")
    script = tmp_path / "main.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport heavy\nprint(len(heavy.KEEP))\n"
    )
    size, frames = _largest_traceback(script)
    theirs = [(f, line) for f, line in frames if f.startswith(str(tmp_path))]
    tools, heavy = str(tmp_path / "tools.py"), str(tmp_path / "heavy.py")
    assert theirs[0] == (tools, 2) and theirs[-2:] == [(heavy, 3), (str(script), 3)]
    assert size > 5000 * 1000

    report, ours = _top_stack_of_import(tmp_path, script, size, full=full)
    assert ours == (theirs if full else [(heavy, 3), (str(script), 3)])
    # A line's own bytes are those of the stacks it is the innermost frame of.
    lines = {(r["file"], r["line"]): r["bytes_at_peak"] for r in report["lines"]}
    assert abs(lines[(tools, 2) if full else (heavy, 3)] - size) <= size // 100
    assert ((tools, 2) in lines) == full


def test_work_run_by_a_thread_pool_is_charged_under_the_line_that_submitted_it(
    tmp_path: Path,
) -> None:
    """A ThreadPoolExecutor's worker runs what a line of the program submitted: its stack goes
    on, past the pool's own frames, with the stack that called submit() (the work item's
    allocation), not with the worker thread's bootstrap. tracemalloc (a separate process) gives
    the worker's frames and the bytes; the submitting lines are the source's."""
    script = tmp_path / "pool.py"
    script.write_text(
        "import concurrent.futures\n"
        "\n"
        "\n"
        "def build(n):\n"
        "    return [str(i) * 3 for i in range(n)]\n"
        "\n"
        "\n"
        "def main():\n"
        "    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:\n"
        "        future = pool.submit(build, 200_000)\n"
        "        return future.result()\n"
        "\n"
        "\n"
        "rows = main()\n"
        "print(len(rows))\n"
    )
    size, frames = _largest_traceback(script)
    worker = [(f, line) for f, line in frames if f == str(script)]
    assert worker[0] == (str(script), 5) and (str(script), 10) not in worker  # a worker's stack
    assert any(f.endswith("threading.py") for f, _line in frames)

    report, result = run_json(tmp_path, script, "--no-census")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "200000\n"
    at_line = [s for s in report["stacks"] if s["frames"][0]["line"] == 5]
    assert at_line, report["stacks"][:3]
    stack = [(f["file"], f["line"]) for f in at_line[0]["frames"]]
    ours = [(f, line) for f, line in stack if f == str(script)]
    # The worker's frames of the program, then the submitting line and its caller.
    assert ours == [*worker, (str(script), 10), (str(script), 14)], stack
    assert not any(f.endswith("threading.py") for f, _line in stack), stack
    assert sum(s["bytes_at_peak"] for s in at_line) == pytest.approx(size, rel=0.01)
    # The program's lines: the submitting line holds what its work made.
    submitted = [r for r in report["program_lines"] if r["line"] in (5, 10)]
    assert submitted, report["program_lines"][:3]


def test_a_census_due_while_the_program_holds_a_fork_hooks_lock_waits_for_it(
    tmp_path: Path,
) -> None:
    """On 3.13 a census's fork runs the program's os.register_at_fork(before=...) hooks, and
    concurrent.futures' takes a plain lock that a thread holds while it starts a pool's worker:
    a census there waited forever for a lock its own thread held (pandas 3.1's parallel
    read_csv). The census waits for the lock to be let go, then runs: here, with the 64
    bytearrays made under the lock alive. (3.11 and 3.12 run no hooks at a census: the run
    must end there too, its last census taken inside the comprehension, at 95% of the peak or
    more: 61 of the 64 on 3.12.)"""
    source = (
        "import concurrent.futures.thread as pool\n"
        "\n"
        "def main():\n"
        "    with pool._global_shutdown_lock:\n"
        "        blocks = [bytearray(1 << 20) for _ in range(64)]\n"
        "    kept = blocks\n"
        "    print(len(kept))\n"
        "\n"
        "main()\n"
    )
    report, _ = run_program(tmp_path / "job.py", source, "64\n")
    (row,) = [t for t in report["census"]["types"] if t["type"] == "bytearray"]
    seen = 64 if sys.version_info >= (3, 13) else 56  # the margin's census inside, or all
    assert row["count"] >= seen and row["bytes"] >= seen << 20, report["census"]["types"][:5]


USES_TRACK = """
import memslim
with memslim.track() as t:
    kept = [str(i) for i in range(100_000)]
print("tracked", t.peak_bytes > 0, len(kept))
"""


def test_a_program_that_tracks_itself_runs_under_memslim_run(tmp_path: Path) -> None:
    """It failed with "memslim is already tracking allocations" (exit 1) under `memslim run`;
    its own block now runs under the run's tracking, and the run's report sees its list."""
    script = tmp_path / "tracks.py"
    script.write_text(USES_TRACK)
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    report, result = run_json(tmp_path, script)
    assert result.returncode == plain.returncode == 0, result.stderr
    assert result.stdout == plain.stdout == "tracked True 100000\n"
    line = USES_TRACK.splitlines().index("    kept = [str(i) for i in range(100_000)]") + 1
    held = sum(row["bytes_at_peak"] for row in report["lines"] if row["line"] == line)
    # 100,000 strings, each at least 49 bytes (sys.getsizeof("0")), whatever else the line
    # is charged with (the list, on 3.11; on 3.12 the comprehension is inlined).
    assert held >= 100_000 * sys.getsizeof("0"), report["lines"][:3]


def test_relative_report_paths_are_where_memslim_started(tmp_path: Path) -> None:
    """The reports are written after the program, which changed its working directory: they
    went into the program's new directory (and could overwrite a file of its own there)."""
    started, moved = tmp_path / "started", tmp_path / "moved"
    started.mkdir()
    moved.mkdir()
    (moved / "report.json").write_text("the program's own file\n")
    script = started / "moves.py"
    script.write_text(f"import os\nkept = list(range(100_000))\nos.chdir({str(moved)!r})\n")
    result = memslim_run(
        "--json", "report.json", "--html", "report.html", "--patch", "fix.diff", "moves.py",
        cwd=started,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((started / "report.json").read_text())["exit_code"] == 0
    assert (started / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (started / "fix.diff").exists()
    assert sorted(p.name for p in moved.iterdir()) == ["report.json"]
    assert (moved / "report.json").read_text() == "the program's own file\n"


TRACES_ITSELF = """
import sys
calls = {}

def tracer(frame, event, arg):
    if event == "call":
        calls[frame.f_code.co_name] = calls.get(frame.f_code.co_name, 0) + 1

def work(n):
    return [str(i) for i in range(n)]

sys.settrace(tracer)
data = [work(100_000) for _ in range(3)]
junk = [[i] for i in range(200_000)]
sys.settrace(None)
print(sorted(calls.items()))
"""


def test_a_programs_own_tracer_sees_no_memslim_frame(tmp_path: Path) -> None:
    """The census callback and the GC watcher are memslim's Python code run in the program's
    thread: the program's sys.settrace function saw `take_census`, `_reap`, `_on_gc`, ... as its
    own calls (a debugger would stop in them, coverage listed memslim's files)."""
    script = tmp_path / "traces.py"
    script.write_text(TRACES_ITSELF)
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    report, result = run_json(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.stdout
    assert report["census"]["forked"]["forks"] > 0  # censuses ran while it traced


def test_the_script_sees_its_loader_and_dev_mode_no_warning_of_memslims(tmp_path: Path) -> None:
    """`__loader__` was None under memslim (python gives a script a SourceFileLoader named
    __main__), and `python -X dev` warned at every run of a file memslim left open (its copy of
    stderr)."""
    script = tmp_path / "loader.py"
    script.write_text(
        "print(type(__loader__).__name__, __loader__.name, __loader__.path == __file__)\n"
    )
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    ran = subprocess.run(
        [sys.executable, "-X", "dev", "-m", "memslim", "run", str(script)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == plain.stdout == "SourceFileLoader __main__ True\n"
    assert "Warning" not in ran.stderr, ran.stderr


def test_census_sites_show_no_memslim_frame(tmp_path: Path) -> None:
    """An extension module's objects were shown as made at `memslim/_imports.py` (the import
    hook around its loading), and every site's stack ended in `memslim/cli/target.py`."""
    pytest.importorskip("numpy")
    script = tmp_path / "sites.py"
    script.write_text(
        "import numpy as np\nkept = [np.ones(3) for _ in range(60_000)]\nprint(len(kept))\n"
    )
    report, result = run_json(tmp_path, script)
    assert result.returncode == 0, result.stderr
    package = f"{os.sep}memslim{os.sep}"  # the installed package's directory, wherever it is
    sites = report["census"]["sites"]
    assert sites
    own = [s for s in sites if any(package in f["file"] for f in s["frames"])]
    assert not own, own[:2]
    assert "memslim/_imports.py" not in result.stderr


# Grows to its peak and holds it: every sampled estimate along the way only adds, so the
# peak's estimate is the last one's, unbiased, with the standard error the tracker reports.
GROWS_THEN_HOLDS = """\
rows = [(i, str(i) * 3, float(i)) for i in range(150_000)]
print(len(rows))
"""


@pytest.mark.parametrize("seed", ["1", "2", "3"])
def test_sample_modes_peak_comes_with_its_standard_error(tmp_path: Path, seed: str) -> None:
    script = tmp_path / "holds.py"
    script.write_text(GROWS_THEN_HOLDS)
    truth = tracemalloc_reference(tmp_path, script)["peak"]
    interval = 65536
    sampled, result = run_json(
        tmp_path, script, "--mode", "sample", "--sample-interval", str(interval), "--seed", seed
    )
    assert result.returncode == 0, result.stderr
    peak = sampled["peak"]
    error = peak["standard_error_bytes"]
    # Blocks far smaller than the interval: the estimate's variance is about interval x total
    # (the sampler's maths, byte_sampler.h).
    assert 0.75 < error / (interval * truth) ** 0.5 < 1.33, (error, truth)
    assert abs(peak["traced_bytes"] - truth) < 4 * error, (peak["traced_bytes"], truth, error)
    exact, _ = run_json(tmp_path, script)
    assert exact["peak"]["standard_error_bytes"] is None


def test_sample_modes_count_column_says_it_counts_samples(tmp_path: Path) -> None:
    """Sample mode records sampled blocks only: a million strings (about 60 MiB) give a few
    hundred samples at the default 256 KiB interval. The column that showed them under
    "allocations", beside exact mode's million, says "samples"."""
    script = tmp_path / "strings.py"
    script.write_text("x = [str(i) for i in range(1_000_000)]\n")
    result = memslim_run("--mode", "sample", "--seed", "7", str(script))
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stderr.splitlines() if "% peak" in line)
    assert "samples" in header.split() and "allocations" not in header
    row = next(line for line in result.stderr.splitlines() if "strings.py:1" in line)
    count = int(row.split("│")[4].strip().replace(",", ""))
    assert 0 < count < 60 * 2**20 / 262_144 * 3  # samples, not 1,000,000 allocations
    # And what sample mode leaves out of its advice is said.
    said = " ".join(result.stderr.split())
    assert "Sample mode makes no findings that need every object's allocation site" in said


def test_the_census_site_table_has_one_row_per_type_and_line(tmp_path: Path) -> None:
    """Two string expressions of one line are two allocation sites: the table, which shows a
    site by its line, listed two rows that read the same ("str dup.py:1"), each with half."""
    script = tmp_path / "dup.py"
    script.write_text('recs = [(f"user{i}", f"mail{i}") for i in range(200_000)]\n')
    result = memslim_run(str(script))
    assert result.returncode == 0, result.stderr
    table = result.stderr.split("Objects by type and allocation site")[1].split("└")[0]
    strings = [line for line in table.splitlines() if line.startswith("│ str ")]
    assert len(strings) == 1, table
    count = int(strings[0].split("│")[3].strip().replace(",", ""))
    assert 0.9 * 400_000 <= count <= 400_000  # two strings per record, at a census near the end


def test_the_census_line_says_what_was_there_before_tracking(tmp_path: Path) -> None:
    """The census counts every object, the interpreter's and memslim's modules too, so its
    bytes exceeded the traced bytes (25.3 MiB against 19.6) with nothing said; the line says
    how much was made before tracking began, and the rest is what was traced."""
    script = tmp_path / "arrays.py"
    script.write_text("x = [bytearray(1000) for _ in range(20000)]\nprint(len(x))\n")
    report, result = run_json(tmp_path, script)
    assert result.returncode == 0, result.stderr
    line = " ".join(result.stderr.split("Heap census near the peak:")[1].split("\n")[:2])
    assert "of it made before tracking began" in " ".join(line.split()), line
    census = report["census"]
    before = census["bytes"] - sum(row["bytes"] for row in census["sites"])
    assert before > 0
    # The rest: the program's bytearrays (1,057 bytes each, arithmetic; 20,000 at the end, a
    # census near it) and the list, no more than was traced then.
    assert 0.9 * 20_000 * 1057 <= census["bytes"] - before <= census["traced_bytes"] * 1.05
