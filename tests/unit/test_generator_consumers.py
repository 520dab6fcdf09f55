"""Which comprehensions the `generator` rule may turn into generator expressions: only where a
generator computes the same items as the list did. Truth: the program itself, run with the list
and with the generator (plain Python), for the cases the exploratory run found broken."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from memslim.advice.generator import _consumer
from memslim.advice.source import syntax_tree

CASES = [
    # any()/all() stop at their answer: validate() ran once for 82,855 records as a generator.
    ("errors = []\ndef validate(r):\n    errors.append(r)\n    return False\n"
     "records = range(5)\nok = all([validate(r) for r in records])\nout = (ok, len(errors))\n",
     None),
    ("records = range(5)\nok = all([r >= 0 for r in records])\nout = ok\n", "all"),
    ("records = range(5)\nok = any([len(str(r)) > 3 for r in records])\nout = ok\n", "any"),
    # The loop deletes from the dict its comprehension lists.
    ("sessions = {i: i % 3 for i in range(9)}\n"
     "for sid in [sid for sid, s in sessions.items() if s == 0]:\n"
     "    del sessions[sid]\nout = sorted(sessions)\n", None),
    ("seen = []\nitems = [1, 2, 3]\nfor x in [i * 2 for i in items]:\n"
     "    items.append(x)\n    if len(items) > 10:\n        break\nout = items\n", None),
    # A loop that leaves early while the items' calls have effects of their own.
    ("calls = []\ndef f(i):\n    calls.append(i)\n    return i\n"
     "for x in [f(i) for i in range(5)]:\n    if x == 1:\n        break\nout = calls\n", None),
    # The same loop over items without effects, and a body that changes nothing they read.
    ("total = 0\nfor x in [i * 2 for i in range(5)]:\n    if x == 4:\n        break\n"
     "    total += x\nout = total\n", "a for loop"),
    ("rows = {i: i for i in range(5)}\nseen = []\nfor k in [k for k in rows if k % 2]:\n"
     "    seen.append(rows[k])\nout = seen\n", "a for loop"),
    ("total = sum([x * 1.5 for x in range(10)])\nout = total\n", "sum"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "consumer"), CASES)
def test_a_generator_only_where_it_computes_the_same(
    tmp_path: Path, source: str, consumer: str | None
) -> None:
    file = tmp_path / "job.py"
    file.write_text(source)
    tree = syntax_tree(str(file))
    assert tree is not None
    (comprehension,) = [
        n for n in ast.walk(tree) if isinstance(n, ast.ListComp) and n.lineno == _line(source)
    ]
    assert _consumer(comprehension) == consumer
    # Truth: the program with the list and with a generator in its place.
    segment = ast.get_source_segment(source, comprehension)
    assert segment is not None
    as_list: dict = {}
    exec(source, as_list)
    as_generator: dict = {}
    try:
        exec(source.replace(segment, "(" + segment[1:-1] + ")"), as_generator)
        same = as_generator["out"] == as_list["out"]
    except RuntimeError:  # dictionary changed size during iteration
        same = False
    assert same == (consumer is not None)


def _line(source: str) -> int:
    """The line of the comprehension under test: the last one that holds one."""
    lines = source.splitlines()
    return max(i for i, text in enumerate(lines, 1) if "[" in text and " for " in text)
