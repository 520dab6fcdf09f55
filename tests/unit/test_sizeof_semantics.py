"""memslim.sizeof semantics: each object once, cycles, boundaries, detail, no side effects."""

from __future__ import annotations

import array
import collections
import contextlib
import gc
import sys
import threading
import time
import tracemalloc
import types

import pytest

import memslim


def shallow(obj: object) -> int:
    return memslim._core.true_sizeof(obj)


class Plain:
    def __init__(self, value: object) -> None:
        self.value = value


def test_list_counts_itself_and_its_items() -> None:
    items = [f"item {i}" for i in range(10)]
    assert memslim.sizeof(items) == sys.getsizeof(items) + sum(sys.getsizeof(s) for s in items)


def test_shared_subobject_is_counted_once() -> None:
    shared = [float(i) + 0.5 for i in range(100)]
    outer = [shared, shared, shared]
    assert memslim.sizeof(outer) == sys.getsizeof(outer) + memslim.sizeof(shared)


def test_self_reference_and_cycles_terminate_and_count_once() -> None:
    a: list[object] = []
    a.append(a)
    assert memslim.sizeof(a) == sys.getsizeof(a)

    x, y = Plain(None), Plain(None)
    x.value, y.value = y, x
    assert memslim.sizeof(x) == memslim.sizeof(y) == shallow(x) + shallow(y)


def test_million_long_chain_needs_no_recursion() -> None:
    head = None
    for _ in range(1_000_000):
        head = [head]
    assert memslim.sizeof(head) == 1_000_000 * sys.getsizeof([None])
    # A million-deep chain of instances too (their frames would blow the C stack if recursive).
    node = None
    for _ in range(1_000_000):
        node = Plain(node)
    assert memslim.sizeof(node, detail=True).objects == 1_000_000


def test_true_size_includes_inline_values_that_getsizeof_misses() -> None:
    obj = Plain(None)
    assert shallow(obj) > sys.getsizeof(obj)


def test_materialised_dict_counted_only_when_it_exists() -> None:
    class Point:
        def __init__(self) -> None:
            self.x, self.y = 1000.5, 2000.5

    _warm = [Point() for _ in range(40)]
    a, b = Point(), Point()
    assert memslim.sizeof(a) == memslim.sizeof(b)
    b.__dict__  # noqa: B018 - materialise the dict of b only
    grown = memslim.sizeof(b) - memslim.sizeof(a)
    assert grown >= 48, "a materialised __dict__ costs at least a dict object"
    assert dict in {row.type for row in memslim.sizeof(b, detail=True).by_type}
    assert dict not in {row.type for row in memslim.sizeof(a, detail=True).by_type}


def test_classes_modules_functions_and_code_are_boundaries() -> None:
    def function() -> None:
        pass

    holder = [Plain, types, function, function.__code__, len, Plain(1).__init__]
    assert memslim.sizeof(holder) == sys.getsizeof(holder)
    with_types = memslim.sizeof(holder, enter="types")
    assert with_types > sys.getsizeof(holder) + sys.getsizeof(Plain)
    everything = memslim.sizeof(holder, enter=("types", "modules", "functions", "code"))
    assert everything > with_types


def test_root_is_always_counted_even_when_a_boundary() -> None:
    def function() -> None:
        pass

    assert memslim.sizeof(function) >= sys.getsizeof(function)
    assert memslim.sizeof(types) > sys.getsizeof(types)


def test_instance_does_not_count_its_class() -> None:
    obj = Plain(None)
    assert memslim.sizeof(obj) == shallow(obj)


def test_unknown_enter_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cannot enter 'classes'"):
        memslim.sizeof([], enter="classes")


def test_static_singletons_are_not_counted() -> None:
    values = [None, True, False, 0, 1, 255, "", "a", (), Ellipsis]
    assert memslim.sizeof(values) == sys.getsizeof(values)


def test_buffers_counted_for_array_bytearray_numpy() -> None:
    assert memslim.sizeof(array.array("d", range(1000))) >= 8000
    assert memslim.sizeof(bytearray(10_000)) >= 10_000
    np = pytest.importorskip("numpy")
    data = np.zeros(100_000)
    view = data[::10]
    assert memslim.sizeof(data) >= 800_000
    assert memslim.sizeof(view) >= 800_000, "a view keeps its base's buffer alive"
    assert memslim.sizeof([data, view]) < memslim.sizeof(data) + memslim.sizeof(view)


def test_detail_breakdown_sums_to_total_largest_first() -> None:
    data = {f"k{i}": [float(i) + 0.5, f"v{i}"] for i in range(1000)}
    detail = memslim.sizeof(data, detail=True)
    assert detail.bytes == memslim.sizeof(data)
    assert int(detail) == detail.bytes
    assert sum(row.bytes for row in detail.by_type) == detail.bytes
    assert sum(row.count for row in detail.by_type) == detail.objects
    by_type = {row.type: row for row in detail.by_type}
    assert by_type[float].count == 1000
    assert by_type[list].count == 1000
    assert by_type[dict].count == 1
    assert by_type[str].count == 2000
    sizes = [row.bytes for row in detail.by_type]
    assert sizes == sorted(sizes, reverse=True)
    text = str(detail)
    assert "float" in text and "total" in text


def test_measuring_leaves_reference_counts_unchanged() -> None:
    items = [Plain(float(i)) for i in range(100)]
    before = [sys.getrefcount(x) for x in items]
    memslim.sizeof(items, detail=True)
    after = [sys.getrefcount(x) for x in items]
    assert after == before


def test_measuring_100k_instances_creates_no_dicts() -> None:
    instances = [Plain(float(i)) for i in range(100_000)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        size = memslim.sizeof(instances)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert size > 100_000 * 48
    # A materialised __dict__ would cost >= 64 B per instance (6.4 MB here).
    assert after - before < 10_000


class RaisingSizeof:
    def __sizeof__(self) -> int:
        raise RuntimeError("broken on purpose")


class NegativeSizeof:
    def __sizeof__(self) -> int:
        return -8


class FloatSizeof:
    def __sizeof__(self) -> float:
        return 12.5


class HugeSizeof:
    def __sizeof__(self) -> int:
        return 2**80


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (RaisingSizeof, r"RaisingSizeof.__sizeof__\(\) raised RuntimeError: broken on purpose"),
        (NegativeSizeof, r"NegativeSizeof.__sizeof__\(\) returned -8"),
        (FloatSizeof, r"FloatSizeof.__sizeof__\(\) returned float, not an int"),
        (HugeSizeof, r"HugeSizeof.__sizeof__\(\) returned 1208925819614629174706176"),
    ],
)
def test_broken_sizeof_raises_sizeof_error_naming_the_type(cls: type, message: str) -> None:
    victim = [cls()]
    with pytest.raises(memslim.SizeofError, match=message) as info:
        memslim.sizeof([victim, "other"])
    assert isinstance(info.value, ValueError)
    if cls is RaisingSizeof:
        assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize("cls", [RaisingSizeof, NegativeSizeof, FloatSizeof, HugeSizeof])
def test_failed_walk_releases_what_it_held(cls: type) -> None:
    victim = [cls()]
    refs_before = sys.getrefcount(victim[0])
    for _ in range(3):
        with contextlib.suppress(memslim.SizeofError):
            memslim.sizeof([victim, "other"])
    refs_after = sys.getrefcount(victim[0])  # outside `assert`: pytest's rewrite holds a ref
    assert refs_after == refs_before


def test_python_sizeof_is_called() -> None:
    class Declared:
        def __sizeof__(self) -> int:
            return 1000

    declared = Declared()
    assert memslim._core.true_sizeof(declared) >= 1000
    assert memslim.sizeof([declared]) == sys.getsizeof([None]) + memslim._core.true_sizeof(declared)


class SlowSizeof:
    """A __sizeof__ that lets other threads run in the middle of a walk."""

    def __sizeof__(self) -> int:
        time.sleep(0)  # releases the GIL: the mutating thread runs mid-walk
        return 100


def test_concurrent_mutation_does_not_crash() -> None:
    shared: list[object] = [SlowSizeof() for _ in range(20)]
    stop = threading.Event()
    mutations = [0]

    def mutate() -> None:
        i = 0
        while not stop.is_set():
            shared.append([SlowSizeof(), {f"k{i}": [i]}])
            if len(shared) > 40:
                del shared[:20]
            shared.sort(key=id)
            i += 1
            mutations[0] = i

    thread = threading.Thread(target=mutate)
    thread.start()
    try:
        # A number of walks, not a time: each walk lets the mutator run mid-walk (SlowSizeof),
        # and the loop goes on until the list has been mutated during the walks.
        walks = 0
        while walks < 10 or mutations[0] < 10:
            assert memslim.sizeof(shared) > 0
            walks += 1
    finally:
        stop.set()
        thread.join()
    assert mutations[0] >= 10


def _builtin_samples() -> list[object]:
    def function() -> None:
        pass

    def generator():  # type: ignore[no-untyped-def]
        yield 1

    class Heap:
        pass

    return [
        0,
        1,
        -1,
        255,
        256,
        2**30,
        2**62,
        -(2**100),
        1.5,
        2j,
        True,
        None,
        Ellipsis,
        "",
        "a",
        "ascii",
        "é" * 10,
        "€" * 10,
        "😀" * 10,
        b"",
        b"x",
        b"bytes" * 10,
        bytearray(b"abc"),
        bytearray(1000),
        (),
        (1,),
        (1, 2, 3),
        [],
        [1],
        list(range(100)),
        {},
        {"a": 1},
        {i: i for i in range(100)},
        set(),
        {1, 2},
        set(range(100)),
        frozenset(),
        frozenset(range(10)),
        range(10),
        slice(1, 2),
        memoryview(b"abc"),
        array.array("i", [1, 2]),
        collections.deque(),
        collections.deque(range(100)),
        collections.OrderedDict(a=1),
        collections.defaultdict(list),
        types.SimpleNamespace(a=1),
        property(),
        staticmethod(len),
        int,
        type,
        Heap,
        Heap(),
        object(),
        function,
        len,
        function.__code__,
        generator(),
        iter([]),
        iter({}),
        {}.keys(),
        sys,
        sys._getframe(),
        ValueError("x"),
        types.MappingProxyType({}),
        super(Heap, Heap()),
        NotImplemented,
    ]


def test_getsizeof_equals_sys_getsizeof_for_builtin_types() -> None:
    for obj in _builtin_samples():
        assert memslim.getsizeof(obj) == sys.getsizeof(obj), type(obj)


def test_cyclic_gc_state_is_restored() -> None:
    assert gc.isenabled()
    memslim.sizeof([1.5])
    assert gc.isenabled()
    gc.disable()
    try:
        memslim.sizeof([1.5])
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(memslim.SizeofError):
        memslim.sizeof([NegativeSizeof()])
    assert gc.isenabled()
