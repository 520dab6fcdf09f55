"""NumPy's array buffers are traced (NEP 49 handler, cpython/numpy_handler.h): exact sizes at
the line that made them, in threads too, views add nothing, nothing counted twice. Truth comes
from arithmetic (N float64 = 8 N bytes) and from tracemalloc's NumPy domain in a separate
process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_run import run_json

np = pytest.importorskip("numpy")

pytestmark = pytest.mark.numpy

N = 10_000_000
BUFFER = 8 * N

SCRIPT = f"""
import threading
import numpy as np

def in_thread(out):
    out.append(np.ones({N}))  # line 6: a thread's context starts on NumPy's default handler

a = np.ones({N})  # line 8
b = np.zeros({N})  # line 9
v = a[::2]  # line 10: a view
r = b.reshape(1000, {N // 1000})  # line 11: a view
c = a.view()  # line 12
kept = []
t = threading.Thread(target=in_thread, args=(kept,))
t.start()
t.join()
print("ok", v.shape, r.shape, c.shape, len(kept))
"""


def _stack_bytes(report: dict[str, Any], script: Path, line: int) -> int:
    """Bytes at the peak of the stacks passing through ``script:line``."""
    return sum(
        stack["bytes_at_peak"]
        for stack in report["stacks"]
        if any(f["file"] == str(script) and f["line"] == line for f in stack["frames"])
    )


def _line(report: dict[str, Any], script: Path, line: int) -> dict[str, Any] | None:
    for entry in report["lines"]:
        if entry["file"] == str(script) and entry["line"] == line:
            return entry
    return None


@pytest.mark.parametrize("mode", ["exact", "sample"])
def test_array_buffers_at_their_lines(tmp_path: Path, mode: str) -> None:
    script = tmp_path / "arrays.py"
    script.write_text(textwrap.dedent(SCRIPT))
    report, result = run_json(tmp_path, script, "--mode", mode, "--no-census")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok (5000000,) (1000, 10000) (10000000,) 1")

    # Three buffers of 8 N bytes live at the peak and at the end, besides NumPy's few small
    # ones made while it imports (an 80 MB block is always sampled, at its exact weight).
    for moment in ("peak", "end"):
        assert 3 * BUFFER <= report[moment]["by_domain"]["numpy"] < 3 * BUFFER + 4096
    assert report["peak"]["traced_bytes"] == sum(report["peak"]["by_domain"].values())

    # np.zeros is C code: its buffer is charged to the script's line itself.
    zeros = _line(report, script, 9)
    assert zeros is not None
    assert zeros["bytes_at_peak_by_domain"]["numpy"] == BUFFER
    # np.ones is Python code in NumPy: its stack passes through the script's line. Besides the
    # buffer, those stacks allocate under 4 KiB of small objects; in sample mode any of them may
    # be sampled at a whole interval's weight (each with odds under 4096 / interval, about
    # 1.6%), so two such samples are allowed there (three or more: odds below 1e-5).
    slack = 4096
    if mode == "sample":
        slack += 2 * int(report["sample_interval_bytes"])
    ones = _stack_bytes(report, script, 8)
    assert BUFFER <= ones < BUFFER + slack
    threaded = _stack_bytes(report, script, 6)
    assert BUFFER <= threaded < BUFFER + slack
    # Views own no buffer.
    for line in (10, 11, 12):
        entry = _line(report, script, line)
        assert entry is None or "numpy" not in entry["bytes_at_peak_by_domain"], entry


WORK = f"""
import numpy as np
a = np.ones({N})
b = np.arange({N}) % 200
c = a * 2 + b
del a
"""

TRUTH = f"""
import json, tracemalloc
tracemalloc.start()
{WORK}
domain = np.lib.tracemalloc_domain
snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, domain)])
print(json.dumps(sum(stat.size for stat in snapshot.statistics("filename"))))
"""


def test_numpy_bytes_match_tracemalloc_in_another_process(tmp_path: Path) -> None:
    # tracemalloc sees NumPy's buffers through NumPy's own PyTraceMalloc_Track calls: an
    # independent count of the same allocations.
    truth_script = tmp_path / "truth.py"
    truth_script.write_text(textwrap.dedent(TRUTH))
    truth = subprocess.run(
        [sys.executable, str(truth_script)], capture_output=True, text=True, check=True
    )
    expected = json.loads(truth.stdout)
    assert expected >= 2 * BUFFER  # b and c (8 bytes per element each)

    script = tmp_path / "job.py"
    script.write_text(WORK)
    report, result = run_json(tmp_path, script, "--no-census")
    assert result.returncode == 0, result.stderr
    # The same buffers, each counted once (NumPy's import makes a few bytes' worth of small
    # arrays, which either side may see made or freed).
    assert abs(report["end"]["by_domain"]["numpy"] - expected) <= 1024


def test_track_api_installs_and_restores(tmp_path: Path) -> None:
    code = f"""
    import json
    import numpy as np
    import memslim
    from memslim import _core
    with memslim.track() as t:
        a = np.ones({N})
        inside = _core.numpy_handler_installed()
    after = _core.numpy_handler_installed()
    del a  # made while tracking, freed after tracking: NumPy's own free, no crash
    b = np.ones({N})  # after tracking: NumPy's own allocator
    print(json.dumps([inside, after, t.profile.peak_by_domain.get("numpy", 0)]))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    inside, after, numpy_peak = json.loads(result.stdout)
    assert inside is True
    assert after is False
    # np.ones fills its buffer from a 0-d array of the scalar: a few bytes more at the peak.
    assert BUFFER <= numpy_peak < BUFFER + 4096


WHOLE = f"""
import numpy as np
a = np.ones({N})
b = np.arange({N}) % 200
c = a * 2 + b
del a, b
print(float(c[:10].sum()))
"""


def test_whole_program_peak_matches_tracemalloc(tmp_path: Path) -> None:
    # tracemalloc sees Python's allocators and NumPy's buffers (not native code's malloc): the
    # peak of those two domains, in a separate process started with -X tracemalloc, above what
    # the interpreter's start-up holds (memslim starts tracking after it).
    script = tmp_path / "whole.py"
    script.write_text(WHOLE)
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import runpy, sys, tracemalloc, json\n"
        "before = tracemalloc.get_traced_memory()[0]  # the interpreter's start-up, still live\n"
        "tracemalloc.reset_peak()\n"
        "runpy.run_path(sys.argv[1], run_name='__main__')\n"
        "print(json.dumps(tracemalloc.get_traced_memory()[1] - before))\n"
    )
    truth = subprocess.run(
        [sys.executable, "-X", "tracemalloc=1", str(probe), str(script)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    expected = json.loads(truth.stdout.splitlines()[-1])
    report, result = run_json(tmp_path, script, "--no-census")
    assert result.returncode == 0, result.stderr
    by_domain = report["peak"]["by_domain"]
    ours = by_domain["python"] + by_domain["numpy"]
    print(f"memslim {ours}, tracemalloc {expected}")
    assert abs(ours - expected) <= 0.02 * expected, (ours, expected)


def test_pyarrow_pool_is_named_with_its_own_count(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    script = tmp_path / "arrow_job.py"
    script.write_text(
        "import pyarrow as pa\n"
        "strings = pa.array([f's{i}' for i in range(200_000)])\n"
        "pool = pa.default_memory_pool()\n"
        "print(pool.backend_name, pool.bytes_allocated(), pool.max_memory())\n"
    )
    report, done = run_json(tmp_path, script, "--no-census")
    assert done.returncode == 0, done.stderr
    backend, used, most = done.stdout.split()
    untraced = report["memslim"]["untraced"]
    if backend == "system":  # malloc: traced, nothing to say
        assert not any("PyArrow" in line for line in untraced)
        return
    # PyArrow's own count, as the program printed it (the pool is unchanged after its last line).
    note = f"PyArrow's {backend} pool, linked into libarrow, is not seen: by its own count it held"
    assert any(
        line.startswith(note) and f"{int(used):,} bytes at the end and {int(most):,}" in line
        for line in untraced
    ), untraced
    # Its arenas are reserved address space, not counted as held.
    assert report["peak"]["by_domain"]["mmap"] < 1 << 20


def test_the_timeline_splits_traced_bytes_by_domain(tmp_path: Path) -> None:
    """Each timeline point says how much of the traced bytes were NumPy's buffers and native
    memory (issue 13: the HTML timeline draws them). Truth: arithmetic on the arrays' sizes."""
    script = tmp_path / "domains.py"
    script.write_text(
        "import numpy as np\n"
        "b = np.ones(4_000_000)\n"  # 32,000,000 bytes
        "c = np.arange(2_000_000) * 2\n"  # 16,000,000 bytes (arange's own buffer freed)
    )
    html = tmp_path / "report.html"
    report, ran = run_json(tmp_path, script, "--html", str(html))
    assert ran.returncode == 0, ran.stderr
    last = report["timeline"][-1]
    assert last["numpy_bytes"] == pytest.approx(48_000_000, rel=1e-3)
    python = last["traced_bytes"] - last["numpy_bytes"] - last["native_bytes"]
    assert 0 < python < last["traced_bytes"]
    assert 'class="domain numpy"' in html.read_text()
    # A run without NumPy buffers or native memory keeps the timeline as it was.
    plain = tmp_path / "plain.py"
    plain.write_text("kept = [str(i) for i in range(10_000)]\n")
    only, _ = run_json(tmp_path, plain, "--python-only")
    assert "numpy_bytes" not in only["timeline"][-1]


MATMUL_IN_THREADS = """
import numpy as np
from concurrent.futures import ThreadPoolExecutor

def work(k):
    a = np.random.default_rng(k).random((1500, 1500))
    return float((a @ a.T).sum())

with ThreadPoolExecutor(4) as pool:
    print(len(list(pool.map(work, range(8)))))
"""


@pytest.mark.parametrize(
    "options", [["--mode", "exact"], ["--mode", "sample"], ["--python-only"]], ids=" ".join
)
def test_matrix_products_in_threads_do_not_hang_at_a_census(
    tmp_path: Path, options: list[str]
) -> None:
    """A census forked while other threads are in OpenBLAS ran its fork handler, which shuts
    its thread pool down under a product in flight: the program waited forever, every run.
    Censuses taken while threads are in a native library without the GIL walk the heap in the
    program's process instead; the program ends with its own output. --python-only, which
    records no native memory, still counts those threads."""
    script = tmp_path / "matmul.py"
    script.write_text(MATMUL_IN_THREADS)
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "memslim", "run", *options, "--json", str(out), str(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "8\n"
    report = json.loads(out.read_text())
    assert report["census"]["objects"] > 0
    if "--python-only" in options:
        # NumPy's handler is not wrapped. (NumPy 2.5, 3.12's and 3.13's here, allocates its
        # buffers through PyMem, traced as Python's then: a peak of 145 MiB, 8 with NumPy 2.4.)
        assert report["peak"]["by_domain"].get("numpy", 0) == 0
    else:
        # A thread's 1500 x 1500 floats (18 MB) and its product's at least (more threads').
        assert report["peak"]["by_domain"]["numpy"] >= 2 * 8 * 1500 * 1500


# Workers that allocate Python objects between products: their own censuses fork in a worker
# while another may enter OpenBLAS (the count of threads without the GIL was read, then the
# census released the GIL before its fork). Hung 9 runs in 12 on 3.12 once workers took their
# own censuses, and 1 in 6 before (a helper's program, 2026-12-06).
MATMUL_BETWEEN_LISTS = """
import numpy as np
from concurrent.futures import ThreadPoolExecutor

def work(k):
    a = np.random.default_rng(k).random((300, 300))
    keep, s = [], 0.0
    for j in range(40):
        keep.append([str(i) for i in range(15_000)])
        s += float((a @ a).sum())
    return len(keep)

with ThreadPoolExecutor(4) as pool:
    print(list(pool.map(work, range(4))))
"""


@pytest.mark.parametrize("mode", ["exact", "sample"])
def test_workers_that_census_between_matrix_products_do_not_hang(tmp_path: Path, mode: str) -> None:
    script = tmp_path / "pool.py"
    script.write_text(MATMUL_BETWEEN_LISTS)
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-m", "memslim", "run", "--mode", mode, str(script)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.startswith("[40, 40, 40, 40]\n")


NATIVE_TABLE = """
import sqlite3
import numpy as np

def build():
    con = sqlite3.connect(":memory:")
    con.execute("create table t (x text)")
    con.executemany("insert into t values (?)", ((str(i) * 20,) for i in range(60_000)))
    grid = np.add.outer(np.arange(2_000.0), np.arange(2_000.0))
    return con, grid

kept = build()
print("ok")
"""


def test_a_piped_reports_table_cuts_no_number(tmp_path: Path) -> None:
    """Through a pipe the report is 120 columns wide; with the NumPy and native columns the
    table was a character too wide (the library lines under a row were not measured), and the
    numbers were cut to fit: "65.6 M…", "8.5 …"."""
    script = tmp_path / "table.py"
    script.write_text(NATIVE_TABLE)
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "table.py"],  # a short location: table.py:9
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    table = ran.stderr.split("Top lines of the program")[1].split("Top stacks")[0]
    rows = [line for line in table.splitlines()[1:] if line.strip()]
    headers = [h.strip() for h in rows[1].split("┃")[2:7]]
    assert headers == ["at peak", "% peak", "numpy", "native", "allocations"]
    assert all(len(line) <= 120 and line.rstrip()[-1] in "┓┃┩│┘" for line in rows), rows
    cut = [line for line in rows if re.search(r"\d…|[KMG] …|[KMG]i…", line)]
    assert not cut, cut
