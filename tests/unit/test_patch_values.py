"""--patch for `dtype`, `array` and `tuple` (memslim.patch): the line's one array, list
comprehension or list display rewritten, and left to the author wherever the rewrite could
change what the program does. Truth: the patched source written out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from memslim.advice._finding import Finding
from memslim.patch import make_patch

DTYPE_FIX = "  # then: .astype(np.uint8), or dtype=np.uint8 where it is made"


def _finding(file: Path, kind: str, line: int, fix: str) -> Finding:
    return Finding(kind, str(file), line, "", 1, 10 << 20, 1 << 20, "", fix)


def _patch(tmp_path: Path, source: str, kind: str, line: int, fix: str) -> str | None:
    """``source`` as job.py patched for one finding of ``kind`` at ``line``; None if left."""
    file = tmp_path / "job.py"
    file.write_text(source)
    finding = _finding(file, kind, line, fix)
    patch = make_patch([finding], cwd=str(tmp_path))
    assert (patch.applied == [finding]) == bool(patch.files)
    return patch.files.get("job.py")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a = np.zeros(n, dtype=np.int64)", "a = np.zeros(n, dtype=np.uint8)"),
        ("a = np.zeros(n)", "a = np.zeros(n, dtype=np.uint8)"),
        ("a = np.full((n, 2), 7)", "a = np.full((n, 2), 7, dtype=np.uint8)"),
        ("a = b.astype(np.int32)", "a = b.astype(np.uint8)"),
        # A random draw is narrowed after it: a dtype= in it would draw other values.
        ("a = rng.integers(0, 256, size=n)", "a = rng.integers(0, 256, size=n).astype(np.uint8)"),
        (
            "a = rng.integers(0, 256, n, dtype=np.int64)",
            "a = rng.integers(0, 256, n, dtype=np.int64).astype(np.uint8)",
        ),
        ("a = np.random.randint(0, 256, n)", "a = np.random.randint(0, 256, n).astype(np.uint8)"),
        ("a = np.arange(n) % 200", None),  # the array is the remainder's, not arange's
        ("a = np.zeros(n, np.int64)", None),  # a dtype by position
        ("a = np.zeros(n, **options)", None),
        ("a = torch.zeros(n)", None),  # another library's zeros
        ("a = np.concatenate([np.zeros(n), np.ones(n)])", None),  # two calls
    ],
)
def test_a_dtype_finding_narrows_the_call_that_made_the_array(
    tmp_path: Path, line: str, expected: str | None
) -> None:
    source = f"import numpy as np\n\n{line}\nprint(a.sum())\n"
    patched = _patch(tmp_path, source, "dtype", 3, line + DTYPE_FIX)
    assert (patched.splitlines()[2] if patched else None) == expected


@pytest.mark.parametrize(
    "draw",
    [
        "np.random.default_rng(7).integers(0, 1000, 5000)",
        "np.random.RandomState(7).randint(0, 1000, 5000)",
    ],
)
def test_a_narrowed_random_draw_keeps_the_values_it_drew(tmp_path: Path, draw: str) -> None:
    """Truth: NumPy itself. The patched line, run, gives the values the original drew (a dtype=
    in the draw gave others: the bench's NumPy job printed other results after --verify)."""
    np = pytest.importorskip("numpy")
    line = f"a = {draw}"
    fix = f"{line}  # then: .astype(np.uint16) on the draw (a dtype= in it would draw other values)"
    patched = _patch(tmp_path, f"import numpy as np\n\n{line}\n", "dtype", 3, fix)
    assert patched is not None
    before: dict = {"np": np}
    after: dict = {"np": np}
    exec(line, before)
    exec(patched.splitlines()[2], after)
    assert after["a"].dtype == np.uint16
    assert after["a"].tolist() == before["a"].tolist()


def test_a_dtype_finding_uses_the_modules_own_name_for_numpy(tmp_path: Path) -> None:
    line = "a = numpy.ones(n, dtype=numpy.int64)"
    patched = _patch(tmp_path, f"import numpy\n\n{line}\n", "dtype", 3, line + DTYPE_FIX)
    assert patched is not None and patched.splitlines()[2] == "a = numpy.ones(n, dtype=numpy.uint8)"


@pytest.mark.parametrize(
    ("uses", "narrowed"),
    [
        ("print(a.sum(), a.max(), len(a), a.shape[0] * 2, a[a < 3].mean())", True),
        ("print(np.count_nonzero(a > 1), np.argsort(a)[:3], int(np.cumsum(a)[-1]))", True),
        ("a[a > 9] = 0\na[:2] = b", True),  # values copied in, as the census measured them
        ("prev = a - 1", False),  # NumPy computes in the narrow dtype: 0 - 1 wraps
        ("a += 1", False),
        ("a[0] += 1", False),
        ("b = -a", False),
        ("a[a > 9] = b * 2", False),
        ("print(np.abs(a).sum())", False),
        ("print(np.cumsum(a)[-1] - 5)", False),  # uint64 where it was int64
        ("b = a[1:]\nprint((b * 2).sum())", False),  # through another name
        ("for v in a:\n    print(v + 1)", False),
        ("print(sum(a))", False),  # Python's sum adds the items in their own dtype
        # The program's own functions and methods are followed into.
        ("def total(x):\n    return (x * 3).sum()\nprint(total(a))", False),
        ("def total(x):\n    return (x * 3).sum()\nprint(total(x=a))", False),
        ("def show(x):\n    print(x.max())\nshow(a)", True),
        ("class R:\n    def add(self, x):\n        return x + 1\nprint(R().add(a).sum())", False),
        ("class R:\n    def top(self, x):\n        return x.max()\nprint(R().top(a))", True),
    ],
)
def test_no_dtype_fix_where_the_array_is_computed_with(
    tmp_path: Path, uses: str, narrowed: bool
) -> None:
    line = "a = np.zeros(n, dtype=np.int64)"
    source = f"import numpy as np\n\n{line}\n{uses}\n"
    patched = _patch(tmp_path, source, "dtype", 3, line + DTYPE_FIX)
    assert (patched is not None) == narrowed
    if narrowed:
        assert patched == source.replace("np.int64", "np.uint8")


NARROWED = """import numpy as np

ids = np.arange(3000)
prev = ids - 1
prev[prev < 0] = 0
page = np.zeros(3000, dtype=np.int64)
page[::2] = 7
print(int(np.abs(ids - prev).sum()), int(page.sum()), page.max(), (page > 3).sum(), page.shape)
"""


def test_a_patched_numpy_program_prints_what_it_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Truth: the program run by Python, before and after. `ids` is computed with (`ids - 1`
    of a uint16 arange wraps at 0: the exploratory run's 2,999,999 became 3,000,000): left to
    the author; `page` is only read: narrowed."""
    pytest.importorskip("numpy")
    file = tmp_path / "job.py"
    file.write_text(NARROWED)
    ids = _finding(file, "dtype", 3, "ids = np.arange(3000)" + DTYPE_FIX.replace("uint8", "uint16"))
    page = _finding(file, "dtype", 6, "page = np.zeros(3000, dtype=np.int64)" + DTYPE_FIX)
    patch = make_patch([ids, page], cwd=str(tmp_path))
    assert patch.applied == [page] and patch.left == [ids]
    assert "(left to the author: `ids` is used in arithmetic)" in patch.diff
    patched = patch.files["job.py"]
    assert "page = np.zeros(3000, dtype=np.uint8)" in patched
    exec(compile(NARROWED, "before", "exec"), {})
    before = capsys.readouterr().out
    exec(compile(patched, "after", "exec"), {})
    assert capsys.readouterr().out == before == "2999 10500 7 1500 (3000,)\n"


ARRAY = '''"""Readings."""

import random


def load(n):
    values = [random.random() for _ in range(n)]
    {use}
    return values
'''


@pytest.mark.parametrize(
    ("use", "kept"),
    [
        ("values.append(0.5)", False),
        ("print(len(values), values[0], sum(values))", False),
        ("values.sort()", True),  # array.array has no sort()
        ("print(values == [])", True),  # an array is never equal to a list
        ("values = values + [1.0]", True),  # nor concatenated with one
        # Put where the list's other uses are not followed: json.dumps rejected the array
        # (TypeError), and print() shows array('d', [...]) (the exploratory run's sensors).
        ("series = {'a': values}", True),
        ("print(values)", True),
        ("print(json.dumps(values[:3]))", True),  # a slice of an array is an array
        ("print(sum(values[:3]), values[-1])", False),
    ],
)
def test_a_list_of_floats_becomes_an_array_where_its_uses_allow(
    tmp_path: Path, use: str, kept: bool
) -> None:
    fix = 'array.array("d", (random.random() for _ in range(n)))'
    patched = _patch(tmp_path, ARRAY.format(use=use), "array", 7, fix)
    if kept:
        assert patched is None
        return
    expected = (
        ARRAY.format(use=use)
        .replace("[random.random() for _ in range(n)]", fix)
        .replace("import random\n", "import array\nimport random\n")
    )
    assert patched == expected
    compile(patched, "job.py", "exec")


def test_no_array_fix_where_array_names_something_else(tmp_path: Path) -> None:
    source = ARRAY.format(use="pass").replace(
        "import random\n", "import random\nfrom numpy import array\n"
    )
    fix = 'array.array("d", (random.random() for _ in range(n)))'
    assert _patch(tmp_path, source, "array", 8, fix) is None


def test_two_array_findings_in_one_file_import_array_once(tmp_path: Path) -> None:
    source = (
        "def f(n):\n"
        "    a = [i * 2**40 for i in range(n)]\n"
        "    b = [i / 3 for i in range(n)]\n"
        "    return a, b\n"
    )
    file = tmp_path / "job.py"
    file.write_text(source)
    findings = [
        _finding(file, "array", 2, 'array.array("q", (i * 2**40 for i in range(n)))'),
        _finding(file, "array", 3, 'array.array("d", (i / 3 for i in range(n)))'),
    ]
    patched = make_patch(findings, cwd=str(tmp_path)).files["job.py"]
    assert patched == (
        "import array\n"
        "def f(n):\n"
        '    a = array.array("q", (i * 2**40 for i in range(n)))\n'
        '    b = array.array("d", (i / 3 for i in range(n)))\n'
        "    return a, b\n"
    )


TUPLES = """import collections


def build(rows):
    points = []
    counts = collections.Counter()
    for x, y in rows:
        points.append([x, y])
        counts[x] += 1
    {extra}
    return points, counts
"""


@pytest.mark.parametrize(
    ("extra", "kept"),
    [
        ("pass", False),  # counts[x] += 1 changes a Counter, bound only to fresh containers
        ("points.sort()", False),  # sorting the outer list changes no inner one
        ("points[0][1] = 0.0", True),
        ("for p in points: p[0] = 1", True),
        ("for p in points: p.reverse()", True),
        ("del points[0][0]", True),
        # A tuple plus a list raises TypeError (the exploratory run's `r + [r[2] * r[3]]`).
        ("totals = [p + [p[0] * p[1]] for p in points]", True),
        ("totals = [[p[0] * p[1]] + [1] for p in points]", False),  # two lists: no tuple there
    ],
)
def test_lists_become_tuples_where_nothing_may_change_their_items(
    tmp_path: Path, extra: str, kept: bool
) -> None:
    source = TUPLES.format(extra=extra)
    patched = _patch(tmp_path, source, "tuple", 8, "(x, y)")
    if kept:
        assert patched is None
    else:
        assert patched == source.replace("points.append([x, y])", "points.append((x, y))")


def test_a_one_item_display_and_a_comprehension_become_tuples(tmp_path: Path) -> None:
    for name in ("one", "two", "alone"):  # one file each: the advisor's caches are by path
        (tmp_path / name).mkdir()
    one = "rows = [[i] for i in range(9)]\n"
    assert _patch(tmp_path / "one", one, "tuple", 1, "(i,)") == "rows = [(i,) for i in range(9)]\n"
    two = "rows = [[c for c in str(i)] for i in range(9)]\n"  # which one: left to the author
    assert _patch(tmp_path / "two", two, "tuple", 1, "tuple(c for c in str(i))") is None
    alone = "def row(i):\n    return [c for c in str(i)]\n"
    assert _patch(tmp_path / "alone", alone, "tuple", 2, "tuple(c for c in str(i))") == (
        "def row(i):\n    return tuple(c for c in str(i))\n"
    )


def test_an_array_finding_on_a_comprehension_the_generator_fix_rewrites_is_left(
    tmp_path: Path,
) -> None:
    source = "def bits(sizes):\n    return sum([s * 8 for s in sizes])\n"
    file = tmp_path / "job.py"
    file.write_text(source)
    array = _finding(file, "array", 2, 'array.array("q", (s * 8 for s in sizes))')
    generator = _finding(file, "generator", 2, "sum(s * 8 for s in sizes)")
    patch = make_patch([array, generator], cwd=str(tmp_path))
    assert patch.files["job.py"] == "def bits(sizes):\n    return sum(s * 8 for s in sizes)\n"
    assert patch.applied == [generator] and patch.left == [array]
    assert (
        "Not applied: [array] job.py:2 " in patch.diff
        and "(another fix rewrites that code)" in patch.diff
    )


def test_lists_shown_as_text_or_compared_stay_lists(tmp_path: Path) -> None:
    """A tuple prints as (a, b) where a list printed [a, b], and never equals a list: the
    output of `print(pairs[:2])` changed under the patch. Left to the author wherever the
    name the lists are bound to is printed, formatted or compared."""
    rows = "rows = [(str(i), i) for i in range(9)]\n"
    for use in (
        "print(pairs[:2])\n",
        'print(f"{pairs[0]}")\n',
        "print(pairs[0] == ['0', 0])\n",
        'text = "%s" % (pairs,)\n',
    ):
        source = rows + "pairs = [[r[0], r[1]] for r in rows]\n" + use
        folder = tmp_path / str(len(use))
        folder.mkdir()
        assert _patch(folder, source, "tuple", 2, "(r[0], r[1])") is None, use
    (tmp_path / "kept").mkdir()
    kept = rows + "pairs = [[r[0], r[1]] for r in rows]\nprint(len(pairs), pairs[0][1])\n"
    assert _patch(tmp_path / "kept", kept, "tuple", 2, "(r[0], r[1])") is not None
