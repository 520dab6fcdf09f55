"""Savings in the terms operators use: does the program's peak fit a memory limit, and which
findings together bring it under (``memslim run --limit SIZE``, or the cgroup's limit when the
program runs in a container)?

The peak compared is the program's own peak RSS: the peak RSS under memslim less memslim's own
memory at the census nearest the peak (the RSS ledger's row), which is what the program would
hold without memslim, as near as this run can tell. A finding's saving is taken off it byte for
byte. Findings are chosen greedily, largest saving first, lossy ones (a narrower float dtype)
never: a limit is not a reason to lose precision silently.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "kb": 10**3,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 10**6,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")

# cgroup v1 writes a page-rounded 2**63 - 1 for "no limit"; anything this large is none.
_NO_LIMIT = 1 << 60


def parse_size(text: str) -> int:
    """Bytes from ``2GiB``, ``2G`` (binary, as Docker and ulimit read it), ``2GB`` (decimal),
    ``512MiB``, ``1.5g`` or a plain number of bytes. ValueError, with a sentence, otherwise."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"not a size: {text!r} (a number with B, K/KiB, M/MiB, G/GiB, T/TiB, or KB/MB/GB/TB)"
        )
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise ValueError(f"not a size: {text!r} (it must be more than 0 bytes)")
    return size


def cgroup_limit(root: str = "/") -> int | None:
    """The smallest memory limit of this process's cgroup and its ancestors (cgroup v2
    ``memory.max``, v1 ``memory.limit_in_bytes``), or None where there is none. ``root``: where
    /proc and /sys are (tests)."""
    limits = [limit for _directory, _v1, limit in _limited_cgroups(root)]
    return min(limits) if limits else None


def cgroup_headroom(root: str = "/") -> tuple[int, int] | None:
    """(bytes left, limit) of the limited cgroup among this process's and its ancestors that
    has the least left, or None where none is limited. What is left is the limit less the
    cgroup's working set: its usage (v2 ``memory.current``, v1 ``memory.usage_in_bytes``, both
    counting the whole subtree) less its inactive file pages (``memory.stat``), which the kernel
    reclaims before it kills anything, as Kubernetes counts it. ``root`` as cgroup_limit's."""
    tightest: tuple[int, int] | None = None
    for directory, v1, limit in _limited_cgroups(root):
        usage = _read_number(os.path.join(directory, _USAGE[v1]))
        if usage is None:
            continue
        inactive = _stat_field(os.path.join(directory, "memory.stat"), _INACTIVE_FILE[v1])
        left = max(0, limit - max(0, usage - (inactive or 0)))
        if tightest is None or left < tightest[0]:
            tightest = (left, limit)
    return tightest


_USAGE = {False: "memory.current", True: "memory.usage_in_bytes"}
_INACTIVE_FILE = {False: "inactive_file", True: "total_inactive_file"}  # v1: the subtree's


def _limited_cgroups(root: str) -> list[tuple[str, bool, int]]:
    """(directory, whether cgroup v1, limit) of this process's memory cgroup and each of its
    ancestors that has a limit, innermost first."""
    try:
        with open(os.path.join(root, "proc/self/cgroup"), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found: list[tuple[str, bool, int]] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _id, controllers, path = parts
        if controllers == "":
            base, v1 = os.path.join(root, "sys/fs/cgroup"), False
        elif "memory" in controllers.split(","):
            base, v1 = os.path.join(root, "sys/fs/cgroup/memory"), True
        else:
            continue
        name = "memory.limit_in_bytes" if v1 else "memory.max"
        here = path.strip("/")
        while True:
            directory = os.path.join(base, here)
            value = _read_limit(os.path.join(directory, name))
            if value is not None:
                found.append((directory, v1, value))
            if not here:
                break
            here = os.path.dirname(here)
    return found


def _read_limit(path: str) -> int | None:
    value = _read_number(path)  # None for "max"
    return value if value is not None and 0 < value < _NO_LIMIT else None


def _read_number(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat_field(path: str, key: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return None


@dataclass(frozen=True)
class Chosen:
    """A finding as a limit's verdict names it (read back from a report)."""

    kind: str
    file: str
    line: int
    saving_bytes: int


@dataclass(frozen=True)
class Fit:
    limit_bytes: int
    source: str  # "--limit" or "cgroup"
    peak_bytes: int  # the program's own peak RSS (see the module's docstring)
    chosen: list[Any]  # the findings that together bring the peak under, largest first
    peak_after_bytes: int  # the peak with them applied

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.limit_bytes

    @property
    def fits_after(self) -> bool:
        return self.peak_after_bytes <= self.limit_bytes

    def describe(self) -> tuple[str, list[str]]:
        """The verdict in words, and one line per chosen finding (the terminal and the HTML
        page say the same)."""
        from memslim._units import format_bytes

        where = "--limit" if self.source == "--limit" else "this process's cgroup"
        head = (
            f"Memory limit {format_bytes(self.limit_bytes)} ({where}): the program's peak RSS "
            f"{format_bytes(self.peak_bytes)} (memslim's own memory left out) "
        )
        if self.fits:
            spare = format_bytes(self.limit_bytes - self.peak_bytes)
            return head + f"fits, with {spare} to spare.", []
        over = format_bytes(self.peak_bytes - self.limit_bytes)
        saved = format_bytes(self.peak_bytes - self.peak_after_bytes)
        after = format_bytes(self.peak_after_bytes)
        if not self.chosen:
            verdict = f"does not fit: {over} over, and no finding saves memory to bring it under."
        elif self.fits_after:
            verdict = (
                f"does not fit: {over} over. These findings together save {saved} and bring it "
                f"to {after}:"
            )
        else:
            verdict = (
                f"does not fit: {over} over. Every finding together saves {saved}, which is not "
                f"enough ({after}):"
            )
        lines = [
            f"[{f.kind}] {os.path.basename(f.file)}:{f.line} — saves {format_bytes(f.saving_bytes)}"
            for f in self.chosen
        ]
        return head + verdict, lines

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Fit:
        chosen = [
            Chosen(f["kind"], f["file"], int(f["line"]), int(f["saving_bytes"]))
            for f in row["findings"]
        ]
        return cls(
            int(row["limit_bytes"]),
            str(row["source"]),
            int(row["peak_bytes"]),
            chosen,
            int(row["peak_after_bytes"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "limit_bytes": self.limit_bytes,
            "source": self.source,
            "peak_bytes": self.peak_bytes,
            "fits": self.fits,
            "findings": [
                {"kind": f.kind, "file": f.file, "line": f.line, "saving_bytes": f.saving_bytes}
                for f in self.chosen
            ],
            "peak_after_bytes": self.peak_after_bytes,
            "fits_after": self.fits_after,
        }


def fit(limit_bytes: int, source: str, peak_bytes: int, findings: list[Any]) -> Fit:
    """Which findings, largest saving first, bring ``peak_bytes`` under ``limit_bytes`` (none
    when it fits already; every one that saves something when even all do not suffice)."""
    chosen: list[Any] = []
    after = peak_bytes
    candidates = sorted(
        (f for f in findings if f.saving_bytes > 0 and not f.lossy and not f.time_only),
        key=lambda f: -f.saving_bytes,
    )
    for finding in candidates:
        if after <= limit_bytes:
            break
        chosen.append(finding)
        after -= finding.saving_bytes
    return Fit(limit_bytes, source, peak_bytes, chosen, max(0, after))


def program_peak_rss(peak_rss: int, ledgers: dict[str, Any]) -> int:
    """The program's own peak RSS: the peak under memslim less memslim's own memory at the
    census nearest the peak (else at the end); the peak as it is where neither was read."""
    for when in ("at_peak_census", "end"):
        ledger = ledgers.get(when)
        if ledger is not None:
            return max(0, peak_rss - ledger.memslim)
    return peak_rss
