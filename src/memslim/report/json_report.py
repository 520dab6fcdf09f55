"""The JSON report, schema ``memslim/1`` (see docs/design.md): fields are added, never renamed."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from typing import Any

from memslim import __version__
from memslim._files import file_mode
from memslim._paths import without_own_frames
from memslim.advice import Finding
from memslim.heap import HeapCensus, largest_sites
from memslim.profile_data import Profile

SCHEMA = "memslim/1"


def _timeline(points: list[tuple[float, int, int, int, int]]) -> list[dict[str, Any]]:
    """The timeline's points; with the NumPy and native parts of the traced bytes when the run
    had any (a Python-only run's report stays as it was)."""
    split = any(numpy or native for *_, numpy, native in points)
    return [
        {"t": round(t, 6), "traced_bytes": traced, "rss_bytes": rss}
        | ({"numpy_bytes": numpy, "native_bytes": native} if split else {})
        for t, traced, rss, numpy, native in points
    ]


def build_report(
    profile: Profile,
    *,
    command: list[str],
    exit_code: int,
    top_lines: int = 100,
    top_stacks: int = 50,
    census: tuple[int, HeapCensus] | None = None,
    findings: list[Finding] | None = None,
    census_costs: dict[str, float] | None = None,
    untraced: list[str] | None = None,
    rss: dict[str, Any] | None = None,
    process: dict[str, Any] | None = None,
    children: dict[str, Any] | None = None,
) -> dict[str, Any]:
    lines = profile.lines()[:top_lines]
    report = {
        "schema": SCHEMA,
        "version": __version__,
        "python": platform.python_version(),
        "mode": profile.mode,
        "sample_interval_bytes": (
            profile.sample_interval_bytes if profile.mode == "sample" else None
        ),
        "command": command,
        "exit_code": exit_code,
        "duration_s": round(profile.elapsed_seconds, 6),
        "peak": {
            "traced_bytes": profile.peak_bytes,
            "rss_bytes": profile.peak_rss_bytes,
            "at_s": round(profile.peak_seconds, 6),
            "by_domain": profile.peak_by_domain,
            # Sample mode: the standard error of traced_bytes as that instant's estimate.
            "standard_error_bytes": (
                round(profile.peak_standard_error) if profile.mode == "sample" else None
            ),
        },
        "end": {"traced_bytes": profile.current_bytes, "by_domain": profile.end_by_domain},
        "memslim": {
            "bookkeeping_bytes": profile.bookkeeping_bytes,
            "bookkeeping": profile.bookkeeping,  # stacks, sites, blocks
            "sites": profile.site_count,
            # Why a kind of memory is not traced in this run (NumPy too old, ...).
            "untraced": list(untraced or []),
        },
        # RSS explained (memslim.rss): at the census nearest the peak and at the end; null
        # where not taken (no census, no /proc).
        "rss_ledger": {
            when: (ledger.as_json() if ledger is not None else None)
            for when, ledger in (
                ("at_peak_census", (rss or {}).get("at_peak_census")),
                ("end", (rss or {}).get("end")),
            )
        },
        "lines": [line.as_json() for line in lines],
        # The program's own lines (library frames folded into the line that called them),
        # each with the library lines under it ("via").
        "program_lines": [
            {
                **line.as_json(),
                "via": [{**frame.as_json(), "bytes_at_peak": b} for frame, b in via],
            }
            for line, via in profile.program_lines()[:top_lines]
        ],
        "stacks": [
            {"frames": [f.as_json() for f in frames], "bytes_at_peak": total}
            for frames, total in profile.stacks(top_stacks)
        ],
        "timeline": _timeline(profile.timeline),
    }
    heaviest = profile.heaviest_function()
    if heaviest is not None:  # the user function holding the most at the peak, line by line
        frame, per_line = heaviest
        report["function"] = {
            **frame.as_json(),
            "lines": [per_line[number].as_json() for number in sorted(per_line)],
        }
    if census is not None:
        traced_at_census, heap = census
        report["census"] = census_json(heap, traced_at_census, profile.peak_bytes)
        if census_costs is not None:
            # Censuses by forked children: the program paused for the forks only; the children
            # walked copies of the heap (their own pages: memslim's memory while they ran).
            report["census"]["forked"] = census_costs
    if findings is not None:
        report["findings"] = [f.as_json() for f in findings]
    if process is not None:  # pid, ppid, name, started_at (seconds since the epoch)
        report["process"] = process
    if children:  # child processes (children.merged): processes, tree_peak, lines across
        report.update(children)
    return report


def census_json(heap: HeapCensus, traced_bytes: int, peak_traced_bytes: int) -> dict[str, Any]:
    """A census as the report's ``census`` object keeps it (top 50 types and sites)."""
    return {
        "traced_bytes": traced_bytes,
        "peak_traced_bytes": peak_traced_bytes,
        "objects": heap.objects,
        "bytes": heap.bytes,
        "types": [
            {"type": row.name, "count": row.count, "bytes": row.bytes} for row in heap.types[:50]
        ],
        "sites": [
            {
                "type": row.name,
                "frames": [
                    {"file": f, "function": fn, "line": ln}
                    for f, fn, ln in without_own_frames(row.frames)
                ],
                "count": row.count,
                "bytes": row.bytes,
            }
            for row in largest_sites(heap.estimated_sites(), 50)
        ],
        "retainers": [
            {"type": r.type_name, "path": r.path, "retained_bytes": r.retained}
            for r in heap.retainers
        ],
    }


def write_report(report: dict[str, Any], path: str) -> None:
    """Write atomically: readers never see half a report."""
    write_text(path, json.dumps(report, indent=1) + "\n", suffix=".json")


def write_text(path: str, text: str, *, suffix: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temporary file beside it, renamed."""
    target = os.path.abspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".memslim-", suffix=suffix, dir=os.path.dirname(target))
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
