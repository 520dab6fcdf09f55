"""Which columns of a DataFrame read from a file the program ever uses, read from its source.

``usecols``: a frame made by ``df = pd.read_csv(...)`` whose every later use names its columns
(``df["a"]``, ``df[["a", "b"]]``, ``df.a``, ``df.groupby("k")["a"]``) never needs the others:
``usecols=`` (``columns=`` for Parquet) leaves them in the file. Any other use of the name
(``print(df)``, ``df.describe()``, ``f(df)``, ``other = df``, ``df.columns``, ``df.shape``)
may read or show every column, and the frame gets no finding: the rule answers only where the
source says for sure.

Sound within one function (or the module's top level), by name: every use of the name in the
file must be in that scope (a function reading a global frame is not followed), and every one
must name its columns with literals. A row filter (``df = df[df["a"] > 0]``) keeps every column,
so it is allowed only where its result is bound to the same name (whose uses are all checked
anyway) or indexed by literal columns at once.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from memslim.advice.source import enclosing_function, nodes_at, parent

# The readers whose column selection is a keyword argument, and that keyword.
READERS = {"read_csv": "usecols", "read_table": "usecols", "read_parquet": "columns"}
# Keyword arguments of a reader call that the fix can live beside. Others (``names=``,
# ``header=``, ``converters=``, ...) change which columns exist or what they are called.
_SAFE_KEYWORDS = {
    "sep",
    "delimiter",
    "dtype",
    "parse_dates",
    "index_col",
    "encoding",
    "low_memory",
    "engine",
    "nrows",
    "skiprows",
    "na_values",
    "compression",
    "thousands",
    "decimal",
    "quotechar",
}
# Attributes of a frame that read none of its columns and say the same of a selection (a
# selection keeps one column at least). Not `shape`: its column count changes, and a program
# printing it printed (800000, 4) for (800000, 8) after the fix; `shape[0]`, the rows, is kept.
_HARMLESS = {"index", "empty", "ndim"}
# groupby's keywords that do not name columns.
_GROUPBY_KEYWORDS = {"sort", "dropna", "observed", "as_index"}


@dataclass
class ColumnUses:
    """What a frame's source says about its columns."""

    name: str  # the variable the frame is bound to
    reader: str  # read_csv, read_table or read_parquet
    keyword: str  # usecols or columns
    call: ast.Call  # the reader call, for the fix
    read: set[str] = field(default_factory=set)  # columns read (or named by the reader call)
    created: set[str] = field(default_factory=set)  # columns the program writes before reading
    # Names read as attributes (``df.amount``): columns only if the frame has such a column and
    # pandas' DataFrame no such attribute; the rule checks, knowing the frame's columns.
    attributes: set[str] = field(default_factory=set)


def _strings(node: ast.AST) -> list[str] | None:
    """The literal column names of a subscript or argument: "a", ["a", "b"], ("a", "b")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        names = [e.value for e in node.elts if isinstance(e, ast.Constant)]
        if len(names) == len(node.elts) and all(isinstance(n, str) for n in names):
            return names  # type: ignore[return-value]
    return None


def _reader_call(value: ast.AST) -> tuple[ast.Call, str] | None:
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in READERS:
            return value, name
    return None


def reader_columns(call: ast.Call) -> list[str] | None:
    """Columns the reader call itself names (index_col, parse_dates, dtype's keys), which the
    fix must keep; None if the call cannot take the fix."""
    named: list[str] = []
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg in READERS.values():
            return None  # **options, or a selection already
        if keyword.arg not in _SAFE_KEYWORDS:
            return None
        value = keyword.value
        if keyword.arg == "index_col":
            # `is`, not `in (None, False)`: index_col=0 equals False, and names a column.
            if isinstance(value, ast.Constant) and (value.value is None or value.value is False):
                continue
            names = _strings(value)
            if names is None:
                return None  # a column by position: which name it is is not known here
            named.extend(names)
        elif keyword.arg == "parse_dates":
            if isinstance(value, ast.Constant) and isinstance(value.value, bool):
                continue
            names = _strings(value)
            if names is None:
                return None
            named.extend(names)
        elif keyword.arg == "dtype" and isinstance(value, ast.Dict):
            for key in value.keys:
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    return None
                named.append(key.value)
    return named


def column_uses(file: str, line: int) -> ColumnUses | None:
    """The columns used of the frame that ``line`` of ``file`` reads (``name = reader(...)``),
    or None when its source does not say for sure."""
    for assign in nodes_at(file, line, ast.Assign):
        if assign.lineno != line or len(assign.targets) != 1:
            continue
        target = assign.targets[0]
        found = _reader_call(assign.value)
        if not isinstance(target, ast.Name) or found is None:
            continue
        call, reader = found
        named = reader_columns(call)
        if named is None:
            return None
        uses = ColumnUses(target.id, reader, READERS[reader], call, read=set(named))
        return uses if _follow(assign, uses) else None
    return None


def _follow(assign: ast.Assign, uses: ColumnUses) -> bool:
    """Fills ``uses`` from every use of the frame's name; False at the first use that may read
    columns it does not name."""
    scope = enclosing_function(assign)
    module = assign
    while (up := parent(module)) is not None:
        module = up  # type: ignore[assignment]
    # Stores of a column before any read of it: a column the program makes, not the file's.
    first_store: dict[str, tuple[int, int]] = {}
    first_read: dict[str, tuple[int, int]] = {}
    for node in ast.walk(module):
        if not (isinstance(node, ast.Name) and node.id == uses.name):
            continue
        if enclosing_function(node) is not scope:
            return False
        if isinstance(node.ctx, ast.Del):
            continue
        if isinstance(node.ctx, ast.Store):
            if _rebinds_from_itself(node, uses.name) is False:
                return False
            continue
        if not _use(node, uses, first_store, first_read):
            return False
    for name, where in first_store.items():
        if name not in first_read or where < first_read[name]:
            uses.created.add(name)
    return True


def _rebinds_from_itself(node: ast.Name, name: str) -> bool | None:
    """A store of the name: fine for the reader's own line and for ``df = df[...]`` (its uses
    are checked on their own); for anything else (``df = other``), False: a frame the rule
    did not see would be held by the name."""
    assign = parent(node)
    if not isinstance(assign, ast.Assign):
        return False
    if _reader_call(assign.value) is not None:
        return None  # another read: its columns are checked through the same name
    value = assign.value
    return (
        isinstance(value, ast.Subscript)
        and isinstance(value.value, ast.Name)
        and (value.value.id == name)
    )


def _at(node: ast.AST) -> tuple[int, int]:
    return (node.lineno, node.col_offset)


def _use(
    node: ast.Name,
    uses: ColumnUses,
    first_store: dict[str, tuple[int, int]],
    first_read: dict[str, tuple[int, int]],
) -> bool:
    """Records one load of the frame's name; False if it may read unnamed columns."""
    up = parent(node)

    def read(names: list[str], where: tuple[int, int]) -> None:
        for column in names:
            uses.read.add(column)
            first_read.setdefault(column, where)

    if isinstance(up, ast.Subscript) and up.value is node:
        names = _strings(up.slice)
        if names is not None:
            if isinstance(up.ctx, ast.Store):
                statement = parent(up)
                if isinstance(statement, ast.AugAssign):
                    read(names, _at(up))
                # The right-hand side runs first: its reads come before this store.
                end = (getattr(statement, "end_lineno", up.lineno), 1 << 30)
                for column in names:
                    first_store.setdefault(column, end)
            else:
                read(names, _at(up))
            return True
        # A row filter: every column goes on, to the same name or to a literal selection.
        outer = parent(up)
        if isinstance(outer, ast.Subscript) and outer.value is up:
            names = _strings(outer.slice)
            if names is not None and isinstance(outer.ctx, ast.Load):
                read(names, _at(outer))
                return True
        return (
            isinstance(outer, ast.Assign)
            and len(outer.targets) == 1
            and isinstance(outer.targets[0], ast.Name)
            and outer.targets[0].id == uses.name
        )
    if isinstance(up, ast.Attribute) and up.value is node:
        if up.attr in _HARMLESS:
            return True
        if up.attr == "shape":
            rows = parent(up)
            return (
                isinstance(rows, ast.Subscript)
                and rows.value is up
                and isinstance(rows.slice, ast.Constant)
                and rows.slice.value == 0
                and isinstance(rows.ctx, ast.Load)
            )
        if up.attr == "groupby":
            return _groupby(up, read)
        if isinstance(up.ctx, ast.Load) and not isinstance(parent(up), ast.Call):
            uses.attributes.add(up.attr)  # df.amount: a column, if the frame has one so named
            read([up.attr], _at(up))
            return True
        return False
    call = up
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "len"
        and call.args == [node]
    )


def _groupby(attribute: ast.Attribute, read) -> bool:  # type: ignore[no-untyped-def]
    """``df.groupby(keys)[columns]``: the keys and the selected columns, nothing else."""
    call = parent(attribute)
    if not isinstance(call, ast.Call) or call.func is not attribute or len(call.args) != 1:
        return False
    if any(k.arg not in _GROUPBY_KEYWORDS for k in call.keywords):
        return False
    keys = _strings(call.args[0])
    selection = parent(call)
    if keys is None or not isinstance(selection, ast.Subscript) or selection.value is not call:
        return False
    columns = _strings(selection.slice)
    if columns is None:
        return False
    read(keys + columns, _at(call))
    return True
