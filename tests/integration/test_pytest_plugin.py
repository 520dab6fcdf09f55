"""memslim's pytest plugin (issue 13, item 3): the limit_memory and limit_leaks markers and
`pytest --memslim`, in a pytest run of their own (loaded through the pytest11 entry point, as
installing memslim does). Truth: the sizes the tests allocate (arithmetic on bytes objects)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memslim.pytest_plugin import parse_size

SUITE = """
import pytest

kept = []

@pytest.mark.limit_memory("8 MB")
def test_over_the_limit():
    big = bytes(20 * 1024 * 1024)  # 20 MiB held at the peak
    del big

@pytest.mark.limit_memory("64 MB")
def test_under_the_limit():
    big = bytes(12 * 1024 * 1024)  # not 20: the summary's order must not hang on a few bytes
    del big

@pytest.mark.limit_leaks("1 MB")
def test_leaks():
    kept.append(bytes(5 * 1024 * 1024))  # 5 MiB kept by a module global

@pytest.mark.limit_leaks("1 MB")
def test_frees_what_it_allocates():
    data = [bytes(1024) for _ in range(5000)]
    del data

def test_unmarked():
    bytes(30 * 1024 * 1024)
"""


def run_suite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return run_test_file(tmp_path, "test_suite.py", SUITE, "-rA", *args)


def line_of(marker: str) -> int:
    return next(n for n, text in enumerate(SUITE.splitlines(), 1) if marker in text)


def test_markers_fail_the_tests_over_their_limits(tmp_path: Path) -> None:
    ran = run_suite(tmp_path)
    out = ran.stdout
    assert ran.returncode == 1, out
    assert "FAILED test_suite.py::test_over_the_limit" in out
    assert "FAILED test_suite.py::test_leaks" in out
    for passed in ("test_under_the_limit", "test_frees_what_it_allocates", "test_unmarked"):
        assert f"PASSED test_suite.py::{passed}" in out
    # The failures name the size and the line: 20 MiB at the peak, 5 MiB kept.
    assert "the test's peak was 20.0 MiB, over its limit of 8.0 MiB" in out
    assert f"test_suite.py:{line_of('# 20 MiB held at the peak')}" in out
    assert "5.0 MiB allocated by the test is still allocated after it" in out
    assert f"test_suite.py:{line_of('# 5 MiB kept by a module global')}" in out
    assert "global 'kept'" in out  # what keeps it: the census's path from the module


def test_memslim_option_lists_the_highest_peaks(tmp_path: Path) -> None:
    ran = run_suite(tmp_path, "--memslim", "--memslim-top", "2")
    assert "memslim: the tests with the highest peaks" in ran.stdout
    summary = ran.stdout.split("memslim: the tests with the highest peaks")[1].splitlines()[1:3]
    assert summary[0].split() == ["30.0", "MiB", "test_suite.py::test_unmarked"]
    assert summary[1].split() == ["20.0", "MiB", "test_suite.py::test_over_the_limit"]


def run_test_file(
    tmp_path: Path, name: str, source: str, *args: str
) -> subprocess.CompletedProcess:
    """pytest (with ``args``), in a process of its own, on one test file of ``source``."""
    (tmp_path / name).write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", name, *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip


def test_without_markers_or_option_nothing_is_tracked(tmp_path: Path) -> None:
    ran = run_test_file(tmp_path, "test_plain.py", (
        "import memslim\n"
        "def test_tracks_itself():\n"
        "    with memslim.track() as t:\n"
        "        x = bytes(1000)\n"
        "    assert t.peak_bytes >= 1000\n"
    ))  # fmt: skip
    assert ran.returncode == 0, ran.stdout


@pytest.mark.parametrize(
    "text, size",
    [("24 MB", 24 << 20), ("512KiB", 512 << 10), ("1.5 GB", 3 << 29), ("100", 100), (64, 64)],
)
def test_sizes_read_like_pytest_memray(text: str | int, size: int) -> None:
    assert parse_size(text) == size


def test_a_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size("lots")
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size(-5)


def test_a_marker_without_a_size_fails_its_test_with_a_message(tmp_path: Path) -> None:
    """`limit_memory()` raised an IndexError inside the plugin."""
    ran = run_test_file(tmp_path, "test_bad.py", (
        "import pytest\n"
        "@pytest.mark.limit_memory()\n"
        "def test_no_size():\n"
        "    pass\n"
        "@pytest.mark.limit_leaks(-5)\n"
        "def test_negative():\n"
        "    pass\n"
    ))  # fmt: skip
    assert ran.returncode == 1, ran.stdout
    assert "memslim: limit_memory needs a size, as in limit_memory('24 MB')" in ran.stdout
    assert "memslim: not a memory size: -5" in ran.stdout
    assert "IndexError" not in ran.stdout and "2 failed" in ran.stdout


def test_xdist_workers_peaks_reach_the_summary(tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    ran = run_suite(tmp_path, "-n", "2", "--memslim")
    assert "FAILED test_suite.py::test_over_the_limit" in ran.stdout  # markers in workers
    summary = ran.stdout.split("memslim: the tests with the highest peaks")[1].splitlines()[1:3]
    assert summary[0].split() == ["30.0", "MiB", "test_suite.py::test_unmarked"]
    assert summary[1].split() == ["20.0", "MiB", "test_suite.py::test_over_the_limit"]


def test_under_memslim_run_the_unchecked_limits_are_listed(tmp_path: Path) -> None:
    """`memslim run -m pytest` tracks the whole process, so no test is tracked on its own: the
    limits were not checked, and the over-the-limit test passed with nothing said where a
    passing run shows it (its report section)."""
    (tmp_path / "test_suite.py").write_text(SUITE)
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "-m", "pytest", "-p", "no:cacheprovider",
         "-q", "test_suite.py"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert "memslim: 4 test(s) with limit_memory/limit_leaks not checked" in ran.stdout
    assert "test_suite.py::test_over_the_limit" in ran.stdout.split("not checked")[1]
    assert "5 passed" in ran.stdout  # outcomes as a run that checks nothing: none failed


LIBRARY_SUITE = """
import numpy as np
import pytest

BEFORE = [bytes(100) for _ in range(100_000)]  # 13 MiB, held before any test runs
CACHE = {}  # made before the tests too; a test leaks into it


@pytest.mark.limit_memory("16 MB")
def test_a_library_allocates():
    ones = np.ones(4_000_000)  # 32,000,000 bytes, in NumPy's own code
    assert ones.sum() == 4_000_000


@pytest.mark.limit_leaks("1 MB")
def test_leaks_into_an_old_cache():
    for i in range(30_000):
        CACHE[i + 1000] = f"{i:>60}"  # about 3 MiB of strings kept, none with a node of its own
"""


def test_failures_name_the_tests_lines_and_what_keeps_the_tests_bytes(tmp_path: Path) -> None:
    """A test's NumPy call is charged to the test's own line (NumPy's line under it), as
    `memslim run` charges a program's; and what keeps a leak is what keeps the test's bytes, not
    the largest structure of the heap (BEFORE, four times the leak's size, from before the
    test). Truth: the sizes the suite allocates."""
    pytest.importorskip("numpy")
    ran = run_test_file(tmp_path, "test_lib.py", LIBRARY_SUITE)
    out = ran.stdout
    assert ran.returncode == 1, out
    peak = out.split("the lines holding the most at the peak:")[1].splitlines()
    ones_line = next(n for n, text in enumerate(LIBRARY_SUITE.splitlines(), 1) if "np.ones" in text)
    # The first line is the test's, with the array's 30.5 MiB; NumPy's line is under it.
    assert peak[1].split()[:3] == ["30.5", "MiB", f"test_lib.py:{ones_line}"], out
    assert "↳" in peak[2] and "numpy" in peak[2], out
    keeps = out.split("what keeps the most alive now:")[1].splitlines()[1:]
    assert "global 'CACHE'" in keeps[0], out
    # The leak's bytes, brute force: the strings and ints (in pymalloc's 16-byte blocks), and
    # at most the dict's table too.
    cache = {i + 1000: f"{i:>60}" for i in range(30_000)}
    block = lambda o: -(-sys.getsizeof(o) // 16) * 16  # noqa: E731
    least = sum(block(k) + block(v) for k, v in cache.items()) / 2**20
    most = least + sys.getsizeof(cache) / 2**20
    assert keeps[0].split()[1] == "MiB", out
    assert least - 0.05 <= float(keeps[0].split()[0]) <= most + 0.05, (least, most, out)
    assert "BEFORE" not in out.split("what keeps the most alive now:")[1].split("___")[0], out
