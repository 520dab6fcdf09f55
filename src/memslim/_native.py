"""Memory outside PyMem while tracking: NumPy's array buffers (see ``cpython/numpy_handler.h``)
and the C allocator called by native code (``cpython/native_hooks.h``).

NumPy's allocator is wrapped as soon as its core module exists: at once if it is imported
already, else the moment the program imports it (an import hook on that one module), so that
``import numpy as np; a = np.ones(10**7)`` is recorded from its first array.
"""

from __future__ import annotations

import importlib.abc
import sys
from types import ModuleType
from typing import Any

from memslim import _core

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


class _InstallAfter(importlib.abc.Loader):
    """NumPy's own loader, then the wrapping of its allocator."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._loader.exec_module(module)
        finally:
            # The module keeps its own loader, as if it had been imported without this hook.
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        if _core.is_tracking():
            _install()


class _NumpyWatcher(importlib.abc.MetaPathFinder):
    """Finds NumPy's core module with the other finders and wraps its loader."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in _NUMPY_CORE:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _InstallAfter(spec.loader)
                return spec
        return None


_watcher = _NumpyWatcher()


def start(*, native: bool = True) -> None:
    """Tracking has started: trace NumPy's buffers now or from its import on, and the C
    allocator (unless not ``native``: Python's allocators only)."""
    problems.clear()
    if not native:
        return
    problem = _core.install_native_hooks()
    if problem:
        problems.append(problem)
    else:
        _state["native"] = True
    if _watcher not in sys.meta_path:
        sys.meta_path.insert(0, _watcher)
    _install()  # does nothing unless numpy is imported


def stop() -> None:
    """Tracking has stopped (``_core.stop_tracking`` restored NumPy's allocator and the C
    allocator's slots already). Adds to ``problems`` what native code did that memslim could
    not count."""
    if _watcher in sys.meta_path:
        sys.meta_path.remove(_watcher)
    _core.uninstall_numpy_handler()
    _core.uninstall_native_hooks()
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
