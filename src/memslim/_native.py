"""Memory outside PyMem while tracking: NumPy's array buffers (see ``cpython/numpy_handler.h``)
and the C allocator called by native code (``cpython/native_hooks.h``).

NumPy's allocator is wrapped as soon as its core module exists: at once if it is imported
already, else the moment the program imports it (an import hook on that one module), so that
``import numpy as np; a = np.ones(10**7)`` is recorded from its first array.
"""

from __future__ import annotations

import sys
from types import ModuleType

from memslim import _core
from memslim._imports import AfterImport

_NUMPY_CORE = frozenset({"numpy._core._multiarray_umath", "numpy.core._multiarray_umath"})

# Why NumPy's buffers or other memory are not traced in this run, if they are not (one line
# each).
problems: list[str] = []
# Whether start() installed the native hooks (read by stop()).
_state = {"native": False}


def _install() -> None:
    problem = _core.install_numpy_handler()
    if problem and problem not in problems:
        problems.append(problem)


def _install_if_tracking(_module: ModuleType) -> None:
    if _core.is_tracking():
        _install()


_watcher = AfterImport(_NUMPY_CORE, _install_if_tracking)


def start(*, native: bool = True) -> None:
    """Tracking has started: trace NumPy's buffers now or from its import on, and the C
    allocator (unless not ``native``: Python's allocators only)."""
    problems.clear()
    if not native:
        # Still hooked: dlopen and the GIL sections, so that a census does not fork while a
        # thread is in a library's code (forked_census.ForkUnsafe). Where that cannot be done,
        # neither can native tracking, which the user turned off: nothing to say.
        _core.install_native_hooks(allocations=False)
        return
    problem = _core.install_native_hooks()
    if problem:
        problems.append(problem)
    else:
        _state["native"] = True
    _watcher.install()  # wraps NumPy's allocator now if it is imported already


def stop() -> None:
    """Tracking has stopped (``_core.stop_tracking`` restored NumPy's allocator and the C
    allocator's slots already). Adds to ``problems`` what native code did that memslim could
    not count."""
    _watcher.remove()
    _core.uninstall_numpy_handler()
    _core.uninstall_native_hooks()
    ran_out = _core.own_memory_ran_out_at()
    if ran_out >= 0:
        problems.append(
            f"memslim's own tables could not grow (out of memory) {ran_out:.2f} s into the"
            " run: blocks allocated after that are not counted (those allocated before are)"
        )
    if not _state["native"]:
        return
    _state["native"] = False
    reserved = _core.reserved_map_bytes()
    if reserved >= 1 << 20:
        problems.append(
            f"{reserved / (1 << 20):,.1f} MiB of address space that native code reserved"
            " (anonymous maps with PROT_NONE or MAP_NORESERVE: the arenas of an allocator"
            " inside a library, or of glibc's threads) is not counted as held; what that"
            " allocator hands out of it is not seen"
        )
    pool = _arrow_pool()
    if pool is not None:
        problems.append(pool)


def _arrow_pool() -> str | None:
    """PyArrow's memory pool, when the program uses one memslim cannot see (its allocator is
    linked into libarrow): what it holds, by its own count."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is None:
        return None
    try:
        pool = pyarrow.default_memory_pool()
        backend = pool.backend_name
        if backend == "system":  # malloc: traced like any native code's
            return None
        used, most = pool.bytes_allocated(), pool.max_memory()
    except Exception:  # an old or partial PyArrow: nothing to say
        return None
    return (
        f"PyArrow's {backend} pool, linked into libarrow, is not seen: by its own count it held"
        f" {used:,} bytes at the end and {most:,} at most"
        " (ARROW_DEFAULT_MEMORY_POOL=system makes it use malloc, which memslim traces)"
    )
