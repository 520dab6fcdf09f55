"""The aggregate of a tracked run: sites, lines, stacks, peak and timeline.

Built once from what the C++ tracker recorded (O(sites), never O(allocations)); the reports and
the JSON output read it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@dataclass(frozen=True)
class FrameInfo:
    file: str
    function: str
    line: int
    code_id: int = field(default=0, compare=False, repr=False)

    @property
    def is_memslim(self) -> bool:
        return self.file.startswith(_PACKAGE_DIR)

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.function}


@dataclass(frozen=True)
class Site:
    """One distinct call stack (innermost frame first) and the bytes charged to it."""

    frames: tuple[FrameInfo, ...]
    bytes_at_peak: int
    bytes_live: int
    allocated_bytes: int
    allocations: int
    gc_freed_bytes: int = 0  # freed by the cyclic GC rather than by reference counting

    @property
    def user_frames(self) -> tuple[FrameInfo, ...]:
        """The frames above memslim's own: a target run by ``memslim run`` sits on memslim's
        runner (and whatever started it); an allocation made by memslim itself has none."""
        for depth, frame in enumerate(self.frames):
            if frame.is_memslim:
                return self.frames[:depth]
        return self.frames


@dataclass
class LineStats:
    file: str
    line: int
    function: str
    bytes_at_peak: int = 0
    bytes_live: int = 0
    allocated_bytes: int = 0
    allocations: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "bytes_at_peak": self.bytes_at_peak,
            "allocated_bytes": self.allocated_bytes,
            "allocations": self.allocations,
        }


@dataclass
class Profile:
    mode: str
    sample_interval_bytes: float
    peak_bytes: int
    current_bytes: int
    peak_seconds: float
    elapsed_seconds: float
    peak_rss_bytes: int
    bookkeeping_bytes: int
    sites: list[Site]
    timeline: list[tuple[float, int, int]]

    @classmethod
    def from_core(cls, raw: dict[str, Any]) -> Profile:
        frames = [FrameInfo(f, n, line, code_id) for f, n, line, code_id in raw["frames"]]
        sites = [
            Site(tuple(frames[i] for i in stack), at_peak, live, allocated, count, gc_freed)
            for at_peak, live, allocated, count, gc_freed, stack in raw["sites"]
        ]
        return cls(
            mode=raw["mode"],
            sample_interval_bytes=raw["sample_interval_bytes"],
            peak_bytes=raw["peak_bytes"],
            current_bytes=raw["current_bytes"],
            peak_seconds=raw["peak_seconds"],
            elapsed_seconds=raw["elapsed_seconds"],
            peak_rss_bytes=raw["peak_rss_bytes"],
            bookkeeping_bytes=raw["bookkeeping_bytes"],
            sites=sites,
            timeline=list(raw["timeline"]),
        )

    def user_sites(self) -> list[Site]:
        """Sites with at least one frame of the user's program (not only memslim's)."""
        return [s for s in self.sites if s.user_frames or not s.frames]

    def lines(self) -> list[LineStats]:
        """Bytes per source line (the innermost frame of each stack), largest at peak first."""
        by_line: dict[tuple[str, int], LineStats] = {}
        for site in self.user_sites():
            frames = site.user_frames
            if frames:
                top = frames[0]
                key, function = (top.file, top.line), top.function
            else:
                key, function = ("<no Python stack>", 0), "<allocated without the GIL>"
            stats = by_line.get(key)
            if stats is None:
                stats = by_line[key] = LineStats(key[0], key[1], function)
            stats.bytes_at_peak += site.bytes_at_peak
            stats.bytes_live += site.bytes_live
            stats.allocated_bytes += site.allocated_bytes
            stats.allocations += site.allocations
        return sorted(
            by_line.values(), key=lambda s: (-s.bytes_at_peak, -s.allocated_bytes, s.file, s.line)
        )

    def stacks(self) -> list[tuple[tuple[FrameInfo, ...], int]]:
        """Distinct stacks (by line, user frames only) with their bytes at peak, largest first."""
        by_stack: dict[tuple[tuple[str, int, str], ...], list[Any]] = {}
        for site in self.user_sites():
            frames = site.user_frames
            key = tuple((f.file, f.line, f.function) for f in frames)
            entry = by_stack.setdefault(key, [frames, 0])
            entry[1] += site.bytes_at_peak
        ranked = sorted(by_stack.values(), key=lambda e: -e[1])
        return [(frames, total) for frames, total in ranked if total > 0]

    def function_lines(self, code_id: int) -> dict[int, LineStats]:
        """Per line of one function (by code object identity): what each line allocated,
        callees included. A recursive function's line is counted once per stack."""
        lines: dict[int, LineStats] = {}
        for site in self.sites:
            frame = next((f for f in site.frames if f.code_id == code_id), None)
            if frame is None:
                continue
            stats = lines.get(frame.line)
            if stats is None:
                stats = lines[frame.line] = LineStats(frame.file, frame.line, frame.function)
            stats.bytes_at_peak += site.bytes_at_peak
            stats.bytes_live += site.bytes_live
            stats.allocated_bytes += site.allocated_bytes
            stats.allocations += site.allocations
        return lines

    def heaviest_function(self) -> tuple[FrameInfo, dict[int, LineStats]] | None:
        """The user function whose lines hold the most bytes at peak (innermost user frame)."""
        totals: defaultdict[int, int] = defaultdict(int)
        sample: dict[int, FrameInfo] = {}
        for site in self.user_sites():
            frames = site.user_frames
            if not frames:
                continue
            top = frames[0]
            totals[top.code_id] += site.bytes_at_peak
            sample[top.code_id] = top
        if not totals:
            return None
        code_id = max(totals, key=lambda c: totals[c])
        if totals[code_id] <= 0:
            return None
        return sample[code_id], self.function_lines(code_id)
