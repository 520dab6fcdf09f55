"""The aggregate of a tracked run: sites, lines, stacks, peak and timeline.

Built once from what the C++ tracker recorded. Stacks come as a tree (one node per distinct
frame and caller, see ``cpython/stack_index.h``): every table here costs O(sites) or O(frames),
never a walk over every frame of every stack, whatever the depth of the program's stacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memslim._paths import PACKAGE_DIR, is_own_path

OWN_PREFIX = PACKAGE_DIR  # frames in files under it are memslim's own

# Where blocks go that no Python frame can be charged with: threads that never ran Python.
NO_STACK = ("<native thread>", 0, "<no Python frame>")


@dataclass(frozen=True)
class FrameInfo:
    file: str
    function: str
    line: int
    code_id: int = field(default=0, compare=False, repr=False)

    @property
    def is_memslim(self) -> bool:
        return is_own_path(self.file)

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.function}


class Site:
    """One distinct call stack (a node of the frame tree) and the bytes charged to it."""

    __slots__ = (
        "_profile",
        "allocated_bytes",
        "allocations",
        "bytes_at_peak",
        "bytes_live",
        "domain",
        "gc_freed_bytes",
        "node",
    )

    def __init__(self, profile: Profile, row: tuple[int, ...]) -> None:
        self._profile = profile
        (
            self.node,
            self.bytes_at_peak,
            self.bytes_live,
            self.allocated_bytes,
            self.allocations,
            self.gc_freed_bytes,  # freed by the cyclic GC rather than by reference counting
            self.domain,  # "python" (PyMem) or "numpy" (array buffers): one site per domain
        ) = row

    @property
    def frames(self) -> tuple[FrameInfo, ...]:
        """Every frame, innermost first."""
        return self._profile.node_frames(self.node)

    @property
    def user_frames(self) -> tuple[FrameInfo, ...]:
        """The frames above memslim's own: a target run by ``memslim run`` sits on memslim's
        runner (and whatever started it); an allocation made by memslim itself has none."""
        frames = self.frames
        for depth, frame in enumerate(frames):
            if frame.is_memslim:
                return frames[:depth]
        return frames


@dataclass
class LineStats:
    file: str
    line: int
    function: str
    bytes_at_peak: int = 0
    bytes_live: int = 0
    allocated_bytes: int = 0
    allocations: int = 0
    # Bytes at the peak in domains other than Python's ({"numpy": ...}); the rest is Python's.
    native_at_peak: dict[str, int] = field(default_factory=dict)
    # The line's own peak: the most its allocation sites held live, each at its own highest
    # (a temporary's sites peak together), and everything live when the largest of them was at
    # its highest. Not in the JSON.
    high_bytes: int = 0
    traced_at_high: int = 0
    largest_high: int = 0  # of the rows merged into it, the largest own peak (traced_at_high's)

    def merge(self, other: LineStats) -> None:
        self.bytes_at_peak += other.bytes_at_peak
        self.bytes_live += other.bytes_live
        self.allocated_bytes += other.allocated_bytes
        self.allocations += other.allocations
        if other.largest_high > self.largest_high:
            self.largest_high, self.traced_at_high = other.largest_high, other.traced_at_high
        self.high_bytes += other.high_bytes
        for domain, value in other.native_at_peak.items():
            self.native_at_peak[domain] = self.native_at_peak.get(domain, 0) + value

    @property
    def by_domain(self) -> dict[str, int]:
        """Bytes at the peak per domain: "python" and any other that holds some."""
        python = self.bytes_at_peak - sum(self.native_at_peak.values())
        return {"python": python, **self.native_at_peak}

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "bytes_at_peak": self.bytes_at_peak,
            "bytes_at_peak_by_domain": self.by_domain,
            "allocated_bytes": self.allocated_bytes,
            "allocations": self.allocations,
        }


@dataclass
class Profile:
    """A run's aggregate, as the C++ side computed it (``_core.tracking_result``): per line, the
    top stacks and one function's lines are already summed there, in O(sites + frames)."""

    mode: str
    sample_interval_bytes: float
    peak_bytes: int
    current_bytes: int
    peak_seconds: float
    elapsed_seconds: float
    peak_rss_bytes: int
    bookkeeping_bytes: int
    # (seconds, traced bytes, RSS, of the traced bytes NumPy's buffers, of them native memory)
    timeline: list[tuple[float, int, int, int, int]]
    frames: list[FrameInfo] = field(default_factory=list)  # distinct printed frames
    # (frame, bytes at peak, live, allocated, allocations, {domain: bytes at peak} for domains
    # other than Python's): per innermost user frame, and one function's lines (function_frame
    # is a frame of that function).
    line_rows: list[tuple[Any, ...]] = field(default_factory=list)
    no_stack: tuple[Any, ...] = (0, 0, 0, 0, 0, {})
    stack_rows: list[tuple[tuple[int, ...], int]] = field(default_factory=list)
    function_frame: int | None = None
    function_rows: list[tuple[Any, ...]] = field(default_factory=list)
    # Per line of the program's own code (the nearest non-library frame of each stack), and
    # (program frame, library frame, bytes at peak): the library lines folded under each.
    program_rows: list[tuple[Any, ...]] = field(default_factory=list)
    folded_rows: list[tuple[int, int, int]] = field(default_factory=list)
    gc_freed_bytes: int = 0
    # Bytes per domain ("python", "numpy") at the peak and at the end.
    peak_by_domain: dict[str, int] = field(default_factory=dict)
    end_by_domain: dict[str, int] = field(default_factory=dict)
    site_count: int = 0
    bookkeeping: dict[str, int] = field(default_factory=dict)
    # (file, qualified name) of every function that ran in a recorded stack, when the frames
    # above are only those of the top lines (``tracking_result(top_lines=...)``).
    functions: list[tuple[str, str]] | None = None
    # Sample mode: the standard error of peak_bytes as the estimate of that instant's live bytes
    # (0 in exact mode). The peak, the highest of the run's estimates, tends to lie above.
    peak_standard_error: float = 0.0
    _lines: list[LineStats] | None = field(default=None, init=False, repr=False, compare=False)
    _sites: list[Site] | None = field(default=None, init=False, repr=False, compare=False)

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
            line_rows=raw["lines"],
            no_stack=raw["no_stack"],
            stack_rows=raw["stacks"],
            function_frame=raw["function_frame"],
            function_rows=raw["function_lines"],
            program_rows=raw["program_lines"],
            folded_rows=[tuple(row) for row in raw["folded"]],
            gc_freed_bytes=raw["gc_freed_bytes"],
            peak_by_domain=dict(raw["peak_by_domain"]),
            end_by_domain=dict(raw["end_by_domain"]),
            site_count=raw["sites"],
            bookkeeping=dict(raw["bookkeeping"]),
            functions=raw.get("functions"),
            peak_standard_error=raw.get("peak_standard_error", 0.0),
        )

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> Profile:
        """The aggregate as a memslim/1 report keeps it (a capture file, capture.py): its top
        lines and stacks, peak, end, timeline and the heaviest function's lines. What only the
        tracker knows (every site) is not there."""
        frames: list[FrameInfo] = []
        index: dict[tuple[str, str, int], int] = {}

        def frame_of(row: dict[str, Any]) -> int:
            key = (str(row["file"]), str(row["function"]), int(row["line"]))
            if key not in index:
                index[key] = len(frames)
                frames.append(FrameInfo(*key))
            return index[key]

        def line_row(row: dict[str, Any]) -> tuple[Any, ...]:
            python = row["bytes_at_peak_by_domain"].get("python", 0)
            native = {d: b for d, b in row["bytes_at_peak_by_domain"].items() if d != "python"}
            total = python + sum(native.values())
            return (frame_of(row), total, 0, row["allocated_bytes"], row["allocations"], native)

        line_rows = [line_row(row) for row in report["lines"]]
        program_rows, folded_rows = [], []
        for row in report.get("program_lines", []):
            program_rows.append(line_row(row))
            for via in row.get("via", []):
                folded_rows.append((frame_of(row), frame_of(via), via["bytes_at_peak"]))
        function = report.get("function")
        function_frame = None if function is None else frame_of(function)
        function_rows = [] if function is None else [line_row(row) for row in function["lines"]]
        stack_rows = [
            (tuple(frame_of(f) for f in stack["frames"]), stack["bytes_at_peak"])
            for stack in report["stacks"]
        ]
        peak, end, own = report["peak"], report["end"], report.get("memslim", {})
        return cls(
            mode=report["mode"],
            sample_interval_bytes=report["sample_interval_bytes"] or 0.0,
            peak_bytes=peak["traced_bytes"],
            current_bytes=end["traced_bytes"],
            peak_seconds=peak["at_s"],
            peak_standard_error=peak.get("standard_error_bytes") or 0.0,
            elapsed_seconds=report["duration_s"],
            peak_rss_bytes=peak["rss_bytes"],
            bookkeeping_bytes=own.get("bookkeeping_bytes", 0),
            timeline=[
                (
                    p["t"],
                    p["traced_bytes"],
                    p["rss_bytes"],
                    p.get("numpy_bytes", 0),
                    p.get("native_bytes", 0),
                )
                for p in report["timeline"]
            ],
            frames=frames,
            line_rows=line_rows,
            program_rows=program_rows,
            folded_rows=folded_rows,
            stack_rows=stack_rows,
            function_frame=function_frame,
            function_rows=function_rows,
            peak_by_domain=dict(peak["by_domain"]),
            end_by_domain=dict(end["by_domain"]),
            site_count=own.get("sites", 0),
            bookkeeping=dict(own.get("bookkeeping", {})),
        )

    @property
    def peak_visible_bytes(self) -> int:
        """The peak's bytes that a heap census can see: Python's objects and NumPy's buffers
        (native memory, a parser's malloc, is in no object the census walks)."""
        return sum(self.peak_by_domain.get(domain, 0) for domain in ("python", "numpy"))

    def functions_ran(self) -> set[tuple[str, str]]:
        """(file, qualified name) of every function seen in a recorded stack."""
        if self.functions is not None:
            return set(self.functions)
        return {(frame.file, frame.function) for frame in self.frames}

    @property
    def sites(self) -> list[Site]:
        """Every site that allocated. Read from the tracker: only until tracking starts again."""
        if self._sites is None:
            from memslim import _core

            self._sites = [Site(self, row) for row in _core.site_rows()]
        return self._sites

    def node_frames(self, node: int) -> tuple[FrameInfo, ...]:
        """The frames of a site, innermost first (read from the tracker: only until tracking
        starts again)."""
        from memslim import _stacks

        return tuple(FrameInfo(f, n, line) for f, n, line in _stacks.frames(node) or ())

    def at_peak(self, node: int) -> int:
        """Bytes the site held at the peak in the domains a census sees, Python's and NumPy's
        (read from the tracker, like node_frames)."""
        from memslim import _core

        return _core.site_bytes_at_peak(node)

    def _line_stats(self, row: tuple[Any, ...]) -> LineStats:
        frame, at_peak, live, allocated, allocations, native = row[:6]
        high, at_high = row[6:8] if len(row) >= 8 else (0, 0)  # a capture from before them
        if frame == 0xFFFFFFFF:
            file, line, function = NO_STACK
        else:
            info = self.frames[frame]
            file, line, function = info.file, info.line, info.function
        return LineStats(
            file, line, function, at_peak, live, allocated, allocations, dict(native), high,
            at_high, high,
        )  # fmt: skip

    def _merged_lines(self, rows: list[tuple[Any, ...]]) -> list[LineStats]:
        """``rows`` per source line, largest at peak first."""
        by_line: dict[tuple[str, int], LineStats] = {}
        for row in rows:
            stats = self._line_stats(row)
            merged = by_line.get((stats.file, stats.line))
            if merged is None:
                by_line[(stats.file, stats.line)] = stats
            else:  # two functions on one line (a lambda, a comprehension)
                merged.merge(stats)
        return sorted(
            by_line.values(), key=lambda s: (-s.bytes_at_peak, -s.allocated_bytes, s.file, s.line)
        )

    def lines(self) -> list[LineStats]:
        """Bytes per source line (the innermost frame of each stack), largest at peak first."""
        if self._lines is None:
            rows = list(self.line_rows)
            if self.no_stack[4]:
                rows.append(self.no_stack)
            self._lines = self._merged_lines(rows)
        return list(self._lines)

    def program_lines(self) -> list[tuple[LineStats, list[tuple[FrameInfo, int]]]]:
        """Bytes per line of the program's own code — each stack charged to its nearest frame
        outside the standard library and installed packages — largest at peak first, each with
        the library lines under it that held the most at the peak (their frame, bytes). Empty
        when the aggregate has no such rows (a report from an older memslim)."""
        via: dict[tuple[str, int], list[tuple[FrameInfo, int]]] = {}
        for program, library, at_peak in self.folded_rows:
            if at_peak > 0:
                line = (self.frames[program].file, self.frames[program].line)
                via.setdefault(line, []).append((self.frames[library], at_peak))
        return [
            (stats, sorted(via.get((stats.file, stats.line), []), key=lambda fv: -fv[1])[:3])
            for stats in self._merged_lines(self.program_rows)
        ]

    def stacks(self, top: int = 50) -> list[tuple[tuple[FrameInfo, ...], int]]:
        """The ``top`` distinct stacks (by line, user frames only) with their bytes at peak,
        largest first."""
        return [
            (tuple(self.frames[f] for f in frames), total)
            for frames, total in self.stack_rows[:top]
        ]

    def function_lines(self, file: str, function: str) -> dict[int, LineStats]:
        """Per line of the function the aggregate was made for (see ``_core.tracking_result``):
        what each line allocated, callees included. Empty for any other function."""
        if self.function_frame is None:
            return {}
        info = self.frames[self.function_frame]
        if (info.file, info.function) != (file, function):
            return {}
        lines: dict[int, LineStats] = {}
        for row in self.function_rows:
            stats = self._line_stats(row)
            if stats.line in lines:
                lines[stats.line].merge(stats)
            else:
                lines[stats.line] = stats
        return lines

    def heaviest_function(self) -> tuple[FrameInfo, dict[int, LineStats]] | None:
        """The user function whose lines hold the most bytes at peak (innermost user frame),
        when the aggregate was made for it."""
        if self.function_frame is None:
            return None
        frame = self.frames[self.function_frame]
        lines = self.function_lines(frame.file, frame.function)
        if sum(s.bytes_at_peak for s in lines.values()) <= 0:
            return None
        return frame, lines
