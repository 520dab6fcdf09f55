"""How the terminal report names files: as their reader knows them, never climbing out of the
working directory (issue 13: `../../srv/jobs/points.py:16`, wrapped over four table rows)."""

import os
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import pytest

from memslim.report.terminal import _where, short_path


def test_files_under_the_working_directory_are_relative(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert short_path(str(tmp_path / "jobs" / "points.py")) == os.path.join("jobs", "points.py")


def test_installed_packages_from_the_package_on() -> None:
    purelib = sysconfig.get_path("purelib")
    assert short_path(os.path.join(purelib, "pandas", "io", "common.py")) == (
        "site-packages/" + os.path.join("pandas", "io", "common.py")
    )
    # Another interpreter's packages (a virtualenv this one does not know).
    other = os.path.join(os.sep, "opt", "venv", "lib", "python3.9", "site-packages")
    assert short_path(os.path.join(other, "numpy", "core.py")) == "site-packages/" + os.path.join(
        "numpy", "core.py"
    )


def test_standard_library_by_its_name_there() -> None:
    assert short_path(threading.__file__) == "<stdlib>/threading.py"


def test_elsewhere_absolute_and_pseudo_files_unchanged(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    outside = os.path.join(os.sep, "srv", "jobs", "points.py")
    assert short_path(outside) == outside
    assert short_path("<frozen importlib._bootstrap>") == "<frozen importlib._bootstrap>"


def test_cut_from_the_left_keeps_the_name_and_line() -> None:
    where = _where(os.path.join(os.sep, "srv", "a" * 50, "points.py"), 16, width=20)
    assert len(where) == 20
    assert where.startswith("…") and where.endswith("points.py:16")


def test_a_deep_script_run_from_elsewhere_fits_one_row(tmp_path: Path) -> None:
    deep = tmp_path / "srv" / "analytics" / "nightly" / "jobs"
    deep.mkdir(parents=True)
    script = deep / "points.py"
    script.write_text("kept = [str(i) * 3 for i in range(100_000)]\n")
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--no-census", str(script)],
        capture_output=True, text=True, cwd=elsewhere, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stderr.splitlines() if "points.py:1 " in line]
    # The location is on one row of the table (not folded), with its bytes beside it.
    assert len(rows) == 1, result.stderr
    assert "MiB" in rows[0]
    assert ".." + os.sep not in result.stderr


def terminal_bytes(
    argv: list[str], columns: int, cwd: Path, env: dict[str, str] | None = None
) -> bytes:
    """What ``argv`` writes to a pseudo-terminal ``columns`` wide (which turns "\\n" into
    "\\r\\n"), run with ``env`` (by default this process's, less COLUMNS and LINES)."""
    import fcntl
    import pty
    import struct
    import termios

    if env is None:
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(argv, stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(timeout=300) == 0
    return b"".join(chunks)


def run_in_terminal(argv: list[str], columns: int, cwd: Path) -> str:
    """What ``argv`` prints to a pseudo-terminal ``columns`` wide (escape codes removed,
    carriage returns kept: see visible_lines)."""
    import re

    text = terminal_bytes(argv, columns, cwd).decode("utf-8", "replace").replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def visible_lines(shown: str) -> list[str]:
    """The lines a terminal is left showing: a carriage return starts its line again (the
    progress line is rewritten that way, and erased before the report prints over it)."""
    return [line.rsplit("\r", 1)[-1] for line in shown.split("\n")]


def test_the_report_fits_a_100_column_terminal(tmp_path: Path) -> None:
    """Every table row within 100 columns, and every number whole (a squeezed column once
    showed "433.9" for 433.9 KiB)."""
    example = Path(__file__).parents[2] / "examples" / "inventory.py"
    shown = run_in_terminal([sys.executable, "-m", "memslim", "run", str(example)], 100, tmp_path)
    lines = visible_lines(shown)
    assert "line by line" in shown and "Objects by type and allocation site" in shown
    assert [line for line in lines if len(line.rstrip()) > 100] == []
    title = next(n for n, line in enumerate(lines) if "line by line" in line)
    rows = []
    for line in lines[title + 4 :]:  # the title, the top border, the header, its rule
        if not line.startswith("│"):
            break
        rows.append([cell.strip() for cell in line.split("│")[1:-1]])
    assert rows
    for cells in rows:
        assert cells[1].endswith("B") and cells[3].endswith("B"), cells  # 433.9 KiB, 0 B


def test_a_census_child_writes_nothing_on_the_programs_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A census child walks while the program runs on: a progress line of its own was joined by
    the program's next print when a walk passed 2 s (under AddressSanitizer: "memslim: heap
    census: walking objects 32768, 2.0 s50000 items in 4 warehouses"). With every progress line
    shown at once, inventory.py's censuses, all forked, show none, and the program's line is a
    line of its own."""
    example = Path(__file__).parents[2] / "examples" / "inventory.py"
    monkeypatch.setenv("MEMSLIM_PROGRESS_AFTER", "0")
    shown = run_in_terminal([sys.executable, "-m", "memslim", "run", str(example)], 120, tmp_path)
    assert "memslim: heap census" not in shown
    assert any(line.startswith("50000 items in 4 warehouses") for line in shown.split("\n"))
    assert "Objects by type and allocation site" in shown  # censuses were taken


def test_the_end_of_a_run_shows_its_steps_on_a_terminal_only(tmp_path: Path) -> None:
    """Progress on the steps after the program (issue 13): shown on a terminal once they take
    MEMSLIM_PROGRESS_AFTER seconds (2 by default; 0 here, so that it shows whatever the
    machine's speed), erased before the report; never on a pipe."""
    script = tmp_path / "job.py"
    script.write_text("kept = [str(i) * 3 for i in range(100_000)]\n")
    argv = [sys.executable, "-m", "memslim", "run", str(script)]
    os.environ["MEMSLIM_PROGRESS_AFTER"] = "0"
    try:
        shown = run_in_terminal(argv, 120, tmp_path)
        piped = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    finally:
        del os.environ["MEMSLIM_PROGRESS_AFTER"]
    assert "memslim: reading the tracker's tables" in shown
    assert shown.index("memslim: reading") < shown.index("Top lines of the program")
    assert piped.returncode == 0 and "Top lines of the program" in piped.stderr
    assert "memslim: reading" not in piped.stderr


def test_a_bad_progress_setting_never_costs_the_report(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text("kept = [str(i) for i in range(10_000)]\n")
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", str(script)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "MEMSLIM_PROGRESS_AFTER": "soon"},
    )  # fmt: skip
    assert ran.returncode == 0 and "Top lines of the program" in ran.stderr, ran.stderr


def terminal_screen(argv: list[str], columns: int, cwd: Path, env: dict[str, str]) -> list[str]:
    """The lines a terminal ``columns`` wide is left showing after ``argv`` ran in it: its
    bytes (terminal_bytes) drawn by pyte, a VT100/xterm emulator (lines wrap when a character
    comes after the last column)."""
    import pyte  # the test extra's

    screen = pyte.Screen(columns, 2000)  # tall enough that nothing scrolls away
    pyte.ByteStream(screen).feed(terminal_bytes(argv, columns, cwd, env))
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize(
    ("program", "shown"),
    [
        # The last line left unfinished, on stdout and then on stderr.
        ('print("done.", end="")', ["done."]),
        ('import sys\nprint("one")\nsys.stderr.write("progress 50%")', ["one", "progress 50%"]),
        # One character on the line (the spaces' wrap then needs all of them), and a full line.
        ('print("x", end="")', ["x"]),
        ('print("y" * 80, end="")', ["y" * 80]),
        # Finished lines: the report follows at once, with no blank line.
        ('print("done.")', ["done."]),
        ('print("a")\nprint("b" * 80)', ["a", "b" * 80]),
    ],
)
@pytest.mark.parametrize("progress", [False, True])
def test_the_report_starts_on_a_line_of_its_own(
    tmp_path: Path, program: str, shown: list[str], progress: bool
) -> None:
    """What the program printed stays on the terminal as python leaves it, and the report
    starts on the next line: not on the program's unfinished last line (nor does the progress
    line, shown at once with ``progress``, erase it), and with no blank line after a finished
    one. Truth: python running the program in the same terminal."""
    script = tmp_path / "job.py"
    script.write_text(program + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    env["MEMSLIM_PROGRESS_AFTER"] = "0" if progress else "600"
    plain = terminal_screen([sys.executable, str(script)], 80, tmp_path, env)
    assert plain == shown  # the emulator shows the program's lines as expected
    argv = [sys.executable, "-m", "memslim", "run", str(script)]
    under = terminal_screen(argv, 80, tmp_path, env)
    assert under[: len(plain)] == plain
    assert under[len(plain)].startswith("memslim"), under[: len(plain) + 2]
