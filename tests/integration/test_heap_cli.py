"""Saved heap snapshots: `memslim heap FILE [--baseline OLD]`, and a fuzzed loader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SAVE_TWO = """
import sys
import memslim

class Leak:
    def __init__(self, i):
        self.i = i

memslim.save_snapshot(sys.argv[1])
kept = [Leak(i) for i in range(30_000)]
memslim.save_snapshot(sys.argv[2])
"""


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("snapshots")
    before, after = folder / "before.msh", folder / "after.msh"
    script = folder / "save_two.py"
    script.write_text(SAVE_TWO)
    subprocess.run([sys.executable, str(script), str(before), str(after)], check=True, timeout=120)
    return before, after


def memslim_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memslim", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_heap_report_with_growth(snapshots: tuple[Path, Path]) -> None:
    before, after = snapshots
    result = memslim_cli("heap", str(after), "--baseline", str(before))
    assert result.returncode == 0, result.stderr
    assert "Objects by type" in result.stderr
    growth = result.stderr.split("Growth since the baseline")[1]
    first_row = next(line for line in growth.splitlines() if "__main__.Leak" in line)
    assert "+30,000" in first_row


def test_loaded_census_matches_the_saved_heap(snapshots: tuple[Path, Path]) -> None:
    import memslim

    _, after = snapshots
    heap = memslim.load_snapshot(str(after))
    leak = next(t for t in heap.types if t.name == "__main__.Leak")
    assert leak.count == 30_000
    assert leak.retained >= leak.bytes


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "truncated snapshot"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 0x01]), "checksum mismatch"),
        (lambda b: b[:8] + bytes([7]) + b[9:], "newer than this memslim reads"),
        (lambda b: b"GIF89a" + b[6:], "not a memslim heap snapshot"),
    ],
)
def test_damaged_files_give_one_line_errors(
    snapshots: tuple[Path, Path], tmp_path: Path, damage: object, message: str
) -> None:
    _, after = snapshots
    bad = tmp_path / "bad.msh"
    bad.write_bytes(damage(after.read_bytes()))  # type: ignore[operator]
    result = memslim_cli("heap", str(bad))
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_directory_is_not_a_snapshot(tmp_path: Path) -> None:
    result = memslim_cli("heap", str(tmp_path))  # it said "0 bytes, too short"
    assert result.returncode == 1
    assert result.stderr == f"memslim: {str(tmp_path)!r} is a directory, not a heap snapshot\n"


FUZZ = """
import random, sys
import memslim
data = open(sys.argv[1], "rb").read()
rng = random.Random(1234)
rejected = 0
for i in range(300):
    b = bytearray(data)
    if i % 2:
        del b[rng.randrange(len(b)):]
    else:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    with open(sys.argv[2], "wb") as f:
        f.write(b)
    try:
        memslim.load_snapshot(sys.argv[2])
    except ValueError:
        rejected += 1
print(rejected)
"""


def test_fuzzed_loader_never_crashes(snapshots: tuple[Path, Path], tmp_path: Path) -> None:
    before, _ = snapshots
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZ)
    result = subprocess.run(
        [sys.executable, str(script), str(before), str(tmp_path / "fuzzed.msh")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 295
