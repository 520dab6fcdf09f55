"""The aggregate of a tracked run: sites, lines, stacks, peak and timeline.

Built once from what the C++ tracker recorded. Stacks come as a tree (one node per distinct
frame and caller, see ``cpython/stack_index.h``): every table here costs O(sites) or O(frames),
never a walk over every frame of every stack, whatever the depth of the program's stacks.
"""

from __future__ import annotations

import os
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
OWN_PREFIX = _PACKAGE_DIR  # frames in files under it are memslim's own

NO_STACK = ("<no Python stack>", 0, "<allocated without the GIL>")


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


class Site:
    """One distinct call stack and the bytes charged to it. Its frames are read from the
    profile's frame tree when asked for."""

    __slots__ = (
        "_profile",
        "allocated_bytes",
        "allocations",
        "bytes_at_peak",
        "bytes_live",
        "gc_freed_bytes",
        "node",
        "user",
    )

    def __init__(self, profile: Profile, row: tuple[int, ...]) -> None:
        self._profile = profile
        (
            self.node,
            self.user,
            self.bytes_at_peak,
            self.bytes_live,
            self.allocated_bytes,
            self.allocations,
            self.gc_freed_bytes,  # freed by the cyclic GC rather than by reference counting
        ) = row

    @property
    def frames(self) -> tuple[FrameInfo, ...]:
        """Every frame, innermost first."""
        return self._profile.node_frames(self.node)

    @property
    def user_frames(self) -> tuple[FrameInfo, ...]:
        """The frames above memslim's own: a target run by ``memslim run`` sits on memslim's
        runner (and whatever started it); an allocation made by memslim itself has none."""
        return self._profile.user_frames(self.user)


@dataclass
class LineStats:
    file: str
    line: int
    function: str
    bytes_at_peak: int = 0
    bytes_live: int = 0
    allocated_bytes: int = 0
    allocations: int = 0

    def add(self, row: tuple[int, ...]) -> None:
        """Adds a site row (node, user, at peak, live, allocated, allocations, gc freed)."""
        self.bytes_at_peak += row[2]
        self.bytes_live += row[3]
        self.allocated_bytes += row[4]
        self.allocations += row[5]

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "bytes_at_peak": self.bytes_at_peak,
            "allocated_bytes": self.allocated_bytes,
            "allocations": self.allocations,
        }


def _uint32s(data: bytes) -> array[int]:
    values = array("I")
    values.frombytes(data)
    return values


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
    timeline: list[tuple[float, int, int]]
    # The distinct printed frames, and the frame tree and user-stack tree as arrays of indexes.
    frames: list[FrameInfo] = field(default_factory=list)
    node_parent: array[int] = field(default_factory=lambda: array("I", [0]))
    node_frame: array[int] = field(default_factory=lambda: array("I", [0xFFFFFFFF]))
    user_parent: array[int] = field(default_factory=lambda: array("I", [0]))
    user_frame: array[int] = field(default_factory=lambda: array("I", [0xFFFFFFFF]))
    # (node, user stack, bytes at peak, live, allocated, allocations, freed by the GC)
    site_rows: list[tuple[int, ...]] = field(default_factory=list)

    @classmethod
    def from_core(cls, raw: dict[str, Any]) -> Profile:
        return cls(
            mode=raw["mode"],
            sample_interval_bytes=raw["sample_interval_bytes"],
            peak_bytes=raw["peak_bytes"],
            current_bytes=raw["current_bytes"],
            peak_seconds=raw["peak_seconds"],
            elapsed_seconds=raw["elapsed_seconds"],
            peak_rss_bytes=raw["peak_rss_bytes"],
            bookkeeping_bytes=raw["bookkeeping_bytes"],
            timeline=list(raw["timeline"]),
            frames=[FrameInfo(f, n, line, code_id) for f, n, line, code_id in raw["frames"]],
            node_parent=_uint32s(raw["node_parent"]),
            node_frame=_uint32s(raw["node_frame"]),
            user_parent=_uint32s(raw["user_parent"]),
            user_frame=_uint32s(raw["user_frame"]),
            site_rows=list(raw["sites"]),
        )

    @cached_property
    def sites(self) -> list[Site]:
        return [Site(self, row) for row in self.site_rows]

    def node_frames(self, node: int) -> tuple[FrameInfo, ...]:
        frames = []
        while node != 0:
            frames.append(self.frames[self.node_frame[node]])
            node = self.node_parent[node]
        return tuple(frames)

    def user_frames(self, user: int) -> tuple[FrameInfo, ...]:
        frames = []
        while user != 0:
            frames.append(self.frames[self.user_frame[user]])
            user = self.user_parent[user]
        return tuple(frames)

    def _user_rows(self) -> list[tuple[int, ...]]:
        """Rows of sites with at least one frame of the user's program, or with no Python stack
        at all (not those allocated by memslim itself)."""
        return [row for row in self.site_rows if row[1] != 0 or row[0] == 0]

    def lines(self) -> list[LineStats]:
        """Bytes per source line (the innermost frame of each stack), largest at peak first."""
        by_frame: dict[int, LineStats] = {}
        for row in self._user_rows():
            frame = self.user_frame[row[1]] if row[1] else -1
            stats = by_frame.get(frame)
            if stats is None:
                if frame < 0:
                    stats = by_frame[frame] = LineStats(NO_STACK[0], NO_STACK[1], NO_STACK[2])
                else:
                    info = self.frames[frame]
                    stats = by_frame[frame] = LineStats(info.file, info.line, info.function)
            stats.add(row)
        # Distinct printed frames of one line (two functions on it) make one row.
        by_line: dict[tuple[str, int], LineStats] = {}
        for stats in by_frame.values():
            merged = by_line.get((stats.file, stats.line))
            if merged is None:
                by_line[(stats.file, stats.line)] = stats
            else:
                merged.add(
                    (
                        0,
                        0,
                        stats.bytes_at_peak,
                        stats.bytes_live,
                        stats.allocated_bytes,
                        stats.allocations,
                        0,
                    )
                )
        return sorted(
            by_line.values(), key=lambda s: (-s.bytes_at_peak, -s.allocated_bytes, s.file, s.line)
        )

    def stacks(self) -> list[tuple[tuple[FrameInfo, ...], int]]:
        """Distinct stacks (by line, user frames only) with their bytes at peak, largest first."""
        by_user: defaultdict[int, int] = defaultdict(int)
        for row in self._user_rows():
            by_user[row[1]] += row[2]
        ranked = sorted(by_user.items(), key=lambda e: -e[1])
        return [(self.user_frames(user), total) for user, total in ranked if total > 0]

    def function_lines(self, file: str, function: str) -> dict[int, LineStats]:
        """Per line of one function: what each line allocated, callees included (the
        function's innermost frame in each user stack)."""
        wanted = {
            index
            for index, f in enumerate(self.frames)
            if f.file == file and f.function == function
        }
        if not wanted:
            return {}
        # The innermost frame of the function in each user stack, memoised along the way:
        # every user stack is visited once, whatever the depth.
        nearest: dict[int, int] = {0: -1}
        lines: dict[int, LineStats] = {}
        for row in self.site_rows:
            user = row[1]
            path = []
            while user not in nearest:
                if self.user_frame[user] in wanted:
                    nearest[user] = self.user_frame[user]
                    break
                path.append(user)
                user = self.user_parent[user]
            found = nearest[user]
            for u in path:
                nearest[u] = found
            if found < 0:
                continue
            info = self.frames[found]
            stats = lines.get(info.line)
            if stats is None:
                stats = lines[info.line] = LineStats(info.file, info.line, info.function)
            stats.add(row)
        return lines

    def heaviest_function(self) -> tuple[FrameInfo, dict[int, LineStats]] | None:
        """The user function whose lines hold the most bytes at peak (innermost user frame)."""
        totals: defaultdict[tuple[str, str], int] = defaultdict(int)
        sample: dict[tuple[str, str], FrameInfo] = {}
        for row in self.site_rows:
            if row[1] == 0:
                continue
            top = self.frames[self.user_frame[row[1]]]
            key = (top.file, top.function)
            totals[key] += row[2]
            sample.setdefault(key, top)
        if not totals:
            return None
        key = max(totals, key=lambda k: totals[k])
        if totals[key] <= 0:
            return None
        return sample[key], self.function_lines(*key)
