"""Deep object sizes: the Python face of the C++ walker in ``memslim._core``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from memslim import _core

SizeofError = _core.SizeofError

_ENTER_FLAGS = {
    "types": _core.ENTER_TYPES,
    "modules": _core.ENTER_MODULES,
    "functions": _core.ENTER_FUNCTIONS,
    "code": _core.ENTER_CODE,
}


def type_name(tp: type) -> str:
    """``module.QualName`` for user types, the bare name for built-ins."""
    module = getattr(tp, "__module__", None)
    qualname = getattr(tp, "__qualname__", tp.__name__)
    if module in (None, "builtins"):
        return qualname
    return f"{module}.{qualname}"


class TypeSize(NamedTuple):
    """One row of a size breakdown: all objects of one type."""

    type: type
    count: int
    bytes: int

    @property
    def name(self) -> str:
        return type_name(self.type)


@dataclass(frozen=True)
class SizeDetail:
    """The result of ``sizeof(obj, detail=True)``: total bytes and a breakdown by type."""

    bytes: int
    objects: int
    by_type: list[TypeSize]

    def __int__(self) -> int:
        return self.bytes

    def __str__(self) -> str:
        rows = [("type", "count", "bytes", "%")]
        for row in self.by_type:
            share = 100.0 * row.bytes / self.bytes if self.bytes else 0.0
            rows.append((row.name, f"{row.count:,}", f"{row.bytes:,}", f"{share:.1f}"))
        rows.append(("total", f"{self.objects:,}", f"{self.bytes:,}", "100.0"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = []
        for name, count, size, share in rows:
            lines.append(
                f"{name:<{widths[0]}}  {count:>{widths[1]}}  {size:>{widths[2]}}"
                f"  {share:>{widths[3]}}"
            )
        return "\n".join(lines)


def _enter_mask(enter: Iterable[str] | str) -> int:
    if isinstance(enter, str):
        enter = (enter,)
    mask = 0
    for kind in enter:
        try:
            mask |= _ENTER_FLAGS[kind]
        except KeyError:
            choices = ", ".join(repr(k) for k in _ENTER_FLAGS)
            raise ValueError(f"sizeof: cannot enter {kind!r}; choose from {choices}") from None
    return mask


def sizeof(obj: Any, *, detail: bool = False, enter: Iterable[str] | str = ()) -> Any:
    """Return the bytes of ``obj`` and of everything reachable from it, each object once.

    Objects are followed through the same references the cyclic garbage collector sees
    (``tp_traverse``), plus a NumPy array's ``base``. Each object is counted at its true size:
    its ``__sizeof__()``, the interpreter's pre-header (GC header, managed ``__dict__`` words),
    the attribute values of plain instances (an inline array that ``sys.getsizeof`` leaves out
    on CPython 3.11+), and its ``__dict__`` only if one was materialised. Measuring never creates
    a ``__dict__`` or changes the objects it measures.

    Defaults:

    * Classes and other types, modules, functions (including bound methods and built-in
      functions) and code objects are *boundaries*: shared program structure, neither entered
      nor counted. Pass ``enter=("types", "modules", "functions", "code")`` (any subset) to
      follow them. The object passed in is always counted and entered.
    * Objects shared by every program are not counted: those statically allocated by the
      interpreter (``None``, ``True``, small ints, one-character strings, empty tuple) and, on
      CPython 3.12+, immortal objects such as interned strings.
    * Objects with their own ``__sizeof__`` (NumPy arrays owning their data, ``array.array``,
      ``bytearray``) are counted with their buffers.

    With ``detail=True`` a :class:`SizeDetail` is returned instead of an int: the total, the
    number of objects and a breakdown by type (count, bytes), largest first.

    Raises :class:`SizeofError` (a ``ValueError``) naming the type when an object's
    ``__sizeof__`` raises or returns something that is not a non-negative int.
    """
    mask = _enter_mask(enter)
    if not detail:
        return _core.deep_sizeof(obj, mask, False)
    total, objects, rows = _core.deep_sizeof(obj, mask, True)
    return SizeDetail(total, objects, [TypeSize(*row) for row in rows])


def getsizeof(obj: Any) -> int:
    """Exactly what :func:`sys.getsizeof` returns on this interpreter (shallow, header included)."""
    return _core.getsizeof(obj)
