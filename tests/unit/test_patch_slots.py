"""--patch for `slots` (memslim.patch) leaves the class alone where the module may need its
instances' __dict__: the patched program failed there (AttributeError), and --verify reported a
saving for the run that failed. Truth: the source, which says whether a __dict__ is read or an
attribute the slots would not hold is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from memslim.advice._finding import Finding
from memslim.patch import make_patch

CLASS = """class Rec:
    def __init__(self, i):
        self.i = i
        self.s = str(i)


class Other:
    def __init__(self):
        self.z = 0


"""


def _patched(tmp_path: Path, rest: str) -> bool:
    file = tmp_path / "job.py"
    file.write_text(CLASS + rest)
    fix = "class Rec:\n    __slots__ = ('i', 's',)"
    finding = Finding("slots", str(file), 1, "Rec", 300_000, 30 << 20, 20 << 20, "", fix)
    patch = make_patch([finding], cwd=str(tmp_path))
    if patch.files:
        assert "    __slots__ = ('i', 's')\n" in patch.files["job.py"]
    return bool(patch.files)


@pytest.mark.parametrize(
    "rest",
    [
        "recs = [Rec(i) for i in range(10)]\nprint(len(recs))\n",
        "recs = [Rec(i) for i in range(10)]\nrecs[0].i = 5\n",  # a slot
        "o = Other()\nprint(o.z)\n",  # another class's attribute, set in its own methods
    ],
)
def test_a_class_whose_dict_nothing_needs_gets_its_slots(tmp_path: Path, rest: str) -> None:
    assert _patched(tmp_path, rest)


@pytest.mark.parametrize(
    "rest",
    [
        "first = Rec(-1)\nprint(sorted(vars(first)))\n",
        "recs = [Rec(i) for i in range(10)]\nprint(recs[0].__dict__)\n",
        "recs = [Rec(i) for i in range(10)]\nfor it in recs:\n    it.cached = it.i * 2\n",
        # Whose attribute `o.z` is the source does not say: it may be a Rec's.
        "o = Other()\no.z = 3\n",
    ],
)
def test_a_class_whose_dict_the_module_may_need_is_left(tmp_path: Path, rest: str) -> None:
    assert not _patched(tmp_path, rest)


def test_an_attribute_its_own_methods_set_later_keeps_the_dict(tmp_path: Path) -> None:
    rest = "def mark(self):\n    self.marked = True\n\n\nRec.mark = mark\n"
    assert not _patched(tmp_path, rest)  # a function outside the class, on self: unknown
    file = tmp_path / "own.py"
    file.write_text(CLASS.replace("        self.s = str(i)\n", "        self.s = str(i)\n\n"
                                  "    def mark(self):\n        self.marked = True\n"))  # fmt: skip
    fix = "class Rec:\n    __slots__ = ('i', 's',)"
    finding = Finding("slots", str(file), 1, "Rec", 300_000, 30 << 20, 20 << 20, "", fix)
    assert not make_patch([finding], cwd=str(tmp_path)).files


@pytest.mark.parametrize(
    ("body", "slotted"),
    [
        ("    s = None\n", False),  # a default some instances override: a slot conflicts
        ("    s: str = ''\n", False),
        ("    @functools.cached_property\n    def s(self):\n        return 's'\n", False),
        ("    kind = 'rec'\n", True),  # a class attribute no instance sets
    ],
)
def test_a_slot_named_like_a_class_attribute_is_left(
    tmp_path: Path, body: str, slotted: bool
) -> None:
    """A slot named like something the class body binds makes the class fail when it is made
    (ValueError: 's' in __slots__ conflicts with class variable): the exploratory run's
    `class Entity: speed = 1.0` patched so failed. Truth: Python, which makes the patched class."""
    file = tmp_path / "job.py"
    source = (
        "import functools\n\n\nclass Rec:\n"
        + body
        + "\n    def __init__(self, i):\n        self.i = i\n        self.s = str(i)\n"
    )
    file.write_text(source)
    fix = "class Rec:\n    __slots__ = ('i', 's',)"
    finding = Finding("slots", str(file), 4, "Rec", 300_000, 30 << 20, 20 << 20, "", fix)
    patch = make_patch([finding], cwd=str(tmp_path))
    assert bool(patch.files) == slotted
    if patch.files:
        namespace: dict = {}
        exec(patch.files["job.py"], namespace)
        assert namespace["Rec"](3).s == "3"
    else:  # as the patch would have made it, the class cannot be made
        with pytest.raises(ValueError, match="conflicts with class variable"):
            exec(source.replace("class Rec:\n", "class Rec:\n    __slots__ = ('i', 's')\n"), {})
