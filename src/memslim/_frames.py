"""What a census child reads of the pandas DataFrames alive at its moment: per large column, its
bytes and what a narrower form of it takes, built and measured on the column itself.

Runs in a forked census child only (``take_raw_census(..., frames=True)``): building a
categorical from a column allocates, and in the program's own process that would leave
memslim's objects between the program's (see forked_census.py). Reads pandas' block manager
(``DataFrame._mgr``), not the frame's ``__getitem__``, which makes and may cache a Series; a
pandas whose internals moved gives no facts, never an error."""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from memslim.heap import value_range

# Columns smaller than this are not worth a finding; the limit on the work keeps a census
# child over frames of tens of millions of cells from walking every string twice.
MIN_COLUMN_BYTES = 256 << 10
_MAX_CELLS = 20_000_000


def frame_facts(
    found: list[tuple[Any, int | None, int]],
    arrays: Sequence[tuple[Any, int | None, int]] = (),
) -> tuple[list[dict[str, Any]], set[int]]:
    """Facts of each pandas DataFrame in ``found`` ((frame, site, retained bytes) from the
    census), and the ids of the NumPy arrays that hold their blocks and indexes (their dtype is
    the frame's advice, not the arrays'). ``arrays``: the census's large arrays (array, site,
    bytes), which tell where a column's memory was made (a column's ``origin``)."""
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return [], set()
    import numpy as np

    origins = {
        int(array.__array_interface__["data"][0]): site
        for array, site, _size in arrays
        if site is not None and isinstance(array, np.ndarray)
    }
    rows: list[dict[str, Any]] = []
    block_arrays: set[int] = set()
    measured: dict[int, dict[str, Any]] = {}  # the same array in two frames: measured once
    arrays_by_row: list[dict[str, Any]] = []  # per row, its large ndarray columns by name
    budget = [_MAX_CELLS]
    # Largest first: the budget goes to the frames that matter.
    for frame, site, _retained in sorted(found, key=lambda f: -f[2]):
        if not isinstance(frame, pandas.DataFrame):
            continue
        try:
            # Its blocks' arrays and its index's: a NumPy dtype finding on them would point at
            # the frame's line with an .astype() that is not how a frame is changed.
            held = [block.values for block in frame._mgr.blocks]
            held.append(getattr(frame.index, "_values", None))
            for values in held:
                while values is not None:
                    block_arrays.add(id(values))
                    values = getattr(values, "base", None)
            columns = _columns(pandas, frame, measured, budget, origins)
            large = _large_arrays(frame)
            known = {str(c["name"]): c["bytes"] for c in columns}
            sizes = _column_sizes(pandas, frame, budget, known)
        except Exception:  # pandas' internals are not what this reads: no facts for it
            continue
        rows.append(
            {
                "site": site,
                "rows": len(frame.index),
                "columns": columns,
                "copies": [],
                "sizes": sizes,
            }
        )
        arrays_by_row.append(large)
    _mark_copies(rows, arrays_by_row, budget)
    return rows, block_arrays


def _column_sizes(
    pandas: Any, frame: Any, budget: list[int], known: dict[str, int]
) -> dict[str, int] | None:
    """What leaving each column out would free: its array, and for a column of Python objects
    the distinct objects that only it holds (what ``usecols=`` saves). ``known``: the columns
    _columns measured so already. None past the budget, or where two columns share a name."""
    import numpy as np

    names = [str(name) for name in frame.columns]
    if len(set(names)) != len(names):
        return None
    sizes: dict[str, int] = {}
    manager = frame._mgr
    for i, name in enumerate(names):
        if name in known:
            sizes[name] = known[name]
            continue
        values = manager.iget_values(i)
        objects = _object_cells(pandas, np, values)
        if objects is not None:
            budget[0] -= int(objects.size)
            if budget[0] < 0:
                return None
            alone, _shared = _ByAddress(np, objects).distinct_bytes() if objects.size else (0, 0)
            sizes[name] = int(objects.nbytes) + alone
        else:
            sizes[name] = int(values.nbytes)
    return sizes


def _large_arrays(frame: Any) -> dict[str, Any]:
    """The frame's columns held as NumPy arrays of MIN_COLUMN_BYTES or more, by name (a name
    that two columns share is left out: which one matched would be a guess)."""
    import numpy as np

    names = [str(name) for name in frame.columns]
    repeated = {name for name, n in Counter(names).items() if n > 1}
    found: dict[str, Any] = {}
    for i, name in enumerate(names):
        if name in repeated:
            continue
        values = frame._mgr.iget_values(i)
        if isinstance(values, np.ndarray) and values.nbytes >= MIN_COLUMN_BYTES:
            found[name] = values
    return found


def _mark_copies(
    rows: list[dict[str, Any]], arrays_by_row: list[dict[str, Any]], budget: list[int]
) -> None:
    """Notes on both rows each column that two frames hold with the same values in separate
    memory (``b = a.copy()`` with both kept): ``{"name", "bytes", "of": the other row}``. A
    column two frames share (a copy-on-write copy not yet written) is not a copy here."""
    import numpy as np

    groups: dict[tuple[str, str, tuple[int, ...]], list[tuple[int, Any]]] = {}
    for row, columns in enumerate(arrays_by_row):
        for name, values in columns.items():
            groups.setdefault((name, values.dtype.str, values.shape), []).append((row, values))
    for (name, _dtype, _shape), group in groups.items():
        for k, (first, one) in enumerate(group):
            for second, other in group[k + 1 :]:
                # Frames made at one site (in a loop) would be charged to nobody: not compared.
                same_site = rows[first]["site"] == rows[second]["site"]
                if same_site or np.may_share_memory(one, other):
                    continue
                budget[0] -= 2 * int(one.size)
                if budget[0] < 0:
                    return
                try:  # objects' own __eq__ may raise, or answer with an array
                    if not np.array_equal(one, other, equal_nan=one.dtype.kind in "fc"):
                        continue
                except Exception:
                    continue
                for row, of in ((first, second), (second, first)):
                    rows[row]["copies"].append({"name": name, "bytes": int(one.nbytes), "of": of})


def _columns(
    pandas: Any,
    frame: Any,
    measured: dict[int, dict[str, Any]],
    budget: list[int],
    origins: dict[int, int],
) -> list[dict[str, Any]]:
    """The facts of each of ``frame``'s large columns. A column whose memory another frame
    holds too (a copy-on-write copy, an assign, a merge that kept the left frame's rows: pandas
    3) is measured once, with the first frame found (the largest); the others' facts are a
    copy marked ``shared``. Each gets ``memory`` (where the values are: the same for all
    holders) and ``origin`` (the allocation site of that memory, when the census listed its
    array), so that the advice can charge it to the frame made where the column was."""
    import numpy as np

    manager = frame._mgr
    columns = []
    for i, name in enumerate(frame.columns):
        values = manager.iget_values(i)
        arrow = _arrow_strings(values)
        # Frames that share a column (a copy-on-write copy, an assign) share its memory.
        where = _memory_of(np, values, arrow)
        if where and where in measured:
            columns.append({**measured[where], "name": str(name), "shared": True})
            continue
        column = _column(pandas, np, str(name), values, arrow, budget)
        if column is not None:
            columns.append(column)
            if where:
                column["memory"] = where
                column["origin"] = origins.get(where)
                measured[where] = column
    return columns


def _memory_of(np: Any, values: Any, arrow: Any) -> int:
    """Where a column's values are (its NumPy buffer, or its first Arrow chunk's data buffer:
    ``arrow``, from _arrow_strings), or 0."""
    cells = values if isinstance(values, np.ndarray) else getattr(values, "_ndarray", None)
    if isinstance(cells, np.ndarray):
        return int(cells.__array_interface__["data"][0])
    if arrow is not None and arrow.num_chunks > 0:
        buffers = arrow.chunk(0).buffers()
        if buffers and buffers[-1] is not None:
            return int(buffers[-1].address)
    return 0


def _column(
    pandas: Any, np: Any, name: str, values: Any, arrow: Any, budget: list[int]
) -> dict[str, Any] | None:
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        size = int(values.size)
        nbytes = size * values.dtype.itemsize
        if nbytes < MIN_COLUMN_BYTES or size == 0:
            return None
        budget[0] -= size
        if budget[0] < 0:
            return None
        low, high = value_range(values)
        integral = values.dtype.kind in "iu"
        return {
            "name": name,
            "dtype": str(values.dtype),
            "kind": values.dtype.kind,
            "itemsize": int(values.dtype.itemsize),
            "size": size,
            "bytes": nbytes,
            "min": int(low) if integral else float(low),
            "max": int(high) if integral else float(high),
        }
    if arrow is not None:
        return _arrow_column(pandas, name, values, arrow, budget)
    objects = _object_cells(pandas, np, values)
    if objects is None:
        return None
    # The distinct objects it holds, by address (one pass over its pointers): what both the
    # categorical and the bytes it holds alone are measured from.
    by_address = _ByAddress(np, objects)  # read when first asked for
    # Few distinct values first: only then is the column worth the count of what it holds.
    # Strings of many values: what PyArrow would hold them in.
    column = _as_category(pandas, name, values, int(objects.nbytes), budget, by_address)
    if column is None:
        column = _as_arrow(pandas, name, values, objects, budget)
    if column is None:
        return None
    alone, shared = by_address.distinct_bytes()
    column["bytes"] += alone
    column["shared_bytes"] = shared  # its objects that something else holds too
    return column


def _as_category(
    pandas: Any,
    name: str,
    values: Any,
    nbytes: int,
    budget: list[int],
    by_address: _ByAddress | None = None,
) -> dict[str, Any] | None:
    """A column of strings's facts (its own ``nbytes`` so far) with what it takes as a
    categorical, built here; None if it is small, over the budget, or of many values.
    ``by_address``: the distinct objects of a column of Python objects: the categorical is built
    from their distinct values (its categories are the column's, in the same order), and its
    codes for every cell are counted as pandas sizes them, by the number of categories.
    Building it from every cell hashed every string again: 20-40 ms a column of 300,000
    cells."""
    size = len(values)
    if size == 0 or nbytes < MIN_COLUMN_BYTES:
        return None
    budget[0] -= 2 * size
    if budget[0] < 0:
        return None
    cells = values
    if by_address is not None:
        # Its distinct values, by hashing alone (each object's first cell: one hash of each
        # string however many cells hold it), counted before anything is sorted: a column of
        # many values is no category, and building one sorted them all (300,000 distinct
        # strings: 40 ms). The categorical of the distinct values has the column's categories
        # (the values that pd.unique keeps are the first to appear, in that order).
        cells = pandas.unique(values[by_address.first])
        if (len(cells) - int(pandas.isna(cells).sum())) * 2 > size:
            return None
    categorical = pandas.Categorical(cells)
    categories = len(categorical.categories)
    if categories * 2 > size:
        return None
    # pandas' own measure (Categorical.memory_usage): the codes, and the categories deep.
    codes = categorical.codes
    as_category = int(categorical.memory_usage(deep=True)) - codes.nbytes + size * codes.itemsize
    return _strings(name, values, nbytes, categories=categories, as_category=as_category)


def _as_arrow(
    pandas: Any, name: str, values: Any, objects: Any, budget: list[int]
) -> dict[str, Any] | None:
    """A column of Python strings (``object``, pandas 2's default for text) with what it takes
    as ``string[pyarrow]``, built here: one buffer of the characters and an offset per row.
    None where the program's environment has no PyArrow, or some value is not a string."""
    size = len(values)
    nbytes = int(objects.nbytes)
    if size == 0 or nbytes < MIN_COLUMN_BYTES or not _pyarrow_installed():
        return None
    budget[0] -= 2 * size
    if budget[0] < 0:
        return None
    # Every value a string or missing: pandas' conversion would turn any other into its str.
    if pandas.api.types.infer_dtype(objects, skipna=True) != "string":
        return None
    try:
        arrow = _arrow_strings(pandas.array(objects, dtype="string[pyarrow]"))
    except (ImportError, TypeError, ValueError):  # a pandas without it
        return None
    if arrow is None:
        return None
    as_arrow = int(arrow.get_total_buffer_size())
    return _strings(name, values, nbytes, as_arrow=as_arrow, arrow_pool=_arrow_pool())


def _strings(name: str, values: Any, nbytes: int, **narrower: Any) -> dict[str, Any]:
    """The facts of a column of strings (``nbytes`` its own so far), with its narrower form's."""
    return {
        "name": name,
        "dtype": str(values.dtype),
        "kind": "O",
        "size": len(values),
        "bytes": nbytes,
        "shared_bytes": 0,
        **narrower,
    }


@functools.cache
def _pyarrow_installed() -> bool:
    """Whether the program's environment has PyArrow (the census child imports it to build the
    column; the program's own process never does)."""
    return importlib.util.find_spec("pyarrow") is not None


def _arrow_column(
    pandas: Any, name: str, values: Any, arrow: Any, budget: list[int]
) -> dict[str, Any] | None:
    """A column of strings held by PyArrow (pandas 3's ``str`` with PyArrow installed,
    ``string[pyarrow]``): its bytes are its Arrow buffers', which PyArrow's own memory pool
    holds (not traced, unless that pool is the system's), and no Python object per cell."""
    column = _as_category(pandas, name, values, int(arrow.get_total_buffer_size()), budget)
    if column is not None:
        column["arrow_pool"] = _arrow_pool()
    return column


def _arrow_strings(values: Any) -> Any:
    """The PyArrow chunked array of strings behind a pandas column, or None."""
    chunked = getattr(values, "_pa_array", None)
    pyarrow = sys.modules.get("pyarrow")
    if chunked is None or pyarrow is None or not isinstance(chunked, pyarrow.ChunkedArray):
        return None
    kind = chunked.type
    types = pyarrow.types
    is_view = getattr(types, "is_string_view", lambda _t: False)
    if types.is_string(kind) or types.is_large_string(kind) or is_view(kind):
        return chunked
    return None


def _arrow_pool() -> str:
    """The backend of PyArrow's default memory pool ("system": through malloc, traced)."""
    try:
        return str(sys.modules["pyarrow"].default_memory_pool().backend_name)
    except Exception:
        return ""


class _ByAddress:
    """The distinct objects an object array refers to, by address, read from the array's own
    buffer of pointers in one pass in C (``_core.distinct_objects``), when first asked for."""

    def __init__(self, np: Any, objects: Any) -> None:
        self.np = np
        self.objects = objects

    @functools.cached_property
    def _distinct(self) -> tuple[Any, int, int]:
        from memslim import _core

        cells = self.np.ascontiguousarray(self.objects)
        copies = 1 if cells is self.objects else 2  # a contiguous copy holds each reference again
        first, alone, shared = _core.distinct_objects(
            cells.__array_interface__["data"][0], cells.size, copies
        )
        return self.np.frombuffer(first, dtype=self.np.int64), alone, shared

    @property
    def first(self) -> Any:
        """The cell where each distinct object first appears, in that order."""
        return self._distinct[0]

    def distinct_bytes(self) -> tuple[int, int]:
        """The bytes of the distinct objects, each counted once (a CSV reader hands out one str
        per distinct value of a chunk; memory_usage(deep=True) counts it once per cell), as
        (held by this array alone, also held elsewhere): sys.getsizeof of each, held alone when
        its reference count is the column's references to it. Converting the column frees only
        the first: an object whose reference count is more than that stays."""
        _first, alone, shared = self._distinct
        return alone, shared


def _object_cells(pandas: Any, np: Any, values: Any) -> Any:
    """The object array behind a column of Python objects (strings stored as ``object`` or
    as pandas' python-backed ``str``), or None."""
    if isinstance(values, np.ndarray):
        return values if values.dtype.kind == "O" else None
    cells = getattr(values, "_ndarray", None)
    if isinstance(values, pandas.api.extensions.ExtensionArray) and isinstance(cells, np.ndarray):
        return cells if cells.dtype.kind == "O" else None
    return None
