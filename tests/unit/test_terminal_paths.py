"""How the terminal report names files: as their reader knows them, never climbing out of the
working directory (issue 13: `../../srv/jobs/points.py:16`, wrapped over four table rows)."""

import os
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

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
