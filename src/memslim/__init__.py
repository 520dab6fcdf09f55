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
from memslim.heap import HeapCensus, load_snapshot, save_snapshot, snapshot, why_alive


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata when first asked for:
    importlib.metadata (and the email, zipfile and csv modules it imports) cost every
    ``memslim run`` 20 ms and 2 MiB before the program started."""
    if name != "__version__":
        raise AttributeError(f"module 'memslim' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("memslim")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        found = "0+unknown"
    globals()["__version__"] = found
    return found


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
