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


def gdb_calls() -> None:
    """Skips a test that needs gdb to call into a process where it cannot (see memslim.attach:
    gdb 13 on a CPU with AMX state). The refusal itself is tested with a gdb that fails."""
    from memslim.attach import gdb_call_problem

    problem = gdb_call_problem(shutil.which("gdb") or "gdb")
    if problem is not None:
        pytest.skip(f"gdb cannot call a function in a process here: {problem}")


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
            process.wait()
    process.stdout.close()  # a test that skipped or failed left it open


def attach(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memslim", "attach", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_attach_counts_the_instances_and_the_process_runs_on(service, tmp_path: Path) -> None:
    gdb_calls()
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
    gdb_calls()
    process, stop = service
    out = tmp_path / "answer.json"
    ran = attach(str(process.pid), "--track", "1", "--json", str(out))
    assert ran.returncode == 0, ran.stderr
    tracked = json.loads(out.read_text())["tracked"]
    assert tracked["seconds"] >= 1.0
    grows = line_of("# what grows while tracked")
    rows = [r for r in tracked["lines"] if r["file"].endswith("service.py") and r["line"] == grows]
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


def test_a_gdb_that_cannot_call_into_a_process_never_touches_the_target(
    service, tmp_path: Path
) -> None:
    # A gdb that answers as gdb 13 does on a CPU with AMX state, and logs whom it was pointed at.
    log = tmp_path / "gdb.log"
    fake = tmp_path / "bin" / "gdb"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {log}\n'
        'echo "Couldn\'t write extended state status: Bad address."\n'
    )
    fake.chmod(0o755)
    process, stop = service
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "attach", str(process.pid)],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert ran.returncode == 2
    assert ran.stderr == (
        "memslim: gdb cannot call a function in a process on this machine (Couldn't write"
        f" extended state status: Bad address.), which would leave process {process.pid}"
        " broken: not attached\n"
    )
    calls = log.read_text().splitlines()
    assert len(calls) == 1 and f"-p {process.pid} " not in calls[0]  # the probe only
    stop.touch()
    out_text, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and out_text == "bye 300000\n"


def test_attach_checks_its_arguments(tmp_path: Path) -> None:
    bad = attach(str(os.getpid()), "--track", "-1")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
