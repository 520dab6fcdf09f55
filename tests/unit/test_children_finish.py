"""How a child's ending paths meet (children.finish, _on_sigterm): the capture is written once,
a SIGTERM handler that interrupts the write waits for it instead of locking itself out, and
the child then dies of the signal. The write and the death are recorded instead of done."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from memslim import children

SIGTERM = 15


@pytest.fixture
def ending(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[SimpleNamespace]:
    """A child of this process whose final write and death are recorded."""
    settings = children.Settings(str(tmp_path), "exact", 262144.0, 0, False, [])
    child = children._Child(settings, 0.0, SimpleNamespace(_pid=os.getpid()))
    seen = SimpleNamespace(child=child, written=[], died=[], during_write=lambda: None)

    def write(child: Any, exit_code: int | None) -> None:
        seen.during_write()
        seen.written.append(exit_code)

    monkeypatch.setattr(children, "_write_final_capture", write)
    monkeypatch.setattr(children, "_die_of", seen.died.append)
    monkeypatch.setitem(children._state, "child", child)
    yield seen


def _in_thread(function: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=function, args=args, daemon=True)
    thread.start()
    return thread


def _ended(thread: threading.Thread) -> bool:
    thread.join(timeout=60)  # only a deadlock reaches the deadline
    return not thread.is_alive()


def test_a_handler_that_interrupts_the_write_lets_it_finish(ending: SimpleNamespace) -> None:
    ending.during_write = lambda: children._on_sigterm(SIGTERM, None)
    assert _ended(_in_thread(children.finish, 3))
    assert ending.written == [3] and ending.died == [SIGTERM]


class _SignalAfterAcquire:
    """A lock whose first acquisition is followed at once by the SIGTERM handler, in the same
    thread: the moment (right after the lock, before any mark) that deadlocked a spawned worker
    ending at exit, under ASan in CI."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fired = False

    def __enter__(self) -> None:
        self.lock.acquire()
        if not self.fired:
            self.fired = True
            children._on_sigterm(SIGTERM, None)

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_a_handler_right_after_the_lock_does_not_deadlock(ending: SimpleNamespace) -> None:
    ending.child.lock = _SignalAfterAcquire()
    assert _ended(_in_thread(children.finish, None))
    assert ending.written == [None] and ending.died == [SIGTERM]


def test_a_second_thread_waits_for_the_write_then_dies(ending: SimpleNamespace) -> None:
    """memslim's relay thread writes; the main thread's handler, run meanwhile, waits for the
    write (it does not write again) and then ends the child."""
    writing, release = threading.Event(), threading.Event()

    def slow_write() -> None:
        writing.set()
        assert release.wait(timeout=60)

    ending.during_write = slow_write
    relay = _in_thread(children.finish, -SIGTERM)
    assert writing.wait(timeout=60)
    handler = _in_thread(children._on_sigterm, SIGTERM, None)
    assert ending.died == []  # waits for the write, which has not ended
    release.set()
    assert _ended(relay) and _ended(handler)
    assert ending.written == [-SIGTERM] and ending.died == [SIGTERM]


def test_after_the_write_a_handler_only_ends_the_child(ending: SimpleNamespace) -> None:
    children.finish(0)
    children._on_sigterm(SIGTERM, None)
    assert ending.written == [0] and ending.died == [SIGTERM]
