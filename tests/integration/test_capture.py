"""Capture files: `memslim run -o FILE`, checkpointed while the program runs, and
`memslim report FILE` (issue 12, item 1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memslim.capture import CaptureError, decode, read_capture

MIB = 1 << 20


def memslim(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memslim", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_a_capture_reads_back_as_the_run_reported_it(tmp_path: Path) -> None:
    script = tmp_path / "points.py"
    script.write_text(
        "class Point:\n"
        "    def __init__(self, x, y):\n"
        "        self.x = x\n"
        "        self.y = y\n"
        "points = [Point(i, 2 * i) for i in range(100_000)]\n"
        "print(len(points))\n"
    )
    capture, direct = tmp_path / "run.capture", tmp_path / "run.json"
    ran = memslim("run", "-o", str(capture), "--json", str(direct), str(script))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "100000\n"  # the program's output is its own
    out = tmp_path / "again.json"
    shown = memslim("report", str(capture), "--json", str(out))
    assert shown.returncode == 0, shown.stderr
    again = json.loads(out.read_text())
    assert again.pop("capture") == {"complete": True, "written_s": pytest.approx(
        again["duration_s"], abs=0.5)}  # fmt: skip
    assert again == json.loads(direct.read_text())
    # The terminal report names the same top line, with the run's figures.
    assert f"{script.name}:5" in shown.stderr
    assert "exact mode — peak traced" in shown.stderr
    # The heaviest function, as the run showed it; its title wraps where the temporary
    # directory's path is long (under xdist).
    assert "line by line" in " ".join(shown.stderr.split())
    assert "did not end" not in shown.stderr


GROWS_THEN_WAITS = """
import sys
blobs = []
for _ in range(100):
    blobs.append(bytes(1 << 20))  # 100 MiB in all, at line 5
print("ready", flush=True)
sys.stdin.read()  # until killed
"""


def test_a_killed_run_leaves_its_last_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "grows.py"
    script.write_text(GROWS_THEN_WAITS)
    capture = tmp_path / "killed.capture"
    proc = subprocess.Popen(
        [sys.executable, "-m", "memslim", "run", "-o", str(capture), str(script)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout.readline() == b"ready\n"
        # Wait for a checkpoint that holds the whole 100 MiB (each bytes object: 1 MiB and
        # its header) and a census taken near it, however long a busy machine takes to write
        # it (a census child walks, then the next checkpoint carries its census).
        deadline = time.monotonic() + 120
        while True:
            try:
                checkpoint = read_capture(str(capture)).report
                seen = checkpoint["peak"]["traced_bytes"]
                census = checkpoint.get("census", {}).get("traced_bytes", 0)
            except CaptureError:
                seen = census = 0  # not written yet
            if seen >= 100 * MIB and census >= 0.95 * seen:
                break
            assert time.monotonic() < deadline, f"no such checkpoint (last: {seen}, {census})"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()  # closes the pipes
    assert proc.returncode == -signal.SIGKILL
    out = tmp_path / "killed.json"
    shown = memslim("report", str(capture), "--json", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "did not end" in shown.stderr
    report = json.loads(out.read_text())
    assert report["capture"]["complete"] is False
    assert report["exit_code"] is None
    top = report["lines"][0]
    assert (top["file"], top["line"]) == (str(script), 5)
    assert top["bytes_at_peak"] >= 100 * MIB
    # The census of a killed run: at 95% of the peak or more, at least 95 of the 100 blobs.
    assert "its census is the last one taken by then" in " ".join(shown.stderr.split())
    blobs = [t for t in report["census"]["types"] if t["type"] == "bytes"]
    assert blobs and blobs[0]["count"] >= 95 and blobs[0]["bytes"] >= 95 * MIB


def test_every_truncation_and_a_foreign_file_are_one_line_errors(tmp_path: Path) -> None:
    script = tmp_path / "small.py"
    script.write_text("kept = [str(i) for i in range(20_000)]\n")
    capture = tmp_path / "small.capture"
    assert memslim("run", "-o", str(capture), str(script)).returncode == 0
    data = capture.read_bytes()
    assert decode(data).complete
    for cut in range(0, len(data), 1000):
        with pytest.raises(CaptureError) as error:
            decode(data[:cut])
        assert "\n" not in str(error.value)
    # The command says it in one line too, with status 1: a cut file, a flipped byte, a file
    # that is not a capture, and one from a newer memslim.
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    newer = bytearray(data)
    newer[8:12] = (99).to_bytes(4, "little")
    cases = {
        "cut": (data[: len(data) // 2], "truncated capture"),
        "flipped": (bytes(flipped), "checksum mismatch"),
        "foreign": (b'{"schema": "memslim/1"}\n', "not a memslim capture"),
        "newer": (bytes(newer), "upgrade memslim"),
    }
    for name, (content, message) in cases.items():
        bad = tmp_path / f"{name}.capture"
        bad.write_bytes(content)
        shown = memslim("report", str(bad))
        assert shown.returncode == 1, (name, shown.stderr)
        assert shown.stderr.startswith("memslim: ") and message in shown.stderr, name
        assert shown.stderr.count("\n") == 1, (name, shown.stderr)
    missing = memslim("report", str(tmp_path / "absent.capture"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1


def test_checkpoints_leave_the_program_alone(tmp_path: Path) -> None:
    # memslim's checkpoint thread is not one of the program's threads, and the run's output and
    # exit status are the program's own.
    script = tmp_path / "threads.py"
    script.write_text(
        "import sys, threading, time\n"
        "kept = []\n"
        "for i in range(40):\n"
        "    kept.append(bytes(1 << 20))\n"
        "    time.sleep(0.01)\n"
        "print(threading.active_count(), [t.name for t in threading.enumerate()])\n"
        "sys.exit(3)\n"
    )
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    capture = tmp_path / "threads.capture"
    ran = memslim("run", "-o", str(capture), str(script))
    assert (ran.returncode, ran.stdout) == (plain.returncode, plain.stdout) == (3, plain.stdout)
    report = read_capture(str(capture))
    assert report.complete and report.report["exit_code"] == 3
    assert report.report["peak"]["traced_bytes"] >= 40 * MIB
