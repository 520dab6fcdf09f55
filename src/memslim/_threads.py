"""memslim's own threads in the program's process."""

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
    of the thread that starts it: blocked around the start, restored after."""
    blocked = signal.valid_signals() - _SYNCHRONOUS
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        return _thread.start_new_thread(function, args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
