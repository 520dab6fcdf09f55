"""Sizes of the alternatives a finding suggests, measured on the running interpreter by
building them (``memslim._core.true_sizeof``: what the allocator really holds, as the census
counts it). Nothing here is a constant copied from a table: each version of CPython lays these
objects out differently, and the report must reflect the one that ran."""

from __future__ import annotations

import array
import collections
import functools

from memslim import _core


@functools.cache
def slotted_instance(attributes: int, weakref: bool = False) -> int:
    """Bytes of an instance of a class with ``attributes`` slots, all set (and a
    ``__weakref__`` slot when asked)."""
    names = tuple(f"a{i}" for i in range(attributes))
    twin = type("SlottedTwin", (), {"__slots__": names + (("__weakref__",) if weakref else ())})
    instance = twin()
    for name in names:
        setattr(instance, name, None)
    return _core.true_sizeof(instance)


@functools.cache
def tuple_of(length: int) -> int:
    """Bytes of a tuple of ``length`` items (0: the shared empty tuple costs nothing)."""
    if length == 0:
        return 0
    return _core.true_sizeof(tuple(object() for _ in range(length)))


def tuples(count: int, items: int) -> int:
    """Bytes of ``count`` non-empty tuples holding ``items`` items in all."""
    one, two = tuple_of(1), tuple_of(2)
    per_item = two - one
    return count * (one - per_item) + items * per_item


@functools.cache
def array_of(typecode: str, length: int) -> int:
    """Bytes of an ``array.array(typecode)`` of ``length`` items."""
    return _core.true_sizeof(array.array(typecode, bytes(length * array.array(typecode).itemsize)))


def arrays(typecode: str, count: int, items: int) -> int:
    """Bytes of ``count`` arrays holding ``items`` items in all."""
    empty = array_of(typecode, 0)
    per_item = array.array(typecode).itemsize
    header = array_of(typecode, 1) - per_item
    return count * max(header, empty) + items * per_item


@functools.cache
def empty_deque_over_list() -> int:
    """How many more bytes an empty deque holds than an empty list."""
    return _core.true_sizeof(collections.deque()) - _core.true_sizeof([])


@functools.cache
def lru_entry(maxsize: int = 1024) -> int:
    """Bytes functools.lru_cache adds per cached call (its dict slot and link), measured by
    filling a cache of ``maxsize`` entries with shared keys and results."""
    from memslim import sizeof

    @functools.lru_cache(maxsize=maxsize)
    def cached(key: int) -> None:
        return None

    keys = list(range(10_000, 10_000 + maxsize))
    empty = sizeof(cached)
    for key in keys:
        cached(key)
    full = sizeof(cached) - sum(_core.true_sizeof(k) for k in keys)
    return max(0, (full - empty) // maxsize)


# Entries interned_table_growth builds at most; beyond, it scales the measured cost per entry.
_TABLE_MEASURED = 1 << 17


@functools.cache
def _str_dict(entries: int) -> int:
    table = {str(i): None for i in range(entries)}
    return _core.true_sizeof(table) - _core.true_sizeof({})


def interned_table_growth(values: int) -> int:
    """Bytes the interpreter's table of interned strings takes for ``values`` more distinct
    values: a dict of as many str keys, built here (up to 131,072 of them, scaled beyond). An
    entry and its share of the index, about 38 bytes at 100,000 values on 3.11, where each
    repeat interning saves the bytes of one string: a field of many distinct values saves much
    less than its repeats hold. Measured as a fresh table; the interpreter's own is larger by
    the names it interned already, and grows in the same steps."""
    if values <= 0:
        return 0
    if values <= _TABLE_MEASURED:
        return _str_dict(values)
    return _str_dict(_TABLE_MEASURED) * values // _TABLE_MEASURED
