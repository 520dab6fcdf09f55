"""The deque rule reads a file's text before it parses it: the text test must pass every file in
which the parsed tree has a front operation (brute force over the ways to write one)."""

from __future__ import annotations

import ast
import itertools

from memslim.advice.deque import _front_operation, may_have_front_operation

ZEROS = ["0", "00", "0x0", "0o0", "0b0", "0_0", "(0)", "( 0 )"]
SPACES = ["", " ", "\n    ", "  \n"]


def _front_operations(source: str) -> int:
    return sum(_front_operation(node) is not None for node in ast.walk(ast.parse(source)))


def _snippets():
    for zero, a, b in itertools.product(ZEROS, SPACES, SPACES):
        yield f"items = []\nitems.pop({a}{zero}{b})\n"
        yield f"items = []\nitems .pop ({a}{zero}{b})\n"
        yield f"items = [1]\nitems.insert({a}{zero}{b}, 5)\n"
        yield f"items = [1]\nif True:\n    del items[{a.replace(chr(10), ' ')}{zero}]\n"
        yield f"items = [1]\nother = [1]\ndel other, items[ {zero} ]\n"
        yield f"def f(q):\n    return q.pop({zero}) + 1\n"


def test_every_front_operation_passes_the_text_test() -> None:
    checked = 0
    for source in _snippets():
        if _front_operations(source):
            assert may_have_front_operation(source), source
            checked += 1
    assert checked == 6 * len(ZEROS) * len(SPACES) ** 2


def test_files_without_one_are_not_parsed() -> None:
    for source in [
        "items = []\nitems.pop()\n",
        "items = []\nitems.pop(1)\n",
        "items = []\nitems.pop(i)\n",
        "items = [1]\nitems.insert(1, 0)\n",
        "items = [1]\ndel items[1]\n",
        "d = {}\nd.pop(10)\nx = d.get(0)\n",
    ]:
        assert _front_operations(source) == 0
        assert not may_have_front_operation(source), source
