"""What objects are alive, what keeps them alive: a census of the heap, retained sizes from its
dominator tree, and a why-alive path from a root to any object.

The walk is C++ (``memslim._core``): every object the cyclic GC tracks and the untracked ones
they reach, each at its true size (as :func:`memslim.sizeof` counts it), linked by the references
the GC sees. A virtual root points to every object referenced from outside the heap — running
frames' locals, C code — found as objects whose reference count exceeds their referrers in the
heap. An object *retains* what would be freed if it went away: everything it dominates.
"""

from __future__ import annotations

import array
import heapq
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from memslim import _core, _stacks
from memslim._sizeof import TypeSize, type_name


@dataclass(frozen=True)
class PathStep:
    """How one object on a why-alive path refers to the next."""

    kind: str  # "root", "key", "dict key", "index", "attribute", "__dict__", "referent"
    detail: Any  # the key, index, attribute or local variable; None when there is none
    type: type  # the type of the object reached
    module: str | None  # for a module or a module's globals dict, the module's name


def format_path(steps: list[PathStep]) -> str:
    """``module app.cache → global '_memo' → ['user:42'] → .parent``, for people."""
    parts: list[str] = []
    in_module: str | None = None
    # A census taken after the program returned (its peak at its end) reaches its globals
    # through memslim's own record of how it ended (cli/target.py's Outcome): they are the
    # program's module's, and are named so.
    if (
        len(steps) > 1
        and steps[0].kind == "root"
        and getattr(steps[0].type, "__module__", None) == "memslim.cli.target"
        and getattr(steps[0].type, "__qualname__", None) == "Outcome"
        and (steps[1].kind, steps[1].detail) == ("attribute", "main_globals")
    ):
        steps = [PathStep("root", None, steps[1].type, "__main__"), *steps[2:]]
    for step in steps:
        if step.kind == "root":
            if step.module is not None:
                parts.append(f"module {step.module}")
            elif isinstance(step.detail, str) and step.detail.startswith("a temporary"):
                parts.append(step.detail)
            elif step.detail is not None:
                parts.append(f"local {step.detail}")
            else:
                parts.append(f"a {type_name(step.type)} held from outside the heap")
        elif step.kind == "__dict__":
            if step.module is not None and in_module == step.module:
                continue  # module -> its globals dict: "module x" says it already
            parts.append(".__dict__")
        elif step.kind == "key":
            if in_module is not None:
                parts.append(f"global {step.detail!r}")
            elif step.module is not None and step.type.__name__ == "module":
                parts.append(f"module {step.module}")
            else:
                parts.append(f"[{step.detail!r}]")
        elif step.kind == "index":
            parts.append(f"[{step.detail}]")
        elif step.kind == "attribute":
            parts.append(f".{step.detail}")
        elif step.kind == "dict key":
            parts.append("(a dict key)")
        else:
            parts.append(f"({type_name(step.type)})")
        in_module = step.module if step.module is not None else None
    return " → ".join(parts)


@dataclass(frozen=True)
class SiteCount:
    """Objects of one type allocated at one call stack (known while tracking runs)."""

    type: type
    site: int | None  # the allocation stack's node in the tracker's frame tree
    count: int
    bytes: int

    @property
    def name(self) -> str:
        return type_name(self.type)

    @property
    def frames(self) -> tuple[tuple[str, str, int], ...]:
        """(file, function, line) of the allocation stack, innermost first."""
        return _stacks.frames(self.site) or ()

    @property
    def where(self) -> str:
        if not self.frames:
            return "<no Python stack>"
        file, function, line = self.frames[0]
        return f"{file}:{line} in {function}"


class SiteRows(Sequence[SiteCount]):
    """A census's (type, allocation site, count, bytes) rows, kept as one array of integers and
    a table of their types; each row is made a SiteCount only when read. After importing
    scikit-learn a census has about 117,000 rows: as objects they held 28 MiB while the report
    was built, with the program's heap still there."""

    __slots__ = ("flat", "types")

    def __init__(self, types: list[type], flat: array.array[int]) -> None:
        self.types = types
        self.flat = flat  # type index, site (-1: none), count, bytes; per row

    @classmethod
    def pack(cls, rows: Iterable[tuple[type, int | None, int, int]]) -> SiteRows:
        index: dict[int, int] = {}
        types: list[type] = []
        flat = array.array("q")
        for tp, site, count, size in rows:
            i = index.get(id(tp))
            if i is None:
                i = index[id(tp)] = len(types)
                types.append(tp)
            flat.extend((i, -1 if site is None else site, count, size))
        return cls(types, flat)

    def _row(self, i: int) -> SiteCount:
        tp, site, count, size = self.flat[4 * i : 4 * i + 4]
        return SiteCount(self.types[tp], None if site < 0 else site, count, size)

    def __len__(self) -> int:
        return len(self.flat) // 4

    @overload
    def __getitem__(self, i: int) -> SiteCount: ...
    @overload
    def __getitem__(self, i: slice) -> list[SiteCount]: ...
    def __getitem__(self, i: int | slice) -> SiteCount | list[SiteCount]:
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._row(i)

    def __iter__(self) -> Iterator[SiteCount]:
        types, numbers = self.types, iter(self.flat)
        for tp, site, count, size in zip(numbers, numbers, numbers, numbers, strict=True):
            yield SiteCount(types[tp], None if site < 0 else site, count, size)

    def largest(self, n: int) -> list[SiteCount]:
        """The ``n`` rows holding the most bytes, largest first (ties in row order), made
        from the bytes column alone: sorting every row as a SiteCount took 0.2-0.4 s of the
        report after scikit-learn's 117,000 rows, twice (terminal and JSON)."""
        sizes = self.flat[3::4]
        order = heapq.nlargest(n, range(len(sizes)), key=sizes.__getitem__)
        return [self._row(i) for i in order]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SiteRows({len(self)} rows)"


def bytes_by_site(sites: Sequence[SiteCount]) -> dict[int, int]:
    """A census's bytes per known allocation site (rows of an unknown site left out)."""
    totals: dict[int, int] = {}
    get = totals.get
    if isinstance(sites, SiteRows):
        flat = sites.flat
        for site, size in zip(flat[1::4], flat[3::4], strict=True):
            if site >= 0:
                totals[site] = get(site, 0) + size
        return totals
    for row in sites:
        if row.site is not None:
            totals[row.site] = get(row.site, 0) + row.bytes
    return totals


def largest_sites(sites: Sequence[SiteCount], n: int) -> list[SiteCount]:
    """A census's ``n`` rows holding the most bytes, largest first."""
    if isinstance(sites, SiteRows):
        return sites.largest(n)
    return sorted(sites, key=lambda r: -r.bytes)[:n]


@dataclass(frozen=True)
class Retainer:
    """An object that keeps a large part of the heap alive, and the path that keeps it."""

    type: type
    size: int
    retained: int
    steps: list[PathStep]
    length: int | None = None  # items, for a dict, list or set

    @property
    def path(self) -> str:
        return format_path(self.steps)

    @property
    def type_name(self) -> str:
        return self.type.__qualname__


@dataclass(frozen=True)
class WhyAlive:
    size: int | None
    retained: int | None
    steps: list[PathStep]

    @property
    def path(self) -> str:
        return format_path(self.steps)


def _steps(raw: list[tuple[Any, ...]]) -> list[PathStep]:
    return [PathStep(kind, detail, tp, module) for kind, detail, tp, module in raw]


@dataclass(frozen=True)
class Growth:
    """How one type, or one type at one allocation site, changed between two censuses."""

    type: str
    where: str | None  # "file:line in function" of the allocation site; None for a type row
    count: int  # objects added (negative: removed)
    bytes: int


@dataclass(frozen=True)
class HeapDiff:
    by_type: list[Growth]  # largest growth in bytes first
    by_site: list[Growth]  # (type, site) rows; empty unless both censuses ran while tracking

    @property
    def bytes(self) -> int:
        return sum(row.bytes for row in self.by_type)


@dataclass(frozen=True)
class CensusFacts:
    """What memory advice reads from a census (see ``_core/cpython/census_advice.h``): rows of
    plain dicts per class, per allocation site of lists, strings and dicts, cyclic garbage with
    the attributes that close its cycles, large NumPy arrays' dtypes and value ranges, and large
    pandas DataFrames' columns with what a narrower form of each would take."""

    classes: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    strings: list[dict[str, Any]]
    dicts: list[dict[str, Any]]
    garbage: list[dict[str, Any]]
    cycle_edges: list[tuple[type, str, type, int, int, int | None, int | None]]
    arrays: list[dict[str, Any]]
    frames: list[dict[str, Any]]  # large pandas DataFrames, their columns measured (_frames.py)
    largest_garbage_group: int = 0  # bytes of the largest group of garbage linked together
    garbage_bytes: int = 0  # all unreachable objects (the garbage rows keep the larger parts)
    garbage_objects: int = 0
    # (file, line) of each frame of the thread that took the census, innermost first: the
    # calls still running then (an array made inside one is a working array of that call).
    running: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class HeapCensus:
    """The heap at one moment: objects by type, and the top retainers with their paths."""

    objects: int
    bytes: int
    types: list[TypeSize]
    retainers: list[Retainer]
    analysis_bytes: int
    sites: Sequence[SiteCount] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    facts: CensusFacts | None = None
    # Sample mode: the tracker's bytes (its samples' weights) at each site of `sites` when the
    # census was taken, for comparison with the same sites' bytes at the peak.
    site_live: dict[int, int] = field(default_factory=dict)
    # Exact mode: the tracker's bytes at each site of `sites` when the census was taken (each
    # block at the site that allocated it), for comparison with the same at the peak.
    site_tracked: dict[int, int] = field(default_factory=dict)

    def estimated_sites(self) -> Sequence[SiteCount]:
        """``sites`` as the report shows them. In sample mode a census knows the sites of
        sampled blocks only, so a site's rows count its sampled objects (300,000 instances of
        one class showed as 57, 5.4 KiB, under the type table's 300,000): each site's rows are
        scaled by the tracker's bytes there (its samples' weights, ``site_live``) over the
        bytes they count. Exact mode's rows are every object's, and so are those of a site
        whose rows count most of its sampled weight already (every block sampled: an interval
        of a byte, or blocks larger than the interval): they are left as counted."""
        if not self.site_live:
            return self.sites
        counted = bytes_by_site(self.sites)
        scaled = []
        for row in self.sites:
            live = self.site_live.get(row.site, 0) if row.site is not None else 0
            seen = counted.get(row.site, 0) if row.site is not None else 0
            k = live / seen if live > 0 and seen > 0 else 1.0
            if k < 1.5:
                k = 1.0
            scaled.append((row.type, row.site, round(row.count * k), round(row.bytes * k)))
        return SiteRows.pack(scaled)

    def path_to(self, obj: object) -> WhyAlive:
        """Why ``obj`` is alive now (a fresh walk of the heap: objects change)."""
        return why_alive(obj)

    def diff(self, baseline: HeapCensus) -> HeapDiff:
        """Growth since ``baseline`` by type and by (type, allocation site): objects and bytes
        added, largest first (net: objects freed in between count against those added)."""
        return HeapDiff(
            _growth(_by_type(self.types), _by_type(baseline.types)),
            _growth(_by_site(self.sites), _by_site(baseline.sites)),
        )


def _by_type(
    types: list[TypeSize] | list[SavedType],
) -> dict[tuple[str, str | None], tuple[int, int]]:
    return {(t.name, None): (t.count, t.bytes) for t in types}


def _by_site(sites: Sequence[SiteCount]) -> dict[tuple[str, str | None], tuple[int, int]]:
    rows: dict[tuple[str, str | None], tuple[int, int]] = {}
    for site in sites:
        key = (site.name, site.where)
        count, size = rows.get(key, (0, 0))
        rows[key] = (count + site.count, size + site.bytes)
    return rows


def _growth(
    now: dict[tuple[str, str | None], tuple[int, int]],
    before: dict[tuple[str, str | None], tuple[int, int]],
) -> list[Growth]:
    rows = []
    for key in now.keys() | before.keys():
        count, size = now.get(key, (0, 0))
        old_count, old_size = before.get(key, (0, 0))
        if count != old_count or size != old_size:
            rows.append(Growth(key[0], key[1], count - old_count, size - old_size))
    return sorted(rows, key=lambda g: (-g.bytes, g.type, g.where or ""))


def snapshot(top: int = 10, *, advice: bool = False, tracked: bool = False) -> HeapCensus:
    """Walk every live object: census by type (largest first) and the ``top`` retainers.
    ``advice=True`` also gathers the facts memory advice needs (:class:`CensusFacts`).
    ``tracked=True`` (while tracking): the retainers of what was allocated while tracking,
    each with the bytes of it that it keeps (``Retainer.retained``), instead of the whole
    heap's."""
    return census_from_raw(take_raw_census(top, advice=advice, tracked=tracked))


def take_raw_census(
    top: int, *, advice: bool, frames: bool = False, tracked: bool = False
) -> dict[str, Any]:
    """``_core.heap_snapshot`` with the large NumPy arrays it returns summarised (dtype and
    value range) and released at once: the census must not keep the program's objects.
    ``frames``: also measure the large pandas DataFrames' columns (a census child only: see
    memslim._frames)."""
    raw = _core.heap_snapshot(top, advice, tracked)
    if advice:
        raw["advice"]["running"] = _running_calls()
        found = raw["advice"].pop("frames")
        block_arrays: set[int] = set()
        raw["advice"]["frames"] = []
        arrays = raw["advice"].pop("arrays")
        if frames and found:
            from memslim._frames import frame_facts

            raw["advice"]["frames"], block_arrays = frame_facts(found, arrays)
        elif found:
            # Not measured here (a census in the program's process): which frames were alive,
            # for the advice to take their facts from a census child that measured them.
            raw["advice"]["frames"] = [
                {"site": site, "rows": 0, "columns": [], "copies": [], "measured": False}
                for _frame, site, _retained in found
                if site is not None
            ]
        del found
        raw["advice"]["arrays"] = [
            _array_facts(a, site, size, id(a) in block_arrays) for a, site, size in arrays
        ]
        del arrays
    return raw


def _running_calls() -> list[tuple[str, int]]:
    """(file, line) of each frame of this thread, innermost first: the calls in progress at the
    census (in a census child, the forking thread's: the only thread it has)."""
    calls = []
    frame = sys._getframe(1)
    while frame is not None:
        calls.append((frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    return calls


def retainer_summary(raw: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    """(path, retained bytes, items) of each top retainer of a raw census: kept from census
    to census to tell what only grows."""
    return [
        (format_path(_steps(path)), retained, length)
        for _tp, _size, retained, path, length in raw["retainers"]
    ]


def _array_facts(array: Any, site: int | None, size: int, in_frame: bool) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "site": site,
        "in_frame": in_frame,  # holds a pandas DataFrame's block: the frame's advice covers it
        "bytes": size,
        "dtype": array.dtype.str,
        "kind": array.dtype.kind,
        "itemsize": int(array.dtype.itemsize),
        "size": int(array.size),
        "owns_data": array.base is None,
        "min": None,
        "max": None,
        "integral": False,
    }
    # The range only where the dtype advice reads it: not of a view (its memory is another
    # array's) nor of a DataFrame's block (its frame's columns are measured, with their own
    # ranges: memslim._frames).
    if array.size and array.dtype.kind in "iubf" and facts["owns_data"] and not in_frame:
        low, high = value_range(array)
        facts["integral"] = array.dtype.kind != "f"
        plain = int if facts["integral"] else float
        facts["min"], facts["max"] = plain(low), plain(high)
    return facts


# Elements of a contiguous array value_range reduces at a time: 512 KiB of float64, which the
# cache still holds for the second reduction.
_RANGE_CHUNK = 1 << 16


def value_range(array: Any) -> tuple[Any, Any]:
    """``(array.min(), array.max())`` of a non-empty array, reading its memory once: a
    contiguous array chunk by chunk, both reductions on a chunk while the cache holds it. A
    census child reads every large array's range (the dtype advice, pandas' numeric columns);
    two passes over a NumPy job's arrays took two reads of all of them from memory."""
    import numpy as np

    contiguous = array.flags.c_contiguous or array.flags.f_contiguous
    if not contiguous or array.size <= _RANGE_CHUNK:
        return array.min(), array.max()
    flat = array.ravel(order="K")  # a view: the array is contiguous in one order or the other
    lows, highs = [], []
    for start in range(0, flat.size, _RANGE_CHUNK):
        chunk = flat[start : start + _RANGE_CHUNK]
        lows.append(chunk.min())
        highs.append(chunk.max())
    # Reduced by NumPy again, not by Python's min(): a NaN anywhere is the answer, as in NumPy.
    return np.asarray(lows).min(), np.asarray(highs).max()


def census_from_raw(raw: dict[str, Any]) -> HeapCensus:
    """A HeapCensus from what ``_core.heap_snapshot`` returned."""
    types = sorted(
        (TypeSize(tp, count, size) for tp, count, size in raw["types"]),
        key=lambda row: (-row.bytes, -row.count, row.name),
    )
    retainers = [
        Retainer(tp, size, retained, _steps(path), length)
        for tp, size, retained, path, length in raw["retainers"]
    ]
    rows = raw.get("sites", [])
    sites = rows if isinstance(rows, SiteRows) else SiteRows.pack(rows)
    facts = None
    if "advice" in raw:
        a = raw["advice"]
        # The facts' rows are few (each covers many objects): their frames are resolved here.
        for kind in ("lists", "strings", "dicts", "garbage", "arrays", "frames"):
            for row in a.get(kind, ()):
                row["frames"] = _stacks.frames(row["site"])
        facts = CensusFacts(
            a["classes"],
            a["lists"],
            a["strings"],
            a["dicts"],
            a["garbage"],
            a["cycle_edges"],
            a["arrays"],
            a.get("frames", []),
            a.get("largest_garbage_group", 0),
            a.get("garbage_bytes", 0),
            a.get("garbage_objects", 0),
            [tuple(call) for call in a.get("running", ())],
        )
    return HeapCensus(
        raw["objects"],
        raw["bytes"],
        types,
        retainers,
        raw["analysis_bytes"],
        sites,
        dict(raw.get("timings", {})),
        facts,
        dict(raw.get("site_live", {})),
        dict(raw.get("site_tracked", {})),
    )


def why_alive(obj: object) -> WhyAlive:
    """The bytes ``obj`` retains and a shortest labelled path to it from a root: module
    globals, dict keys, list indexes, attribute names, local variables of running frames."""
    raw = _core.why_alive(obj)
    return WhyAlive(raw.get("size"), raw["retained"], _steps(raw["path"]))


def save_snapshot(path: str) -> int:
    """Walk the heap and save it to ``path`` (a versioned, checksummed binary file that
    ``memslim heap`` reads without the original process). Returns the number of objects."""
    return _core.save_heap_snapshot(str(path))


@dataclass(frozen=True)
class ReportedSite:
    """A census row by type and allocation site, as a report keeps it (a capture file)."""

    name: str
    frames: tuple[tuple[str, str, int], ...]  # (file, function, line), innermost first
    count: int
    bytes: int


@dataclass(frozen=True)
class ReportedRetainer:
    """A top retainer as a report keeps it: its type's name and its path, as text."""

    type_name: str
    retained: int
    path: str


def census_from_report(census: dict[str, Any]) -> tuple[int, HeapCensus]:
    """The census of a memslim/1 report (its ``census`` object): what the terminal shows of it."""
    types = [SavedType(t["type"], t["count"], t["bytes"], 0, 0) for t in census["types"]]
    sites = [
        ReportedSite(
            row["type"],
            tuple((f["file"], f["function"], f["line"]) for f in row["frames"]),
            row["count"],
            row["bytes"],
        )
        for row in census["sites"]
    ]
    retainers = [
        ReportedRetainer(r["type"], r["retained_bytes"], r["path"]) for r in census["retainers"]
    ]
    heap = HeapCensus(census["objects"], census["bytes"], types, retainers, 0, sites)  # type: ignore[arg-type]
    return census["traced_bytes"], heap


@dataclass(frozen=True)
class SavedType:
    """One type in a saved snapshot. ``retained`` sums what its outermost objects retain (an
    object dominated by another of the same type is counted in that one); ``largest`` is the
    most any single object of the type retains."""

    name: str
    count: int
    bytes: int
    retained: int
    largest: int


@dataclass(frozen=True)
class SavedHeap:
    objects: int
    types: list[SavedType]

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.types)

    def growth(self, baseline: SavedHeap) -> list[Growth]:
        """Types that changed against ``baseline``, largest growth in bytes first."""
        return _growth(_by_type(self.types), _by_type(baseline.types))


def load_snapshot(path: str) -> SavedHeap:
    """Read a snapshot saved by :func:`save_snapshot`. A truncated or corrupted file, or one
    written by a newer memslim, raises ValueError with a one-line reason."""
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, not a heap snapshot")
    raw = _core.load_heap_snapshot(str(path))
    types = sorted((SavedType(*row) for row in raw["types"]), key=lambda t: (-t.bytes, t.name))
    return SavedHeap(raw["objects"], types)
