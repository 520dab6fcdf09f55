"""Where in the user's code a change goes: user frames, source lines and syntax trees."""

from __future__ import annotations

import ast
import functools
import linecache
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence

from memslim._paths import is_library_path, is_own_path


def is_user_file(file: str) -> bool:
    """A file of the user's program: not the standard library, an installed package, memslim
    itself, or code without a file (``<string>``, frozen modules)."""
    if not file or file.startswith("<"):
        return False
    return _is_user_path(file, "" if os.path.isabs(file) else os.getcwd())


# Cached: the advice asks once per line, and a program that imports SciPy has tens of thousands
# of lines in a few hundred files. A relative name is keyed by the directory it is relative to.
@functools.lru_cache(maxsize=8192)
def _is_user_path(file: str, cwd: str) -> bool:
    path = os.path.abspath(os.path.join(cwd, file))
    return not is_own_path(path) and not is_library_path(path)


def user_frame_index(frames: Iterable[tuple[str, str, int]] | None) -> int | None:
    """Where in a stack (innermost first) the innermost frame of the user's own code is."""
    for index, frame in enumerate(frames or ()):
        if is_user_file(frame[0]):
            return index
    return None


def user_frame(frames: Sequence[tuple[str, str, int]] | None) -> tuple[str, str, int] | None:
    """The innermost (file, function, line) of the user's own code in a stack."""
    index = user_frame_index(frames)
    return None if index is None else frames[index]  # type: ignore[index]


def line_text(file: str, line: int) -> str:
    return linecache.getline(file, line).strip()


def is_import_line(file: str, line: int) -> bool:
    """Whether ``line`` of ``file`` is an ``import`` statement: what it allocates is the imported
    library's, and no fix at that line changes it."""
    return line in _import_lines(file)


@functools.cache
def _import_lines(file: str) -> frozenset[int]:
    """The lines of ``file``'s import statements: one walk of its tree, not one per question."""
    tree = syntax_tree(file)
    if tree is None:
        return frozenset()
    return frozenset(
        line
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    )


@functools.cache
def syntax_tree(file: str) -> ast.Module | None:
    """The parsed source of ``file``, with each node's parent in ``node.parent``."""
    source = "".join(linecache.getlines(file))
    if not source:
        return None
    try:
        tree = ast.parse(source, filename=file)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    return tree


def nodes_at(file: str, line: int, kind: type[ast.AST]) -> Iterator[ast.AST]:
    """Nodes of ``kind`` whose source spans ``line``, innermost last."""
    tree = syntax_tree(file)
    if tree is None:
        return
    for node in ast.walk(tree):
        if isinstance(node, kind) and node.lineno <= line <= (node.end_lineno or node.lineno):
            yield node


def parent(node: ast.AST) -> ast.AST | None:
    return getattr(node, "parent", None)


def enclosing_function(node: ast.AST) -> ast.AST | None:
    while (node := parent(node)) is not None:  # type: ignore[assignment]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def class_module_file(cls: type, main_file: str | None = None) -> str | None:
    """The file of the user's module that made ``cls`` (None: not the user's). The program's
    ``__main__`` is gone after the run: ``main_file`` is its file."""
    module = cls.__module__
    file = main_file if module == "__main__" else getattr(sys.modules.get(module), "__file__", None)
    return file if isinstance(file, str) and is_user_file(file) else None


def class_definition(cls: type, main_file: str | None = None) -> tuple[str, int] | None:
    """(file, line of ``class Name``) for a class defined in the user's code. Found through the
    class's own module (a ``@dataclass``, an ``attrs`` class or a class finished by a decorator
    has methods generated in ``<string>``), and through its methods' code objects. The
    program's ``__main__`` is gone after the run: ``main_file`` is its file."""
    files: set[str] = set()
    if (module_file := class_module_file(cls, main_file)) is not None:
        files.add(module_file)
    for value in vars(cls).values():
        function = getattr(value, "__func__", value)
        code = getattr(function, "__code__", None)
        if code is not None and is_user_file(code.co_filename):
            files.add(code.co_filename)
    # Nested classes: the enclosing classes' names too (functions' locals are not followed).
    outer = [part for part in cls.__qualname__.split(".")[:-1] if part != "<locals>"]
    for file in sorted(files):
        tree = syntax_tree(file)
        if tree is None:
            continue
        found = None
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                enclosing = []
                parent = getattr(node, "parent", None)
                while parent is not None:
                    if isinstance(parent, ast.ClassDef):
                        enclosing.insert(0, parent.name)
                    parent = getattr(parent, "parent", None)
                if not enclosing or enclosing == outer[-len(enclosing) :]:
                    return file, node.lineno
                found = found or (file, node.lineno)
        if found is not None:
            return found
    return None


def frame_column_value(tree: ast.AST, line: int, column: str) -> tuple[str, ast.expr] | None:
    """Where a pandas DataFrame made at ``line`` from a dict display gets its column ``column``:
    (the name pandas goes by there, the entry's value), for a call ``<name>.DataFrame(...)``
    whose data (first argument or ``data=``) is a dict display with ``column`` as a literal
    key; the innermost such call spanning the line. None otherwise."""
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and node.lineno <= line <= (node.end_lineno or node.lineno)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "DataFrame"
        and isinstance(node.func.value, ast.Name)
    ]
    calls.sort(key=lambda call: (call.end_lineno or call.lineno) - call.lineno)
    for call in calls:
        data = call.args[0] if call.args else None
        data = next((k.value for k in call.keywords if k.arg == "data"), data)
        if not isinstance(data, ast.Dict):
            continue
        for key, value in zip(data.keys, data.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == column:
                return call.func.value.id, value  # type: ignore[attr-defined]
    return None


def converted_column(pandas: str, dtype: str, value: str) -> str:
    """The source of a column's value ``value`` made ``dtype`` where it is built: a categorical
    for ``category`` (values and codes at once, never an object column first), else
    ``pd.array(..., dtype=...)``, which casts a NumPy array or a list alike."""
    if dtype == "category":
        return f"{pandas}.Categorical({value})"
    return f'{pandas}.array({value}, dtype="{dtype}")'


# A pandas reader call that takes `dtype=` (its fix for a column's dtype goes there).
_READER_CALL = re.compile(r"\bread_(csv|table|fwf)\s*\(")


def calls_a_reader(source: str) -> bool:
    """Whether a line of source calls pandas' read_csv, read_table or read_fwf."""
    return _READER_CALL.search(source) is not None


# NumPy's random draws (Generator's and RandomState's methods) that make an array. Given a
# narrower dtype= they draw other values, not the same values narrower: Generator.integers(0,
# 1000, n, dtype=np.uint16) and RandomState.randint(..., dtype=np.uint16) consume the bit stream
# by 16 bits, and standard_normal(..., dtype=np.float32) runs another algorithm (NumPy 2.4,
# seeded: none of the first ten values alike). So the draw is narrowed after it: .astype().
RANDOM_DRAWS = frozenset(
    {
        "integers", "randint", "random", "random_sample", "rand", "randn", "standard_normal",
        "standard_exponential", "standard_gamma", "normal", "uniform", "choice", "permutation",
        "binomial", "poisson", "exponential", "gamma", "beta", "lognormal", "multinomial",
    }
)  # fmt: skip
_RANDOM_DRAW = re.compile(r"\.(" + "|".join(sorted(RANDOM_DRAWS)) + r")\s*\(")


def draws_random_values(source: str) -> bool:
    """Whether a line of source calls one of NumPy's random draws (``rng.integers(...)``)."""
    return _RANDOM_DRAW.search(source) is not None
