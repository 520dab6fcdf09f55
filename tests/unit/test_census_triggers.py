"""When censuses are taken: at a margin above the last one, and at a plateau, once the heap holds
above the last census, also in a loop that never releases the GIL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import memslim
from memslim import _core

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
