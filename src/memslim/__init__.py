"""memslim: find out where a Python program's memory goes, and what change saves how much.

Public API:

* :func:`sizeof` — the true deep size of an object (C++ engine).
* :func:`getsizeof` — exactly :func:`sys.getsizeof`, for comparison.
* :func:`track` — charge every allocation in a ``with`` block to its line and stack.
* :func:`profile` — a decorator printing a function's memory line by line.
* :func:`snapshot`, :func:`why_alive` — census of the heap, retained sizes, why-alive paths.

PYTEST_DONT_REWRITE: pytest rewrites the asserts of an installed plugin's package (ours, the
``pytest11`` entry point), and warns when that package was imported before it, as under
``memslim run -m pytest`` (an error under ``filterwarnings = error``). memslim's own asserts
are not tests.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from memslim._version import __version__

if TYPE_CHECKING:
    from memslim._sizeof import SizeDetail, SizeofError, TypeSize, getsizeof, sizeof
    from memslim._tracking import Tracker, profile, track
    from memslim.heap import HeapCensus, load_snapshot, save_snapshot, snapshot, why_alive

# The public names are loaded at their first use (PEP 562). pytest imports this package in
# every session of an environment where memslim is installed (its plugin, pytest11), and a
# notebook or service may import it long before it tracks anything: loading the engine and the
# census's modules then cost 2.4 MiB and 22 ms; loaded lazily, 0.09 MiB and 1.4 ms (2026-12-05,
# the plugin's import after pytest's).
_WHERE = {
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
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'memslim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


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
