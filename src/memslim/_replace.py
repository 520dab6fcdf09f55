"""os's functions that memslim run replaces while the program runs (os._exit, the waits),
made to look like the ones they replace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memslim import _core


def as_the_real_one(replacement: Callable[..., Any], real: Callable[..., Any]) -> None:
    """``replacement`` of os's function ``real`` named, documented and signed as it
    (``inspect.signature`` follows ``__wrapped__``); it goes in ``posix`` too (os's functions
    are posix's), where pickle finds it by that name: a program that pickled os.waitpid, or
    gave os._exit to a spawned multiprocessing Process as its target, failed on it."""
    # memslim's own: a builtin makes its __name__ anew at each read, and the run may be
    # tracked by now (they were three strings of the program's census).
    tracked = _core.set_thread_tracked(False)
    try:
        replacement.__name__ = real.__name__
        replacement.__qualname__ = real.__qualname__
        replacement.__doc__ = real.__doc__
        replacement.__module__ = real.__module__  # "posix"
        replacement.__wrapped__ = real  # type: ignore[attr-defined]
    finally:
        _core.set_thread_tracked(tracked)
