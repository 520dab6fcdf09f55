"""What memslim does in the program's process while it tracks (its runner before and after the
program, its checkpoints' thread, the set-up of a forked child) is not a line of the program's:
a program that calls no library allocates at its own lines only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_run import memslim_run, run_program, tracemalloc_reference

# Allocates only at its own lines, in the parent and in a forked child; no library, no thread.
FORKS = """\
import os
data = [str(i) * 3 for i in range(20000)]
pid = os.fork()
if pid == 0:
    more = [bytes(100) for _ in range(10000)]
    os._exit(0)
os.waitpid(pid, 0)
print("parent done")
"""


def report_of(tmp_path: Path, *options: str, source: str = FORKS) -> dict:
    script = tmp_path / "forks.py"
    script.write_text(source)
    out = tmp_path / "report.json"
    ran = memslim_run("--json", str(out), *options, str(script), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "parent done\n"
    return json.loads(out.read_text())


@pytest.mark.parametrize("options", [(), ("-o", "run.capture")], ids=["plain", "capture"])
def test_every_line_reported_is_the_programs(tmp_path: Path, options: tuple[str, ...]) -> None:
    report = report_of(tmp_path, *options)
    script = str(tmp_path / "forks.py")
    assert [row["file"] for row in report["lines"]] == [script] * len(report["lines"])
    rows = report["lines_across_processes"]
    assert len({row["pid"] for row in rows}) == 2  # the parent and its forked child
    assert {row["file"] for row in rows} == {script}, [
        (row["file"], row["line"]) for row in rows if row["file"] != script
    ]
    # The parent's report: the lines that ran in the parent.
    assert {row["line"] for row in report["lines"] if row["allocations"]} <= {2, 3, 7, 8}


def test_a_fork_after_the_programs_own_warning_filter_costs_what_it_costs_python(
    tmp_path: Path,
) -> None:
    """memslim's os.fork wrapper (3.12+, children.quiet_fork_warning) allocates nothing of the
    program's: not the file it reads the thread count from, nor its warning filter, put first
    again when the program set one ahead of it (which also made the interpreter's warning
    show, and its source lines read: 65 KB more at the peak). Truth: tracemalloc's peak for the
    same program under python, in a process of its own; the fork itself differs by about
    1.2 KB (3.12, 3.13: memslim's after-fork hooks) and 0.3 KB (3.11)."""
    source = "import warnings; warnings.simplefilter('default')\n" + FORKS
    report = report_of(tmp_path, source=source)
    expected = tracemalloc_reference(tmp_path, tmp_path / "forks.py")["peak"]
    peak = report["peak"]["traced_bytes"]
    assert abs(peak - expected) <= 2048, (peak, expected)


@pytest.mark.parametrize(
    "source",
    ["pass\n", 'x = [0] * 1000\ny = "a" * 5000\ndel x, y\n'],
    ids=["nothing", "list-and-string"],
)
def test_the_runner_adds_nothing_to_the_peak(tmp_path: Path, source: str) -> None:
    # Before, the runner's own work around the program (its __main__ module, the outcome, the
    # wait for threads, the with blocks that untrack it) was counted: an empty program peaked
    # at 1,320 B, 1,168 more than tracemalloc's 152.
    # The truth: tracemalloc's peak for exec of the same code in a fresh __main__, in a
    # separate process (what the interpreter itself allocates to run it: 3.11's function
    # object for the module's code, 152 B).
    script = tmp_path / "small.py"
    report, _ = run_program(script, source, "")
    expected = tracemalloc_reference(tmp_path, script)["peak"]
    peak = report["peak"]["traced_bytes"]
    assert abs(peak - expected) <= 64, (peak, expected)
