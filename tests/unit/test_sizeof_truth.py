"""memslim.sizeof against the ground truth: what tracemalloc sees a structure allocate.

Each shape is built fresh (sharing nothing that existed before, apart from objects the
interpreter never frees), many times over so that free lists and one-off caches are noise, and
its deep size must be within 2% of the bytes traced while building it.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import typing

import pytest

import memslim
from tests.conftest import traced_build

TOLERANCE = 0.02


def _make_class(attributes: int) -> type:
    names = [f"a{i}" for i in range(attributes)]
    body = "".join(f"        self.{n} = v + {i}.5\n" for i, n in enumerate(names))
    namespace: dict[str, typing.Any] = {}
    exec(f"class Plain{attributes}:\n    def __init__(self, v):\n{body}", namespace)
    cls = namespace[f"Plain{attributes}"]
    # Shared-key dicts give a class's first ~30 instances larger value arrays (CPython shrinks
    # them as instances are created); make those before measuring, as any real program would.
    _warm = [cls(0.0) for _ in range(40)]
    return cls


PLAIN = {n: _make_class(n) for n in (1, 5, 20, 40)}


class Slotted:
    __slots__ = ("x", "y", "z")

    def __init__(self, v: float) -> None:
        self.x, self.y, self.z = v, v + 1.5, str(v)


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str


@dataclasses.dataclass(slots=True)
class SlottedPoint:
    x: float
    y: float
    label: str


Pair = collections.namedtuple("Pair", "left right")


class Row(typing.NamedTuple):
    key: str
    value: float


class Node:
    def __init__(self, value: int, children: list[Node]) -> None:
        self.value = value
        self.children = children


def _dict_read(i: int) -> object:
    obj = PLAIN[5](i * 1.0)
    obj.__dict__  # noqa: B018 - materialises the instance dict, which must then be counted
    return obj


def _json_doc(i: int) -> dict[str, typing.Any]:
    return {
        f"id-{i}": i + 1000,
        "name": f"user number {i}",
        "scores": [i + 0.25, i + 0.5, i + 0.75],
        "tags": [f"t{i}-{k}" for k in range(3)],
        "address": {"street": f"{i} Main St", "zip": str(10000 + i), "geo": [i * 1.5, -i * 2.5]},
        "active": i % 2 == 0,
        "parent": None,
    }


def _tree(i: int) -> Node:
    leaves = [Node(1000 + i * 10 + k, []) for k in range(3)]
    return Node(500 + i, [Node(600 + i, leaves), Node(700 + i, [])])


def _numpy(i: int) -> typing.Any:
    np = pytest.importorskip("numpy")
    return np.arange(i, i + 20_000, dtype=np.float64)


def _numpy_view(i: int) -> typing.Any:
    np = pytest.importorskip("numpy")
    return np.arange(i, i + 40_000, dtype=np.int64)[::2]


def _numpy_objects(i: int) -> typing.Any:
    # An object array's items are reachable only through its buffer: NumPy arrays are not GC
    # containers (pandas 2's text columns are such arrays).
    np = pytest.importorskip("numpy")
    return np.array([f"item {i}-{k}" for k in range(2_000)], dtype=object)


def _numpy_objects_view(i: int) -> typing.Any:
    np = pytest.importorskip("numpy")
    names = np.array([f"row {i}-{k}" for k in range(2_000)], dtype=object)
    return names.reshape(1_000, 2)[::2, 0]  # a view of a view: its base holds every item


# name -> (factory(i), copies)
SHAPES: dict[str, tuple[typing.Callable[[int], typing.Any], int]] = {
    "list-of-floats": (lambda i: [i + k + 0.5 for k in range(20)], 5000),
    "list-of-big-ints": (lambda i: [i * 1000 + k + 1000 for k in range(20)], 5000),
    "tuple-of-ints": (lambda i: tuple(i * 100 + k + 1000 for k in range(10)), 10000),
    "dict-str-keys": (lambda i: {f"key{i}-{k}": k + 1000 for k in range(10)}, 3000),
    "dict-int-keys": (lambda i: {i * 100 + k + 1000: f"v{k}" for k in range(10)}, 3000),
    "dict-tuple-keys": (lambda i: {(i + 1000, k + 1000): k * 0.5 for k in range(8)}, 3000),
    "empty-dicts-and-lists": (lambda i: ({}, [], set()), 20000),
    "set-of-str": (lambda i: {f"member-{i}-{k}" for k in range(12)}, 3000),
    "frozenset-of-ints": (lambda i: frozenset(i * 100 + k + 1000 for k in range(12)), 3000),
    "json-document": (_json_doc, 3000),
    # `-(big + i)`: the sum is allocated one digit too long and shrunk in place (x_add's
    # normalisation, a slack no size API can see); the negation copies it at its exact size.
    "big-ints": (lambda i: -(2**1000 + i), 20000),
    "str-ascii": (lambda i: f"ascii text number {i} " * 3, 20000),
    "str-latin1": (lambda i: f"café déjà vu {i} " * 3, 20000),
    "str-ucs2": (lambda i: f"€uro ₿ {i} " * 3, 20000),
    "str-ucs4": (lambda i: f"emoji 😀 {i} " * 3, 20000),
    "bytes": (lambda i: f"bytes {i}".encode() * 8, 20000),
    "bytearray": (lambda i: bytearray(f"buf {i}".encode() * 8), 20000),
    "complex": (lambda i: complex(i, i + 1), 20000),
    "plain-1-attribute": (lambda i: PLAIN[1](i * 1.0), 20000),
    "plain-5-attributes": (lambda i: PLAIN[5](i * 1.0), 10000),
    "plain-20-attributes": (lambda i: PLAIN[20](i * 1.0), 3000),
    "plain-40-attributes": (lambda i: PLAIN[40](i * 1.0), 2000),
    "plain-dict-read": (_dict_read, 10000),
    "slotted": (lambda i: Slotted(i * 1.0), 20000),
    "dataclass": (lambda i: Point(i * 1.0, i * 2.0, f"p{i}"), 20000),
    "dataclass-slots": (lambda i: SlottedPoint(i * 1.0, i * 2.0, f"p{i}"), 20000),
    "namedtuple": (lambda i: Pair(f"l{i}", i * 0.5), 20000),
    "typing-namedtuple": (lambda i: Row(f"k{i}", i * 0.5), 20000),
    "array-double": (lambda i: array.array("d", [i + 0.5] * 200), 3000),
    "array-int": (lambda i: array.array("i", range(i, i + 300)), 3000),
    "deque": (lambda i: collections.deque(f"x{i}-{k}" for k in range(100)), 1000),
    "matrix": (lambda i: [[i * 1.0 + c for c in range(8)] for _ in range(8)], 500),
    "records": (lambda i: [(f"r{i}-{k}", k + 1000, k * 0.5) for k in range(10)], 2000),
    "tree-of-instances": (_tree, 5000),
    "numpy-array": (_numpy, 30),
    "numpy-view": (_numpy_view, 30),
    "numpy-object-array": (_numpy_objects, 30),
    "numpy-object-view": (_numpy_objects_view, 30),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_sizeof_matches_tracemalloc(shape: str) -> None:
    factory, copies = SHAPES[shape]
    factory(0)  # first-call costs (imports, caches) are not part of the structure
    built, traced = traced_build(factory, copies)
    measured = memslim.sizeof(built)
    assert traced > 100_000, "shape too small to measure reliably"
    error = (measured - traced) / traced
    assert abs(error) <= TOLERANCE, (
        f"{shape}: memslim.sizeof={measured:,} tracemalloc={traced:,} ({error:+.2%})"
    )
