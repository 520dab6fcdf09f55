"""A census child must never cost the program its life: it is the first process the kernel kills
when memory runs out, and it gives its census up rather than take more than half of the memory
the machine has available."""

from __future__ import annotations

import gc
import os
import select
from pathlib import Path

import pytest

from memslim import _core, forked_census


def fifo(tmp_path: Path, name: str) -> tuple[str, int]:
    """A named pipe a census child opens by its path (it closes every descriptor it inherits
    above stderr), and this process's end of it, open for reading and writing: neither side's
    open waits for the other."""
    path = str(tmp_path / name)
    os.mkfifo(path)
    return path, os.open(path, os.O_RDWR)


def read_from(fd: int, size: int = 64) -> bytes:
    # Only a failure waits this long: the child answers in milliseconds.
    ready, _, _ = select.select([fd], [], [], 60.0)
    assert ready, "the census child never answered"
    return os.read(fd, size)


def test_the_census_child_is_the_first_the_oom_killer_picks(tmp_path: Path) -> None:
    path, answers = fifo(tmp_path, "score")
    pid = _core.census_fork()
    if pid == 0:
        try:
            with open("/proc/self/oom_score_adj") as f:
                os.write(os.open(path, os.O_WRONLY), f.read().strip().encode())
        finally:
            os._exit(0)
    try:
        score = read_from(answers).decode()
    finally:
        os.close(answers)
        os.waitpid(pid, 0)
    with open("/proc/self/oom_score_adj") as f:
        own = f.read().strip()
    assert score == "1000"
    assert own != "1000"  # the program's own score is left alone


def _census_with_budget(monkeypatch: pytest.MonkeyPatch, budget: int | None):
    monkeypatch.setattr(forked_census, "child_memory_budget", lambda: budget)
    heap = [{"n": i, "name": f"item-{i}"} for i in range(300_000)]  # ~25 MB of walk state
    censuses = forked_census.ForkedCensuses(top=5)
    try:
        censuses.take()
        censuses.finish(peak_bytes=1 << 62)  # waits for the child: no census is near enough
        return list(censuses.errors), len(censuses.done), len(heap)
    finally:
        censuses.close()


@pytest.mark.skipif(
    "MEMSLIM_SANITIZED" in os.environ,
    reason="AddressSanitizer's own allocator dies at the data limit (scripts/sanitize.sh)",
)
def test_a_census_over_its_memory_budget_is_given_up_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors, done, still_there = _census_with_budget(monkeypatch, 1 << 20)
    assert done == 0
    assert errors == [
        "a census was given up: it needed more than 1 MiB, half of the memory available"
        " when it began"
    ]
    assert still_there == 300_000


def test_a_census_within_its_budget_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    errors, done, _ = _census_with_budget(monkeypatch, 4 << 30)
    assert (errors, done) == ([], 1)


def test_the_budget_is_half_of_the_memory_available() -> None:
    with open("/proc/meminfo") as f:
        available = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
    budget = forked_census.child_memory_budget()
    assert budget is not None
    # MemAvailable moves while the test runs: within 5% of half of it.
    assert abs(budget - available * 1024 // 2) <= available * 1024 // 40


def test_the_census_child_holds_none_of_the_programs_descriptors(tmp_path: Path) -> None:
    """Once census_fork returns in the program, the child has closed what it inherited above
    stderr: a pipe's reader sees its end as soon as the program closes its write end."""
    read_end, write_end = os.pipe()
    path, go = fifo(tmp_path, "go")
    pid = _core.census_fork()
    if pid == 0:
        try:
            os.read(os.open(path, os.O_RDONLY), 1)
        finally:
            os._exit(0)
    try:
        os.close(write_end)
        ended, _, _ = select.select([read_end], [], [], 0)
        held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        pipe = os.readlink(f"/proc/self/fd/{read_end}")
        assert ended and os.read(read_end, 1) == b""
        assert pipe not in held
    finally:
        os.write(go, b"x")
        os.waitpid(pid, 0)
        os.close(go)
        os.close(read_end)


def test_the_child_waited_for_leaves_its_low_priority(tmp_path: Path) -> None:
    go_path, go = fifo(tmp_path, "go")
    ready_path, ready = fifo(tmp_path, "ready")
    pid = _core.census_fork()
    if pid == 0:  # a census child, a batch job at nice 19: says so, then waits to be let go
        try:
            policy, nice = os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)
            os.write(os.open(ready_path, os.O_WRONLY), f"{policy} {nice}".encode())
            os.read(os.open(go_path, os.O_RDONLY), 1)
        finally:
            os._exit(0)
    try:
        assert read_from(ready).decode() == f"{os.SCHED_BATCH} 19"
        if not forked_census.promote(pid):
            pytest.skip("this user may not lower a nice value (RLIMIT_NICE)")
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        os.write(go, b"x")
        os.waitpid(pid, 0)
        os.close(go)
        os.close(ready)


def test_a_newer_census_child_moves_the_older_one_to_idle_priority(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import memslim.heap

    go_path, go = fifo(tmp_path, "go")
    ready_path, ready = fifo(tmp_path, "ready")

    def walk_until_told(*_args: object, **_kwargs: object) -> None:
        # In a census child, its priority set: says so, and walks until the test lets it go.
        os.write(os.open(ready_path, os.O_WRONLY), b"r")
        os.read(os.open(go_path, os.O_RDONLY), 1)
        os._exit(0)

    def take() -> int:
        censuses.take()
        assert read_from(ready, 1) == b"r"
        return int(censuses._get(int(censuses._totals[forked_census._COUNT]), forked_census._PID))

    monkeypatch.setattr(memslim.heap, "take_raw_census", walk_until_told)
    censuses = forked_census.ForkedCensuses(top=5)
    try:
        older = take()
        newer = take()
        assert os.sched_getscheduler(older) == os.SCHED_IDLE
        assert os.sched_getscheduler(newer) == os.SCHED_BATCH
        newest = take()  # the second is replaced, the first walks on at idle priority
        assert os.sched_getscheduler(older) == os.SCHED_IDLE
        assert os.sched_getscheduler(newest) == os.SCHED_BATCH
    finally:
        os.write(go, b"xxx")
        censuses.close()
        os.close(go)
        os.close(ready)


def test_the_gc_lists_read_in_place_are_what_gc_get_objects_lists() -> None:
    keep = [[i] for i in range(5000)]  # containers in every generation, young ones too
    gc.collect()
    more = [{"n": i} for i in range(500)]
    ids = _core.gc_object_ids_in_place()
    listed = gc.get_objects()
    assert ids is not None
    # The same objects in the same order, but the list of ids itself (made after the walk).
    assert ids == [id(o) for o in listed if o is not ids]
    assert len(ids) > len(keep) + len(more)


def test_a_census_forked_while_the_timeline_thread_adds_a_point_reads_the_timeline(
    tmp_path: Path,
) -> None:
    """The timeline thread holds the timeline's lock for each point it adds. A census child
    forked at that moment got a copy of the lock held by a thread it does not have, and waited
    for it forever in its first call that reads the timeline (the report waited 120 s for it).
    Here another thread holds the lock for a while; the fork is made while it does."""
    import threading

    _core.start_tracking()
    try:
        ready_read, ready_write = os.pipe()
        holder = threading.Thread(target=_core.hold_timeline_lock, args=(0.5, ready_write))
        holder.start()
        assert os.read(ready_read, 1) == b"\x01"  # the lock is held now
        done_path, done_read = fifo(tmp_path, "done")
        pid = _core.census_fork()  # waits for the lock to be free, or forks with it held
        if pid == 0:
            try:
                _core.bookkeeping_bytes()  # reads the timeline, under its lock
                os.write(os.open(done_path, os.O_WRONLY), b"x")
            finally:
                os._exit(0)
        holder.join()
        # Only a failure waits this long: the child's answer comes in milliseconds.
        answered, _, _ = select.select([done_read], [], [], 60.0)
        if not answered:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        for fd in (ready_read, ready_write, done_read):
            os.close(fd)
        assert answered, "the census child waited for the timeline's lock"
    finally:
        _core.stop_tracking()
