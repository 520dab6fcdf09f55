"""`memslim attach PID` (issue 12, item 3): a census of a running process, which keeps running
and exits as it would have. Truth: the number of instances the service made (arithmetic)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None, reason="memslim attach needs gdb")

SERVICE = """
import os, sys, time

class Item:
    def __init__(self, i):
        self.name = f"item{i}"
        self.size = i
        self.tags = None

items = [Item(i) for i in range(300_000)]
grown = []
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    grown.append(bytearray(1000))  # what grows while tracked
    time.sleep(0.005)
print("bye", len(items), flush=True)
"""


def line_of(marker: str) -> int:
    return next(n for n, text in enumerate(SERVICE.splitlines(), 1) if marker in text)


@pytest.fixture
def service(tmp_path: Path):
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    stop = tmp_path / "stop"
    process = subprocess.Popen(
        [sys.executable, str(script), str(stop)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    yield process, stop
    stop.touch()
    if process.poll() is None:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def attach(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memslim", "attach", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_attach_counts_the_instances_and_the_process_runs_on(service, tmp_path: Path) -> None:
    process, stop = service
    out = tmp_path / "answer.json"
    ran = attach(str(process.pid), "--json", str(out))
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(out.read_text())
    assert answer["pid"] == process.pid
    types = {row["type"]: row for row in answer["census"]["types"]}
    assert types["__main__.Item"]["count"] == 300_000
    assert any(
        r["path"] == "module __main__ → global 'items'" for r in answer["census"]["retainers"]
    )
    slots = [f for f in answer["findings"] if f["kind"] == "slots"]
    assert slots and slots[0]["symbol"] == "Item" and slots[0]["count"] == 300_000
    assert "__main__.Item" in ran.stderr and "[slots]" in ran.stderr
    # The service was not stopped or changed: it still runs, then ends as it would have.
    assert process.poll() is None
    stop.touch()
    out_text, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert out_text == "bye 300000\n"


def test_attach_with_track_shows_what_grew(service, tmp_path: Path) -> None:
    process, stop = service
    out = tmp_path / "answer.json"
    ran = attach(str(process.pid), "--track", "1", "--json", str(out))
    assert ran.returncode == 0, ran.stderr
    tracked = json.loads(out.read_text())["tracked"]
    assert tracked["seconds"] >= 1.0
    rows = [r for r in tracked["lines"] if r["line"] == line_of("# what grows while tracked")]
    assert rows, tracked["lines"][:5]
    # Each loop made one 1000-byte bytearray (its buffer and its object), none freed: what
    # the line allocated in the window is live, but for the list's own resizes.
    assert rows[0]["allocations"] >= 2
    assert rows[0]["live_bytes"] >= 1000 * rows[0]["allocations"] // 2
    assert rows[0]["live_bytes"] >= 0.9 * rows[0]["allocated_bytes"]
    assert "What grew" in ran.stderr
    stop.touch()
    out_text, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and out_text == "bye 300000\n"


def test_attach_refuses_what_it_cannot_attach_to() -> None:
    gone = attach("999999999")
    assert gone.returncode == 2
    assert gone.stderr.strip() == "memslim: no process 999999999"
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        ran = attach(str(sleeper.pid))
        assert ran.returncode == 2
        assert ran.stderr.strip() == (
            f"memslim: process {sleeper.pid} is not a CPython interpreter memslim can recognise"
        )
        assert sleeper.poll() is None  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()


def test_attach_to_another_python_version_says_which_to_use(tmp_path: Path) -> None:
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [shutil.which(f"python{v}") for v in ("3.12", "3.13", "3.11") if v != mine]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for python in sorted(pyenv.glob("3.1[123].*/bin/python3")):
        if not python.parts[-3].startswith(mine + "."):
            candidates.append(str(python))
    others = [  # those that run (a pyenv shim of a version not enabled does not)
        p
        for p in candidates
        if p is not None
        and subprocess.run([p, "-c", "import sys; sys.exit(sys.version_info[:2] < (3, 11))"],
                           capture_output=True, check=False).returncode == 0
    ]  # fmt: skip
    if not others:
        pytest.skip("no other CPython version on this machine")
    waiting = subprocess.Popen(
        [others[0], "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert waiting.stdout is not None and waiting.stdout.readline() == "ready\n"
        ran = attach(str(waiting.pid))
        assert ran.returncode == 2
        assert "-m memslim attach" in ran.stderr and ran.stderr.count("\n") == 1
    finally:
        waiting.communicate("", timeout=60)
    assert waiting.returncode == 0  # it went on and ended normally


def test_attach_checks_its_arguments(tmp_path: Path) -> None:
    bad = attach(str(os.getpid()), "--track", "-1")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
