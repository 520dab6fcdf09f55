"""Frames of the allocation sites a census names, resolved on demand.

A census names each object's allocation site by its node in the tracker's frame tree; only the
rows a report or a finding reads are turned into frames, once each.
"""

from __future__ import annotations

from memslim import _core

Stack = tuple[tuple[str, str, int], ...]  # (file, function, line), innermost first

_cache: dict[int, Stack] = {}


def frames(site: int | None) -> Stack | None:
    """The frames of ``site``, innermost first; None for an unknown site."""
    if site is None:
        return None
    stack = _cache.get(site)
    if stack is None:
        stack = _cache[site] = _core.site_stack(site)
    return stack


Location = tuple[int, int, int, int]  # (line, column, end line, end column); UTF-8 byte columns


def locations(site: int) -> tuple[Location, ...]:
    """Where in its line each frame of ``site`` was (the expression that allocated, from the
    frame's instruction), innermost first, parallel to :func:`frames`; a column is -1 where
    the code object has no position."""
    return _core.site_locations(site)


def forget() -> None:
    """Sites of an earlier recording mean nothing in the next one: call when tracking starts."""
    _cache.clear()
