"""`memslim run --verify` (issue 14 item 4): the mechanical fixes applied in a copy of the
current directory, the program run there as it is and patched. Truth: tracemalloc's peaks of
the program and of its patched copy (`git apply`), in processes without memslim; the programs'
own output; the user's files after the run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_patch import PROGRAM, _apply_copy, _run, tracemalloc_peak

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git applies the patch")


def _verified(tmp_path: Path, source: str) -> tuple[subprocess.CompletedProcess, dict]:
    """``source`` as job.py in ``tmp_path``, run by `memslim run --verify --json r.json`: the
    run and its report."""
    (tmp_path / "job.py").write_text(source)
    ran = _run(tmp_path, "-m", "memslim", "run", "--verify", "--json", "r.json", "job.py")
    return ran, json.loads((tmp_path / "r.json").read_text())


def test_verify_measures_what_the_fixes_save_and_keeps_the_output(tmp_path: Path) -> None:
    original, patched = tmp_path / "original", tmp_path / "patched"
    original.mkdir()
    # A file the program appends to: the verification runs work in copies, never on it.
    (original / "job.py").write_text(PROGRAM + "open('log.txt', 'a').write('ran\\n')\n")
    ran = _run(original, "-m", "memslim", "run", "--verify", "--json", "r.json",
               "--patch", "fix.diff", "job.py")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert (original / "log.txt").read_text() == "ran\n"
    verify = json.loads((original / "r.json").read_text())["verify"]
    assert sorted(a["kind"] for a in verify["applied"]) == ["generator", "slots", "slots"]
    assert all(a["gone"] for a in verify["applied"])
    assert verify["same_output"] and verify["same_exit"]
    assert "output and exit status the same" in " ".join(ran.stderr.split())
    # The peaks' difference against tracemalloc's, for the program and its patched copy.
    _apply_copy(original, patched)
    peak = tracemalloc_peak(original)
    truth = peak - tracemalloc_peak(patched)
    assert abs(verify["measured_bytes"] - truth) <= 0.05 * truth, (verify, truth)
    # Each fix alone: the program with that one change, written here by hand, under tracemalloc.
    by_hand = {
        "generator": PROGRAM.replace(
            "sum([p.x * 3 for p in points])", "sum(p.x * 3 for p in points)"
        ),
        "Point": PROGRAM.replace(
            "    def __init__(self, x, y):",
            '    __slots__ = ("x", "y")\n\n    def __init__(self, x, y):',
        ),
        "Pair": PROGRAM.replace("@dataclasses.dataclass\n", "@dataclasses.dataclass(slots=True)\n"),
    }
    for key, text in by_hand.items():
        assert text != PROGRAM, key
        (alone := tmp_path / key).mkdir()
        (alone / "job.py").write_text(text)
        saved = peak - tracemalloc_peak(alone)
        [entry] = [a for a in verify["applied"] if key in (a["kind"], a["symbol"])]
        measured = entry["measured_alone_bytes"]
        assert abs(measured - saved) <= 0.05 * saved, (key, entry, saved)


def test_verify_says_when_a_fix_changes_the_output(tmp_path: Path) -> None:
    # A slotted class has no __dict__: a program that prints whether it has one changes.
    ran, report = _verified(
        tmp_path,
        "class Point:\n"
        "    def __init__(self, x):\n"
        "        self.x = x\n"
        "points = [Point(i) for i in range(300_000)]\n"
        "print(hasattr(points[0], '__dict__'))\n",
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "True\n"
    verify = report["verify"]
    assert [a["kind"] for a in verify["applied"]] == ["slots"]
    assert verify["same_exit"] and not verify["same_output"]
    assert "the output differs" in " ".join(ran.stderr.split())


def test_verify_without_a_fix_says_so_and_leaves_the_exit_status(tmp_path: Path) -> None:
    ran, report = _verified(tmp_path, "import sys\nprint('small')\nsys.exit(3)\n")
    assert ran.returncode == 3
    assert ran.stdout == "small\n"
    assert "Verify: not done: no finding of this run has a mechanical fix." in ran.stderr
    assert report["verify"] == {"error": "no finding of this run has a mechanical fix"}


def test_verify_tells_a_fixed_line_from_another_of_the_same_kind(tmp_path: Path) -> None:
    """Two int64 arrays whose values fit uint8, on two lines: `dtype=` fixes the first; the
    second (a remainder) is the author's. The first is gone after the patch, the second is not.
    Before, findings were matched by kind and dtype alone: the first was "still found"."""
    pytest.importorskip("numpy")
    ran, report = _verified(
        tmp_path,
        "import numpy as np\n"
        "\n"
        "a = np.full(3_000_000, 7, dtype=np.int64)\n"
        "b = np.arange(3_000_000) % 200\n"
        "print(int(a.sum()), int(b.sum()))\n",
    )
    assert ran.returncode == 0, ran.stderr
    assert sorted((f["kind"], f["line"]) for f in report["findings"]) == [
        ("dtype", 3),
        ("dtype", 4),
    ]
    verify = report["verify"]
    assert [(a["kind"], a["line"], a["gone"]) for a in verify["applied"]] == [("dtype", 3, True)]
    # Truth: 3,000,000 items of 8 bytes become 1 byte each.
    assert abs(verify["measured_bytes"] - 21_000_000) <= 0.05 * 21_000_000, verify
    assert verify["same_output"] and verify["same_exit"]


def test_verify_names_the_fix_that_changed_the_output(tmp_path: Path) -> None:
    """Two fixes, each run alone too: the slots fix changes what the program prints (a slotted
    instance has no __dict__), the generator fix does not. Truth: the program's own output."""
    ran, report = _verified(
        tmp_path,
        "class Point:\n"
        "    def __init__(self, x):\n"
        "        self.x = x\n"
        "\n"
        "def main():\n"
        "    points = [Point(i) for i in range(300_000)]\n"
        "    total = sum([p.x * 3 for p in points])\n"
        "    print(hasattr(points[0], '__dict__'), total)\n"
        "\n"
        "main()\n",
    )
    assert ran.returncode == 0, ran.stderr
    verify = report["verify"]
    by_kind = {a["kind"]: a for a in verify["applied"]}
    assert set(by_kind) == {"slots", "generator"}, verify
    assert by_kind["slots"]["alone_same_output"] is False
    assert by_kind["generator"]["alone_same_output"] is True
    assert not verify["same_output"]
    assert "alone it changed the output" in " ".join(ran.stderr.split())


def test_a_run_longer_than_its_limit_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    """A patched run may take ten times the original's time (and 30 s more): a fix that bounded
    a recursive memo made a 1.2 s program take 15.5 s, minutes for a larger grid, and --verify
    waited without a bound. Here a program that sleeps for minutes (and starts a child of its
    own) under a limit of ten seconds (time enough to start on a busy machine): the run is
    stopped, with its child."""
    import os
    import time

    from memslim.verify import VerifyError, _run

    (tmp_path / "job.py").write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    began = time.monotonic()
    with pytest.raises(VerifyError, match="did not end within 10 s"):
        _run(str(tmp_path), str(tmp_path / "r.json"), ["job.py"], [], 10.0)
    assert time.monotonic() - began < 300  # the program alone sleeps 600 s
    pid = int((tmp_path / "child.pid").read_text())
    # The child is gone, or a zombie of a parent that was killed (reaped by init soon).
    for _ in range(200):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break
        if state == "Z":
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        raise AssertionError("the run's child was left running")
