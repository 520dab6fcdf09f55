"""Censuses walked in the program's process (a thread inside a native library without the GIL:
a fork could leave it waiting forever, see forked_census.ForkUnsafe) stop the program for the
whole walk: the JSON counts them and the time they took (`census.forked.in_process`), and they
still see the program's objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import thread_without_gil
from tests.integration.test_run import memslim_run

PROGRAM = (
    "import importlib.util, sys, threading\n"
    "records = [str(i) * 5 for i in range(200_000)]\n"
    "# From here on a thread is inside a native module that released the GIL.\n"
    + thread_without_gil(1)
    + """for step in range(20):
    records.extend(str(i) * 5 for i in range(step * 20_000, (step + 1) * 20_000))
    done = step
release.set()
other.join()
print(len(records), done)
"""
)


def run_with_testalloc(
    tmp_path: Path, program: str, testalloc_path: str, stdout: str, *options: str
) -> dict:
    """``program`` run under ``memslim run *options`` with the test extension's path as its
    first argument: its JSON report, once the program printed ``stdout`` and exited 0."""
    script = tmp_path / "program.py"
    script.write_text(program)
    out = tmp_path / "report.json"
    done = memslim_run(*options, "--json", str(out), str(script), testalloc_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == stdout
    return json.loads(out.read_text())


def test_objects_grown_beside_a_thread_without_the_gil_are_censused_in_process(
    tmp_path: Path, testalloc_path: str
) -> None:
    report = run_with_testalloc(tmp_path, PROGRAM, testalloc_path, "600000 19\n")
    costs = report["census"]["forked"]
    assert costs["in_process"] >= 1, costs
    assert costs["in_process_seconds"] > 0
    # The census the report reads saw the records near the peak: 600,000 strings at the end.
    census = report["census"]
    assert census["traced_bytes"] >= 0.9 * report["peak"]["traced_bytes"], census
    strings = next(row for row in census["types"] if row["type"] == "str")
    assert strings["count"] >= 0.9 * 600_000, strings


NATIVE_GROWTH = (
    "import importlib.util, sys, threading\n"
    "records = [str(i) * 5 for i in range(200_000)]\n"
    + thread_without_gil(1)
    + """for step in range(20):
    testalloc.native(0, 1 << 20, 8)  # 8 MiB of the C allocator's a step, no object
release.set()
other.join()
print(len(records))
"""
)


@pytest.mark.parametrize("mode", ["exact", "sample"])
def test_the_program_is_not_stopped_to_walk_what_a_census_already_saw(
    tmp_path: Path, testalloc_path: str, mode: str
) -> None:
    # Native memory grows 12-fold beside a thread without the GIL: each of the mode's margins
    # passed asks for a census, which could only be walked in the program's process, and would
    # see the same 200,000 strings as the census before the growth. None is walked (exact mode
    # walked 16 before 2026-12-07: pandas 3.1's parallel read_csv stood still for them).
    report = run_with_testalloc(tmp_path, NATIVE_GROWTH, testalloc_path, "200000\n", "--mode", mode)
    assert report["census"]["forked"]["in_process"] == 0, report["census"]["forked"]
    # The census the report reads still saw the program's strings (the truth: 200,000 made).
    strings = next(row for row in report["census"]["types"] if row["type"] == "str")
    assert strings["count"] >= 0.9 * 200_000, strings
