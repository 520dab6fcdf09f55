"""Censuses walked in the program's process (a thread inside a native library without the GIL:
a fork could leave it waiting forever, see forked_census.ForkUnsafe) stop the program for the
whole walk: the JSON counts them and the time they took (`census.forked.in_process`), and they
still see the program's objects."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import build_testalloc

PROGRAM = textwrap.dedent(
    """
    import importlib.util, sys, threading
    spec = importlib.util.spec_from_file_location("_memslim_testalloc", sys.argv[1])
    testalloc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(testalloc)
    inside, release = threading.Event(), threading.Event()


    def wait():
        inside.set()
        release.wait()


    records = [str(i) * 5 for i in range(200_000)]
    # From here on a thread is inside a native module that released the GIL.
    other = threading.Thread(target=testalloc.call_without_gil, args=(wait,))
    other.start()
    inside.wait()
    for step in range(20):
        records.extend(str(i) * 5 for i in range(step * 20_000, (step + 1) * 20_000))
        done = step
    release.set()
    other.join()
    print(len(records), done)
    """
)


@pytest.fixture(scope="module")
def testalloc_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_testalloc(tmp_path_factory.mktemp("testalloc_census")))


def test_objects_grown_beside_a_thread_without_the_gil_are_censused_in_process(
    tmp_path: Path, testalloc_path: str
) -> None:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--json", str(out), str(script),
         testalloc_path],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "600000 19\n"
    report = json.loads(out.read_text())
    costs = report["census"]["forked"]
    assert costs["in_process"] >= 1, costs
    assert costs["in_process_seconds"] > 0
    # The census the report reads saw the records near the peak: 600,000 strings at the end.
    census = report["census"]
    assert census["traced_bytes"] >= 0.9 * report["peak"]["traced_bytes"], census
    strings = next(row for row in census["types"] if row["type"] == "str")
    assert strings["count"] >= 0.9 * 600_000, strings
