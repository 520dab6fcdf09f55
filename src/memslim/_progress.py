"""A one-line progress display for the end of a run (issue 13: progress on any step over 2 s,
building the report included).

The program has ended and memslim waits for the last census, builds its tables, runs the advice
and writes its files: on a terminal, once that has taken ``after`` seconds, one line says which
step is under way and for how long, rewritten in place four times a second by a thread of
memslim's own, and erased before the report prints. Nothing on a pipe, a file or a CI log. The
C++ steps that run long (a census walk in the program's process) show their own line
(``engine/progress.h``).
"""

from __future__ import annotations

import _thread
import contextlib
import os
import time
from typing import TextIO

from memslim._threads import start_thread


def _after() -> float:
    """Seconds before the line shows: 2, or MEMSLIM_PROGRESS_AFTER (for tests; a value that is
    not a number is ignored: the run's report must not fail on it)."""
    try:
        return float(os.environ.get("MEMSLIM_PROGRESS_AFTER", "2"))
    except ValueError:
        return 2.0


_AFTER = _after()


def to_a_fresh_line(stream: TextIO) -> None:
    """On a terminal, moves what memslim writes next to the start of a line of its own when the
    program left its last line unfinished (``print(..., end="")``, a progress bar), as zsh
    does before its prompt: as many spaces as the terminal is wide, then a carriage return.
    From the first column they fill that line, and the return comes back to its start (a
    terminal wraps only when the next character comes); from any other, they wrap onto the
    next line, whose start the return goes to. The program's line stays as it was: the report
    began on it, and the progress line (``\r\033[K``) erased it. Nothing on a pipe or a file,
    or on a terminal that does not give its width."""
    try:
        if not stream.isatty() or os.environ.get("TERM") == "dumb":
            return
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return
    if columns > 0:
        with contextlib.suppress(OSError, ValueError):
            stream.write(" " * columns + "\r")
            stream.flush()


class EndProgress:
    def __init__(self, stream: TextIO, *, after: float = _AFTER, show: bool = True) -> None:
        self.stream = stream
        self.after = after
        try:
            self.enabled = show and stream.isatty()
        except (ValueError, OSError):  # closed
            self.enabled = False
        self.step = "finishing"
        self.started = time.monotonic()
        self.shown = False
        self._done = _thread.allocate_lock()
        self._stopped = _thread.allocate_lock()

    def start(self) -> None:
        if self.enabled:
            self._done.acquire()
            self._stopped.acquire()
            if self.after <= 0:
                self._show()
            start_thread(self._loop)

    def set(self, step: str) -> None:
        self.step = step

    def close(self) -> None:
        """Erases the line (before the report prints); the thread ends first."""
        if not self.enabled:
            return
        self.enabled = False
        self._done.release()
        self._stopped.acquire()  # the thread has ended: nothing writes after the erase
        if self.shown:
            with contextlib.suppress(OSError, ValueError):
                self.stream.write("\r\033[K")
                self.stream.flush()

    def _loop(self) -> None:
        try:
            while not self._done.acquire(timeout=0.25):
                if time.monotonic() - self.started >= self.after:
                    self._show()
        finally:
            self._stopped.release()

    def _show(self) -> None:
        seconds = time.monotonic() - self.started
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(f"\r\033[Kmemslim: {self.step} ({seconds:.0f} s)")
            self.stream.flush()
            self.shown = True
