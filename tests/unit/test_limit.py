"""`memslim run --limit SIZE` (issue 14 item 5): sizes as operators write them, the cgroup's
limit, and which findings together bring the peak under. Truth: arithmetic on the sizes, a
cgroup tree written by the test, and the plain program's peak RSS measured by the kernel
(getrusage of a child run without memslim)."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from memslim.limit import cgroup_headroom, cgroup_limit, fit, parse_size

MIB = 1 << 20


@pytest.mark.parametrize(
    "text, size",
    [
        ("2GiB", 2 << 30),
        ("2G", 2 << 30),
        ("2g", 2 << 30),
        ("2GB", 2 * 10**9),
        ("512MiB", 512 << 20),
        ("512M", 512 << 20),
        ("1.5g", 3 << 29),
        ("100kb", 100_000),
        ("4096", 4096),
        (" 64 KiB ", 64 << 10),
    ],
)
def test_sizes_as_operators_write_them(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GiB", "2XB", "-1G", "0", "1e9", "2 G B"])
def test_what_is_not_a_size_is_said_in_one_sentence(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_smallest_limit_of_the_cgroup_and_its_ancestors(tmp_path: Path) -> None:
    # cgroup v2: this process in /a/b; /a is limited to 3 GiB, /a/b has none ("max").
    _write(tmp_path / "proc/self/cgroup", "0::/a/b\n")
    _write(tmp_path / "sys/fs/cgroup/a/b/memory.max", "max\n")
    _write(tmp_path / "sys/fs/cgroup/a/memory.max", f"{3 << 30}\n")
    assert cgroup_limit(str(tmp_path)) == 3 << 30
    _write(tmp_path / "sys/fs/cgroup/a/b/memory.max", f"{1 << 30}\n")
    assert cgroup_limit(str(tmp_path)) == 1 << 30


def test_no_limit_where_none_is_set(tmp_path: Path) -> None:
    assert cgroup_limit(str(tmp_path)) is None  # no /proc
    _write(tmp_path / "proc/self/cgroup", "0::/\n")
    _write(tmp_path / "sys/fs/cgroup/memory.max", "max\n")
    assert cgroup_limit(str(tmp_path)) is None
    # cgroup v1 says "no limit" with a page-rounded 2**63 - 1.
    _write(tmp_path / "proc/self/cgroup", "4:memory:/job\n1:cpu:/job\n")
    _write(tmp_path / "sys/fs/cgroup/memory/job/memory.limit_in_bytes", "9223372036854771712\n")
    assert cgroup_limit(str(tmp_path)) is None
    _write(tmp_path / "sys/fs/cgroup/memory/job/memory.limit_in_bytes", f"{512 << 20}\n")
    assert cgroup_limit(str(tmp_path)) == 512 << 20


def test_the_headroom_is_the_least_any_limited_cgroup_has_left(tmp_path: Path) -> None:
    # cgroup v2: /a limited to 3 GiB with 2 GiB in use, 512 MiB of it inactive file pages (the
    # kernel reclaims them first); /a/b limited to 2 GiB with 1.25 GiB in use.
    _write(tmp_path / "proc/self/cgroup", "0::/a/b\n")
    _write(tmp_path / "sys/fs/cgroup/a/memory.max", f"{3 << 30}\n")
    _write(tmp_path / "sys/fs/cgroup/a/memory.current", f"{2 << 30}\n")
    _write(
        tmp_path / "sys/fs/cgroup/a/memory.stat",
        f"anon {1 << 30}\nactive_file 7\ninactive_file {512 << 20}\n",
    )
    _write(tmp_path / "sys/fs/cgroup/a/b/memory.max", f"{2 << 30}\n")
    _write(tmp_path / "sys/fs/cgroup/a/b/memory.current", f"{1280 << 20}\n")
    # /a: 3072 - (2048 - 512) = 1536 MiB left; /a/b: 2048 - 1280 = 768 MiB (no memory.stat).
    assert cgroup_headroom(str(tmp_path)) == (768 << 20, 2 << 30)
    _write(tmp_path / "sys/fs/cgroup/a/b/memory.max", "max\n")
    assert cgroup_headroom(str(tmp_path)) == (1536 << 20, 3 << 30)
    # Over the limit by the count (a usage read between two reclaims): nothing left, not less.
    _write(tmp_path / "sys/fs/cgroup/a/memory.current", f"{4 << 30}\n")
    assert cgroup_headroom(str(tmp_path)) == (0, 3 << 30)


def test_the_headroom_under_cgroup_v1(tmp_path: Path) -> None:
    # v1 counts the subtree in usage_in_bytes and its inactive file pages as total_inactive_file.
    _write(tmp_path / "proc/self/cgroup", "4:memory:/job\n0::/\n")
    _write(tmp_path / "sys/fs/cgroup/memory/job/memory.limit_in_bytes", f"{1 << 30}\n")
    _write(tmp_path / "sys/fs/cgroup/memory/job/memory.usage_in_bytes", f"{600 << 20}\n")
    _write(
        tmp_path / "sys/fs/cgroup/memory/job/memory.stat",
        f"inactive_file {50 << 20}\ntotal_inactive_file {100 << 20}\n",
    )
    _write(tmp_path / "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    assert cgroup_headroom(str(tmp_path)) == ((1024 - 500) << 20, 1 << 30)
    # No limit anywhere: no headroom to speak of.
    _write(tmp_path / "sys/fs/cgroup/memory/job/memory.limit_in_bytes", "9223372036854771712\n")
    assert cgroup_headroom(str(tmp_path)) is None


def _finding(kind: str, saving: int, lossy: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        kind=kind, file="job.py", line=1, saving_bytes=saving, lossy=lossy, time_only=False
    )


def test_the_largest_savings_first_until_the_peak_fits() -> None:
    findings = [_finding("tuple", 10 * MIB), _finding("slots", 40 * MIB), _finding("intern", 30)]
    verdict = fit(100 * MIB, "--limit", 140 * MIB, findings)
    assert not verdict.fits and verdict.fits_after
    assert [f.kind for f in verdict.chosen] == ["slots"]
    assert verdict.peak_after_bytes == 100 * MIB
    verdict = fit(95 * MIB, "--limit", 140 * MIB, findings)
    assert [f.kind for f in verdict.chosen] == ["slots", "tuple"]
    assert fit(200 * MIB, "cgroup", 140 * MIB, findings).chosen == []


def test_lossy_findings_are_never_chosen_for_a_limit() -> None:
    findings = [_finding("dtype", 80 * MIB, lossy=True), _finding("slots", 10 * MIB)]
    verdict = fit(100 * MIB, "--limit", 140 * MIB, findings)
    assert [f.kind for f in verdict.chosen] == ["slots"] and not verdict.fits_after
    assert verdict.peak_after_bytes == 130 * MIB


PROGRAM = """
class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y
points = [Point(i, 2 * i) for i in range(400_000)]
print(len(points))
"""


def _limited(tmp_path: Path, limit: str) -> dict:
    out = tmp_path / "report.json"
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--limit", limit, "--json", str(out), "job.py"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "Memory limit" in ran.stderr
    return json.loads(out.read_text())["limit"]


def test_a_run_says_whether_the_peak_fits_and_what_brings_it_under(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    # The program's own peak RSS as the kernel measures it, without memslim: a fresh process
    # whose only child is the program (this one's children include every earlier test's).
    measure = (
        "import resource, subprocess, sys\n"
        "subprocess.run([sys.executable, 'job.py'], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", measure], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    plain = int(ran.stdout) * 1024
    roomy = _limited(tmp_path, "64GiB")
    assert roomy["fits"] and roomy["findings"] == []
    # memslim's estimate of the program's peak: above the plain run's (memslim's imported code
    # stays in it), within 20%. (Not under scripts/sanitize.sh: AddressSanitizer's shadow
    # memory, most of the RSS there, grows with memslim's own allocations too.)
    if "MEMSLIM_SANITIZED" not in os.environ:
        assert plain <= roomy["peak_bytes"] <= 1.2 * plain
    tight = _limited(tmp_path, "1MiB")
    assert not tight["fits"] and not tight["fits_after"]
    (slots,) = tight["findings"]
    assert slots["kind"] == "slots" and slots["saving_bytes"] > 400_000 * 16
    # A limit between the peak with and without the fix: the fix alone brings it under.
    between = roomy["peak_bytes"] - slots["saving_bytes"] // 2
    middle = _limited(tmp_path, str(between))
    assert not middle["fits"] and middle["fits_after"]
    assert [f["kind"] for f in middle["findings"]] == ["slots"]


def test_a_capture_and_the_html_page_say_what_the_run_said_of_the_limit(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(PROGRAM)
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--limit", "1MiB", "-o", "run.mslm",
         "--html", "run.html", "job.py"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    page = html.unescape((tmp_path / "run.html").read_text())
    said = " ".join(ran.stderr.split())
    assert "does not fit" in said and "[slots] job.py:" in said
    assert said[said.index("Memory limit") :].split(" [slots]")[0] in " ".join(page.split())
    shown = subprocess.run(
        [sys.executable, "-m", "memslim", "report", "run.mslm"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr

    def verdict(text: str) -> str:
        words = " ".join(text.split())
        return words[words.index("Memory limit") :]

    assert verdict(shown.stderr) == verdict(ran.stderr)
