"""``deque``: a list used as a FIFO queue (pop(0), insert(0, x), del x[0]) ->
``collections.deque``. A speed finding: each of those moves every other item (O(n)); the
memory effect is stated, not claimed as a saving."""

from __future__ import annotations

import ast
import linecache
import re
from collections.abc import Iterator

from memslim.advice import measure
from memslim.advice._finding import Finding, Run
from memslim.advice.source import enclosing_function, is_user_file, syntax_tree


def _is_zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0 and not isinstance(node.value, bool)


def _front_operation(node: ast.AST) -> tuple[str, str] | None:
    """(list name, operation) for ``name.pop(0)``, ``name.insert(0, x)``, ``del name[0]``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        target = node.func.value
        if isinstance(target, ast.Name) and node.args and _is_zero(node.args[0]):
            if node.func.attr == "pop" and len(node.args) == 1:
                return target.id, f"{target.id}.pop(0)"
            if node.func.attr == "insert" and len(node.args) == 2:
                return target.id, f"{target.id}.insert(0, ...)"
    if isinstance(node, ast.Delete):
        for target in node.targets:
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and _is_zero(target.slice)
            ):
                return target.value.id, f"del {target.value.id}[0]"
    return None


# What a file's text must contain for _front_operation to find anything in it: a zero literal
# (0, 00, 0x0, 0_0, ...) as pop's only argument, insert's first, or a `del` statement's index.
# Parsing every file of the program that ran (and walking its tree) cost a program whose
# libraries sit outside site-packages half a second at the end of the run (53 of rich's files,
# imported by scikit-learn); a search of the text takes a millisecond per file.
_ZERO = r"\(?\s*0[xXoObB_]?[0_]*\s*\)?"
_MAYBE_FRONT_OPERATION = re.compile(
    rf"\.\s*pop\s*\(\s*{_ZERO}\s*\)"
    rf"|\.\s*insert\s*\(\s*{_ZERO}\s*,"
    rf"|\bdel\b[^\n]*\[\s*{_ZERO}\s*\]"
)


def may_have_front_operation(source: str) -> bool:
    """False when ``source`` holds no ``name.pop(0)``, ``name.insert(0, x)`` or ``del name[0]``
    (a quick test of its text before it is parsed; spaces and line breaks inside the call are
    allowed, a comment inside it or a backslash inside the ``del`` statement are not)."""
    return _MAYBE_FRONT_OPERATION.search(source) is not None


def _bound_to_list(scope: ast.AST, name: str) -> bool:
    """Whether ``name`` is assigned a list display, comprehension or list() call in ``scope``."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == name for t in targets):
            continue
        value = node.value
        if isinstance(value, (ast.List, ast.ListComp)):
            return True
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "list"
        ):
            return True
    return False


def find(run: Run) -> Iterator[Finding]:
    # (file, function name) of every function that ran in a recorded stack
    ran = {(file, qualname.rsplit(".", 1)[-1]) for file, qualname in run.profile.functions_ran()}
    files = sorted(file for file in {file for file, _ in ran} if is_user_file(file))
    extra = measure.empty_deque_over_list()
    for file in files:
        if not may_have_front_operation("".join(linecache.getlines(file))):
            continue
        tree = syntax_tree(file)
        if tree is None:
            continue
        for node in ast.walk(tree):
            found = _front_operation(node)
            if found is None:
                continue
            name, operation = found
            function = enclosing_function(node)
            scope = function if function is not None else tree
            function_name = function.name if function is not None else "<module>"  # type: ignore[union-attr]
            if (file, function_name) not in ran or not _bound_to_list(scope, name):
                continue
            replacement = (
                operation.replace(".pop(0)", ".popleft()")
                .replace(".insert(0, ...)", ".appendleft(...)")
                .replace(f"del {name}[0]", f"{name}.popleft()")
            )
            yield Finding(
                kind="deque",
                file=file,
                line=node.lineno,
                symbol=name,
                count=1,
                bytes_now=0,
                bytes_after=0,
                message=(
                    f"{operation} on a list moves every remaining item each time (O(n)); "
                    f"collections.deque does it in O(1). This is a speed change: an empty deque "
                    f"holds {extra} bytes more than an empty list on this interpreter, and a long "
                    "one about as much as a list."
                ),
                fix=f"{name} = collections.deque(...)  # then {replacement}",
                time_only=True,
            )
