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


def test_the_wait_for_a_walking_child_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in for a census child still walking: it ends when its stdin is closed.
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    censuses = forked_census.ForkedCensuses(top=5)
    censuses._totals[forked_census._COUNT] = 1
    censuses._set(1, forked_census._PID, child.pid)
    censuses._set(1, forked_census._STATE, forked_census._RUNNING)
    censuses._set(1, forked_census._TRACED, 100)
    censuses._set(1, forked_census._STARTED, time.time())
    waiting = threading.Event()  # finish() promotes the children it is about to wait for
    monkeypatch.setattr(forked_census, "promote", lambda pid: waiting.set() or True)
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
