"""The allocation tracker through memslim.track(): exact bytes per domain, line and thread,
frees, reallocs, the peak, sample-mode estimates, and the profile decorator."""

from __future__ import annotations

import gc
import io
import json
import os
import subprocess
import sys
import threading
import tracemalloc
import weakref
from typing import Any

import pytest

import memslim
from memslim.profile_data import LineStats, Profile


def here() -> int:
    """The line number of the caller's next line."""
    return sys._getframe(1).f_lineno + 1


def line_stats(profile: Profile, line: int, file: str = __file__) -> LineStats:
    for stats in profile.lines():
        if stats.file == file and stats.line == line:
            return stats
    raise AssertionError(f"no allocation recorded at {file}:{line}")


@pytest.fixture(autouse=True)
def _free_test_blocks(testalloc: Any) -> Any:
    yield
    testalloc.free_all()


def test_each_domain_is_counted_exactly_at_its_line(testalloc: Any) -> None:
    with memslim.track() as t:
        raw_line = here()
        testalloc.alloc(0, 1000, 10)
        mem_line = here()
        testalloc.alloc(1, 333, 30)
        obj_line = here()
        testalloc.alloc(2, 48, 100)
    for line, size, count in ((raw_line, 1000, 10), (mem_line, 333, 30), (obj_line, 48, 100)):
        stats = line_stats(t.profile, line)
        assert stats.allocations == count
        assert stats.bytes_live == size * count
        assert stats.allocated_bytes == size * count
        assert stats.function == "test_each_domain_is_counted_exactly_at_its_line"


def test_frees_and_bytes_at_peak_are_exact(testalloc: Any) -> None:
    with memslim.track() as t:
        first = here()
        testalloc.alloc(1, 100_000, 10)
        testalloc.free_all()
        second = here()
        testalloc.alloc(1, 50_000, 10)
    a, b = line_stats(t.profile, first), line_stats(t.profile, second)
    assert (a.bytes_at_peak, a.bytes_live) == (1_000_000, 0)
    assert (b.bytes_at_peak, b.bytes_live) == (0, 500_000)
    assert 1_000_000 <= t.peak_bytes < 1_000_000 + 20_000
    assert 500_000 <= t.current_bytes < 500_000 + 20_000


def _allocate_deeper(testalloc: Any, depth: int, size: int, count: int) -> int:
    """Allocates from a stack ``depth`` frames deeper than the caller's; returns the line."""
    if depth > 0:
        return _allocate_deeper(testalloc, depth - 1, size, count)
    line = here()
    testalloc.alloc(1, size, count)
    return line


def test_reports_while_tracking_see_the_stacks_added_since(testalloc: Any) -> None:
    """A profile read while tracking (a checkpoint) extends the stack index kept from the
    last one: stacks and lines that appear later are counted exactly, earlier ones too."""
    with memslim.track() as t:
        first = here()
        testalloc.alloc(1, 1000, 7)
        before = t.profile  # builds the index
        assert line_stats(before, first).bytes_live == 7000
        later = [_allocate_deeper(testalloc, depth, 4096, depth + 1) for depth in range(1, 6)]
        during = t.profile  # extends it with the new frames
        again = here()
        testalloc.alloc(1, 1000, 3)  # a new line of a function indexed already
    for profile in (during, t.profile):
        assert line_stats(profile, first).bytes_live == 7000
        (deep,) = set(later)
        stats = line_stats(profile, deep)
        assert stats.allocations == sum(d + 1 for d in range(1, 6))
        assert stats.bytes_live == 4096 * stats.allocations
    assert line_stats(t.profile, again).bytes_live == 3000
    stacks = [frames for frames, _ in t.profile.stacks(10)]
    assert any(len([f for f in fs if f.function == "_allocate_deeper"]) == 6 for fs in stacks)


def test_a_stack_deeper_than_128_frames_keeps_its_innermost_128(testalloc: Any) -> None:
    """The README's limit: a stack is recorded up to 128 frames deep, innermost first; the
    allocation stays at its own line, and what lies further out is cut (not a wrong frame)."""
    for depth, expected in ((300, 128), (20, None)):
        with memslim.track() as t:
            line = _allocate_deeper(testalloc, depth, 2048, 5)
        assert line_stats(t.profile, line).bytes_live == 2048 * 5
        (frames,) = [f for f, _ in t.profile.stacks(50) if f and f[0].line == line]
        inner = [f.function for f in frames[: min(depth + 1, 128)]]
        assert inner == ["_allocate_deeper"] * len(inner)
        if expected is not None:
            assert len(frames) == expected
        else:  # the whole stack, out to this test
            assert frames[depth + 1].function.endswith("keeps_its_innermost_128")


def test_raw_allocations_without_the_gil_from_native_threads(testalloc: Any) -> None:
    with memslim.track() as t:
        testalloc.alloc_raw_in_threads(8, 1000, 64)
    no_stack = [s for s in t.profile.lines() if s.file == "<native thread>"]
    assert len(no_stack) == 1
    assert no_stack[0].bytes_live == 8 * 1000 * 64
    if "MEMSLIM_SANITIZED" in os.environ:  # AddressSanitizer's runtime mallocs in each thread
        assert no_stack[0].allocations >= 8 * 1000
    else:
        assert no_stack[0].allocations == 8 * 1000


def test_realloc_moves_the_bytes_to_the_reallocating_line(testalloc: Any) -> None:
    with memslim.track() as t:
        first = here()
        testalloc.alloc(1, 100)
        second = here()
        testalloc.realloc_last(5000)
    assert line_stats(t.profile, first).bytes_live == 0
    assert line_stats(t.profile, second).bytes_live == 5000


def test_calloc_in_each_domain_is_counted_exactly(testalloc: Any) -> None:
    # PyMem_RawCalloc, PyMem_Calloc and PyObject_Calloc: nelem * elsize bytes per block.
    with memslim.track(python_only=True) as t:
        raw_line = here()
        testalloc.calloc(0, 7, 33, 20)
        mem_line = here()
        testalloc.calloc(1, 7, 33, 20)
        obj_line = here()
        testalloc.calloc(2, 7, 33, 20)
    for line in (raw_line, mem_line, obj_line):
        stats = line_stats(t.profile, line)
        assert (stats.allocations, stats.bytes_live) == (20, 20 * 7 * 33)


@pytest.mark.parametrize("domain", [0, 1, 2])
def test_a_failed_realloc_leaves_the_block_as_it_was(testalloc: Any, domain: int) -> None:
    # realloc returning NULL leaves the old block allocated and unchanged: it stays charged, at
    # its size, to the line that made it, and its free later is still seen.
    with memslim.track(python_only=True) as t:
        made = here()
        testalloc.alloc(domain, 1000)
        with pytest.raises(MemoryError):
            testalloc.realloc_last(1 << 46)  # 64 TiB: more than this machine can map
        during = line_stats(t.profile, made).bytes_live
        testalloc.free_all()
    assert during == 1000
    assert line_stats(t.profile, made).bytes_live == 0


def test_python_threads_each_charged_to_their_line() -> None:
    results: dict[int, list[str]] = {}
    start = threading.Barrier(8)

    def work(index: int) -> None:
        start.wait()
        results[index] = [f"{index}-{i}" for i in range(20_000)]

    line = work.__code__.co_firstlineno + 2
    with memslim.track() as t:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Truth: tracemalloc, in a process of its own, measuring the same eight lists.
    code = (
        "import tracemalloc\n"
        "tracemalloc.start()\n"
        "results = {index: [f'{index}-{i}' for i in range(20_000)] for index in range(8)}\n"
        "print(tracemalloc.get_traced_memory()[0])\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    expected = int(ran.stdout)
    stats = [s for s in t.profile.lines() if s.file == __file__ and s.line == line]
    assert stats, "the thread function's line was not charged"
    assert abs(stats[0].bytes_live - expected) / expected < 0.02


def build_and_keep() -> list[Any]:
    kept = [{"key": f"k{i}", "values": [i * 1.5, i * 2.5]} for i in range(30_000)]
    scratch = [str(i) * 20 for i in range(60_000)]
    del scratch
    kept.extend(f"s{i}" for i in range(10_000))
    return kept


def test_peak_and_current_agree_with_tracemalloc() -> None:
    with memslim.track() as t:
        kept = build_and_keep()
    del kept
    tracemalloc.start()
    try:
        kept = build_and_keep()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    assert abs(t.peak_bytes - peak) / peak < 0.01
    assert abs(t.current_bytes - current) / current < 0.01


def test_sample_mode_estimate_is_close_with_a_fixed_seed(testalloc: Any) -> None:
    with memslim.track("sample", sample_interval=4096, seed=1234) as t:
        testalloc.alloc(1, 1000, 20_000)  # 20 MB in 1 kB blocks
    # Relative standard error ~ sqrt(4096 / 2e7) = 1.4%; allow 4 sigma.
    assert abs(t.current_bytes - 20_000_000) / 20_000_000 < 0.06
    assert t.profile.mode == "sample"


SAME_SEED = """
import gc, importlib.util, json, sys
import memslim
spec = importlib.util.spec_from_file_location("_memslim_testalloc", sys.argv[1])
testalloc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(testalloc)

def estimate(seed):
    with memslim.track("sample", sample_interval=4096, seed=seed) as t:
        testalloc.alloc(1, 1000, 5_000)
    testalloc.free_all()
    return t.current_bytes, t.peak_bytes

gc.disable()  # no collection (and no callback of memslim's) inside one recording but not another
estimate(1234)  # first-call costs (imports, caches) before the recordings compared
first = estimate(1234)
others = {estimate(seed) for seed in (1, 2, 3)}
print(json.dumps([first, estimate(1234), len(others | {first})]))
"""


def test_a_fixed_seed_samples_the_same_whatever_ran_before(testalloc: Any) -> None:
    """--seed makes a run reproducible: the same allocations give the same estimate in a
    later recording of the same process, after recordings with other seeds. In a process of
    its own, with its hash seed and its collector fixed; the thread that starts a recording
    always takes the seed's first step, whichever thread allocates first (the 5th recording
    sampled other blocks than the 1st in one CI run under ASan)."""
    ran = subprocess.run(
        [sys.executable, "-c", SAME_SEED, testalloc.__file__],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    first, again, distinct = json.loads(ran.stdout)
    assert again == first
    assert distinct > 1  # other seeds sample other blocks: the seed is used


def test_a_tracker_started_while_tracking_reads_the_enclosing_tracking(testalloc: Any) -> None:
    """A program that uses track() runs under `memslim run`, which tracks already: it raised
    RuntimeError there, and the program failed. The inner block now runs under the enclosing
    tracking, which it reads and never stops."""
    with memslim.track() as outer:
        with memslim.track("sample") as inner:
            line = here()
            testalloc.alloc(1, 100_000, 10)
        assert memslim._core.is_tracking()  # the inner block did not stop it
        after = here()
        testalloc.alloc(1, 50_000, 4)
    # Exact (the outer's mode): the inner's blocks are in both profiles, at their line.
    assert line_stats(inner.profile, line).bytes_live == 1_000_000
    assert line_stats(outer.profile, line).bytes_live == 1_000_000
    assert line_stats(outer.profile, after).bytes_live == 200_000
    assert inner.profile.mode == "exact"
    assert not memslim._core.is_tracking()


def test_bad_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="mode"):
        memslim.track("sometimes")


def test_report_prints_top_lines() -> None:
    with memslim.track() as t:
        kept = build_and_keep()
    buffer = io.StringIO()
    t.report(file=buffer)
    text = buffer.getvalue()
    assert "Top lines of the program by bytes live at the peak" in text
    assert "build_and_keep" in text
    assert len(kept) == 40_000


def test_profile_decorator_prints_line_table() -> None:
    buffer = io.StringIO()

    @memslim.profile(file=buffer)
    def job() -> int:
        kept = [str(i) * 10 for i in range(50_000)]
        total = 0
        for i in range(20_000):
            temp = [i] * 10
            total += len(temp)
        return len(kept) + total

    assert job() == 50_000 + 200_000
    text = buffer.getvalue()
    for column in ("Line #", "Mem usage", "Increment", "Occurrences", "Line Contents"):
        assert column in text
    kept_row = next(r for r in text.splitlines() if "kept = [str(i)" in r)
    temp_row = next(r for r in text.splitlines() if "temp = [i] * 10" in r)
    kept_increment, temp_increment = kept_row.split("│")[3], temp_row.split("│")[3]
    assert "MiB" in kept_increment, kept_row
    # The temporary is freed on the next iteration: its increment is (nearly) nothing, not a
    # negative swing.
    assert temp_increment.strip().endswith(" B") and "-" not in temp_increment, temp_row


def test_a_recordings_code_objects_are_released_when_the_next_one_starts() -> None:
    # The tracker keeps a reference to the code object of every frame it recorded, so that a
    # profile can still name a function that is gone; the next recording releases them. A code
    # object of its own (compiled here) is held by nothing else: a weak reference to it tells.
    namespace: dict[str, Any] = {}
    source = "def make():\n    return [object() for _ in range(100)]\n"
    exec(compile(source, "<generated>", "exec"), namespace)
    code = weakref.ref(namespace["make"].__code__)
    with memslim.track() as t:
        kept = namespace["make"]()
    del namespace, kept
    gc.collect()
    assert code() is not None  # held by the finished recording
    assert any(stats.file == "<generated>" for stats in t.profile.lines())
    with memslim.track():
        pass
    gc.collect()
    assert code() is None


def test_releasing_the_blocks_after_the_run_frees_them_and_keeps_the_report(
    testalloc: Any,
) -> None:
    from memslim import _core
    from memslim.profile_data import OWN_PREFIX

    with memslim.track():
        line = here()
        testalloc.alloc(2, 48, 50_000)  # 50,000 live blocks: the map holds an entry for each
        _core.release_blocks()  # while tracking: nothing is released
        assert _core.tracking_result(OWN_PREFIX)["bookkeeping"]["blocks"] >= 50_000 * 4
    before = _core.tracking_result(OWN_PREFIX)
    blocks = before["bookkeeping"]["blocks"]
    assert blocks >= 50_000 * 4
    held = _core.bookkeeping_bytes()
    _core.release_blocks()
    _core.release_stack_index()
    after = _core.tracking_result(OWN_PREFIX)
    # The live-block map is gone (memslim holds that much less); the run's figures still count
    # it, and the sites, their totals and the stacks are all still there.
    assert held - _core.bookkeeping_bytes() >= blocks - (64 << 10)
    assert blocks <= after["bookkeeping"]["blocks"] <= blocks + (64 << 10)
    assert after["bookkeeping"]["sites"] == before["bookkeeping"]["sites"]
    for key in ("lines", "frames", "stacks", "peak_bytes", "current_bytes", "sites"):
        assert after[key] == before[key], key
    stats = line_stats(Profile.from_core(after), line)
    assert (stats.allocations, stats.bytes_live) == (50_000, 48 * 50_000)
