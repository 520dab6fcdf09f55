"""``growth``: a module-level container that only grows and retains a large part of the peak, or a
module-level function cached without a bound (``functools.cache``) -> a bounded cache
(``functools.lru_cache(maxsize=...)``) or eviction."""

from __future__ import annotations

import ast
import functools
import itertools
import re
import sys
from collections.abc import Iterator
from typing import Any

from memslim.advice import measure
from memslim.advice._finding import Finding, Run
from memslim.advice.source import is_user_file, syntax_tree

BOUND = 1024  # entries the suggested cache keeps
_LRU_WRAPPER = type(functools.lru_cache(maxsize=None)(lambda: None))  # functools' C wrapper
_GLOBAL = re.compile(r"^module (\S+) → global '([^']+)'$")


def _module_file(run: Run, module: str) -> str | None:
    if module == "__main__" and run.main_globals is not None:
        file = run.main_globals.get("__file__")
    else:
        file = getattr(sys.modules.get(module), "__file__", None)
    return file if isinstance(file, str) and is_user_file(file) else None


def _definition_and_filler(file: str, name: str) -> tuple[int, str | None] | None:
    """The line assigning the global ``name`` at module level, and the function storing into it."""
    tree = syntax_tree(file)
    if tree is None:
        return None
    line = None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            line = node.lineno
    if line is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Subscript)
                    and isinstance(inner.ctx, ast.Store)
                    and isinstance(inner.value, ast.Name)
                    and inner.value.id == name
                ):
                    return line, node.name
    return line, None


def _grew(run: Run, path: str, length: int) -> bool:
    """Whether the container grew from census to census up to the last (or, with a single
    census, is still at least that large at the end of the run)."""
    earlier = [
        (retained, size) for _traced, rows in run.history for p, retained, size in rows if p == path
    ]
    if earlier:
        lengths = [size for _retained, size in earlier if size is not None] + [length]
        return all(a <= b for a, b in itertools.pairwise(lengths)) and lengths[0] < lengths[-1]
    return False


def _bounded(retained: int, entries: int) -> tuple[float, int]:
    """Bytes per entry of a cache of ``entries`` retaining ``retained`` bytes, and what it
    would retain bounded to BOUND entries by ``functools.lru_cache``."""
    per_entry = retained / entries
    return per_entry, int(BOUND * (per_entry + measure.lru_entry(BOUND)))


def _unbounded(wrapper: Any) -> bool:
    """Whether ``wrapper`` is functools' cache of a function of the user's, without a bound and
    holding more than BOUND entries."""
    if type(wrapper) is not _LRU_WRAPPER:
        return False
    info = wrapper.cache_info()  # a C method: runs none of the program's code
    code = getattr(getattr(wrapper, "__wrapped__", None), "__code__", None)
    return (
        info.maxsize is None
        and info.currsize > BOUND
        and code is not None
        and is_user_file(code.co_filename)
    )


def _user_caches(run: Run) -> dict[str, Any]:
    """The unbounded caches bound to module globals of the program's own modules, by name."""
    spaces = [run.main_globals or {}]
    spaces += [
        vars(m)
        for m in list(sys.modules.values())
        if isinstance(getattr(m, "__file__", None), str) and is_user_file(m.__file__)
    ]
    return {name: v for space in spaces for name, v in list(space.items()) if _unbounded(v)}


def _unbounded_cache(retainer: Any, name: str, wrapper: Any) -> Finding | None:
    """A module-level function cached without a bound (``@functools.cache``,
    ``@functools.lru_cache(maxsize=None)``) whose cache holds more than BOUND entries."""
    info = wrapper.cache_info()
    code = wrapper.__wrapped__.__code__
    if name in code.co_names:
        # It calls itself through its cache: a memo that makes a recursion polynomial. Bounded,
        # the recursion computes again what it dropped (a grid-path count went 1.2 s -> 15.5 s
        # at maxsize=1024, and grows exponentially with the grid): not a memory fix to propose.
        return None
    # The entries at the end of the run stand for those at the census near the peak (an
    # unbounded cache only grows, unless the program clears it).
    per_entry, bytes_after = _bounded(retainer.retained, info.currsize)
    if bytes_after >= retainer.retained:
        return None
    function = getattr(wrapper, "__qualname__", name)
    return Finding(
        kind="growth",
        file=code.co_filename,
        line=code.co_firstlineno,  # a decorated function's first line is its first decorator's
        symbol=name,
        count=info.currsize,
        bytes_now=retainer.retained,
        bytes_after=bytes_after,
        message=(
            f"{function}() caches every call without a bound: {info.currsize:,} entries at the "
            f"end of the run ({info.hits:,} hits, {info.misses:,} misses), retaining "
            f"{retainer.retained:,} bytes at the census near the peak (about {int(per_entry):,} "
            f"bytes each). Bounded to {BOUND:,} entries it would keep about {bytes_after:,} "
            "bytes; the calls it no longer holds are computed again."
        ),
        fix=f"@functools.lru_cache(maxsize={BOUND})\ndef {function}(...):",
    )


def find(run: Run) -> Iterator[Finding]:
    if run.census is None:
        return
    caches: dict[str, Any] | None = None
    for retainer in run.census.retainers:
        match = _GLOBAL.match(retainer.path)
        if retainer.type is _LRU_WRAPPER:
            # Its shortest path may be a frame's (a call to it running at the census): the cache
            # is then told by its being the one unbounded cache among the program's globals.
            caches = _user_caches(run) if caches is None else caches
            if match is not None:
                name = match.group(2)
                wanted = {name: caches[name]} if name in caches else {}
            else:
                wanted = caches if len(caches) == 1 else {}
            for name, wrapper in list(wanted.items()):  # `wanted` may be `caches` itself
                cached = _unbounded_cache(retainer, name, wrapper)
                if cached is not None:
                    yield cached
                caches.pop(name)
            continue
        if match is None or retainer.length is None or retainer.length <= BOUND:
            continue
        if not _grew(run, retainer.path, retainer.length):
            continue
        module, name = match.groups()
        file = _module_file(run, module)
        if file is None:
            continue
        found = _definition_and_filler(file, name)
        if found is None:
            continue
        line, filler = found
        per_entry, bytes_after = _bounded(retainer.retained, retainer.length)
        later = ""
        if module == "__main__":  # what the program left in it (len() reads no __dict__)
            value = (run.main_globals or {}).get(name)
            end = len(value) if isinstance(value, (dict, list, set)) else None
            if end is not None and end < retainer.length:
                later = f" (the program removed entries after the peak: {end:,} at the end)"
        if filler is not None:
            fix = f"@functools.lru_cache(maxsize={BOUND})\ndef {filler}(...):  # and drop {name}"
        else:
            fix = (
                f"# evict from {name} past {BOUND} entries, or cache with "
                f"functools.lru_cache(maxsize={BOUND})"
            )
        yield Finding(
            kind="growth",
            file=file,
            line=line,
            symbol=name,
            count=retainer.length,
            bytes_now=retainer.retained,
            bytes_after=bytes_after,
            message=(
                f"Module global {name} ({retainer.type.__name__}) grew at every census up to"
                f" the peak: {retainer.length:,} entries retaining {retainer.retained:,} bytes"
                f" at the census near the peak (about {int(per_entry):,} bytes each){later}."
                f" Bounded to "
                f"{BOUND:,} entries it would keep about {bytes_after:,} bytes."
            ),
            fix=fix,
        )
