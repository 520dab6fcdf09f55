"""memslim's own threads in the program's process, and its own work in the program's."""

from __future__ import annotations

import _thread
import signal
from collections.abc import Callable
from typing import Any

# Faults are the thread's own: blocking them would turn a bug into a hang or a silent kill.
_SYNCHRONOUS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT}


def start_thread(function: Callable[..., Any], *args: Any) -> int:
    """Starts ``function(*args)`` in a ``_thread`` (not in ``threading.enumerate()``) that
    blocks every asynchronous signal. A signal sent to the process goes to any thread that does
    not block it; had memslim's thread taken a SIGTERM or a SIGINT, Python's handler would wait
    for the main thread, which may sit in a blocking call: a Pool worker in ``sem_wait``, told
    to terminate, never ended, and the pool's ``join`` hung. The new thread inherits the mask
    of the thread that starts it: blocked around the start, restored after.

    Returns once the thread runs, recording nothing of its own (``untrack_this_thread``; what
    it allocates before its first line, 16 KiB of frame stack, is not recorded either: the
    tracker knows its thread state as made by memslim's own work, Recording::thread_starts)."""
    from memslim import _core

    ready = _thread.allocate_lock()
    ready.acquire()
    with OwnWork():  # the signal sets' enums are memslim's
        blocked = signal.valid_signals() - _SYNCHRONOUS
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            ident = _thread.start_new_thread(_own_thread, (_core, ready, function, args))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    ready.acquire()
    return ident


def _own_thread(core: Any, ready: Any, function: Callable[..., Any], args: tuple) -> None:
    try:
        core.untrack_this_thread()
    finally:
        ready.release()  # start_thread waits for it
    function(*args)


class OwnWork:
    """``with OwnWork():`` what the calling thread allocates inside is memslim's, not recorded
    (its frees still are). For memslim's work in a thread of the program's while tracking runs:
    the standard library functions that work calls (``threading.enumerate``,
    ``signal.valid_signals``) were lines of the program's in its report, since a user stack
    starts above memslim's own frames (the runner calls the program)."""

    __slots__ = ("_tracked",)  # no instance dict made while the thread is still tracked

    def __enter__(self) -> None:
        from memslim import _core

        self._tracked = _core.set_thread_tracked(False)

    def __exit__(self, *exc_info: object) -> None:
        from memslim import _core

        _core.set_thread_tracked(self._tracked)
