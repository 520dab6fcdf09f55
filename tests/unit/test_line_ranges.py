"""The report's line numbers come from each code object's location table, decoded by memslim
(engine/line_table.h). The truth is CPython's own reading of it, ``code.co_lines()``, for every
code object of the standard library's modules and of code made to stress the table's forms."""

from __future__ import annotations

import glob
import os
import sysconfig
import types

import pytest

from memslim import _core


def _merged(code: types.CodeType) -> list[tuple[int, int, int | None]]:
    out: list[tuple[int, int, int | None]] = []
    for start, end, line in code.co_lines():
        if out and out[-1][1] == start and out[-1][2] == line:
            out[-1] = (out[-1][0], end, line)
        else:
            out.append((start, end, line))
    return out


def _codes(code: types.CodeType) -> list[types.CodeType]:
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.extend(_codes(const))
    return found


STRESS = (
    """
def far_apart():
    x = 1
"""
    + "\n" * 300
    + """    y = (x +
         2)
    return [
        x,
        y,
    ]

async def agen(xs):
    async for x in xs:
        yield x  # a generator's no-location entries

class K:
    def f(self, a, b=lambda: (yield)):
        try:
            return {k: v for k, v in a if k
                    if v}
        except* ValueError:
            pass
        finally:
            del a
"""
)


def test_stress_code_reads_as_co_lines_reads_it() -> None:
    for code in _codes(compile(STRESS, "stress.py", "exec")):
        assert _core.line_ranges(code) == _merged(code), code.co_name


def test_every_standard_library_module_reads_as_co_lines_reads_it() -> None:
    stdlib = sysconfig.get_path("stdlib")
    files = sorted(glob.glob(os.path.join(stdlib, "*.py")))
    assert len(files) > 100
    checked = 0
    for path in files:
        with open(path, "rb") as f:
            source = f.read()
        try:
            module = compile(source, path, "exec")
        except (SyntaxError, ValueError):  # a file for another version (lib2to3 tests)
            continue
        for code in _codes(module):
            assert _core.line_ranges(code) == _merged(code), (path, code.co_name)
            checked += 1
    assert checked > 5_000


def test_only_code_objects_are_read() -> None:
    with pytest.raises(TypeError):
        _core.line_ranges("not code")  # type: ignore[arg-type]
