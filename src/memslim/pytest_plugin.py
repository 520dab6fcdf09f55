"""memslim's pytest plugin, loaded by pytest through the ``pytest11`` entry point whenever
memslim is installed. It does nothing unless asked:

- ``pytest --memslim``: every test runs tracked; the summary lists the tests with the highest
  peaks (``--memslim-top N``, 5 by default). Each test's peak travels in its report's
  ``user_properties``, so that pytest-xdist's workers' figures reach the summary.
- ``@pytest.mark.limit_memory("24 MB")``: the test fails when the peak of what it allocated
  (Python objects, NumPy buffers, native memory) exceeds the limit, naming the lines that held
  the most at the peak.
- ``@pytest.mark.limit_leaks("1 MB")``: the test fails when more than that, allocated while it
  ran, is still allocated after it (after a garbage collection), naming the lines that
  allocated it and, from a heap census, what keeps the most of it alive.

Marker names and limits as pytest-memray's, so that a suite can switch: "B", "KB", "MB", "GB"
(and "KiB", "MiB", "GiB"), all powers of 1024. Only the test function's call is tracked, not its
fixtures' setup and teardown. One tracker at a time: a test that calls ``memslim.track()``
itself runs under the test's tracking when marked or under ``--memslim``, and a test that runs
while memslim already tracks the process (``memslim run -m pytest``) is left untracked: the
summary lists those whose limits were not checked.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Generator
from typing import Any

import pytest

_UNITS = {"": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "mib": 1 << 20}
_UNITS.update({"gb": 1 << 30, "gib": 1 << 30, "tb": 1 << 40, "tib": 1 << 40})
_PEAK = "memslim_peak_bytes"
_UNCHECKED = "memslim_limits_unchecked"


def parse_size(text: str | float) -> int:
    """ "24 MB" -> bytes (powers of 1024, as pytest-memray); a plain number is bytes."""
    if isinstance(text, (int, float)):
        if not text >= 0:  # a negative number, or nan
            raise ValueError(f"not a memory size: {text!r} (say '24 MB', '512 KiB' or a number)")
        return int(text)
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", str(text))
    if found is None or found[2].lower() not in _UNITS:
        raise ValueError(f"not a memory size: {text!r} (say '24 MB', '512 KiB' or a number)")
    return int(float(found[1]) * _UNITS[found[2].lower()])


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memslim", "memory of each test (memslim)")
    group.addoption(
        "--memslim",
        action="store_true",
        default=False,
        help="track every test's allocations and list the tests with the highest peaks",
    )
    group.addoption(
        "--memslim-top",
        type=int,
        default=5,
        metavar="N",
        help="how many tests the --memslim summary lists (default 5)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "limit_memory(limit): fail when the test's peak of allocated memory exceeds limit "
        "('24 MB'; memslim)",
    )
    config.addinivalue_line(
        "markers",
        "limit_leaks(limit): fail when more than limit allocated by the test is still allocated "
        "after it ('1 MB'; memslim)",
    )


def _top_lines(profile: Any, field: str, count: int = 5) -> str:
    """The test's own lines that hold the most (``field``: at the peak, or live now), each
    stack charged to its nearest frame outside the standard library and installed packages,
    as ``memslim run`` reports them; at the peak, the library lines under each that held the
    most. A test's ``np.ones(...)`` is its own line, not NumPy's."""
    from memslim._units import format_bytes
    from memslim.report.terminal import short_path

    rows = profile.program_lines() or [(s, []) for s in profile.lines()]
    rows = sorted(
        (r for r in rows if getattr(r[0], field) > 0), key=lambda r: -getattr(r[0], field)
    )
    shown = []
    for stats, via in rows[:count]:
        shown.append(
            f"    {format_bytes(getattr(stats, field)):>10}  {short_path(stats.file)}:{stats.line}"
            f"  {stats.function}"
        )
        if field == "bytes_at_peak":
            shown.extend(
                f"    {format_bytes(at_peak):>10}    ↳ {short_path(frame.file)}:{frame.line}"
                f"  {frame.function}"
                for frame, at_peak in via[:2]
                if at_peak > 0 and (frame.file, frame.line) != (stats.file, stats.line)
            )
    return "\n".join(shown)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    memory = item.get_closest_marker("limit_memory")
    leaks = item.get_closest_marker("limit_leaks")
    everything = item.config.getoption("--memslim")
    if memory is None and leaks is None and not everything:
        return (yield)
    from memslim import _core
    from memslim._tracking import Tracker
    from memslim._units import format_bytes

    try:
        memory_limit = _limit_of(memory)
        leak_limit = _limit_of(leaks)
    except ValueError as e:
        pytest.fail(f"memslim: {e}", pytrace=False)
    if _core.is_tracking():
        item.add_report_section("call", "memslim", "memslim was tracking already: not tracked")
        if memory is not None or leaks is not None:
            item.user_properties.append((_UNCHECKED, 1))  # said in the summary
        return (yield)
    tracker = Tracker("exact")
    tracker.start()
    keeps = ""
    try:
        result = yield
        if leak_limit is not None:
            gc.collect()  # what only the cyclic GC would free is not a leak
            live = _core.traced_bytes()
            if live > leak_limit:
                # While tracking: the census knows which objects the test allocated.
                keeps = _what_keeps_it(live)
    finally:
        profile = tracker.stop()
    item.user_properties.append((_PEAK, profile.peak_bytes))
    if memory_limit is not None and profile.peak_bytes > memory_limit:
        pytest.fail(
            f"memslim: the test's peak was {format_bytes(profile.peak_bytes)}, over its limit of"
            f" {format_bytes(memory_limit)}; the lines holding the most at the peak:\n"
            + _top_lines(profile, "bytes_at_peak"),
            pytrace=False,
        )
    if leak_limit is not None and profile.current_bytes > leak_limit:
        message = (
            f"memslim: {format_bytes(profile.current_bytes)} allocated by the test is still"
            f" allocated after it, over its limit of {format_bytes(leak_limit)}; where it was"
            " allocated:\n" + _top_lines(profile, "bytes_live")
        )
        pytest.fail(message + keeps, pytrace=False)
    return result


def _limit_of(marker: pytest.Mark | None) -> int | None:
    """The size a limit marker gives (None without the marker); ValueError with what is
    wrong (no size, or not one)."""
    if marker is None:
        return None
    size = marker.args[0] if marker.args else marker.kwargs.get("limit")
    if size is None:
        raise ValueError(f"{marker.name} needs a size, as in {marker.name}('24 MB')")
    return parse_size(size)


def _what_keeps_it(live: int) -> str:
    """What keeps the most of the test's allocations (``live`` bytes) alive, a line each, from
    a census taken while tracking (memslim's own allocations left out of the test's): each
    retainer with the bytes of them it keeps, not what the heap held before the test (a
    session fixture's data, the import system's caches); those keeping under 1% of them left
    out. Empty if no census can be taken."""
    from memslim import _core
    from memslim._units import format_bytes
    from memslim.heap import snapshot

    was_tracked = _core.set_thread_tracked(False)
    try:
        census = snapshot(top=5, tracked=True)
    except Exception:
        return ""
    finally:
        _core.set_thread_tracked(was_tracked)
    outside = "a dict held from outside the heap"  # sys.modules, to the census
    rows = [
        f"    {format_bytes(r.retained):>10}  {r.path.removeprefix(outside + ' → ')}"
        for r in census.retainers
        if r.path != outside and r.retained * 100 >= live
    ]
    return "\nwhat keeps the most alive now:\n" + "\n".join(rows[:5]) if rows else ""


# (test id, peak bytes) of every tracked test's call, here or in pytest-xdist's workers.
_reports: list[tuple[str, int]] = []
# Tests whose limit markers were not checked: memslim tracked the process already.
_unchecked: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == _PEAK:
            _reports.append((report.nodeid, int(value)))
        elif name == _UNCHECKED:
            _unchecked.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _unchecked:
        # A passing test's report sections are not printed: without this, `memslim run -m
        # pytest` passed tests whose limits nothing checked, and said so nowhere visible.
        terminalreporter.write_sep(
            "=", f"memslim: {len(_unchecked)} test(s) with limit_memory/limit_leaks not checked"
        )
        terminalreporter.write_line(
            "memslim was tracking the whole process already (memslim run -m pytest):"
            " run pytest alone to check them"
        )
        for nodeid in _unchecked[:5]:
            terminalreporter.write_line(f"  {nodeid}")
    if not config.getoption("--memslim") or not _reports:
        return
    from memslim._units import format_bytes

    top = sorted(_reports, key=lambda pair: -pair[1])[: max(0, config.getoption("--memslim-top"))]
    terminalreporter.write_sep("=", "memslim: the tests with the highest peaks")
    for nodeid, peak in top:
        terminalreporter.write_line(f"{format_bytes(peak):>12}  {nodeid}")
