"""Child processes under `memslim run` (issue 12, item 2): each child (multiprocessing with
every start method, ProcessPoolExecutor, os.fork) is tracked into its own capture, and the
parent's report lists them, with the peak of the whole process tree and the top lines across
processes. Truth: tracemalloc measuring the same work in a separate process."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = """
import multiprocessing, os, signal, sys, time
from concurrent.futures import ProcessPoolExecutor

def work(n):
    data = [str(i) * 3 for i in range(n)]  # the workers' memory
    return len(data)

def init(shared):
    global barrier
    barrier = shared

def hold(n):
    data = [str(i) * 3 for i in range(n)]  # held by both workers at once
    barrier.wait()
    barrier.wait()
    return len(data)

def wait_for_term(ready):
    kept = [str(i) * 3 for i in range(50_000)]
    ready.set()
    time.sleep(600)

def block_forever(where):
    import ctypes
    kept = [str(i) * 3 for i in range(50_000)]  # kept while blocked
    mutex = ctypes.create_string_buffer(64)  # zeroed: an unlocked pthread mutex
    lock = ctypes.CDLL(None).pthread_mutex_lock
    lock(mutex)
    where.value = ctypes.addressof(mutex)
    lock(mutex)  # a signal does not end this wait: Python's handler can never run

def checkpointed_after(capture, moment):
    # A checkpoint of the tracked child (capture) whose data was read after moment (time.time()):
    # one that began while the list was being built shows only part of it.
    from memslim.capture import CaptureError, read_capture
    try:
        checkpoint = read_capture(capture)
    except (OSError, CaptureError):
        return False
    return checkpoint.report["process"]["started_at"] + checkpoint.written_s > moment

def busy_in_c(ready):
    import itertools
    kept = [str(i) * 3 for i in range(50_000)]
    signal.alarm(120)  # its default action ends the child, should SIGTERM not: -14, not -15
    ready.set()
    sum(itertools.repeat(1))  # one C call that holds the GIL and never returns

def waiting_on(pid, address):
    # The main thread of pid waits in futex() on address (Linux: /proc/PID/syscall).
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return False
    return len(fields) > 1 and fields[0] == "202" and int(fields[1], 16) == address

if __name__ == "__main__":
    how, n = sys.argv[1], int(sys.argv[2])
    if how in ("fork", "spawn", "forkserver"):
        with multiprocessing.get_context(how).Pool(2) as pool:
            print(pool.map(work, [n] * 2, chunksize=1))
    elif how == "executor":
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
            print(list(ex.map(work, [n] * 2)))
    elif how in ("os.fork", "os._exit"):
        pid = os.fork()
        if pid == 0:
            work(n)
            if how == "os._exit":
                os._exit(4)
            sys.exit(3)
        print("child exit status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    elif how == "killed":
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            kept = [str(i) * 3 for i in range(n)]  # kept until killed
            built = time.time()
            capture = os.path.join(sys.argv[3], f"{os.getpid()}.mslm")
            while not checkpointed_after(capture, built):
                time.sleep(0.02)
            os.write(ready_w, b"!")
            time.sleep(600)
        os.read(ready_r, 1)
        os.kill(pid, signal.SIGKILL)
        print("child exit status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    elif how == "together":
        context = multiprocessing.get_context(sys.argv[3])
        shared = context.Barrier(2)
        with context.Pool(2, initializer=init, initargs=(shared,)) as pool:
            print(pool.map(hold, [n] * 2, chunksize=1))
    elif how == "terminated":
        context = multiprocessing.get_context(sys.argv[3])
        ready = context.Event()
        child = context.Process(target=wait_for_term, args=(ready,))
        child.start()
        ready.wait()
        child.terminate()
        child.join()
        print("exitcode", child.exitcode)
    elif how == "busy":
        ready = multiprocessing.get_context("fork").Event()
        child = multiprocessing.get_context("fork").Process(target=busy_in_c, args=(ready,))
        child.start()
        ready.wait()
        child.terminate()
        child.join()
        print("exitcode", child.exitcode)
    elif how == "blocked":
        context = multiprocessing.get_context(sys.argv[3])
        where = context.Value("Q", 0)
        child = context.Process(target=block_forever, args=(where,))
        child.start()
        while not (where.value and waiting_on(child.pid, where.value)):
            time.sleep(0.01)
        child.terminate()
        child.join()
        print("exitcode", child.exitcode)
"""


def line_of(marker: str) -> int:
    return next(n for n, text in enumerate(PROGRAM.splitlines(), 1) if marker in text)


WORK_LINE = line_of("# the workers' memory")
KEPT_LINE = line_of("# kept until killed")
BLOCKED_LINE = line_of("# kept while blocked")
HOLD_LINE = line_of("# held by both workers at once")

N = 200_000


def tracemalloc_peak_of_work(n: int) -> int:
    """tracemalloc's peak for work(n), in a process of its own (no memslim)."""
    code = (
        "import tracemalloc\n"
        "def work(n):\n"
        "    data = [str(i) * 3 for i in range(n)]\n"
        "    return len(data)\n"
        "tracemalloc.start()\n"
        f"work({n})\n"
        "print(tracemalloc.get_traced_memory()[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.fixture(scope="module")
def truth() -> int:
    return tracemalloc_peak_of_work(N)


def run(
    tmp_path: Path, *args: str, output: bool = False, timeout: float = 300
) -> tuple[subprocess.CompletedProcess, dict]:
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    report = tmp_path / "report.json"
    extra = ["-o", str(tmp_path / "run.mslm")] if output else []
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--json", str(report), *extra, str(script), *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert report.exists(), ran.stderr
    return ran, json.loads(report.read_text())


def plain(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip


def work_line_bytes(report: dict, pid: int) -> int:
    rows = [
        r
        for r in report["lines_across_processes"]
        if r["pid"] == pid and r["file"].endswith("prog.py") and r["line"] == WORK_LINE
    ]
    return rows[0]["bytes_at_peak"] if rows else 0


@pytest.mark.parametrize("how", ["fork", "spawn", "forkserver", "executor"])
def test_each_worker_has_its_own_report(tmp_path: Path, how: str, truth: int) -> None:
    ran, report = run(tmp_path, how, str(N))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"[{N}, {N}]\n"  # the program's output is its own
    me = report["process"]["pid"]
    workers = [p for p in report["processes"] if p["ppid"] == me or how == "forkserver"]
    # Every worker that ran work() shows its bytes at prog.py:6, as tracemalloc measures them
    # in a process of its own (the pool may give both tasks to one worker).
    busy = [p for p in workers if work_line_bytes(report, p["pid"]) > 0]
    assert busy, report["processes"]
    for p in busy:
        assert work_line_bytes(report, p["pid"]) == pytest.approx(truth, rel=0.02)
        assert p["peak_traced_bytes"] >= 0.97 * truth
        assert p["complete"]
    assert all(p["pid"] != me for p in report["processes"])
    # The tree's peak: at least the largest process's, at most all processes' peaks together.
    peaks = [report["peak"]["traced_bytes"], *(p["peak_traced_bytes"] for p in workers)]
    tree = report["tree_peak"]["traced_bytes"]
    assert max(peaks) <= tree <= sum(peaks)
    assert "Processes" in ran.stderr and "Whole process tree" in ran.stderr
    header = next(line for line in ran.stderr.splitlines() if "┃ parent ┃" in line)
    assert "┃  ┃" not in header and header.split("┃")[-2].strip() == "ran"  # no empty column
    # The report's first lines say that its peak is the parent's, and the tree's.
    assert "with its child processes, the whole tree's peak" in ran.stderr.split("Top lines")[0]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_the_tree_peak_is_the_sum_at_its_moment(tmp_path: Path, method: str, truth: int) -> None:
    """Both workers hold their strings at once (a barrier): the tree's peak is their sum."""
    ran, report = run(tmp_path, "together", str(N), method)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"[{N}, {N}]\n"
    workers = report["processes"]
    assert len(workers) == 2
    held = [
        r
        for r in report["lines_across_processes"]
        if r["file"].endswith("prog.py") and r["line"] == HOLD_LINE
    ]
    assert sorted(r["pid"] for r in held) == sorted(w["pid"] for w in workers)
    for row in held:
        assert row["bytes_at_peak"] == pytest.approx(truth, rel=0.02)
    both = sum(w["peak_traced_bytes"] for w in workers)
    tree, when = report["tree_peak"]["traced_bytes"], report["tree_peak"]["at_s"]
    assert both <= tree <= both + report["peak"]["traced_bytes"]
    # The sum at that moment: both workers' peaks and what the parent held then (its timeline).
    parent_then = [p["traced_bytes"] for p in report["timeline"] if p["t"] <= when][-1]
    assert tree == pytest.approx(both + parent_then, rel=0.05)


@pytest.mark.parametrize("how, status", [("os.fork", 3), ("os._exit", 4)])
def test_a_forked_child_keeps_its_exit_status(
    tmp_path: Path, how: str, status: int, truth: int
) -> None:
    ran, report = run(tmp_path, how, str(N))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == plain(tmp_path, how, str(N)).stdout == f"child exit status {status}\n"
    (child,) = report["processes"]
    assert child["exit_code"] == status and child["complete"]
    assert child["ppid"] == report["process"]["pid"]
    assert work_line_bytes(report, child["pid"]) == pytest.approx(truth, rel=0.02)
    # The parent's own peak does not hold the child's strings.
    assert report["peak"]["traced_bytes"] < truth / 4


def test_a_killed_child_leaves_its_last_checkpoint(tmp_path: Path, truth: int) -> None:
    children = tmp_path / "run.mslm.children"
    ran, report = run(tmp_path, "killed", str(N), str(children), output=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "child exit status -9\n"
    (child,) = report["processes"]
    assert not child["complete"] and child["exit_code"] is None
    assert os.path.exists(child["capture"])
    rows = [r for r in report["lines_across_processes"] if r["pid"] == child["pid"]]
    assert rows[0]["line"] == KEPT_LINE
    assert rows[0]["bytes_at_peak"] == pytest.approx(truth, rel=0.02)
    # `memslim report` of the parent's capture shows the child too, read from beside it.
    shown = subprocess.run(
        [sys.executable, "-m", "memslim", "report", str(tmp_path / "run.mslm")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "killed: last checkpoint" in shown.stderr
    assert str(child["pid"]) in shown.stderr


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_terminated_child_still_dies_of_sigterm(tmp_path: Path, method: str) -> None:
    ran, report = run(tmp_path, "terminated", "0", method)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == plain(tmp_path, "terminated", "0", method).stdout == "exitcode -15\n"
    (child,) = report["processes"]
    assert child["complete"] and child["exit_code"] == -15  # written by memslim's handler
    assert child["name"].endswith("Process-1 (wait_for_term)")  # ForkProcess-1, SpawnProcess-1


def test_a_terminated_child_ends_wherever_its_main_thread_waits(tmp_path: Path) -> None:
    """The child's main thread waits in a call that a signal does not end (a locked mutex):
    Python's SIGTERM handler can never run there. Without memslim the child dies of the signal
    at once; memslim's relay writes its capture and ends it the same way (the same wait hung
    Pool workers caught entering sem_wait as the signal came)."""
    ran, report = run(tmp_path, "blocked", "0", "fork", timeout=120)  # hung before the relay
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == plain(tmp_path, "blocked", "0", "fork").stdout == "exitcode -15\n"
    (child,) = report["processes"]
    assert child["complete"] and child["exit_code"] == -15
    # The file too: a library's line of that number (logging's imports) is the parent's.
    rows = [
        r
        for r in report["lines_across_processes"]
        if r["file"].endswith("prog.py") and r["line"] == BLOCKED_LINE
    ]
    assert [r["pid"] for r in rows] == [child["pid"]]
    # 50,000 strings of 3 to 15 characters and the list's pointers: at least 50 B each.
    assert rows[0]["bytes_at_peak"] > 50 * 50_000


def test_a_terminated_child_in_one_long_c_call_dies_of_sigterm(tmp_path: Path) -> None:
    """The child's main thread is in one C call that holds the GIL and never returns: without
    memslim SIGTERM ends it at once; memslim's relay thread, which needs the GIL to write the
    capture, waited for the call to end (a Pool worker in `sum()` over a large range ended
    7.7 s late; this one, never, until its alarm). It ends by the signal after a grace now,
    its last checkpoint its capture."""
    ran, _ = run(tmp_path, "busy", "0")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == plain(tmp_path, "busy", "0").stdout == "exitcode -15\n"


def test_no_children_leaves_them_untracked(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    report = tmp_path / "report.json"
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--no-children", "--json", str(report),
         str(script), "os.fork", "1000"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "processes" not in json.loads(report.read_text())


FORKS_WITH_THREADS = """
import os, sys, threading, warnings
if sys.argv[2]:
    warnings.simplefilter(sys.argv[2])  # the program's own, before memslim's
stop = threading.Event()
threads = [threading.Thread(target=stop.wait) for _ in range(int(sys.argv[1]))]
for t in threads:
    t.start()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
stop.set()
print("forked")
"""


@pytest.mark.skipif(sys.version_info < (3, 12), reason="os.fork warns about threads from 3.12")
@pytest.mark.parametrize("threads", [0, 1])
@pytest.mark.parametrize("programs_filter", ["", "default", "always", "error"])
def test_fork_warns_about_threads_as_it_would_without_memslim(
    tmp_path: Path, threads: int, programs_filter: str
) -> None:
    """memslim's own threads (timeline, checkpoints) must not make os.fork warn in a program
    that has none; a program with a thread of its own is warned as before. Also when the
    program set a filter of its own first (with "error", python drops the warning)."""
    script = tmp_path / "forks.py"
    script.write_text(FORKS_WITH_THREADS)
    argv = [str(script), str(threads), programs_filter]
    plain_run = subprocess.run([sys.executable, *argv], capture_output=True, text=True, check=True)
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "-o", str(tmp_path / "c.mslm"), *argv],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0 and ran.stdout == plain_run.stdout == "forked\n", ran.stderr

    def warnings_in(stderr: str) -> list[str]:  # the warning and the source line below it
        lines = re.sub(r"pid=\d+", "pid=N", stderr).splitlines()
        return [f"{a}\n{b}" for a, b in itertools.pairwise(lines) if "DeprecationWarning" in a]

    assert len(warnings_in(plain_run.stderr)) == (
        1 if threads and programs_filter != "error" else 0
    )
    assert warnings_in(ran.stderr) == warnings_in(plain_run.stderr)


WORKER = """
import sys

def build(n):
    return [str(i) * 3 for i in range(n)]  # the subprocess's memory

data = build(int(sys.argv[1]))
print("built", len(data))
sys.exit(5)
"""

LAUNCHER = """
import subprocess, sys
command = [sys.executable, "-u", "worker.py", sys.argv[1]]
done = subprocess.run(command, capture_output=True, text=True)
print(done.stdout.strip(), "exit", done.returncode)
shell = subprocess.run("echo from a shell", shell=True, capture_output=True, text=True)
print(shell.stdout.strip())
"""


@pytest.mark.parametrize("follow", [True, False])
def test_follow_subprocesses_tracks_python_children(
    tmp_path: Path, follow: bool, truth: int
) -> None:
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "launcher.py").write_text(LAUNCHER)
    report = tmp_path / "report.json"
    flags = ["--follow-subprocesses"] if follow else []
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", *flags, "--json", str(report), "launcher.py",
         str(N)],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    # The child's output and exit status reach the program as without memslim.
    assert ran.stdout == f"built {N} exit 5\nfrom a shell\n"
    processes = json.loads(report.read_text()).get("processes", [])
    if not follow:
        assert processes == []
        return
    (child,) = processes  # the shell is not followed
    assert child["name"] == f"worker.py {N}" and child["exit_code"] == 5 and child["complete"]
    rows = [
        r
        for r in json.loads(report.read_text())["lines_across_processes"]
        if r["pid"] == child["pid"] and r["file"].endswith("worker.py")
    ]
    assert rows[0]["line"] == 5
    assert rows[0]["bytes_at_peak"] == pytest.approx(truth, rel=0.02)


SIGNAL_MASKS = """
import json, multiprocessing, os, re, signal, threading

def others():
    \"\"\"Each other thread of this process: whether it blocks SIGINT and SIGTERM.\"\"\"
    me, found = threading.get_native_id(), []
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != me:
            with open(f"/proc/self/task/{tid}/status") as f:
                blocked = int(re.search(r"SigBlk:\\s*([0-9a-f]+)", f.read()).group(1), 16)
            found.append(all(blocked >> (s - 1) & 1 for s in (signal.SIGINT, signal.SIGTERM)))
    return found

if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print(json.dumps([others(), pool.apply(others)]))
"""


def test_memslims_threads_leave_signals_to_the_programs(tmp_path: Path) -> None:
    """A signal sent to a process goes to any thread that does not block it. memslim's threads
    (the timeline's, the checkpoints') block them, so a SIGTERM reaches the program's thread as
    without memslim: a Pool worker waiting in sem_wait once missed Pool.terminate's SIGTERM, and
    the pool's join hung (CI, 3.11). Without memslim this program has no other threads."""
    (tmp_path / "masks.py").write_text(SIGNAL_MASKS)
    plain_run = subprocess.run(
        [sys.executable, "masks.py"], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    # The parent's other threads are the pool's (blocking nothing); its worker has none.
    pool_threads, none = json.loads(plain_run.stdout)
    assert not any(pool_threads) and none == [], plain_run.stderr
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "-o", "run.mslm", "masks.py"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    parent, worker = json.loads(ran.stdout.splitlines()[0])
    # memslim's threads beside them, the timeline's, the checkpoints' and (3.11, censuses on)
    # the one that offers a worker thread its census, block both signals; so does the worker's
    # third, which waits for the relayed SIGTERM (the relay's own signal).
    own = 3 if sys.version_info < (3, 12) else 2
    assert sorted(parent) == sorted([*pool_threads, *[True] * own])
    assert worker == [True, True, True]
