"""What ``memslim attach PID`` runs inside the target process (see attach.py and
cpython/attach.cpp): at the interpreter's safe point, in the main thread, with the GIL.

``serve(request)`` takes a census of the heap in place (the program waits for the walk: about
0.2 µs per object) and the advice that needs only a census, and writes the answer, JSON
``memslim-attach/1``, to ``request["output"]``. With ``track_seconds``, it first installs the
allocation hooks, and a thread of memslim's own stops them after that long, takes the census
(whose objects made in that window have their allocation sites) and writes the answer with what
grew: the lines whose allocations of the window are still live.

It imports as little as it can (no rich, no CLI), never touches the program's ``__main__``
namespace but to read it, and writes every error to ``output + ".error"``: nothing raises into
the program.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from typing import Any

from memslim._threads import start_thread

SCHEMA = "memslim-attach/1"


def serve(request: dict[str, Any]) -> None:
    seconds = float(request.get("track_seconds") or 0)
    if seconds <= 0:
        _answer(request, None)
        return
    from memslim import _core
    from memslim._tracking import Tracker

    if _core.is_tracking():
        raise RuntimeError("memslim is tracking this process already")
    tracker = Tracker("exact")
    tracker.start()
    start_thread(_stop_after, request, tracker, seconds)


def _stop_after(request: dict[str, Any], tracker: Any, seconds: float) -> None:
    # Untracked from its start (start_thread).
    try:
        time.sleep(seconds)
        _answer(request, tracker)
    except BaseException as e:
        _write_error(request, e)


def _answer(request: dict[str, Any], tracker: Any) -> None:
    from memslim.advice import Run, advise
    from memslim.heap import census_from_raw, take_raw_census
    from memslim.profile_data import Profile
    from memslim.report.json_report import census_json, write_report

    profile = None
    if tracker is not None:
        # The census first, while tracking still runs: its objects made in the window know
        # their allocation sites.
        began = time.perf_counter()
        raw = take_raw_census(int(request.get("top", 10)), advice=True)
        census_seconds = time.perf_counter() - began
        profile = tracker.stop()
    else:
        began = time.perf_counter()
        raw = take_raw_census(int(request.get("top", 10)), advice=True)
        census_seconds = time.perf_counter() - began
    heap = census_from_raw(raw)
    run_profile = profile or Profile(
        mode="census",  # no allocation was tracked: no site-based advice
        sample_interval_bytes=0.0,
        peak_bytes=heap.bytes,
        current_bytes=heap.bytes,
        peak_seconds=0.0,
        elapsed_seconds=0.0,
        peak_rss_bytes=0,
        bookkeeping_bytes=0,
        timeline=[],
    )
    main = sys.modules.get("__main__")
    run = Run(run_profile, heap, heap.bytes, [], getattr(main, "__dict__", None))
    findings = advise(run, everything=bool(request.get("all_findings")))
    answer: dict[str, Any] = {
        "schema": SCHEMA,
        "pid": os.getpid(),
        "python": platform.python_version(),
        "argv": list(sys.argv),
        "census_seconds": round(census_seconds, 6),
        "census": census_json(heap, heap.bytes, heap.bytes),
        "findings": [f.as_json() for f in findings],
    }
    if profile is not None:
        answer["tracked"] = {
            "seconds": round(profile.elapsed_seconds, 6),
            "peak_traced_bytes": profile.peak_bytes,
            "end_traced_bytes": profile.current_bytes,
            # What grew: each line's allocations of the window still live at its end.
            "lines": [
                {
                    "file": line.file,
                    "line": line.line,
                    "function": line.function,
                    "live_bytes": line.bytes_live,
                    "allocated_bytes": line.allocated_bytes,
                    "allocations": line.allocations,
                }
                for line in sorted(profile.lines(), key=lambda s: -s.bytes_live)[:100]
                if line.bytes_live > 0
            ],
        }
    write_report(answer, request["output"])


def _write_error(request: dict[str, Any], error: BaseException) -> None:
    try:
        with open(request["output"] + ".error", "w", encoding="utf-8") as f:
            f.write(f"{type(error).__name__}: {error}".replace("\n", " "))
    except Exception:
        pass
