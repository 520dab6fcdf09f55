"""follow_the_call: which of the program's code objects a follow-up census waits for, after a
census inside a library's call. The tracker's numbers are replaced (a parse's native buffers
are most of the traced bytes) and what it is handed is recorded; the stacks are real: a census
that runs in a thread the library started (a parallel parse's worker, when a collection starts
there) has no program frame of its own, and the program's code that waits for the call is on
another thread's stack (CI, 3.12: the request was dropped, and the read's frame never seen)."""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from memslim import _core, forked_census


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[list[types.CodeType]]:
    calls: list[list[types.CodeType]] = []
    monkeypatch.setattr(_core, "traced_bytes", lambda: 400 << 20)
    monkeypatch.setattr(_core, "peak_traced_bytes", lambda: 400 << 20)
    monkeypatch.setattr(_core, "visible_traced_bytes", lambda: 40 << 20)
    monkeypatch.setattr(_core, "census_after_return", lambda codes: calls.append(list(codes)))
    return calls


@pytest.fixture
def censuses() -> Iterator[forked_census.ForkedCensuses]:
    made = forked_census.ForkedCensuses(top=5)  # no census before these tests' own
    yield made
    made.close()


def _census_in_worker(censuses: forked_census.ForkedCensuses) -> None:
    # The census callback's caller in a pool's worker: the executor's own frame (a library's).
    caller = sys._getframe(1)
    assert forked_census._is_library(caller), caller.f_code.co_filename
    censuses.follow_the_call(caller)


def test_a_census_in_a_library_thread_waits_for_the_code_that_waits_for_the_call(
    handed: list[list[types.CodeType]], censuses: forked_census.ForkedCensuses
) -> None:
    this = sys._getframe().f_code
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_census_in_worker, censuses).result()
    assert len(handed) == 1, handed
    assert this in handed[0], [c.co_name for c in handed[0]]
    assert len(handed[0]) <= forked_census.FOLLOW_CODES


def test_a_census_in_a_call_the_program_made_on_its_own_thread_waits_for_that_thread(
    handed: list[list[types.CodeType]], censuses: forked_census.ForkedCensuses
) -> None:
    started, release = threading.Event(), threading.Event()

    def elsewhere() -> None:  # another thread of the program, in its own code
        started.set()
        release.wait()

    other = threading.Thread(target=elsewhere)
    other.start()
    started.wait()
    try:
        with contextlib.ExitStack() as stack:  # calls back from contextlib: a library frame
            stack.callback(lambda: censuses.follow_the_call(sys._getframe(1)))
    finally:
        release.set()
        other.join()
    assert handed == [[sys._getframe().f_code]], [[c.co_name for c in h] for h in handed]


def test_a_census_in_the_programs_own_code_withdraws_the_request(
    handed: list[list[types.CodeType]], censuses: forked_census.ForkedCensuses
) -> None:
    censuses.follow_the_call(sys._getframe())
    assert handed == [[]]


def test_a_census_where_native_memory_is_not_most_asks_for_nothing(
    handed: list[list[types.CodeType]],
    censuses: forked_census.ForkedCensuses,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_core, "visible_traced_bytes", lambda: 300 << 20)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_census_in_worker, censuses).result()
    assert handed == []


def test_a_census_after_the_calls_peak_asks_as_one_at_its_peak(
    handed: list[list[types.CodeType]],
    censuses: forked_census.ForkedCensuses,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The census waited for the main thread to wake: the parse's buffers are freed by then,
    # the frame is still being put together (visible bytes most of the traced ones now).
    monkeypatch.setattr(_core, "traced_bytes", lambda: 90 << 20)
    monkeypatch.setattr(_core, "visible_traced_bytes", lambda: 80 << 20)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_census_in_worker, censuses).result()
        assert len(handed) == 1 and sys._getframe().f_code in handed[0]
        # A later census at the same peak (a library call's, long after the parse): that peak
        # was the first one's to follow up; nothing is asked again.
        pool.submit(_census_in_worker, censuses).result()
    assert len(handed) == 1, handed


def test_a_follow_up_census_asks_for_no_other(
    handed: list[list[types.CodeType]],
    censuses: forked_census.ForkedCensuses,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A follow-up runs once the program's code allocates after the call, when what the call
    returned is bound, though its safe point may lie inside the next line's library call:
    asking again there forked a second follow-up 10 ms later, and the report waited for both
    (pandas' bench job). It withdraws the request instead."""
    monkeypatch.setattr(_core, "census_is_follow_up", lambda: True)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_census_in_worker, censuses).result()
    assert handed == [[]]
