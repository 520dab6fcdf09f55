"""When censuses are taken: at a margin above the last one (a margin that doubles when censuses
go over their time budget), at a plateau, once the heap holds above the last census, also in a
loop that never releases the GIL, and at a full collection at the peak."""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

import memslim
from memslim import _core
from memslim._tracking import _on_gc, watch_gc

MIB = 1 << 20


@pytest.fixture
def calls() -> Iterator[list[int]]:
    """The traced bytes at each call of a census callback that takes nothing; censuses are off
    afterwards."""
    made: list[int] = []
    _core.set_census(lambda: made.append(_core.traced_bytes()), 0.5, 2 * MIB)
    yield made
    _core.set_census(None)


def _hold_until(count: int, calls: list[int]) -> None:
    """Runs Python code that allocates and frees but never grows the heap and never releases the
    GIL (no sleep, no I/O), until the callback has run `count` times; a generous deadline only
    turns a hang into a failure."""
    deadline = time.monotonic() + 60
    while len(calls) < count:
        assert time.monotonic() < deadline, f"{len(calls)} census calls, not {count}"
        scratch = [0.5] * 64
        del scratch


def test_a_heap_that_holds_above_the_last_census_gets_one(calls: list[int]) -> None:
    with memslim.track():
        held = bytearray(4 * MIB)  # passes the first census point (a margin trigger)
        _hold_until(1, calls)
        # Grow by more than a quarter of the margin (12.5%) but less than the margin (50%), and
        # hold: only the plateau trigger calls. (It used to ask from the timeline thread with
        # Py_AddPendingCall, which on 3.11 does not wake a main thread that keeps the GIL: this
        # loop waited for ever.)
        more = bytearray(int(0.3 * calls[0]))
        _hold_until(2, calls)
    assert len(held) + len(more) > 4 * MIB
    assert calls[0] * 1.125 < calls[1] < calls[0] * 1.5


@pytest.fixture
def untimed_tracking() -> Iterator[None]:
    """Exact tracking without the plateau trigger (its timeline thread ticks once an hour, so no
    peak ever holds for two ticks) and with the GC watcher on: censuses come only from margins
    and collections."""
    gc.callbacks.insert(0, _mark_collection)  # before memslim's watcher, at a start
    watch_gc(True)
    _core.start_tracking("exact", timeline_interval=3600.0)
    try:
        yield
    finally:
        _core.stop_tracking()
        _core.set_census(None)
        watch_gc(False)
        gc.callbacks.remove(_mark_collection)


_collecting = [False]


def _mark_collection(phase: str, _info: dict[str, int]) -> None:
    _collecting[0] = phase == "start"


def _in_collection() -> bool:
    """Whether the caller runs inside memslim's gc.callbacks watcher (a collection's start: a
    callback of the test's own runs before it, and marks the collection until its stop)."""
    return _collecting[0] and _on_gc in gc.callbacks


def _run_lines(count: int, calls: list[Any]) -> None:
    """Runs lines that allocate and free without growing the heap until the callback has run
    `count` times (a pending call runs between two lines); a generous deadline only turns a hang
    into a failure."""
    deadline = time.monotonic() + 60
    while len(calls) < count:
        assert time.monotonic() < deadline, f"{len(calls)} census calls, not {count}"
        scratch = [0.5] * 64
        del scratch


def test_a_full_collection_at_the_peak_takes_a_census(untimed_tracking: None) -> None:
    made: list[tuple[int, bool]] = []
    # A margin of 1000%: after the first census no margin is passed again in this test.
    _core.set_census(lambda: made.append((_core.traced_bytes(), _in_collection())), 10.0, 2 * MIB)
    held = bytearray(4 * MIB)
    _run_lines(1, made)
    first = made[0][0]
    # Grow past the last census by more than a quarter of the margin (3.5 x), far below the
    # margin (11 x): only a collection at the peak calls now.
    more = bytearray(4 * first)
    gc.collect(0)  # a young collection: no census
    assert [in_gc for _, in_gc in made[1:]] == [True] * (len(made) - 1)
    gc.collect(2)
    assert len(made) >= 2, "no census at a full collection at the peak"
    assert made[-1][1], "the census did not run inside the collection"
    assert made[-1][0] >= 4 * first
    # At the peak again but no higher than the last census: not worth another.
    taken = len(made)
    gc.collect(2)
    assert len(made) == taken
    # Far below the peak: a full collection is no peak's census.
    assert len(held) + len(more) > 4 * MIB
    del more
    gc.collect(2)
    assert len(made) == taken


def _census_points(budget_share: float, budget_allowance: float) -> list[int]:
    """Traced bytes at each census while the heap grows by 64 KiB a line to 48 MiB, census
    margins starting at 50% above a first point at 1 MiB."""
    made: list[int] = []
    _core.set_census(
        lambda: made.append(_core.traced_bytes()),
        0.5,
        MIB,
        budget_share=budget_share,
        budget_allowance=budget_allowance,
    )
    gc.disable()  # no collection at a peak in between: margins only
    try:
        chunks = []
        while len(chunks) * 64 < 48 * 1024:
            chunks.append(bytearray(64 * 1024))
    finally:
        gc.enable()
        _core.set_census(None)
    return made


def test_the_margin_doubles_when_censuses_go_over_their_budget(untimed_tracking: None) -> None:
    # Within the budget (a census costs microseconds here, the allowance is an hour): 50% apart.
    within = _census_points(0.2, 3600.0)
    ratios = [b / a for a, b in itertools.pairwise(within)]
    assert len(within) >= 8, within
    assert all(1.5 <= r < 1.5 * 1.1 for r in ratios), ratios
    # No budget at all: every census goes over it, and the margin doubles after each one.
    over = _census_points(0.0, 0.0)
    ratios = [b / a for a, b in itertools.pairwise(over)]
    assert len(over) >= 4, over
    for k, ratio in enumerate(ratios):
        margin = 0.5 * 2 ** (k + 1)  # doubled after the first census, again after each
        assert 1 + margin <= ratio < (1 + margin) * 1.1, (k, ratios)


def test_the_census_budget_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="budget"):
        _core.set_census(lambda: None, 0.1, MIB, budget_share=-1.0)
    _core.set_census(None)
