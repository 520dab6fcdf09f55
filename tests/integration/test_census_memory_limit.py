"""A program in a memory cgroup with a limit it fits under python: under memslim it must still
fit, with no process of the cgroup killed by the kernel (Kubernetes' ``memory.oom.group`` kills
every process of a container when one is), and the report says which censuses the limit left
out (forked_census.ForkedCensuses.no_room_to_fork).

The truth is the kernel's: the cgroup's own count of out-of-memory kills and of its peak usage.
The test makes a cgroup of its own under this process's (it needs to be allowed to: root, or a
delegated cgroup), and skips where it cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    "MEMSLIM_SANITIZED" in os.environ,
    reason="AddressSanitizer's shadow memory and quarantine need more than the limit allows",
)

# 900,000 small dicts held to the end, built in one comprehension and summed: the heap grows
# steadily (a census at every margin) and a full collection runs while census children walk.
PROGRAM = """\
rows = [{"id": i, "name": "n%d" % i, "v": float(i)} for i in range(900_000)]
print("rows", len(rows), int(sum(r["v"] for r in rows)))
"""


class Cgroup:
    """A memory cgroup made for the test under this process's own: v1 or v2."""

    def __init__(self, path: Path, v1: bool) -> None:
        self.path = path
        self.v1 = v1

    def limit(self, limit_bytes: int) -> None:
        name = "memory.limit_in_bytes" if self.v1 else "memory.max"
        (self.path / name).write_text(str(limit_bytes))

    def run(self, command: list[str], cwd: Path) -> subprocess.CompletedProcess:
        """``command`` run inside the cgroup (a shell that joins it, then execs it)."""
        join = f'echo $$ > "{self.path}/cgroup.procs" && exec "$@"'
        return subprocess.run(
            ["sh", "-c", join, "sh", *command],
            capture_output=True, text=True, cwd=cwd, timeout=300, check=False,
        )  # fmt: skip

    def oom_kills(self) -> int:
        """The kernel's count of processes it killed in this cgroup for memory."""
        name = "memory.oom_control" if self.v1 else "memory.events"
        for line in (self.path / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        pytest.skip(f"this kernel counts no oom_kill in {name}")

    def peak_bytes(self) -> int:
        name = "memory.max_usage_in_bytes" if self.v1 else "memory.peak"
        try:
            return int((self.path / name).read_text())
        except OSError:
            pytest.skip(f"this kernel has no {name}")


def _own_memory_cgroup() -> tuple[Path, bool] | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path("/sys/fs/cgroup/memory") / path.lstrip("/"), True
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        here = Path("/sys/fs/cgroup") / path.lstrip("/")
        if controllers == "" and "memory" in _read(here / "cgroup.subtree_control").split():
            return here, False
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@contextmanager
def memory_cgroup() -> Iterator[Cgroup]:
    found = _own_memory_cgroup()
    if found is None:
        pytest.skip("no memory cgroup controller for this process")
    parent, v1 = found
    path = parent / f"memslim-test-{uuid.uuid4().hex[:12]}"
    try:
        path.mkdir()
    except OSError as e:
        pytest.skip(f"cannot make a memory cgroup here ({e})")
    try:
        yield Cgroup(path, v1)
    finally:
        path.rmdir()  # its processes have all exited


def test_a_program_that_fits_its_limit_under_python_fits_it_under_memslim(tmp_path: Path) -> None:
    script = tmp_path / "rows.py"
    script.write_text(PROGRAM)
    with memory_cgroup() as group:
        plain = group.run([sys.executable, str(script)], tmp_path)
        assert plain.returncode == 0, plain.stderr
        peak = group.peak_bytes()
    report = tmp_path / "report.json"
    with memory_cgroup() as group:
        # Room for memslim's own bookkeeping (a tenth of the program's here), not for the
        # census children a run without a limit forks up to the peak (about as much again).
        group.limit(peak * 3 // 2)
        run = group.run(
            [sys.executable, "-m", "memslim", "run", "--json", str(report), str(script)],
            tmp_path,
        )
        killed = group.oom_kills()
    assert (run.returncode, run.stdout) == (0, plain.stdout), run.stderr
    assert killed == 0
    said = [line for line in run.stderr.splitlines() if line.startswith("memslim: ")]
    assert any("not taken under the memory cgroup's limit" in line for line in said), said
    forked = json.loads(report.read_text())["census"]["forked"]
    assert forked["no_room"] > 0
    assert forked["killed_from_outside"] == 0
