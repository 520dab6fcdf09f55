"""The report's wait for census children after the program (JSON `census.forked.wait_seconds`,
ForkedCensuses.finish): it counts from the call until the last child it waits for has ended.
Truth: the clock outside finish(), and the moment the test itself ended the child, which
finish() cannot see coming (it waits on a pipe the test closes)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from memslim import forked_census


def _a_child_that_walks_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[subprocess.Popen, forked_census.ForkedCensuses, threading.Event]:
    """A stand-in for a census child still walking (it ends when its stdin is closed), and an
    event set once finish() is about to wait for it (it promotes the children it waits for)."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    censuses = forked_census.ForkedCensuses(top=5)
    censuses._totals[forked_census._COUNT] = 1
    censuses._set(1, forked_census._PID, child.pid)
    censuses._set(1, forked_census._STATE, forked_census._RUNNING)
    censuses._set(1, forked_census._TRACED, 100)
    censuses._set(1, forked_census._STARTED, time.time())
    waiting = threading.Event()
    monkeypatch.setattr(forked_census, "promote", lambda pid: waiting.set() or True)
    return child, censuses, waiting


def test_the_wait_for_a_walking_child_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in for a census child still walking: it ends when its stdin is closed.
    child, censuses, waiting = _a_child_that_walks_forever(monkeypatch)
    closed_after: list[float] = []  # seconds from finish()'s promote to the child's release

    def end_the_child() -> None:
        waiting.wait()
        promoted = time.monotonic()
        assert child.stdin is not None
        # finish() cannot return before the child ends, which it does after this:
        closed_after.append(time.monotonic() - promoted)
        child.stdin.close()

    helper = threading.Thread(target=end_the_child)
    helper.start()
    try:
        before = time.monotonic()
        censuses.finish(peak_bytes=100)
        outside = time.monotonic() - before
    finally:
        helper.join()
        censuses.close()
        child.wait()  # reaped by finish() already: Popen learns it (no ResourceWarning)
    waited = censuses.results()[2]["wait_seconds"]
    assert closed_after[0] <= waited <= outside, (closed_after, waited, outside)


@pytest.mark.parametrize("how", ["Ctrl-C", "SIGTERM"])
def test_ctrl_c_or_sigterm_stops_the_wait_not_the_report(
    monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The program has ended and the report waits for the last census: a Ctrl-C there ended
    memslim with its own traceback and no report, SIGTERM with no report. Now the wait stops,
    the child is killed, and the report says why it has no newer census."""
    import _thread
    import os
    import signal

    child, censuses, waiting = _a_child_that_walks_forever(monkeypatch)
    before = signal.getsignal(signal.SIGTERM)

    def interrupt() -> None:
        waiting.wait()
        if how == "Ctrl-C":
            _thread.interrupt_main()
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=interrupt)
    helper.start()
    try:
        censuses.finish(peak_bytes=100)  # returns: nothing raised into the report
        killed = censuses._get(1, forked_census._STATE) == forked_census._KILLED
    finally:
        helper.join()
        censuses.close()
        assert child.stdin is not None
        child.stdin.close()
        child.wait()  # reaped by close() already: Popen learns it
    assert killed
    assert censuses.errors == [
        f"the last census was not waited for ({how}): the report has no census of the heap"
    ]
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_census_given_up_at_the_deadline_is_told(monkeypatch: pytest.MonkeyPatch) -> None:
    child, censuses, _waiting = _a_child_that_walks_forever(monkeypatch)
    try:
        censuses.finish(peak_bytes=100, timeout=0.0)
        killed = censuses._get(1, forked_census._STATE) == forked_census._KILLED
    finally:
        censuses.close()
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    assert killed
    assert censuses.errors == [
        "the last census was given up after 0 s of waiting: the report has no census of the heap"
    ]
