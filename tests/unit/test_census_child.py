"""A census child must never cost the program its life: it is the first process the kernel kills
when memory runs out, and it gives its census up rather than take more than half of the memory
the machine has available."""

from __future__ import annotations

import gc
import os

import pytest

from memslim import _core, forked_census


def test_the_census_child_is_the_first_the_oom_killer_picks() -> None:
    read_end, write_end = os.pipe()
    pid = _core.census_fork()
    if pid == 0:
        try:
            with open("/proc/self/oom_score_adj") as f:
                os.write(write_end, f.read().strip().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as r:
        score = r.read().decode()
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


def test_the_child_waited_for_leaves_its_low_priority() -> None:
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    pid = _core.census_fork()
    if pid == 0:  # a census child, a batch job at nice 19: says so, then waits to be let go
        try:
            policy, nice = os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)
            os.write(ready_write, f"{policy} {nice}".encode())
            os.read(read_end, 1)
        finally:
            os._exit(0)
    try:
        assert os.read(ready_read, 16).decode() == f"{os.SCHED_BATCH} 19"
        if not forked_census.promote(pid):
            pytest.skip("this user may not lower a nice value (RLIMIT_NICE)")
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        os.write(write_end, b"x")
        os.waitpid(pid, 0)


def test_a_newer_census_child_moves_the_older_one_to_idle_priority(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import memslim.heap

    go_read, go_write = os.pipe()
    ready_read, ready_write = os.pipe()

    def walk_until_told(*_args: object, **_kwargs: object) -> None:
        # In a census child, its priority set: says so, and walks until the test lets it go.
        os.write(ready_write, b"r")
        os.read(go_read, 1)
        os._exit(0)

    def take() -> int:
        censuses.take()
        assert os.read(ready_read, 1) == b"r"
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
        os.write(go_write, b"xxx")
        censuses.close()


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


def test_a_census_forked_while_the_timeline_thread_adds_a_point_reads_the_timeline() -> None:
    """The timeline thread holds the timeline's lock for each point it adds. A census child
    forked at that moment got a copy of the lock held by a thread it does not have, and waited
    for it forever in its first call that reads the timeline (the report waited 120 s for it).
    Here another thread holds the lock for a while; the fork is made while it does."""
    import select
    import threading

    _core.start_tracking()
    try:
        ready_read, ready_write = os.pipe()
        holder = threading.Thread(target=_core.hold_timeline_lock, args=(0.5, ready_write))
        holder.start()
        assert os.read(ready_read, 1) == b"\x01"  # the lock is held now
        done_read, done_write = os.pipe()
        pid = _core.census_fork()  # waits for the lock to be free, or forks with it held
        if pid == 0:
            try:
                _core.bookkeeping_bytes()  # reads the timeline, under its lock
                os.write(done_write, b"x")
            finally:
                os._exit(0)
        os.close(done_write)
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
