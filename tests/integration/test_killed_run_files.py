"""A run killed with SIGKILL (the OOM killer's way) cannot remove its temporary directories;
the next run removes them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

KILLS_ITSELF = """\
import os, signal
blobs = [bytes(1 << 20) for _ in range(40)]  # a census forks on the way up
os.kill(os.getpid(), signal.SIGKILL)
"""


def memslim_run(temp: Path, script: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memslim", "run", str(script)],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "TMPDIR": str(temp)},
    )  # fmt: skip


def leftovers(temp: Path) -> list[str]:
    return sorted(p.name for p in temp.iterdir() if p.name.startswith("memslim-"))


def test_the_next_run_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    killed = tmp_path / "killed.py"
    killed.write_text(KILLS_ITSELF)
    ran = memslim_run(temp, killed)
    assert ran.returncode == -signal.SIGKILL, ran.stderr
    left = leftovers(temp)
    # Its censuses' directory and its child processes' captures' directory.
    assert any(name.startswith("memslim-census-") for name in left), left
    assert any(name.startswith("memslim-children-") for name in left), left

    fine = tmp_path / "fine.py"
    fine.write_text("print('done')\n")
    ran = memslim_run(temp, fine)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "done\n"
    assert leftovers(temp) == []
