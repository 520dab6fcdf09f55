"""--patch for `usecols` (memslim.patch): the reader call gets the selection, beside the dtype=
entries of `category`/`downcast` findings on the same line, for the columns it keeps. Truth: the
patched source written out by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from memslim.advice._finding import Finding
from memslim.patch import make_patch


def _finding(file: Path, kind: str, symbol: str, fix: str) -> Finding:
    return Finding(kind, str(file), 4, symbol, 1, 10 << 20, 1 << 20, "", fix)


def _patched(tmp_path: Path, line: str, *findings: tuple[str, str, str]) -> str | None:
    file = tmp_path / "job.py"
    file.write_text(
        f"import pandas as pd\n\n\n{line}\nprint(df['city'].nunique(), df['n'].sum())\n"
    )
    patch = make_patch([_finding(file, *f) for f in findings], cwd=str(tmp_path))
    return patch.files["job.py"].splitlines()[3] if patch.files else None


def test_the_selection_goes_into_the_reader_call(tmp_path: Path) -> None:
    usecols = ("usecols", "id, note", 'df = pd.read_csv("x.csv", usecols=["city", "n"])')
    assert _patched(tmp_path, 'df = pd.read_csv("x.csv")', usecols) == usecols[2]


def test_dtype_entries_are_kept_for_the_columns_read_only(tmp_path: Path) -> None:
    line = 'df = pd.read_csv("x.csv", sep=";")'
    usecols = ("usecols", "id, note", 'df = pd.read_csv("x.csv", sep=";", usecols=["city", "n"])')
    city = ("category", "city", f'{line}  # add: dtype={{"city": "category"}}')
    note = ("category", "note", f'{line}  # add: dtype={{"note": "category"}}')
    assert _patched(tmp_path, line, usecols, city, note) == (
        'df = pd.read_csv("x.csv", sep=";", dtype={"city": "category"}, usecols=["city", "n"])'
    )


def test_a_dtype_table_there_already_gets_the_entry_and_the_call_the_selection(
    tmp_path: Path,
) -> None:
    line = 'df = pd.read_csv("x.csv", dtype={"n": "int32"})'
    usecols = (
        "usecols",
        "note",
        'df = pd.read_csv("x.csv", dtype={"n": "int32"}, usecols=["city", "n"])',
    )
    city = ("category", "city", f'{line}  # add: dtype={{"city": "category"}}')
    assert _patched(tmp_path, line, usecols, city) == (
        'df = pd.read_csv("x.csv", dtype={"n": "int32", "city": "category"}, usecols=["city", "n"])'
    )


def test_a_call_with_a_selection_already_or_options_is_left_to_the_author(tmp_path: Path) -> None:
    for line in ('df = pd.read_csv("x.csv", usecols=[0, 1])', 'df = pd.read_csv("x.csv", **kw)'):
        usecols = ("usecols", "note", 'df = pd.read_csv("x.csv", usecols=["city", "n"])')
        assert _patched(tmp_path, line, usecols) is None, line


def test_a_parquet_read_gets_columns_but_never_dtype(tmp_path: Path) -> None:
    line = 'df = pd.read_parquet("x.parquet")'
    columns = ("usecols", "note", 'df = pd.read_parquet("x.parquet", columns=["city", "n"])')
    assert _patched(tmp_path, line, columns) == columns[2]
    # A category finding too: read_parquet takes no dtype=, and a line's fixes go together.
    city = ("category", "city", f'{line}\ndf["city"] = df["city"].astype("category")')
    assert _patched(tmp_path, line, columns, city) is None


def test_a_string_pyarrow_dtype_goes_into_the_reader_call_and_into_astype(tmp_path: Path) -> None:
    line = 'df = pd.read_csv("x.csv")'
    note = ("arrow-strings", "note", f'{line}  # add: dtype={{"note": "string[pyarrow]"}}')
    assert _patched(tmp_path, line, note) == (
        'df = pd.read_csv("x.csv", dtype={"note": "string[pyarrow]"})'
    )
    made = "df = pd.DataFrame(rows)"
    fix = f'{made}\ndf["note"] = df["note"].astype("string[pyarrow]")'
    file = tmp_path / "build.py"  # another file: the source reader caches job.py's
    file.write_text(f"import pandas as pd\n\n\n{made}\nprint(df['note'].str.len().sum())\n")
    patch = make_patch([_finding(file, "arrow-strings", "note", fix)], cwd=str(tmp_path))
    assert patch.files["build.py"].splitlines()[3:5] == [made, fix.splitlines()[1]]


def _frame_patch(tmp_path: Path, source: str, *findings: tuple[str, str, str]) -> str | None:
    file = tmp_path / "job.py"
    file.write_text(source)
    made = next(n for n, text in enumerate(source.splitlines(), 1) if "DataFrame(" in text)
    patch = make_patch(
        [Finding(kind, str(file), made, symbol, 1, 10 << 20, 1 << 20, "", fix)
         for kind, symbol, fix in findings],
        cwd=str(tmp_path),
    )  # fmt: skip
    return patch.files.get("job.py")


FRAME = """import numpy as np
import pandas as pd


def make(names, n):
    return pd.DataFrame(
        {"id": np.arange(n), "name": names, **{"n": np.arange(n) % 9}},
        index=None,
    )
"""


def test_a_frame_built_from_a_dict_gets_its_columns_converted_in_their_entries(
    tmp_path: Path,
) -> None:
    category = ("category", "name", '"name": pd.Categorical(names),  # its entry')
    downcast = ("downcast", "id", '"id": pd.array(np.arange(n), dtype="uint32"),  # its entry')
    patched = _frame_patch(tmp_path, FRAME, category, downcast)
    assert patched == FRAME.replace(
        '{"id": np.arange(n), "name": names,',
        '{"id": pd.array(np.arange(n), dtype="uint32"), "name": pd.Categorical(names),',
    )


def test_a_column_the_dict_does_not_name_leaves_the_frame_to_the_author(tmp_path: Path) -> None:
    # "n" comes from an unpacked mapping: no entry to convert, and no name to convert it under.
    downcast = ("downcast", "n", '"n": pd.array(np.arange(n) % 9, dtype="uint8"),  # its entry')
    category = ("category", "name", '"name": pd.Categorical(names),  # its entry')
    assert _frame_patch(tmp_path, FRAME, downcast, category) is None
    # A frame made by a bare DataFrame(...) (no module name for pd.Categorical) neither.
    bare = FRAME.replace("import pandas as pd", "from pandas import DataFrame")
    assert _frame_patch(tmp_path, bare.replace("pd.DataFrame(", "DataFrame("), category) is None


def _used(tmp_path: Path, use: str, kind: str, column: str, dtype: str) -> str | None:
    """The reader line of a program using the frame as ``use`` says, patched for one finding of
    ``kind`` on ``column`` (None: left to the author)."""
    line = 'df = pd.read_csv("x.csv")'
    file = tmp_path / "job.py"
    file.write_text(f"import pandas as pd\n\n\n{line}\n{use}\n")
    fix = f'{line}  # add: dtype={{"{column}": "{dtype}"}}'
    patch = make_patch([_finding(file, kind, column, fix)], cwd=str(tmp_path))
    return patch.files["job.py"].splitlines()[3] if patch.files else None


@pytest.mark.parametrize(
    ("use", "converted"),
    [
        ('print(df["n"].sum(), df["n"].max(), (df["n"] > 3).sum(), df.n.mean())', True),
        ('print(df["n"].astype("int64") - 10)', True),  # the author's dtype
        # pandas computes in the column's dtype: uint8 - 10 wraps, uint8 * 300 fails.
        ('print((df["n"] - 10).abs().sum())', False),
        ('print((df.n * df["price"]).sum())', False),
        ('df["n"] += 1', False),
        ('print(-df["n"])', False),
        ('print(df["n"].cumsum().max(), df["n"].diff())', False),
        ('print(df[df["n"] > 0]["n"].values * 2)', False),
    ],
)
def test_no_downcast_where_the_column_is_computed_with(
    tmp_path: Path, use: str, converted: bool
) -> None:
    patched = _used(tmp_path, use, "downcast", "n", "uint8")
    assert patched == ('df = pd.read_csv("x.csv", dtype={"n": "uint8"})' if converted else None)


@pytest.mark.parametrize(
    ("use", "converted"),
    [
        (
            'print((df["city"] == "x").sum(), df["city"].nunique(), df["city"].str.len().sum())',
            True,
        ),
        ('print(df["city"] + "/" + df["tier"])', False),  # a categorical has no +
        ('print(df[df["city"] < "m"])', False),  # nor an order, unless it is made ordered
        ('print(df["city"].max())', False),
        # A filter's empty categories are counted: 3 tiers, not 2.
        ('print(len(df[df["city"] != "x"]["city"].value_counts()))', False),
    ],
)
def test_no_category_where_the_column_is_concatenated_ordered_or_summed(
    tmp_path: Path, use: str, converted: bool
) -> None:
    patched = _used(tmp_path, use, "category", "city", "category")
    assert patched == (
        'df = pd.read_csv("x.csv", dtype={"city": "category"})' if converted else None
    )


def test_a_column_computed_with_keeps_its_dtype_beside_the_selection(tmp_path: Path) -> None:
    line = 'df = pd.read_csv("x.csv")'
    file = tmp_path / "job.py"
    file.write_text(f"import pandas as pd\n\n\n{line}\nprint((df['n'] * 3).sum(), df['city'])\n")
    usecols = _finding(file, "usecols", "id", 'df = pd.read_csv("x.csv", usecols=["city", "n"])')
    n = _finding(file, "downcast", "n", f'{line}  # add: dtype={{"n": "uint8"}}')
    city = _finding(file, "category", "city", f'{line}  # add: dtype={{"city": "category"}}')
    patch = make_patch([usecols, n, city], cwd=str(tmp_path))
    assert patch.files["job.py"].splitlines()[3] == (
        'df = pd.read_csv("x.csv", dtype={"city": "category"}, usecols=["city", "n"])'
    )
    assert patch.left == [n]
    assert '(left to the author: column "n" is used in arithmetic or a concatenation)' in (
        patch.diff
    )


USERS = """import numpy as np
import pandas as pd

regions = np.array(["north", "south", "east"])
users = pd.DataFrame({
    "region": regions[np.arange(3000) % 3],
    "tier": regions[np.arange(3000) % 2],
    "logins": np.arange(3000) % 50,
})
users["segment"] = users["region"] + "/" + users["logins"].astype(str)
print(users["segment"].nunique(), (users["tier"] == "north").sum(), users["logins"].sum())
"""


def test_a_patched_frame_program_prints_what_it_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Truth: the program run by Python, before and after. The concatenated column stays an
    object column (a categorical's + raised TypeError in an exploratory run); the column only
    compared and the one only summed and made text are converted."""
    pytest.importorskip("pandas")
    file = tmp_path / "job.py"
    file.write_text(USERS)
    found = [
        Finding("category", str(file), 5, column, 1, 10 << 20, 1 << 20, "", fix)
        for column, fix in (
            ("region", '"region": pd.Categorical(regions[np.arange(3000) % 3]),'),
            ("tier", '"tier": pd.Categorical(regions[np.arange(3000) % 2]),'),
        )
    ]
    found.append(
        Finding("downcast", str(file), 5, "logins", 1, 10 << 20, 1 << 20, "",
                '"logins": pd.array(np.arange(3000) % 50, dtype="uint8"),')
    )  # fmt: skip
    patch = make_patch(found, cwd=str(tmp_path))
    assert patch.left == [found[0]] and patch.applied == found[1:]
    patched = patch.files["job.py"]
    assert '"tier": pd.Categorical(regions[np.arange(3000) % 2]),' in patched
    exec(compile(USERS, "before", "exec"), {})
    before = capsys.readouterr().out
    exec(compile(patched, "after", "exec"), {})
    assert capsys.readouterr().out == before == "150 1500 73500\n"


GROUPED = """import pandas as pd

orders = pd.DataFrame({"city": ["a", "b", "c"] * 1000, "amount": range(3000)})
kept = orders[orders["city"] != "c"]
print(kept.groupby("city")["amount"].sum().to_dict())
"""


def test_a_category_grouped_by_under_pandas_2_is_left_to_the_author(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas 2 groups a categorical key by all its categories (observed=False): the filtered
    city "c" comes back as an empty group. Truth: pandas 2 itself, where the test environment
    has it (scripts/test.sh installs it beside the tests)."""
    import memslim.patch as patch_module

    file = tmp_path / "job.py"
    file.write_text(GROUPED)
    fix = 'orders["city"] = orders["city"].astype("category")'
    finding = Finding("category", str(file), 3, "city", 1, 10 << 20, 1 << 20, "", fix)
    for major, left in ((2, True), (3, False)):
        monkeypatch.setattr(patch_module, "_pandas_major", lambda major=major: major)
        patch = make_patch([finding], cwd=str(tmp_path))
        assert (patch.left == [finding]) is left, (major, patch.diff)
    # With observed= given, the author chose: applied.
    other = tmp_path / "observed.py"
    other.write_text(GROUPED.replace('groupby("city")', 'groupby("city", observed=True)'))
    given = Finding("category", str(other), 3, "city", 1, 10 << 20, 1 << 20, "", fix)
    monkeypatch.setattr(patch_module, "_pandas_major", lambda: 2)
    assert make_patch([given], cwd=str(tmp_path)).applied == [given]
    pandas2 = os.environ.get("MEMSLIM_TEST_PANDAS2", "")
    if not (pandas2 and Path(pandas2, "pandas").is_dir()):
        return
    converted = GROUPED.replace("kept = ", fix + "\nkept = ")
    printed = [
        subprocess.run(
            [sys.executable, "-W", "ignore", "-c", source], capture_output=True, text=True,
            check=True, env={**os.environ, "PYTHONPATH": pandas2},
        ).stdout
        for source in (GROUPED, converted)
    ]  # fmt: skip
    assert printed[0] != printed[1] and "'c': 0" in printed[1], printed
