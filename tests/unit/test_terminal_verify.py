"""What --verify prints (report/terminal.py print_verify): a patched run whose exit status
changed (a fix broke the program, which then ended early) saved nothing that counts, and its
findings say nothing; a fix that changed the exit status alone is named. Before, such a run read
"saved 61.6 MiB against 11.4 MiB predicted" and "gone after the patch"."""

from __future__ import annotations

import io

from rich.console import Console

from memslim.advice._finding import Finding
from memslim.report.terminal import print_verify
from memslim.verify import Ran, Verified


def _finding(kind: str, line: int) -> Finding:
    return Finding(kind, "/srv/job.py", line, "Rec", 300_000, 12 << 20, 1 << 20, "", "")


def _printed(verified: Verified) -> str:
    out = io.StringIO()
    print_verify(verified, console=Console(file=out, width=200, color_system=None))
    return out.getvalue()


def test_a_patched_run_that_failed_claims_no_saving() -> None:
    original = Ran(0, b"ok\n", 80 << 20, [])
    patched = Ran(1, b"", 10 << 20, [])  # crashed at its first lines: a small peak
    verified = Verified(
        [(_finding("slots", 3), True), (_finding("generator", 9), True)],
        original,
        patched,
        alone=[70 << 20, 10 << 20],
        alone_exit=[1, 0],
    )
    text = _printed(verified)
    assert "saved" not in text.replace("alone it saved", "")
    assert "no saving measured, against 22.0 MiB predicted" in text
    assert "alone it changed the exit status (0 → 1)" in text  # the slots fix
    assert "alone it saved 10.0 MiB" in text  # the generator's, which kept the status
    assert "gone after the patch" not in text
    assert text.count("not known after the patch (the patched run failed)") == 2
    assert "the exit status differs (0 → 1)" in text


def test_a_patched_run_that_kept_its_status_says_what_it_saved() -> None:
    verified = Verified(
        [(_finding("slots", 3), True)], Ran(0, b"ok\n", 80 << 20, []), Ran(0, b"ok\n", 68 << 20, [])
    )
    text = _printed(verified)
    assert "saved 12.0 MiB against 11.0 MiB predicted; output and exit status the same" in text
    assert "gone after the patch" in text


def test_the_fix_that_changed_the_output_alone_is_named() -> None:
    verified = Verified(
        [(_finding("cycle", 3), True), (_finding("generator", 9), True)],
        Ran(0, b"bits 44749823\n", 80 << 20, []),
        Ran(0, b"bits 0\n", 60 << 20, []),
        alone=[12 << 20, 8 << 20],
        alone_exit=[0, 0],
        alone_same_output=[False, True],
    )
    lines = _printed(verified).splitlines()
    (cycle,) = [line for line in lines if "[cycle]" in line]
    (generator,) = [line for line in lines if "[generator]" in line]
    assert "alone it saved 12.0 MiB; alone it changed the output;" in cycle
    assert "changed the output" not in generator
