"""Native allocations (cpython/native_hooks.h): every function of the C allocator, exact at its
line, with the GIL released, from a thread that never ran Python, from a library loaded after
tracking started, each byte counted once. Sizes are the test extension's own arguments
(tests/ext/testalloc.c): truth by arithmetic."""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import memslim
from memslim import _core
from tests.conftest import build_testalloc
from tests.unit.test_tracking import here
from tests.unit.test_tracking import line_stats as _line_stats

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="native allocations are traced on Linux only"
)

MALLOC, CALLOC, REALLOC, POSIX_MEMALIGN, ALIGNED_ALLOC, MEMALIGN, VALLOC = range(7)


@pytest.fixture(autouse=True)
def _free_native_blocks(testalloc: Any) -> Any:
    yield
    testalloc.native_free_all()


def line_stats(profile: Any, line: int) -> Any:
    return _line_stats(profile, line, __file__)


def native_at_peak(stats: Any) -> int:
    return stats.native_at_peak.get("native", 0)


def test_each_function_is_exact_at_its_line(testalloc: Any) -> None:
    lines: dict[int, int] = {}  # line -> bytes it keeps
    with memslim.track() as t:
        lines[here()] = 1000 * 10
        testalloc.native(MALLOC, 1000, 10)
        lines[here()] = 3000 * 5
        testalloc.native(CALLOC, 3000, 5)
        lines[here()] = 5000 * 4  # realloc(malloc(16), 5000): the 16 bytes are replaced
        testalloc.native(REALLOC, 5000, 4)
        lines[here()] = 4096 * 3
        testalloc.native(POSIX_MEMALIGN, 4096, 3)
        lines[here()] = 128 * 7
        testalloc.native(ALIGNED_ALLOC, 128, 7)
        lines[here()] = 200 * 6
        testalloc.native(MEMALIGN, 200, 6)
        lines[here()] = 5000 * 2
        testalloc.native(VALLOC, 5000, 2)
    assert _core.native_hooks_installed() is False  # stopping put every slot back
    for line, expected in lines.items():
        stats = line_stats(t.profile, line)
        assert native_at_peak(stats) == expected, line
        assert stats.bytes_live == expected, line  # the argument tuples are gone
    assert t.profile.end_by_domain["native"] >= sum(lines.values())


def test_separate_lines_and_frees(testalloc: Any) -> None:
    with memslim.track() as t:
        first = here()
        testalloc.native(MALLOC, 100_000, 10)
        testalloc.native_free_all()
        second = here()
        testalloc.native(CALLOC, 50_000, 10)
    a, b = line_stats(t.profile, first), line_stats(t.profile, second)
    assert (native_at_peak(a), a.bytes_live) == (1_000_000, 0)
    assert (native_at_peak(b), b.bytes_live) == (0, 500_000)
    assert 1_000_000 <= t.peak_bytes < 1_000_000 + 20_000


def test_without_the_gil_the_block_stays_at_the_calling_line(testalloc: Any) -> None:
    with memslim.track() as t:
        line = here()
        testalloc.native(MALLOC, 7000, 3, True)  # allocates after releasing the GIL
    stats = line_stats(t.profile, line)
    assert native_at_peak(stats) == 21_000


@pytest.mark.parametrize("python_only", [False, True])
def test_a_thread_back_in_python_through_pygilstate_is_not_counted_by_itself(
    testalloc: Any, python_only: bool
) -> None:
    """A native module that released the GIL and takes it back with PyGILState_Ensure to call
    Python (pandas 2's CSV parser reading its file) never passes PyEval_RestoreThread: the
    thread stays counted as without the GIL. A census running on that thread made every census
    of a pandas 2 read walk the heap in the program's process (ForkUnsafe). The thread asking
    holds the GIL: it is not counted; another thread in the same state still is."""
    import threading

    inside, release = threading.Event(), threading.Event()

    def wait() -> None:
        inside.set()
        release.wait()

    with memslim.track(python_only=python_only):
        other = threading.Thread(target=testalloc.call_without_gil, args=(wait,))
        other.start()
        inside.wait()
        seen = testalloc.call_without_gil(_core.native_threads_without_gil)
        release.set()
        other.join()
        after = testalloc.call_without_gil(_core.native_threads_without_gil)
    assert (seen, after) == (1, 0)


def test_a_python_threads_first_frame_stack_is_the_starting_lines() -> None:
    """CPython maps a new thread's first frame stack (16 KiB, DATA_STACK_CHUNK_SIZE) before its
    first frame exists: it was a "<native thread>" line (threads that never ran Python). It is
    charged to the stack that started the thread, Thread.start under the test's line."""
    import threading

    started, release = threading.Barrier(5), threading.Event()

    def wait() -> None:
        started.wait()
        release.wait()

    threads = [threading.Thread(target=wait) for _ in range(4)]
    with memslim.track() as t:
        for thread in threads:
            thread.start()
        started.wait()  # all four alive, their frame stacks mapped
        peak = bytearray(1 << 20)  # the peak, while they live
        del peak
        release.set()
        for thread in threads:
            thread.join()
    mmap_at: dict[tuple[str, str], int] = {}
    for stats in t.profile.lines():
        key = (stats.file, stats.function)
        mmap_at[key] = mmap_at.get(key, 0) + stats.native_at_peak.get("mmap", 0)
    assert mmap_at.get(("<native thread>", ""), 0) == 0, mmap_at
    assert mmap_at[(threading.__file__, "Thread.start")] == 4 * 16384, mmap_at


def test_memslims_own_threads_frame_stack_is_not_recorded() -> None:
    # start_thread starts its thread as memslim's own work: the 16 KiB mapped before the
    # thread's first frame was a "<native thread>" line of the program's.
    import threading

    from memslim._threads import start_thread

    ran = threading.Event()
    with memslim.track() as t:
        start_thread(ran.set)
        ran.wait()
    no_stack = [(s.file, s.allocated_bytes) for s in t.profile.lines() if s.file.startswith("<")]
    if "MEMSLIM_SANITIZED" in os.environ:
        # AddressSanitizer's thread start mallocs through libc's hooked GOT before the thread
        # has a Python state (pthread_getattr_np): a few hundred bytes, not the 16 KiB stack.
        assert sum(allocated for _, allocated in no_stack) < 16384, no_stack
    else:
        assert no_stack == []


def test_a_thread_that_never_ran_python(testalloc: Any) -> None:
    with memslim.track() as t:
        testalloc.native_in_thread(50, 1000)
    no_stack = [s for s in t.profile.lines() if s.file == "<native thread>"]
    assert len(no_stack) == 1
    assert native_at_peak(no_stack[0]) == 50 * 1000


def test_pymem_blocks_are_not_counted_again_as_native(testalloc: Any) -> None:
    # PyMem_RawMalloc and large PyMem_Malloc blocks come from malloc: one block, Python's.
    with memslim.track() as t:
        line = here()
        testalloc.alloc(0, 100_000, 10)
    stats = line_stats(t.profile, line)
    assert stats.bytes_live == 1_000_000
    assert native_at_peak(stats) == 0
    testalloc.free_all()


def test_python_only_traces_no_native_block(testalloc: Any) -> None:
    with memslim.track(python_only=True) as t:
        line = here()
        testalloc.native(MALLOC, 100_000, 10)
    assert all(s.line != line or s.file != __file__ for s in t.profile.lines())
    assert t.profile.peak_by_domain["native"] == 0


def test_anonymous_maps_and_partial_unmaps(testalloc: Any) -> None:
    page = os.sysconf("SC_PAGESIZE")
    with memslim.track() as t:
        line = here()
        testalloc.map(10)
        testalloc.unmap(0, 2)  # the first two pages
        testalloc.unmap(8, 2)  # the last two
        testalloc.unmap(4, 1)  # one in the middle: two parts remain, 2 and 3 pages
        kept = t.current_bytes
        python_line = here()
        buffer = mmap.mmap(-1, 3 * page)  # Python's mmap module: an anonymous map too
        with_buffer = t.current_bytes
        buffer.close()
        testalloc.unmap(2, 2)
        testalloc.unmap(5, 3)
    stats = line_stats(t.profile, line)
    assert stats.native_at_peak.get("mmap") == 10 * page  # the peak: before any unmap
    assert stats.bytes_live == 0
    assert kept >= 5 * page
    # The map and its small Python object, at the line that made them.
    assert 3 * page <= with_buffer - kept < 3 * page + 1024
    assert 3 * page <= line_stats(t.profile, python_line).allocated_bytes < 3 * page + 1024
    assert t.profile.end_by_domain["mmap"] == 0


@pytest.mark.parametrize("reserve", [1, 2], ids=["MAP_NORESERVE", "PROT_NONE"])
def test_address_space_reserved_is_not_counted_as_held(testalloc: Any, reserve: int) -> None:
    page = os.sysconf("SC_PAGESIZE")
    with memslim.track() as t:
        line = here()
        testalloc.map(4096, reserve)  # 16 MiB of address space, nothing written
        reserved = _core.reserved_map_bytes()
        written = here()
        testalloc.map(3)  # a map written to, beside it: counted
    testalloc.unmap(0, 3)
    at_line = [s for s in t.profile.lines() if s.file == __file__ and s.line == line]
    assert sum(s.native_at_peak.get("mmap", 0) for s in at_line) == 0
    assert line_stats(t.profile, written).native_at_peak.get("mmap") == 3 * page
    assert reserved == 4096 * page


LATE = """
import importlib.util, json, sys
import memslim
with memslim.track() as t:
    spec = importlib.util.spec_from_file_location("late_testalloc", sys.argv[1])
    late = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(late)  # dlopen while tracking: its calls are hooked at once
    late.native(0, 12345, 4)  # line 7
print(json.dumps([
    (s.line, s.native_at_peak["native"]) for s in t.profile.lines()
    if s.file == __file__ and s.native_at_peak.get("native")
]))
"""


def test_a_library_loaded_after_tracking_started(tmp_path: Path) -> None:
    library = build_testalloc(tmp_path, "late_testalloc")
    script = tmp_path / "late.py"
    script.write_text(textwrap.dedent(LATE).lstrip("\n"))
    result = subprocess.run(
        [sys.executable, str(script), str(library)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[7, 12345 * 4]]
