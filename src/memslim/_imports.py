"""Run a function on a module the moment the program imports it: an import hook on a few named
modules, which finds them with the other finders and runs the module's own loader first.

The module keeps its own loader (``__loader__``, ``__spec__.loader``), as if it had been
imported without the hook.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


class _ThenLoader(importlib.abc.Loader):
    """A module's own loader, then ``then(module)``."""

    def __init__(self, loader: Any, then: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._then = then

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._loader.exec_module(module)
        finally:
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        self._then(module)


class AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``then(module)`` once each of ``names`` is imported (at once for those that are
    imported already), while installed."""

    def __init__(self, names: frozenset[str], then: Callable[[ModuleType], None]) -> None:
        self.names = names
        self.then = then

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)
        for name in self.names:
            module = sys.modules.get(name)
            if module is not None:
                self.then(module)

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.names:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _ThenLoader(spec.loader, self.then)
                return spec
        return None
