"""memslim._files.run_directory: a run's temporary directory, and the ones that killed runs left
behind removed, never another live process's."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from memslim._files import run_directory


def _namespace() -> int:
    return os.stat("/proc/self/ns/pid").st_ino


def _dead_pid() -> int:
    """The pid of a process that has ended and been reaped (checked with the OS)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)
    return child.pid


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.mark.skipif(not os.path.exists("/proc/self/ns/pid"), reason="no PID namespaces here")
def test_a_killed_runs_directory_goes_and_every_other_stays(temp: Path) -> None:
    ns, dead = _namespace(), _dead_pid()
    orphan = temp / f"memslim-census-{ns}-{dead}-abcd1234"
    orphan.mkdir()
    (orphan / "census-00001.pickle").write_bytes(b"x" * 4096)
    kept = [
        temp / f"memslim-census-{ns}-{os.getpid()}-live0001",  # a live process's
        temp / f"memslim-census-{ns + 1}-{dead}-otherns1",  # another PID namespace's
        temp / f"memslim-children-{ns}-{dead}-otherkind",  # another kind's
        temp / "memslim-census-q1w2e3r4",  # an older name, without a pid
    ]
    for path in kept:
        path.mkdir()
    not_a_directory = temp / f"memslim-census-{ns}-{dead}-file"
    not_a_directory.write_text("mine")
    link = temp / f"memslim-census-{ns}-{dead}-link"
    link.symlink_to(kept[0])

    made = Path(run_directory("census"))

    assert not orphan.exists()
    for path in [*kept, not_a_directory, link]:
        assert path.exists() or path.is_symlink(), path
    assert made.parent == temp and made.is_dir()
    assert made.name.startswith(f"memslim-census-{ns}-{os.getpid()}-")
    # Made for this process, which is alive: the next run leaves it.
    again = Path(run_directory("census"))
    assert made.is_dir() and again != made


def test_an_unreadable_temporary_directory_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError):  # mkdtemp's own error, as before: not the sweep's
        run_directory("census")
