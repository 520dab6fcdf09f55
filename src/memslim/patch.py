"""``memslim run --patch FILE.diff``: the mechanical fixes of a run's findings as one unified
diff that ``git apply`` (or ``patch -p1``) applies from the current directory.

Made for the kinds whose fix is the same edit in every program:

* ``generator``: the list comprehension fed to a one-pass consumer becomes a generator
  expression (``sum([f(x) for x in xs])`` → ``sum(f(x) for x in xs)``; in a ``for`` statement,
  ``for v in [...]:`` → ``for v in (...):``), and so do those of the finding's ``also_lines``
  (temporaries that would keep the peak were this one fixed alone);
* ``slots``: a plain class gets ``__slots__`` as the first statement of its body (after its
  docstring); a ``@dataclass`` gets ``slots=True`` (and ``weakref_slot=True`` where instances
  are weakly referenced); an ``@attr.s`` class gets ``slots=True``;
* ``category``, ``arrow-strings`` and ``downcast`` (pandas columns; never a lossy one): a
  ``read_csv`` / ``read_table`` / ``read_fwf`` call gets ``dtype={...}`` (entries added to a
  ``dtype=`` dict that is there already); a ``pd.DataFrame({...})`` whose dict builds the
  column gets it converted there (``"col": pd.Categorical(...)``, else
  ``pd.array(..., dtype="uint8")``), wherever the frame goes (``return pd.DataFrame(...)``);
  another ``name = ...`` statement is followed by
  ``name["col"] = name["col"].astype("category")``; not for a column the file computes with
  (arithmetic, a concatenation, ``.abs()``; a category's order, sum or ``value_counts()``);
* ``usecols`` (pandas): the reader call gets ``usecols=[...]`` (``columns=[...]`` for
  ``read_parquet``) with the columns the program uses; with ``category`` or ``downcast`` on the
  same line, the ``dtype=`` entries of the columns it keeps;
* ``frame-copy`` (pandas, where it copies on write): the line's ``.copy()`` or
  ``.copy(deep=True)`` becomes ``.copy(deep=False)``;
* ``deque`` (a speed fix): the list's assignments in that function become
  ``collections.deque(...)``, ``name.pop(0)`` / ``del name[0]`` become ``name.popleft()`` and
  ``name.insert(0, x)`` ``name.appendleft(x)``, and ``import collections`` is added if the module
  lacks it; only where every other use of the name is one a deque has too (append, extend,
  pop(), len(), iteration, ``in``, truth, ``[0]`` / ``[-1]``), else it is left to the author;
* ``growth`` of a hand-written memo (a module-level ``NAME = {}`` that one function fills with
  ``if key in NAME: return NAME[key]`` ... ``NAME[key] = value``, the key being the function's
  parameters): the lookup, the store and the dict go, and the function gets
  ``@functools.lru_cache(maxsize=1024)`` (``import functools`` added if missing); only where
  the dict is used nowhere else, else it is left to the author; ``growth`` of a function
  cached without a bound: ``@functools.cache`` becomes ``@functools.lru_cache(maxsize=1024)``,
  and the ``None`` of ``lru_cache(maxsize=None)`` becomes 1024;
* ``intern``: each expression that made the repeated strings, as the tracker knows it (the
  position of the allocating instruction in the user's line, 3.11+), becomes
  ``sys.intern(...)`` (``import sys`` added if missing); only where every such expression surely
  gives a str (an f-string, a subscript, ``str(...)``, a str method such as ``.strip()``, a
  concatenation with a literal) and those sites hold nine tenths of the repeats;
* ``cycle``: the back-reference ``self.<name>`` of an undecorated class is kept as a weak
  reference behind a property and its setter (``_<name>`` holds it; None, or an object that
  cannot be weakly referenced, is held as before), so every read and write of ``obj.<name>``
  stays as it is; a ``__slots__`` entry ``<name>`` becomes ``_<name>`` (a slots fix of the same
  class in the same patch does the same and adds ``__weakref__``); ``import weakref`` added;
* ``dtype`` (NumPy; never the lossy float32 one): the one NumPy call of the line whose array is
  the statement's value (``page = np.zeros(shape, dtype=np.int64)``, not ``np.arange(n) % 200``)
  gets the narrower dtype: its ``dtype=`` argument changed or added, ``.astype(...)``'s changed;
  not where the name it is stored in is computed with in its scope (arithmetic, an in-place
  update, a NumPy function that computes): NumPy computes in the narrow dtype;
* ``array``: the line's list comprehension becomes ``array.array("d" or "q", (...))`` (``import
  array`` added), where every use of the name it is stored in would do the same with an array
  (iterated, indexed, a builtin reading it, ``in``, the methods both have, returned), and
  ``array`` names nothing else there;
* ``tuple``: the line's list display becomes a tuple display (a comprehension ``tuple(...)``),
  unless the module assigns to items or slices, deletes them, sorts or reverses anything but a
  name bound only to fresh containers (a dict, another list): the lists must stay unchanged;
  nor where it adds a list display to something else (``r + [x]`` fails on a tuple).

Other findings need a decision the program's author must make (what a record should become,
how to bound a cache that is not a plain memo): the diff's preamble names
them. Each file's edits are
made on its source from the positions of its syntax tree, the edited source must still parse,
and nothing is written for a file that changed since the run read it.
"""

from __future__ import annotations

import ast
import difflib
import itertools
import json
import linecache
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from memslim.advice.growth import BOUND
from memslim.advice.source import (
    RANDOM_DRAWS,
    converted_column,
    enclosing_function,
    frame_column_value,
    parent,
    syntax_tree,
)

PATCHED_KINDS = (
    "generator",
    "slots",
    "category",
    "arrow-strings",
    "downcast",
    "frame-copy",
    "usecols",
    "deque",
    "growth",
    "intern",
    "cycle",
    "dtype",
    "array",
    "tuple",
)
_COLUMN_KINDS = ("category", "arrow-strings", "downcast", "usecols")
_READERS = ("read_csv", "read_table", "read_fwf")  # those that take dtype=
_SELECTING = (*_READERS, "read_parquet")  # and those that take a selection (usecols)
# The selection a usecols finding's fix adds: `usecols=[...]` or `columns=[...]`.
_SELECTION = re.compile(r"\b(usecols|columns)=(\[[^\]]*\])")
_TARGET_DTYPE = re.compile(r'(?:astype\(|: |dtype=)"([A-Za-z0-9]+(?:\[[a-z]+\])?)"[)}]')


def _name_of(node: ast.AST) -> str:
    """The name a call or decorator refers to: ``pd.read_csv`` and ``read_csv`` are both
    ``"read_csv"``; "" for anything else."""
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


@dataclass(frozen=True)
class _Edit:
    start: tuple[int, int]  # (line, column in characters), 1-based lines
    end: tuple[int, int]
    text: str


def _column(lines: list[str], line: int, byte_offset: int) -> int:
    """A column in characters from the syntax tree's UTF-8 byte offset."""
    return len(lines[line - 1].encode()[:byte_offset].decode(errors="replace"))


def _span(lines: list[str], node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]]:
    end_line = node.end_lineno or node.lineno
    return (
        (node.lineno, _column(lines, node.lineno, node.col_offset)),
        (end_line, _column(lines, end_line, node.end_col_offset or 0)),
    )


def _segment(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    if start[0] == end[0]:
        return lines[start[0] - 1][start[1] : end[1]]
    parts = [lines[start[0] - 1][start[1] :]]
    parts.extend(lines[start[0] : end[0] - 1])
    parts.append(lines[end[0] - 1][: end[1]])
    return "".join(parts)


def _starting_at(tree: ast.AST, kind: type[ast.AST], line: int) -> list[Any]:
    """The nodes of ``kind`` whose source starts on ``line``, in the tree's walking order."""
    return [n for n in ast.walk(tree) if isinstance(n, kind) and n.lineno == line]


def _generator_edit(tree: ast.AST, lines: list[str], line: int) -> _Edit | None:
    for node in _starting_at(tree, ast.ListComp, line):
        up = parent(node)
        start, end = _span(lines, node)
        inner = _segment(lines, start, end)[1:-1]
        if isinstance(up, ast.Call) and up.args == [node] and not up.keywords:
            return _Edit(start, end, inner)  # sum([...]) -> sum(...)
        if isinstance(up, (ast.Call, ast.For)):
            return _Edit(start, end, f"({inner})")
    return None


def _copy_edit(tree: ast.AST, lines: list[str], finding: Any) -> _Edit | None:
    """frame-copy: the deep ``.copy()`` of the finding's line made shallow, if its fix says so
    (the advisor found that the program's pandas copies on write)."""
    if ".copy(deep=False)" not in finding.fix:
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and node.lineno == finding.line
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "copy"
            and not node.args
            and all(
                k.arg == "deep" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
        ):
            start, end = _span(lines, node)
            func_start, func_end = _span(lines, node.func)
            return _Edit(start, end, _segment(lines, func_start, func_end) + "(deep=False)")
    return None


# NumPy's calls that make an array and take dtype=, with how many positional arguments come
# before it (one more there would be the dtype, or something else: left to the author).
_NUMPY_MAKERS = {
    "array": 1, "asarray": 1, "ascontiguousarray": 1, "zeros": 1, "ones": 1, "empty": 1,
    "zeros_like": 1, "ones_like": 1, "empty_like": 1, "fromiter": 1, "frombuffer": 1,
    "fromfile": 1, "identity": 1, "full": 2, "full_like": 2, "arange": 3, "eye": 3,
    "linspace": 5,
}  # fmt: skip
# .astype(dtype) takes the dtype first. A random draw (Generator.integers and the rest) is
# narrowed by an .astype() after it: a dtype= in it would draw other values (RANDOM_DRAWS).
_DTYPE_METHODS = {"astype": 0}
_DTYPE_TARGET = re.compile(r"# then: \.astype\(np\.(\w+)\)")


def _numpy_name(tree: ast.Module) -> str | None:
    """The name the module imports NumPy as (``import numpy as np``: "np")."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    return alias.asname or "numpy"
    return None


def _value_of_a_statement(node: ast.expr) -> bool:
    """Whether ``node`` is the whole value an assignment stores or a return hands back: the
    array a finding measured is the one the call made, not one computed from it."""
    up = parent(node)
    return isinstance(up, (ast.Assign, ast.AnnAssign, ast.Return)) and up.value is node


class _Left(Exception):
    """An edit left to the author, with why (the diff's preamble says it)."""


# What a narrowed array may be given to or asked for without its dtype reaching a result:
# attributes and methods that give a shape, a Python value, indices or floats, and NumPy
# functions alike. NumPy computes in the operands' dtype: `ids - 1` of a uint32 arange wraps
# at 0 (2,999,999 became 3,000,000 in an exploratory run), `spend += draw` of a uint16 zeros
# raised _UFuncOutputCastingError, so any other use that computes leaves the fix to the author.
_READING_ATTRIBUTES = frozenset({"shape", "size", "ndim", "nbytes", "itemsize", "dtype"})
_READING_METHODS = frozenset(
    {"mean", "std", "var", "tolist", "item", "astype", "argmax", "argmin", "argsort", "nonzero",
     "any", "all", "tobytes"}
)  # fmt: skip
_NUMPY_READING = frozenset(
    {"shape", "size", "ndim", "count_nonzero", "nonzero", "flatnonzero", "argsort", "argmax",
     "argmin", "argwhere", "bincount", "mean", "median", "average", "std", "var", "array_equal",
     "isin", "searchsorted", "any", "all", "save", "savez"}
)  # fmt: skip
# NumPy functions whose result holds the argument's values (its dtype, or the platform
# integer of the same signedness for a sum: np.cumsum of uint8 [200, 200] is uint64
# [200, 400], so `np.cumsum(a) - 500` wraps where int64 went negative): what is done with
# the result counts, as with the array's own methods (a.sum(), a.copy(), a[mask]).
_NUMPY_KEEPING = frozenset(
    {"array", "asarray", "ascontiguousarray", "copy", "ravel", "reshape", "squeeze",
     "transpose", "sort", "unique", "max", "min", "amax", "amin", "sum", "cumsum", "prod",
     "cumprod", "concatenate", "stack", "hstack", "vstack", "where", "take", "repeat", "tile"}
)  # fmt: skip


def _computing_use(scope: ast.AST, name: str, numpy: str, depth: int = 0) -> str | None:
    """Why ``name``'s array, narrowed, could change what ``scope`` computes (a use of it, or
    of a name bound to what it gives, in arithmetic); None where every use only reads it."""
    for node in ast.walk(scope):
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        if isinstance(node.ctx, ast.Store):
            if isinstance(parent(node), ast.AugAssign):
                return f"`{name}` is updated in place (an augmented assignment)"
            continue
        why = _computing(node, scope, numpy, depth)
        if why is not None:
            return why
    return None


def _computing(node: ast.Name, scope: ast.AST, numpy: str, depth: int) -> str | None:
    """Why this load of the array's name reaches a computation (see _computing_use)."""
    name = node.id
    top: ast.AST = node
    while True:
        up = parent(top)
        if isinstance(up, ast.Subscript) and up.value is top:
            if isinstance(up.ctx, ast.Store):
                statement = parent(up)
                if isinstance(statement, ast.AugAssign):
                    return f"items of `{name}` are updated in place"
                copied = (ast.Name, ast.Constant, ast.Subscript, ast.Attribute)
                if isinstance(statement, ast.Assign) and not isinstance(statement.value, copied):
                    return f"a computed value is stored into `{name}`"
                return None  # values copied in: the census measured what was stored
            top = up
        elif isinstance(up, ast.Attribute) and up.value is top:
            if up.attr in _READING_ATTRIBUTES:
                return None
            call = parent(up)
            if isinstance(call, ast.Call) and call.func is up:
                if up.attr in _READING_METHODS:
                    return None
                top = call
            else:
                top = up  # a.T, a.real
        elif isinstance(up, ast.keyword):
            top = up  # an argument by name: the call decides
        elif isinstance(up, ast.Call) and top is not up.func:
            func = up.func
            if isinstance(func, ast.Name) and func.id == "sum":
                return f"`{name}` is added up by sum(), in its own dtype"
            if not (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == numpy
            ):
                # The program's own function or method: what it does with the parameter.
                return _computing_in_callee(up, top, name, numpy, depth)
            if func.attr in _NUMPY_READING:
                return None
            if func.attr not in _NUMPY_KEEPING:
                return f"`{name}` is passed to {numpy}.{func.attr}()"
            top = up
        else:
            break
    if isinstance(up, ast.BinOp):
        return f"`{name}` is used in arithmetic"
    if isinstance(up, ast.UnaryOp) and isinstance(up.op, (ast.USub, ast.Invert)):
        return f"`{name}` is negated"
    if isinstance(up, ast.AugAssign) and up.target is top:
        return f"`{name}` is updated in place"
    if depth < 3:  # bound to another name, or iterated: that name's uses count too
        target = None
        if isinstance(up, ast.Assign) and up.value is top and len(up.targets) == 1:
            target = up.targets[0]
        elif isinstance(up, (ast.For, ast.comprehension)) and up.iter is top:
            target = up.target
        if isinstance(target, ast.Name):
            return _computing_use(scope, target.id, numpy, depth + 1)
    return None


def _computing_in_callee(
    call: ast.Call, argument: ast.AST, name: str, numpy: str, depth: int
) -> str | None:
    """Why the array, passed as ``argument`` of ``call`` to a function or method that the file
    defines (``f(a)``, ``self.f(a)``, ``obj.f(a)`` of a method so named), could change what
    that function computes. None for any other callee: print(a), len(a), a library's."""
    func = call.func
    callee = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if callee is None or depth >= 3:
        return None
    module: ast.AST = call
    while parent(module) is not None:
        module = parent(module)  # type: ignore[assignment]
    method = isinstance(func, ast.Attribute)
    for definition in ast.walk(module):
        if not (
            isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef))
            and definition.name == callee
            and isinstance(parent(definition), ast.ClassDef) == method
        ):
            continue
        params = [*definition.args.posonlyargs, *definition.args.args]
        if method and not any(
            isinstance(d, ast.Name) and d.id in ("staticmethod",) for d in definition.decorator_list
        ):
            params = params[1:]  # self (or cls)
        if argument in call.args:
            index = call.args.index(argument)
            param = params[index].arg if index < len(params) else None
        else:
            param = getattr(argument, "arg", None)  # a keyword argument
        if param is None:
            return f"`{name}` is passed to {callee}(), which the patch does not follow"
        why = _computing_use(definition, param, numpy, depth + 1)
        if why is not None:
            return f"`{name}` is passed to {callee}(), where {why}"
    return None


def _dtype_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """dtype: the one NumPy call of the finding's line that makes the array gets the narrower
    dtype: its ``dtype=`` argument changed, or added; ``.astype(...)``'s argument changed."""
    target = _DTYPE_TARGET.search(finding.fix)
    numpy = _numpy_name(tree)
    if target is None or numpy is None:
        return []
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and n.lineno <= finding.line <= (n.end_lineno or n.lineno)
        and (
            _name_of(n.func) in _NUMPY_MAKERS
            or _name_of(n.func) in _DTYPE_METHODS
            or _name_of(n.func) in RANDOM_DRAWS
        )
    ]
    if len(calls) != 1 or not _value_of_a_statement(calls[0]):
        return []  # several, or an array computed from the call's (np.arange(n) % 200)
    call = calls[0]
    name = _name_of(call.func)
    if not isinstance(call.func, ast.Attribute):
        return []  # from numpy import zeros: left to the author
    statement = parent(call)
    targets = getattr(statement, "targets", None) or [getattr(statement, "target", None)]
    if len(targets) == 1 and isinstance(targets[0], ast.Name):
        scope = enclosing_function(call) or tree
        why = _computing_use(scope, targets[0].id, numpy)
        if why is not None:
            raise _Left(why)
    receiver = call.func.value
    narrower = f"{numpy}.{target.group(1)}"
    if name in RANDOM_DRAWS:
        _start, end = _span(lines, call)  # the same values drawn, then narrowed
        return [_Edit(end, end, f".astype({narrower})")]
    if name in _NUMPY_MAKERS and not (isinstance(receiver, ast.Name) and receiver.id == numpy):
        return []  # another library's zeros()
    given = [k for k in call.keywords if k.arg == "dtype"]
    if given:
        start, end = _span(lines, given[0].value)
        return [_Edit(start, end, narrower)]
    if name == "astype":
        if len(call.args) != 1:
            return []
        start, end = _span(lines, call.args[0])
        return [_Edit(start, end, narrower)]
    before_dtype = _NUMPY_MAKERS.get(name) or _DTYPE_METHODS[name]
    if len(call.args) > before_dtype or any(k.arg is None for k in call.keywords):
        return []  # a dtype passed by position or in **options
    return [_keyword_edit(lines, call, f"dtype={narrower}")]


def _binds(tree: ast.Module, name: str) -> bool:
    """Whether the module gives ``name`` a meaning other than ``import name``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name == name
        ):
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                if bound == name and (isinstance(node, ast.ImportFrom) or alias.name != name):
                    return True
    return False


_ARRAY_FIX = re.compile(r'^array\.array\("([dq])", \(')


def _array_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """array: the list comprehension of the finding's line becomes ``array.array(code, (...))``
    (``import array`` added with the other edits); only where every use of the name it is stored
    in, in that function (or of the comprehension itself, passed on as it is made), would do the
    same with an array (_an_array_serves), and ``array`` names nothing else in the module."""
    typecode = _ARRAY_FIX.match(finding.fix)
    comps = _starting_at(tree, ast.ListComp, finding.line)
    if typecode is None or len(comps) != 1 or _binds(tree, "array"):
        return []
    comp = comps[0]
    up = parent(comp)
    if isinstance(up, ast.Assign) and len(up.targets) == 1 and isinstance(up.targets[0], ast.Name):
        name = up.targets[0].id
        scope = enclosing_function(comp) or tree
        for node in ast.walk(scope):
            if (
                isinstance(node, ast.Name)
                and node.id == name
                and isinstance(node.ctx, ast.Load)
                and not _an_array_serves(node)
            ):
                return []
    elif not _an_array_serves(comp):
        return []  # passed on as it is made, to a call that may need a list
    start, end = _span(lines, comp)
    inner = _segment(lines, start, end)[1:-1]
    return [_Edit(start, end, f'array.array("{typecode.group(1)}", ({inner}))')]


# Calls that take an array.array as they take a list (they iterate it or take its length).
_READS_A_SEQUENCE = frozenset({
    "len", "sum", "min", "max", "sorted", "any", "all", "enumerate", "zip", "reversed", "iter",
    "list", "tuple", "set", "frozenset", "fsum", "prod", "mean", "median", "fmean", "stdev",
    "pstdev", "variance", "pvariance",
})  # fmt: skip
# Methods an array.array has as a list has them.
_ARRAY_METHODS = frozenset(
    {"append", "extend", "pop", "insert", "remove", "index", "count", "reverse"}
)


def _an_array_serves(use: ast.expr) -> bool:
    """Whether this read of the list's name would do the same with an array.array: iterated,
    indexed or sliced, its length or items taken by a builtin, tested with ``in``, or one of
    the methods both have. Any other use (put in a dict that json.dumps then rejects, printed
    as ``array('d', [...])``, compared, concatenated, sorted in place) leaves the fix to the
    author. A function's ``return`` of it is let through, as the example pairs return their
    readings: the caller's uses are not followed (--verify compares the output)."""
    up = parent(use)
    if isinstance(up, (ast.For, ast.comprehension)) and up.iter is use:
        return True
    if isinstance(up, ast.Tuple) and isinstance(parent(up), ast.Return):
        up = parent(up)  # return a, b
    if isinstance(up, ast.Return):
        return True
    if isinstance(up, ast.Subscript) and up.value is use:
        # An item is a number; a slice is an array again, whose own use decides.
        return not isinstance(up.slice, ast.Slice) or _an_array_serves(up)
    if isinstance(up, ast.Attribute) and up.value is use:
        return up.attr in _ARRAY_METHODS and isinstance(parent(up), ast.Call)
    if isinstance(up, ast.Call) and use in up.args and len(up.args) == 1 and not up.keywords:
        return _name_of(up.func) in _READS_A_SEQUENCE
    if isinstance(up, ast.Compare) and use in up.comparators:
        return all(isinstance(op, (ast.In, ast.NotIn)) for op in up.ops)
    return False


# Values that make a fresh dict or list: a name bound only to them is not one of the lists a
# tuple finding would turn into tuples.
_FRESH_CALLS = frozenset({
    "dict", "list", "set", "sorted", "defaultdict", "Counter", "OrderedDict", "deque",
})  # fmt: skip


def _fresh(tree: ast.Module, name: str, ours: ast.AST) -> bool:
    """Whether every binding of ``name`` in the module is a fresh container other than
    ``ours`` (a display, a comprehension, dict(), list()...)."""
    bound = False
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.arg == name:
            return False
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        if isinstance(node.ctx, ast.Load):
            continue
        up = parent(node)
        value = getattr(up, "value", None)
        if isinstance(up, ast.AugAssign):
            continue
        if not isinstance(up, (ast.Assign, ast.AnnAssign)) or value is None or value is ours:
            return False  # a loop's target, with ... as, a tuple's unpacking...
        fresh = isinstance(
            value, (ast.Dict, ast.DictComp, ast.List, ast.ListComp, ast.Set, ast.SetComp)
        ) or (isinstance(value, ast.Call) and _name_of(value.func) in _FRESH_CALLS)
        if not fresh:
            return False
        bound = True
    return bound


def _changes_items_in_place(tree: ast.Module, ours: ast.AST) -> bool:
    """Whether the module may change a list's items in place (item or slice assignment,
    ``del``, sort, reverse) on something other than a name bound only to fresh containers."""
    for node in ast.walk(tree):
        receiver = None
        if isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
            receiver = node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("sort", "reverse")
        ):
            receiver = node.func.value
        else:
            continue
        if not (isinstance(receiver, ast.Name) and _fresh(tree, receiver.id, ours)):
            return True
    return False


# Calls whose result shows a value as text: a tuple reads (1, 2) where a list read [1, 2].
_SHOWN_BY = frozenset({"print", "str", "repr", "format", "ascii", "pprint", "isinstance"})
# Calls whose result holds none of the lists: what they show is the same for tuples.
_SCALAR = frozenset({"len", "sum", "any", "all", "bool", "int", "float", "id", "hash"})


def _formats_or_compares(node: ast.AST | None) -> bool:
    """An f-string's value, a `%` format, or an `==`/`!=` comparison."""
    if isinstance(node, ast.FormattedValue):
        return True
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ast.Mod)
    return isinstance(node, ast.Compare) and any(
        isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops
    )


def _shows(node: ast.AST, statement: ast.AST, depth: int) -> bool:
    """Whether ``node``'s value, or one taken from it, is shown as text or compared for
    equality on the way up to ``statement`` while it is still one of the lists the fix changes
    or holds them: an argument of print/str/repr/format/isinstance, a value in an f-string or
    a `%` format, an operand of `==`/`!=`. ``depth``: 0 when ``node`` holds the lists, 1 when
    it is one; each index taken goes one level in (``pairs[0][1]`` is an item: the same)."""
    up = node
    while up is not statement and up is not None and depth <= 1:
        above = parent(up)
        if isinstance(above, ast.Subscript) and up is above.value:
            if not isinstance(above.slice, ast.Slice):
                depth += 1
        elif isinstance(above, ast.Call) and up is not above.func:
            func = above.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in _SCALAR:
                return False
            if name in _SHOWN_BY:
                return True
        elif _formats_or_compares(above):
            return True
        up = above  # type: ignore[assignment]
    return False


def _shown_or_compared(tree: ast.Module, ours: ast.AST) -> bool:
    """Whether the lists the fix makes tuples may be shown as text or compared with lists: in
    their own statement, or through the name an assignment binds them to, anywhere in the
    module (`print(pairs[:2])` printed [('u135', 0), ...] for [['u135', 0], ...]). Other ways
    they travel (appended to a list, returned) are not followed: --verify compares the
    output."""
    statement = ours
    while statement is not None and not isinstance(statement, ast.stmt):
        statement = parent(statement)  # type: ignore[assignment]
    if statement is None:
        return True
    # The display itself is one of the lists; a comprehension holds them.
    if _shows(ours, statement, 1 if isinstance(ours, ast.List) else 0):
        return True
    if not isinstance(statement, (ast.Assign, ast.AnnAssign)):
        return False
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    names = {t.id for t in targets if isinstance(t, ast.Name)}
    if len(names) != len(targets):
        return True  # bound to an attribute or an item: its uses are not followed
    # The statement's value holds the lists (a comprehension of displays) or is one.
    value_depth = 1 if statement.value is ours and isinstance(ours, ast.List) else 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load):
            top = node
            while top is not None and not isinstance(top, ast.stmt):
                top = parent(top)  # type: ignore[assignment]
            if top is None or _shows(node, top, value_depth):
                return True
    return False


def _concatenates_lists(tree: ast.Module) -> bool:
    """Whether the module adds a list display to something else (``r + [r[2] * r[3]]``): a
    tuple there raises TypeError (can only concatenate tuple, not list), and whether that
    something is one of the lists the fix makes tuples is not followed."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            sides = (node.left, node.right)
            lists = [isinstance(side, (ast.List, ast.ListComp)) for side in sides]
            if any(lists) and not all(lists):
                return True
        if (
            isinstance(node, ast.AugAssign)
            and isinstance(node.op, ast.Add)
            and isinstance(node.value, (ast.List, ast.ListComp))
        ):
            return True
    return False


def _tuple_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """tuple: the list display of the finding's line becomes a tuple display (a comprehension
    ``tuple(...)``); only where nothing in the module may change a list's items in place."""
    displays = [
        n
        for n in _starting_at(tree, ast.List, finding.line)
        if isinstance(n.ctx, ast.Load) and n.elts
    ]
    comps = _starting_at(tree, ast.ListComp, finding.line)
    if len(displays) > 1 or (not displays and len(comps) != 1):
        return []  # the lists are the line's display ([[x, y] for ...]'s inner one), if any
    node = (displays or comps)[0]
    if (
        _changes_items_in_place(tree, node)
        or _shown_or_compared(tree, node)
        or _concatenates_lists(tree)
    ):
        return []
    start, end = _span(lines, node)
    inner = _segment(lines, start, end)[1:-1]
    if isinstance(node, ast.ListComp):
        return [_Edit(start, end, f"tuple({inner})")]
    if len(node.elts) == 1 and not inner.rstrip().endswith(","):  # type: ignore[attr-defined]
        inner += ","
    return [_Edit(start, end, f"({inner})")]


def _slot_names(fix: str) -> tuple[str, ...] | None:
    """The attributes a slotted class will have, in order: the ``__slots__`` of a plain
    class's fix, or None where the fix does not list them (a dataclass's or attrs class's
    fields: their own)."""
    match = re.fullmatch(r"class \w+:\n    __slots__ = (\(.*\))", fix)
    if match is None:
        return None
    try:
        return tuple(ast.literal_eval(match.group(1)))
    except (ValueError, SyntaxError):
        return ()


def _needs_a_dict(tree: ast.AST, cls: ast.ClassDef, names: tuple[str, ...] | None) -> bool:
    """Whether the module may need the class's instances to keep a ``__dict__``: it reads one
    (``vars(obj)``, ``obj.__dict__``), or sets an attribute that the slots would not hold (one
    a census could not see, set after it: ``item.cached = ...``) on anything but ``self`` in
    another class's methods. The patched program failed there (AttributeError)."""
    own = {id(n) for n in ast.walk(cls)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "vars"
            and node.args
        ):
            return True
        if names is None or not isinstance(node, ast.Attribute):
            continue
        if not isinstance(node.ctx, ast.Store) or node.attr in names:
            continue
        receiver = node.value
        is_self = isinstance(receiver, ast.Name) and receiver.id == "self"
        if is_self and id(node) not in own:
            continue  # another class's instance
        return True
    return False


def _class_level_names(cls: ast.ClassDef) -> set[str]:
    """Names the class body binds (class attributes, methods, properties): a slot of the same
    name raises ValueError when the class is made ("'speed' in __slots__ conflicts with class
    variable": a default `speed = 1.0` that some instances override; a `cached_property`)."""
    names: set[str] = set()
    for node in cls.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is not None:
                names.add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _slots_edits(
    tree: ast.AST, lines: list[str], finding: Any, weak: frozenset[str] = frozenset()
) -> list[_Edit]:
    """``weak``: the class's attributes that the same patch turns into weak references behind a
    property (cycle): their slots are the properties' ``_<name>``, and the instances get a
    ``__weakref__`` slot, so that they can be weakly referenced as the parents they are."""
    classes = [
        n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.lineno == finding.line
    ]
    if not classes:
        return []
    cls = classes[0]
    fix = finding.fix
    listed = _slot_names(fix)
    if _needs_a_dict(tree, cls, listed):
        return []
    if fix.startswith("@dataclass(slots=True") or fix.startswith("@attr.s(slots=True"):
        wanted = "dataclass" if fix.startswith("@dataclass") else "s"
        keywords = "slots=True" + (", weakref_slot=True" if "weakref_slot=True" in fix else "")
        for decorator in cls.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            name = _name_of(target)
            if name != wanted:
                continue
            start, end = _span(lines, decorator)
            text = _segment(lines, start, end)
            if isinstance(decorator, ast.Call):
                has_arguments = bool(decorator.args or decorator.keywords)
                text = text[:-1].rstrip() + (", " if has_arguments else "") + keywords + ")"
            else:
                text += f"({keywords})"
            return [_Edit(start, end, text)]
        return []
    if not listed or _class_level_names(cls) & set(listed):
        return []  # (dataclasses and attrs make their slots around the defaults themselves)
    first = cls.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and len(cls.body) > 1
    ):
        first = cls.body[1]  # after the docstring
    if first.lineno == cls.lineno:
        return []  # a body on the class line (class A: pass): left to the author
    indent = lines[first.lineno - 1][: _column(lines, first.lineno, first.col_offset)]
    names = listed
    if weak:
        names = tuple(f"_{n}" if n in weak else n for n in names)
        names = ("__weakref__", *names) if "__weakref__" not in names else names
    at = (first.lineno, 0)
    # A blank line before a method, as the file's own methods are set apart.
    gap = "\n" if isinstance(first, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ""
    return [_Edit(at, at, f"{indent}__slots__ = {names!r}\n{gap}")]


# What a deque does as a list does: methods, and builtins that take any iterable (not print,
# str or repr: a deque shows as deque([...]), and the program's output would change).
_DEQUE_METHODS = frozenset({"append", "extend", "clear", "count", "remove", "copy"})
_ITERABLE_CALLS = frozenset(
    {"len", "list", "tuple", "set", "sorted", "sum", "min", "max", "any", "all", "enumerate",
     "iter", "reversed"}
)  # fmt: skip


def _is_zero(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0 and node.value is not False


def _deque_use(node: ast.Name) -> str | None:
    """How ``node`` (a use of the queue's name) is used: "assign", "front" (the O(n) operation
    the fix replaces), "ok" (a deque does the same), or None (something a deque may not do)."""
    up = parent(node)
    if isinstance(node.ctx, ast.Store):
        if isinstance(up, (ast.Assign, ast.AnnAssign)) and up.value is not None:
            value = up.value
            targets = up.targets if isinstance(up, ast.Assign) else [up.target]
            listy = isinstance(value, (ast.List, ast.ListComp)) or (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "list"
                and len(value.args) <= 1
                and not value.keywords
            )
            return "assign" if listy and len(targets) == 1 else None
        return None
    if isinstance(up, ast.Attribute) and isinstance(parent(up), ast.Call):
        call = parent(up)
        if call.func is not up:  # type: ignore[union-attr]
            return None
        args = call.args  # type: ignore[union-attr]
        if up.attr == "pop" and len(args) == 1 and _is_zero(args[0]):
            return "front"
        if up.attr == "insert" and len(args) == 2 and _is_zero(args[0]):
            return "front"
        if up.attr == "pop" and not args:
            return "ok"
        return "ok" if up.attr in _DEQUE_METHODS else None
    if isinstance(up, ast.Subscript) and up.value is node:
        index = up.slice
        if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
            index = index.operand if _is_one(index.operand) else None
        if isinstance(parent(up), ast.Delete) and _is_zero(up.slice):
            return "front"
        return (
            "ok"
            if isinstance(up.ctx, ast.Load)
            and index is not None
            and (_is_zero(index) or _is_one(index))
            else None
        )
    if isinstance(up, ast.Call) and node in up.args:
        name = up.func.id if isinstance(up.func, ast.Name) else None
        return "ok" if name in _ITERABLE_CALLS else None
    if isinstance(up, (ast.For, ast.comprehension)) and up.iter is node:
        return "ok"
    if isinstance(up, ast.Compare) and node in up.comparators:
        return "ok" if all(isinstance(op, (ast.In, ast.NotIn)) for op in up.ops) else None
    if isinstance(up, (ast.If, ast.While, ast.IfExp, ast.Assert)) and up.test is node:
        return "ok"
    if isinstance(up, ast.UnaryOp) and isinstance(up.op, ast.Not):
        return "ok"
    # `while queue and ...:` tests its truth; `x = queue or other` would hand the deque on.
    tested = parent(up)
    if isinstance(up, ast.BoolOp) and getattr(tested, "test", None) is up:
        return "ok"
    return None


def _is_one(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value == 1 and node.value is not True


def _deque_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """The list named ``finding.symbol`` in the function of ``finding.line`` made a deque, or no
    edit when any use of it is one a deque may not do the same way."""
    name = finding.symbol
    at_line = [
        n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name
        and n.lineno == finding.line
    ]  # fmt: skip
    if not at_line:
        return []
    scope = enclosing_function(at_line[0]) or tree
    uses = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and n.id == name]
    kinds = [_deque_use(n) for n in uses]
    if None in kinds or "assign" not in kinds or "front" not in kinds:
        return []
    edits: list[_Edit] = []
    for use, kind in zip(uses, kinds, strict=True):
        up = parent(use)
        if kind == "assign":
            value = up.value  # type: ignore[union-attr]
            start, end = _span(lines, value)
            text = _segment(lines, start, end)
            if isinstance(value, ast.Call):  # list(x) -> collections.deque(x)
                fstart, fend = _span(lines, value.func)
                edits.append(_Edit(fstart, fend, "collections.deque"))
            else:
                edits.append(_Edit(start, end, f"collections.deque({text})"))
        elif kind == "front":
            if isinstance(up, ast.Subscript):  # del name[0]
                start, end = _span(lines, parent(up))  # type: ignore[arg-type]
                edits.append(_Edit(start, end, f"{name}.popleft()"))
                continue
            call = parent(up)
            start, end = _span(lines, call)  # type: ignore[arg-type]
            if up.attr == "pop":  # type: ignore[union-attr]
                edits.append(_Edit(start, end, f"{name}.popleft()"))
            else:
                astart, aend = _span(lines, call.args[1])  # type: ignore[union-attr]
                item = _segment(lines, astart, aend)
                edits.append(_Edit(start, end, f"{name}.appendleft({item})"))
    return edits


def _import_module(tree: ast.Module, lines: list[str], module: str) -> list[_Edit]:
    """``import module`` in its sorted place among the module's top-level ``import``
    statements (else after its last import, or its docstring), unless it is imported already."""
    if any(
        isinstance(node, ast.Import)
        and any(a.name == module and a.asname is None for a in node.names)
        for node in tree.body
    ):
        return []
    for node in tree.body:
        if isinstance(node, ast.Import) and node.names[0].name > module:
            return [_Edit((node.lineno, 0), (node.lineno, 0), f"import {module}\n")]
    last = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            last = node.end_lineno or node.lineno
        elif (
            last == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            last = node.end_lineno or node.lineno  # the docstring
    return [_after_line(lines, last, f"import {module}\n")]


def _after_line(lines: list[str], last: int, text: str) -> _Edit:
    """``text`` inserted after line ``last`` (1-based; 0: at the top), with a newline first
    where it follows a last line that has none."""
    if last == len(lines):
        end = (last, len(lines[-1]))
        return _Edit(end, end, text if lines[-1].endswith("\n") else "\n" + text)
    return _Edit((last + 1, 0), (last + 1, 0), text)


def _same(a: ast.AST, b: ast.AST) -> bool:
    return ast.dump(a) == ast.dump(b)


def _alone_on_its_lines(lines: list[str], node: ast.stmt) -> bool:
    """Whether nothing but ``node`` (and a comment) is on the lines it spans."""
    start, end = _span(lines, node)
    before = lines[start[0] - 1][: start[1]]
    after = lines[end[0] - 1][end[1] :].strip()
    return not before.strip() and (not after or after.startswith("#"))


def _delete(lines: list[str], node: ast.stmt) -> _Edit:
    last = node.end_lineno or node.lineno
    if last == len(lines):
        return _Edit((node.lineno, 0), (last, len(lines[last - 1])), "")
    return _Edit((node.lineno, 0), (last + 1, 0), "")


# Methods whose result is a str when called on one: an expression the tracker names as making the
# repeated strings is wrapped in sys.intern only when it surely gives a str (``line.split()``
# makes them too, but gives a list).
_STR_METHODS = frozenset({
    "capitalize", "casefold", "center", "decode", "expandtabs", "format", "group", "join",
    "ljust", "lower", "lstrip", "removeprefix", "removesuffix", "replace", "rjust", "rstrip",
    "strip", "swapcase", "title", "translate", "upper", "zfill",
})  # fmt: skip


def _gives_a_str(node: ast.expr) -> bool:
    """Whether ``node`` gives a str whenever it makes new strings."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Subscript):  # a str's slice, a match's group (a list's slice
        return True  # makes no string)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id == "str"
        return isinstance(func, ast.Attribute) and func.attr in _STR_METHODS
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        sides = (node.left,) if isinstance(node.op, ast.Mod) else (node.left, node.right)
        return any(
            isinstance(side, ast.JoinedStr)
            or (isinstance(side, ast.Constant) and isinstance(side.value, str))
            for side in sides
        )
    return False


def _intern_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """intern: each expression that made the repeated strings (the tracker's positions of the
    allocating instructions, ``finding.spans``) wrapped in ``sys.intern(...)``; all of them or
    none (the saving is theirs together)."""
    if not finding.spans:
        return []
    by_span: dict[tuple[tuple[int, int], tuple[int, int]], ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.expr) and not isinstance(node, ast.Starred):
            by_span.setdefault(_span(lines, node), node)
    edits: list[_Edit] = []
    for line, column, end_line, end_column in finding.spans:
        if not (0 < line <= end_line <= len(lines)):
            return []
        start = (line, _column(lines, line, column))
        end = (end_line, _column(lines, end_line, end_column))
        node = by_span.get((start, end))
        if node is None or not isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
            return []  # not one expression of that line as it reads now
        if not _gives_a_str(node):
            return []  # a list of them (split), a record...: left to the author
        up = parent(node)
        if (
            isinstance(up, ast.Call)
            and isinstance(up.func, ast.Attribute)
            and up.func.attr == "intern"
        ):
            return []  # interned already
        edits.append(_Edit(start, end, f"sys.intern({_segment(lines, start, end)})"))
    ordered = sorted(edits, key=lambda e: e.start)
    if any(a.end > b.start for a, b in itertools.pairwise(ordered)):
        return []  # one inside another
    return [*edits, *_import_module(tree, lines, "sys")]


def _class_and_attribute(symbol: str) -> tuple[str, str]:
    """A cycle finding's class name (the last of its qualified name) and attribute."""
    owner, _, attribute = symbol.rpartition(".")
    return owner.rpartition(".")[2], attribute


def _weakref_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """cycle: the back-reference ``self.<attribute>`` stored as a weak reference behind a
    property of the class, so that every read and write of it stays as it is; a slot of that
    name becomes the property's ``_<attribute>``. None: not that shape."""
    owner, attribute = _class_and_attribute(finding.symbol)
    hidden = f"_{attribute}"
    stores = [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.Assign, ast.AnnAssign))
        and n.lineno == finding.line
        and any(
            isinstance(t, ast.Attribute)
            and t.attr == attribute
            and isinstance(t.value, ast.Name)
            and t.value.id == "self"
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
        )
    ]
    if len(stores) != 1:
        return []
    cls = parent(stores[0])
    while cls is not None and not isinstance(cls, ast.ClassDef):
        cls = parent(cls)
    if not isinstance(cls, ast.ClassDef) or cls.name != owner or cls.decorator_list:
        return []
    if any(
        (isinstance(n, ast.Attribute) and n.attr == hidden)
        or (isinstance(n, ast.Name) and n.id == hidden)
        for n in ast.walk(tree)
    ):
        return []  # the name the property would keep its reference under is taken
    edits: list[_Edit] = []
    for statement in cls.body:
        names = (
            [t.id for t in statement.targets if isinstance(t, ast.Name)]
            if isinstance(statement, ast.Assign)
            else [statement.name]
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            else []
        )
        if attribute in names:
            return []  # the class defines that name itself
        if names == ["__slots__"]:
            value = statement.value  # type: ignore[union-attr]
            entries = value.elts if isinstance(value, (ast.Tuple, ast.List, ast.Set)) else [value]
            named = [e for e in entries if isinstance(e, ast.Constant) and e.value == attribute]
            if len(named) != 1 or any(not isinstance(e, ast.Constant) for e in entries):
                return []
            start, end = _span(lines, named[0])
            text = _segment(lines, start, end)
            edits.append(_Edit(start, end, text[0] + hidden + text[-1]))
    first = cls.body[0]
    indent = lines[first.lineno - 1][: _column(lines, first.lineno, first.col_offset)]
    body = (
        f"@property\n"
        f"def {attribute}(self):\n"
        f"    return self.{hidden}()\n"
        f"\n"
        f"@{attribute}.setter\n"
        f"def {attribute}(self, value):\n"
        f"    # A weak reference: it no longer keeps a reference cycle alive (memslim --patch).\n"
        f"    # None, and an object that cannot be weakly referenced, are held as before.\n"
        f"    try:\n"
        f"        self.{hidden} = weakref.ref(value)\n"
        f"    except TypeError:\n"
        f"        self.{hidden} = lambda: value\n"
    )
    added = "\n" + "".join(f"{indent}{line}" if line.strip() else "\n" for line in
                           body.splitlines(keepends=True))  # fmt: skip
    last_line = _after_line(lines, cls.end_lineno or cls.lineno, added)
    return [*edits, last_line, *_import_module(tree, lines, "weakref")]


def _cache_bound_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """growth of an unbounded cache: the function's ``@functools.cache`` (or ``@cache``) becomes
    ``@functools.lru_cache(maxsize=BOUND)``; the ``None`` of ``lru_cache(maxsize=None)`` or
    ``lru_cache(None)`` becomes BOUND."""
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if function.name != finding.symbol:
            continue
        for decorator in function.decorator_list:
            if decorator.lineno != finding.line:
                continue
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            name = _name_of(target)
            if name == "cache" and not isinstance(decorator, ast.Call):
                start, end = _span(lines, decorator)
                bounded = f"functools.lru_cache(maxsize={BOUND})"
                return [_Edit(start, end, bounded), *_import_module(tree, lines, "functools")]
            if name == "lru_cache" and isinstance(decorator, ast.Call):
                given = [k.value for k in decorator.keywords if k.arg == "maxsize"]
                given += decorator.args[:1]
                if (
                    len(given) == 1
                    and isinstance(given[0], ast.Constant)
                    and given[0].value is None
                ):
                    start, end = _span(lines, given[0])
                    return [_Edit(start, end, str(BOUND))]
            return []
    return []


def _growth_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """growth: a hand-written memo made a bounded cache, or an unbounded cache bounded."""
    return _memo_edits(tree, lines, finding) or _cache_bound_edits(tree, lines, finding)


def _memo_edits(tree: ast.Module, lines: list[str], finding: Any) -> list[_Edit]:
    """growth: a module-level dict that one function uses as a hand-written memo becomes
    ``functools.lru_cache(maxsize=BOUND)`` on that function (none: not that shape)."""
    name = finding.symbol
    definitions = [
        n
        for n in tree.body
        if isinstance(n, ast.Assign)
        and len(n.targets) == 1
        and isinstance(n.targets[0], ast.Name)
        and n.targets[0].id == name
    ]
    if len(definitions) != 1:
        return []
    definition = definitions[0]
    empty = definition.value
    if not (
        (isinstance(empty, ast.Dict) and not empty.keys)
        or (
            isinstance(empty, ast.Call)
            and isinstance(empty.func, ast.Name)
            and empty.func.id == "dict"
            and not empty.args
            and not empty.keywords
        )
    ):
        return []
    if any(isinstance(n, ast.Global) and name in n.names for n in ast.walk(tree)):
        return []
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef) or function.decorator_list:
            continue
        arguments = function.args
        if arguments.vararg or arguments.kwarg or arguments.kwonlyargs:
            continue
        parameters = [a.arg for a in arguments.posonlyargs + arguments.args]
        lookup = store = None
        for statement in function.body:
            if (
                lookup is None
                and isinstance(statement, ast.If)
                and not statement.orelse
                and isinstance(statement.test, ast.Compare)
                and [type(o) for o in statement.test.ops] == [ast.In]
                and isinstance(statement.test.comparators[0], ast.Name)
                and statement.test.comparators[0].id == name
                and len(statement.body) == 1
                and isinstance(statement.body[0], ast.Return)
                and isinstance(statement.body[0].value, ast.Subscript)
                and isinstance(statement.body[0].value.value, ast.Name)
                and statement.body[0].value.value.id == name
                and _same(statement.body[0].value.slice, statement.test.left)
            ):
                lookup = statement
            elif (
                lookup is not None
                and isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Subscript)
                and isinstance(statement.targets[0].value, ast.Name)
                and statement.targets[0].value.id == name
                and _same(statement.targets[0].slice, lookup.test.left)  # type: ignore[attr-defined]
            ):
                store = statement
        if lookup is None or store is None:
            continue
        key = lookup.test.left  # type: ignore[attr-defined]
        keyed = [key] if isinstance(key, ast.Name) else getattr(key, "elts", None)
        # The cache keys on every argument: the memo's key must be all of them, in order.
        if keyed is None or [getattr(k, "id", None) for k in keyed] != parameters:
            continue
        uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name]
        if len(uses) != 4:  # the definition, the lookup's test and return, the store
            return []
        if not all(_alone_on_its_lines(lines, n) for n in (definition, lookup, store)):
            return []
        indent = lines[function.lineno - 1][: _column(lines, function.lineno, function.col_offset)]
        decorator = f"{indent}@functools.lru_cache(maxsize={BOUND})\n"
        return [
            _delete(lines, definition),
            _delete(lines, lookup),
            _delete(lines, store),
            _Edit((function.lineno, 0), (function.lineno, 0), decorator),
            *_import_module(tree, lines, "functools"),
        ]
    return []


def _quote(text: str) -> str:
    """A Python string literal in double quotes (JSON's escapes are Python's too)."""
    return json.dumps(text)


def _column_edits(tree: ast.AST, lines: list[str], line: int, found: list[Any]) -> list[_Edit]:
    """The edits of the pandas column findings at ``line`` (all of them, or none)."""
    wanted: dict[str, str] = {}
    selection: tuple[str, list[str]] | None = None  # (keyword, columns) of a usecols finding
    for finding in found:
        if finding.kind == "usecols":
            chosen = _SELECTION.search(finding.fix)
            if chosen is None:
                return []
            selection = (chosen.group(1), ast.literal_eval(chosen.group(2)))
            continue
        # The last: the fix's line may hold a dtype= table of its own before the added one.
        # A category made in a DataFrame's dict (pd.Categorical(...)) names no dtype.
        targets = _TARGET_DTYPE.findall(finding.fix.splitlines()[-1])
        if finding.kind == "category":
            targets = ["category"]
        if not targets or finding.lossy:
            return []
        wanted[finding.symbol] = targets[-1]
    if selection is not None:  # a column left in the file needs no dtype
        wanted = {c: d for c, d in wanted.items() if c in selection[1]}
    wanted = dict(sorted(wanted.items()))  # the same edit whatever the findings' order
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and n.lineno <= line <= (n.end_lineno or n.lineno)
        and _name_of(n.func) in (_SELECTING if selection is not None else _READERS)
    ]
    if calls:
        call = calls[0]
        made = _selection_edits(lines, call, selection)
        if made is None:
            return []
        if not wanted:
            return made
        if _name_of(call.func) not in _READERS:
            return []  # read_parquet takes no dtype=: left to the author, with the selection
        given = [k for k in call.keywords if k.arg == "dtype"]
        if given:
            table = given[0].value
            if not isinstance(table, ast.Dict) or any(
                not isinstance(k, ast.Constant) for k in table.keys
            ):
                return []  # dtype= given some other way: left to the author
            present = {k.value for k in table.keys if isinstance(k, ast.Constant)}
            entries = [f"{_quote(c)}: {_quote(d)}" for c, d in wanted.items() if c not in present]
            if not entries:
                return made
            start, end = _span(lines, table)
            inner = _segment(lines, start, end)[1:-1].rstrip()
            joined = ", ".join(entries)
            separator = "" if not inner or inner.endswith(",") else ", "
            return [*made, _Edit(start, end, "{" + inner + separator + joined + "}")]
        table = ", ".join(f"{_quote(c)}: {_quote(d)}" for c, d in wanted.items())
        return [*made, _keyword_edit(lines, call, f"dtype={{{table}}}")]
    if selection is not None:
        return []  # a selection goes to a reader call only
    # A frame made from a dict display here: each column converted where its entry builds it.
    entries = [(frame_column_value(tree, line, c), d) for c, d in wanted.items()]
    if entries and all(entry is not None for entry, _dtype in entries):
        edits = []
        for (pandas, value), dtype in entries:  # type: ignore[misc]
            start, end = _span(lines, value)
            edits.append(
                _Edit(start, end, converted_column(pandas, dtype, _segment(lines, start, end)))
            )
        return edits
    statements = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.stmt) and n.lineno <= line <= (n.end_lineno or n.lineno)
    ]
    if not statements:
        return []
    statement = min(statements, key=lambda n: (n.end_lineno or n.lineno) - n.lineno)
    if not (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return []
    last = statement.end_lineno or statement.lineno
    after = lines[last - 1][_column(lines, last, statement.end_col_offset or 0) :].strip()
    if after and not after.startswith("#"):
        return []  # more on that line (a; b): left to the author
    name = statement.targets[0].id
    indent = lines[statement.lineno - 1][: _column(lines, statement.lineno, statement.col_offset)]
    added = "".join(
        f"{indent}{name}[{_quote(c)}] = {name}[{_quote(c)}].astype({_quote(d)})\n"
        for c, d in wanted.items()
    )
    return [_after_line(lines, last, added)]


# Methods of a column that compute with its values (in its dtype: a uint8 column's
# `(discount - 10).abs().sum()` gave 71,769,241 where int64 gave 6,536,801 in an exploratory
# run, `qty * price_cents` 21,138,596,603 for 40,153,277,179), and those that differ or fail on
# an unordered categorical (its sum raises; value_counts() counts the categories a filter
# left empty: 3 tiers, not 2, after a row filter).
_COLUMN_COMPUTING = frozenset(
    {"abs", "cumsum", "cumprod", "diff", "pct_change", "add", "sub", "subtract", "mul",
     "multiply", "div", "divide", "truediv", "floordiv", "mod", "pow", "radd", "rsub", "rmul",
     "rdiv", "rtruediv", "rfloordiv", "rmod", "rpow", "dot", "combine"}
)  # fmt: skip
_CATEGORY_CHANGING = frozenset(
    {"sum", "mean", "median", "std", "var", "prod", "min", "max", "quantile", "idxmax", "idxmin",
     "argmax", "argmin", "nlargest", "nsmallest", "value_counts", "unique"}
)  # fmt: skip
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _grouped_by(tree: ast.AST, column: str) -> bool:
    """Whether the file groups by a column so named without ``observed=``: ``.groupby("col")``,
    ``.groupby(["col", ...])``, ``.groupby(x["col"])`` (``by=`` too), or ``pivot_table`` with it
    as ``index=``/``columns=``."""

    def names(value: ast.AST) -> bool:
        if isinstance(value, ast.Constant):
            return value.value == column
        if isinstance(value, (ast.List, ast.Tuple)):
            return any(names(item) for item in value.elts)
        return isinstance(value, ast.Subscript) and names(value.slice)

    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("groupby", "pivot_table")
        ):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if "observed" in keywords:
            continue
        keys = node.args[:1] if node.func.attr == "groupby" else []
        keys += [v for k, v in keywords.items() if k in ("by", "index", "columns")]
        if any(names(key) for key in keys):
            return True
    return False


def _pandas_major() -> int | None:
    """The major version of the pandas the program ran with, if it imported pandas."""
    pandas = sys.modules.get("pandas")
    version = getattr(pandas, "__version__", "")
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _column_computed(tree: ast.AST, column: str, kind: str) -> str | None:
    """Why converting ``column`` (to the dtype of a ``kind`` finding) could change what the
    program computes: the file uses a column so named (``x["col"]`` or ``x.col``, of any frame)
    in arithmetic or a concatenation, a method of ``_COLUMN_COMPUTING`` or, for a category, one
    of ``_CATEGORY_CHANGING`` or an ordering comparison (an unordered categorical raises), or,
    for a category under pandas 2, as a groupby key without ``observed=`` (pandas 2 lists the
    categories no row has, as empty groups)."""
    if kind == "category" and (_pandas_major() or 3) < 3 and _grouped_by(tree, column):
        return f'column "{column}" is a groupby key (pandas 2 adds empty groups of a category)'
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            named = isinstance(node.slice, ast.Constant) and node.slice.value == column
        else:
            named = isinstance(node, ast.Attribute) and node.attr == column
        if not named:
            continue
        top: ast.AST = node
        while True:
            up = parent(top)
            if isinstance(up, ast.Attribute) and up.value is top:
                if up.attr in ("str", "dt", "astype"):
                    break  # values of another dtype (lengths), or the author's dtype
                call = parent(up)
                if isinstance(call, ast.Call) and call.func is up:
                    if up.attr in _COLUMN_COMPUTING or (
                        kind == "category" and up.attr in _CATEGORY_CHANGING
                    ):
                        return f'column "{column}" is used in .{up.attr}()'
                    top = call
                else:
                    top = up  # .values, .iloc
            elif isinstance(up, ast.Subscript) and up.value is top and isinstance(up.ctx, ast.Load):
                top = up  # .iloc[0], col[mask]
            else:
                break
        if isinstance(up, ast.BinOp) or (
            isinstance(up, ast.UnaryOp) and isinstance(up.op, (ast.USub, ast.Invert))
        ):
            return f'column "{column}" is used in arithmetic or a concatenation'
        if isinstance(up, ast.AugAssign) and up.target is top:
            return f'column "{column}" is updated in place'
        if (
            kind == "category"
            and isinstance(up, ast.Compare)
            and any(isinstance(op, _ORDERING) for op in up.ops)
        ):
            return f'column "{column}" is compared by order'
    return None


def _keyword_edit(lines: list[str], call: ast.Call, keyword: str) -> _Edit:
    """``keyword`` added as the last argument of ``call``: inserted before its closing
    parenthesis, so that an edit inside the call (its ``dtype=`` table) does not overlap it."""
    start, end = _span(lines, call)
    text = _segment(lines, start, end)
    inside = text[:-1].rstrip()
    separator = "" if inside.endswith(("(", ",")) else ", "
    at = _position_after(start, text[: len(inside)])
    closing = _position_after(start, text[:-1])
    return _Edit(at, closing, f"{separator}{keyword}")


def _position_after(start: tuple[int, int], text: str) -> tuple[int, int]:
    """The (line, column) reached from ``start`` after ``text``."""
    line, column = start
    for char in text:
        if char == "\n":
            line, column = line + 1, 0
        else:
            column += 1
    return line, column


def _selection_edits(
    lines: list[str], call: ast.Call, selection: tuple[str, list[str]] | None
) -> list[_Edit] | None:
    """The edit adding a usecols finding's selection to its reader call ([] without one); None
    when the call cannot take it (a selection there already, or another reader's keyword)."""
    if selection is None:
        return []
    keyword, columns = selection
    name = _name_of(call.func)
    expected = "columns" if name == "read_parquet" else "usecols"
    if keyword != expected or any(k.arg in (keyword, None) for k in call.keywords):
        return None
    listed = "[" + ", ".join(_quote(c) for c in columns) + "]"
    return [_keyword_edit(lines, call, f"{keyword}={listed}")]


_FIRST = {"cycle": 0, "generator": 1}  # the kinds whose fixes are made first


def _overlapping(edits: list[_Edit], made: list[_Edit]) -> bool:
    """Whether an edit of ``made`` changes text that one of ``edits`` changes (an insertion
    strictly inside another edit's span counts; two insertions at one point do not)."""
    return any(a.start < b.end and b.start < a.end for a in made for b in edits)


def _apply(lines: list[str], edits: list[_Edit]) -> str:
    text = "".join(lines)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        begin = offsets[edit.start[0] - 1] + edit.start[1]
        end = offsets[edit.end[0] - 1] + edit.end[1]
        text = text[:begin] + edit.text + text[end:]
    return text


@dataclass
class Patch:
    diff: str  # the unified diff ("" when nothing applies)
    applied: list[Any]  # the findings it applies
    left: list[Any]  # the findings it does not (with why, in the preamble)
    files: dict[str, str] = field(default_factory=dict)  # path as in the diff -> patched text


def make_patch(findings: list[Any], *, cwd: str | None = None) -> Patch:
    """The unified diff of the fixes of ``findings`` that are made mechanically."""
    cwd = cwd or os.getcwd()
    by_file: dict[str, list[Any]] = {}
    left: list[Any] = []
    reasons: dict[int, str] = {}  # id of a finding left to the author -> why
    for finding in findings:
        if getattr(finding, "manual", ""):
            reasons[id(finding)] = finding.manual
            left.append(finding)
        elif (
            finding.kind in PATCHED_KINDS
            and finding.line > 0
            and (finding.saving_bytes > 0 or finding.time_only)
            and not finding.lossy
        ):
            by_file.setdefault(finding.file, []).append(finding)
        else:
            left.append(finding)
    applied: list[Any] = []
    overlapped: set[int] = set()  # ids of findings whose code another fix rewrites
    chunks: list[str] = []
    files: dict[str, str] = {}
    for file, found in sorted(by_file.items()):
        # The tree the advisor read (with each node's parent), if the file is still that text.
        try:
            with open(file, encoding="utf-8") as f:
                source = f.read()
        except (OSError, ValueError):
            source = None
        tree = syntax_tree(file)
        if tree is None or source != "".join(linecache.getlines(file)):
            left.extend(found)
            continue
        lines = source.splitlines(keepends=True)
        edits: list[_Edit] = []
        done: list[Any] = []
        columns: dict[int, list[Any]] = {}
        weak: dict[str, set[str]] = {}  # class -> attributes made weak (cycle), for its slots
        # The cycle's fix first (a slots fix of its class reads it), then the generator's: an
        # array or tuple finding on the same comprehension is left (it is consumed at once).
        for finding in sorted(found, key=lambda f: _FIRST.get(f.kind, len(_FIRST))):
            if finding.kind in _COLUMN_KINDS:
                columns.setdefault(finding.line, []).append(finding)
                continue
            if finding.kind == "generator":
                # With the lines whose temporaries would otherwise keep the peak (also_lines):
                # all of them, or none.
                found_edits = [
                    _generator_edit(tree, lines, at) for at in (finding.line, *finding.also_lines)
                ]
                made = [e for e in found_edits if e is not None]
                if len(made) != len(found_edits):
                    made = []
            elif finding.kind == "frame-copy":
                edit = _copy_edit(tree, lines, finding)
                made = [edit] if edit is not None else []
            elif finding.kind == "deque":
                made = _deque_edits(tree, lines, finding)
                if made and any(e.start == made[0].start for e in edits):
                    done.append(finding)  # a second operation on a queue already edited
                    continue
            elif finding.kind == "growth":
                made = _growth_edits(tree, lines, finding)  # type: ignore[arg-type]
            elif finding.kind == "intern":
                made = _intern_edits(tree, lines, finding)  # type: ignore[arg-type]
            elif finding.kind == "dtype":
                try:
                    made = _dtype_edits(tree, lines, finding)  # type: ignore[arg-type]
                except _Left as why:
                    reasons[id(finding)] = str(why)
                    made = []
            elif finding.kind == "array":
                made = _array_edits(tree, lines, finding)  # type: ignore[arg-type]
            elif finding.kind == "tuple":
                made = _tuple_edits(tree, lines, finding)  # type: ignore[arg-type]
            elif finding.kind == "cycle":
                made = _weakref_edits(tree, lines, finding)  # type: ignore[arg-type]
                if made:
                    owner, attribute = _class_and_attribute(finding.symbol)
                    weak.setdefault(owner, set()).add(attribute)
            else:
                made = _slots_edits(
                    tree, lines, finding, frozenset(weak.get(finding.symbol.rpartition(".")[2], ()))
                )
            if made and _overlapping(edits, made):
                overlapped.add(id(finding))
                made = []
            if made:
                edits.extend(made)
                done.append(finding)
            else:
                left.append(finding)
        for line, at_line in sorted(columns.items()):
            kept = []
            for finding in at_line:
                why = (
                    None
                    if finding.kind == "usecols"
                    else _column_computed(tree, finding.symbol, finding.kind)
                )
                if why is None:
                    kept.append(finding)
                else:
                    reasons[id(finding)] = why
                    left.append(finding)
            made = _column_edits(tree, lines, line, kept) if kept else []
            edits.extend(made)
            (done if made else left).extend(kept)
        if not edits:
            continue
        for kind, module in (("deque", "collections"), ("array", "array")):
            if any(f.kind == kind for f in done):
                edits.extend(_import_module(tree, lines, module))  # type: ignore[arg-type]
        edits = list(dict.fromkeys(edits))  # one import line for two findings that need it
        patched = _apply(lines, edits)
        try:
            ast.parse(patched, filename=file)
        except SyntaxError:
            left.extend(done)
            continue
        name = os.path.relpath(file, cwd)
        chunks.append(_unified(lines, patched.splitlines(keepends=True), name))
        files[name] = patched
        applied.extend(done)
    # The kinds this patch applies (it listed every kind --patch knows).
    kinds = [kind for kind in PATCHED_KINDS if any(f.kind == kind for f in applied)]
    preamble = [
        f"memslim --patch: {len(applied)} fix(es)" + (f" ({', '.join(kinds)})." if kinds else ".")
    ]
    for finding in left:
        why = (
            "another fix rewrites that code"
            if id(finding) in overlapped
            else f"left to the author: {reasons[id(finding)]}"
            if id(finding) in reasons
            else "a decision for the author"
            if finding.kind not in PATCHED_KINDS or finding.lossy
            else "no line to change"
            if finding.line == 0
            else "no saving claimed"
            if finding.saving_bytes <= 0 and not finding.time_only
            else "not made mechanically here"
        )
        where = os.path.relpath(finding.file, cwd) if finding.file else "?"
        preamble.append(f"Not applied: [{finding.kind}] {where}:{finding.line} ({why}).")
    diff = "\n".join(preamble) + "\n" + "".join(chunks) if chunks else ""
    return Patch(diff, applied, left, files)


def _unified(old: list[str], new: list[str], name: str) -> str:
    out = [f"diff --git a/{name} b/{name}\n"]
    for line in difflib.unified_diff(old, new, f"a/{name}", f"b/{name}"):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)
