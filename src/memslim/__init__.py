"""memslim: find out where a Python program's memory goes, and what change saves how much.

Public API:

* :func:`sizeof` — the true deep size of an object (C++ engine).
* :func:`getsizeof` — exactly :func:`sys.getsizeof`, for comparison.
* :func:`track` — charge every allocation in a ``with`` block to its line and stack.
* :func:`profile` — a decorator printing a function's memory line by line.
* :func:`snapshot`, :func:`why_alive` — census of the heap, retained sizes, why-alive paths.
"""

from __future__ import annotations

from memslim._sizeof import SizeDetail, SizeofError, TypeSize, getsizeof, sizeof
from memslim._tracking import Tracker, profile, track
from memslim._version import __version__
from memslim.heap import HeapCensus, load_snapshot, save_snapshot, snapshot, why_alive


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext memslim``: the ``%%memslim`` and ``%memslim_sizeof`` magics."""
    from memslim.ipython import load_ipython_extension as load

    load(ipython)


__all__ = [
    "HeapCensus",
    "SizeDetail",
    "SizeofError",
    "Tracker",
    "TypeSize",
    "__version__",
    "getsizeof",
    "load_snapshot",
    "profile",
    "save_snapshot",
    "sizeof",
    "snapshot",
    "track",
    "why_alive",
]
