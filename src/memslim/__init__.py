"""memslim: find out where a Python program's memory goes, and what change saves how much.

Public API:

* :func:`sizeof` — the true deep size of an object (C++ engine).
* :func:`getsizeof` — exactly :func:`sys.getsizeof`, for comparison.
* :func:`track` — charge every allocation in a ``with`` block to its line and stack.
* :func:`profile` — a decorator printing a function's memory line by line.
* :func:`snapshot`, :func:`why_alive` — census of the heap, retained sizes, why-alive paths.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from memslim._version import __version__

if TYPE_CHECKING:
    from memslim._sizeof import SizeDetail, SizeofError, TypeSize, getsizeof, sizeof
    from memslim._tracking import Tracker, profile, track
    from memslim.heap import HeapCensus, load_snapshot, save_snapshot, snapshot, why_alive

# The public names, imported when first used (PEP 562): `memslim run` imports this package
# before the program starts, and what it imports then is memory the program's run pays for
# (the census classes, `inspect` and `dataclasses` behind them: about 1 MiB).
_LAZY = {
    "SizeDetail": "memslim._sizeof",
    "SizeofError": "memslim._sizeof",
    "TypeSize": "memslim._sizeof",
    "getsizeof": "memslim._sizeof",
    "sizeof": "memslim._sizeof",
    "Tracker": "memslim._tracking",
    "profile": "memslim._tracking",
    "track": "memslim._tracking",
    "HeapCensus": "memslim.heap",
    "load_snapshot": "memslim.heap",
    "save_snapshot": "memslim.heap",
    "snapshot": "memslim.heap",
    "why_alive": "memslim.heap",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # a submodule (memslim._core, memslim.heap), as before this was lazy
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
