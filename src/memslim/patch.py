"""``memslim run --patch FILE.diff``: the mechanical fixes of a run's findings as one unified
diff that ``git apply`` (or ``patch -p1``) applies from the current directory.

Made for the kinds whose fix is the same edit in every program:

* ``generator``: the list comprehension fed to a one-pass consumer becomes a generator
  expression (``sum([f(x) for x in xs])`` → ``sum(f(x) for x in xs)``; in a ``for`` statement,
  ``for v in [...]:`` → ``for v in (...):``);
* ``slots``: a plain class gets ``__slots__`` as the first statement of its body (after its
  docstring); a ``@dataclass`` gets ``slots=True`` (and ``weakref_slot=True`` where instances
  are weakly referenced); an ``@attr.s`` class gets ``slots=True``;
* ``category`` and ``downcast`` (pandas columns; never a lossy one): a ``read_csv`` /
  ``read_table`` / ``read_fwf`` call gets ``dtype={...}`` (entries added to a ``dtype=`` dict
  that is there already); another ``name = ...`` statement is followed by
  ``name["col"] = name["col"].astype("category")``.

Other findings need a decision the program's author must make (which strings to intern, what a
record should become, which cache bound): the diff's preamble names them. Each file's edits are
made on its source from the positions of its syntax tree, the edited source must still parse,
and nothing is written for a file that changed since the run read it.
"""

from __future__ import annotations

import ast
import difflib
import json
import linecache
import os
import re
from dataclasses import dataclass, field
from typing import Any

from memslim.advice.source import parent, syntax_tree

PATCHED_KINDS = ("generator", "slots", "category", "downcast")
_COLUMN_KINDS = ("category", "downcast")
_READERS = ("read_csv", "read_table", "read_fwf")
_TARGET_DTYPE = re.compile(r'(?:astype\(|: )"([A-Za-z0-9]+)"[)}]')


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


def _generator_edit(tree: ast.AST, lines: list[str], line: int) -> _Edit | None:
    for node in ast.walk(tree):
        if not isinstance(node, ast.ListComp) or node.lineno != line:
            continue
        up = parent(node)
        start, end = _span(lines, node)
        inner = _segment(lines, start, end)[1:-1]
        if isinstance(up, ast.Call) and up.args == [node] and not up.keywords:
            return _Edit(start, end, inner)  # sum([...]) -> sum(...)
        if isinstance(up, (ast.Call, ast.For)):
            return _Edit(start, end, f"({inner})")
    return None


def _slots_edits(tree: ast.AST, lines: list[str], finding: Any) -> list[_Edit]:
    classes = [
        n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.lineno == finding.line
    ]
    if not classes:
        return []
    cls = classes[0]
    fix = finding.fix
    if fix.startswith("@dataclass(slots=True") or fix.startswith("@attr.s(slots=True"):
        wanted = "dataclass" if fix.startswith("@dataclass") else "s"
        keywords = "slots=True" + (", weakref_slot=True" if "weakref_slot=True" in fix else "")
        for decorator in cls.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
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
    match = re.fullmatch(r"class \w+:\n    (__slots__ = \(.*\))", fix)
    if match is None:
        return []
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
    names = tuple(ast.literal_eval(match.group(1).split("=", 1)[1].strip()))
    at = (first.lineno, 0)
    # A blank line before a method, as the file's own methods are set apart.
    gap = "\n" if isinstance(first, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ""
    return [_Edit(at, at, f"{indent}__slots__ = {names!r}\n{gap}")]


def _quote(text: str) -> str:
    """A Python string literal in double quotes (JSON's escapes are Python's too)."""
    return json.dumps(text)


def _column_edits(tree: ast.AST, lines: list[str], line: int, found: list[Any]) -> list[_Edit]:
    """The edits of the pandas column findings at ``line`` (all of them, or none)."""
    wanted: dict[str, str] = {}
    for finding in found:
        match = _TARGET_DTYPE.search(finding.fix.splitlines()[-1])
        if match is None or finding.lossy:
            return []
        wanted[finding.symbol] = match.group(1)
    wanted = dict(sorted(wanted.items()))  # the same edit whatever the findings' order
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and n.lineno <= line <= (n.end_lineno or n.lineno)
        and (n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", ""))
        in _READERS
    ]
    if calls:
        call = calls[0]
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
                return []
            start, end = _span(lines, table)
            inner = _segment(lines, start, end)[1:-1].rstrip()
            joined = ", ".join(entries)
            separator = "" if not inner or inner.endswith(",") else ", "
            return [_Edit(start, end, "{" + inner + separator + joined + "}")]
        start, end = _span(lines, call)
        text = _segment(lines, start, end)
        inside = text[:-1].rstrip()
        separator = "" if inside.endswith(("(", ",")) else ", "
        table = ", ".join(f"{_quote(c)}: {_quote(d)}" for c, d in wanted.items())
        return [_Edit(start, end, f"{inside}{separator}dtype={{{table}}})")]
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
    if last == len(lines):
        if not lines[-1].endswith("\n"):
            added = "\n" + added
        at = (last, len(lines[-1]))
    else:
        at = (last + 1, 0)
    return [_Edit(at, at, added)]


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
    for finding in findings:
        if (
            finding.kind in PATCHED_KINDS
            and finding.line > 0
            and finding.saving_bytes > 0
            and not finding.lossy
        ):
            by_file.setdefault(finding.file, []).append(finding)
        else:
            left.append(finding)
    applied: list[Any] = []
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
        for finding in found:
            if finding.kind in _COLUMN_KINDS:
                columns.setdefault(finding.line, []).append(finding)
                continue
            if finding.kind == "generator":
                edit = _generator_edit(tree, lines, finding.line)
                made = [edit] if edit is not None else []
            else:
                made = _slots_edits(tree, lines, finding)
            if made:
                edits.extend(made)
                done.append(finding)
            else:
                left.append(finding)
        for line, at_line in sorted(columns.items()):
            made = _column_edits(tree, lines, line, at_line)
            edits.extend(made)
            (done if made else left).extend(at_line)
        if not edits:
            continue
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
    preamble = [f"memslim --patch: {len(applied)} fix(es) ({', '.join(PATCHED_KINDS)})."]
    for finding in left:
        why = (
            "a decision for the author"
            if finding.kind not in PATCHED_KINDS or finding.lossy
            else "no line to change"
            if finding.line == 0
            else "no saving claimed"
            if finding.saving_bytes <= 0
            else "not made mechanically here"
        )
        preamble.append(f"Not applied: [{finding.kind}] {finding.file}:{finding.line} ({why}).")
    diff = "\n".join(preamble) + "\n" + "".join(chunks) if chunks else ""
    return Patch(diff, applied, left, files)


def _unified(old: list[str], new: list[str], name: str) -> str:
    out = [f"diff --git a/{name} b/{name}\n"]
    for line in difflib.unified_diff(old, new, f"a/{name}", f"b/{name}"):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)
