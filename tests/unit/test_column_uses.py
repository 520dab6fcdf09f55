"""Which columns of a frame read from a file a program uses, read from its source
(memslim.advice.columns): the `usecols` advice answers only where the source says for sure.
Truth: the sources below, whose column uses are written out by hand."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from memslim.advice.columns import column_uses


def _uses(tmp_path: Path, body: str):  # type: ignore[no-untyped-def]
    source = "import pandas as pd\n\n\ndef main(path):\n" + textwrap.indent(
        textwrap.dedent(body), "    "
    )
    file = tmp_path / f"job{abs(hash(body))}.py"
    file.write_text(source)
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "read_" in text)
    return column_uses(str(file), line)


def test_subscripts_groupby_and_attributes_name_their_columns(tmp_path: Path) -> None:
    uses = _uses(
        tmp_path,
        """
        df = pd.read_csv(path)
        total = df["amount"].sum()
        by = df.groupby("city")["amount"].mean()
        pair = df[["city", "qty"]]
        print(len(df), df.shape[0], df.price.max(), total, by, pair)
        """,
    )
    assert uses is not None
    assert uses.keyword == "usecols"
    assert uses.read == {"amount", "city", "qty", "price"}
    assert uses.attributes == {"price"}  # a column only if the frame has one so named
    assert uses.created == set()


def test_a_column_written_before_it_is_read_is_the_programs(tmp_path: Path) -> None:
    uses = _uses(
        tmp_path,
        """
        df = pd.read_csv(path, dtype={"code": "category"})
        df["total"] = df["price"] * df["qty"]
        print(df["total"].sum())
        """,
    )
    assert uses is not None
    assert uses.created == {"total"}
    assert uses.read == {"code", "price", "qty", "total"}  # dtype= names "code": kept


def test_a_row_filter_bound_to_the_same_name_keeps_every_column_checked(tmp_path: Path) -> None:
    uses = _uses(
        tmp_path,
        """
        df = pd.read_parquet(path)
        df = df[df["amount"] > 0]
        print(df["city"].nunique())
        """,
    )
    assert uses is not None
    assert uses.keyword == "columns"
    assert uses.read == {"amount", "city"}


@pytest.mark.parametrize(
    "use", ['print("loaded", df.shape)', "rows, cols = df.shape", "print(df.shape[1])"]
)
def test_a_frames_shape_uses_every_column(tmp_path: Path, use: str) -> None:
    """Its column count is the selection's after the fix: an exploratory run's program printed
    (800000, 4) where it had printed (800000, 8)."""
    assert _uses(tmp_path, f"df = pd.read_csv(path)\n{use}\nprint(df['a'].sum())\n") is None


@pytest.mark.parametrize(
    "use",
    [
        "print(df)",  # may show every column
        "df.describe()",  # a method: reads every column
        "other = df",  # another name holds the frame
        "big = df[df['amount'] > 0]",  # a filtered copy under another name
        "name = 'amount'\nprint(df[name])",  # a column not named by a literal
    ],
)
def test_any_use_that_may_read_unnamed_columns_gives_no_answer(tmp_path: Path, use: str) -> None:
    assert _uses(tmp_path, f"df = pd.read_csv(path)\nprint(df['amount'].sum())\n{use}\n") is None


def test_an_attribute_is_a_column_only_for_the_rule_that_knows_the_frame(tmp_path: Path) -> None:
    # df.columns reads no column, but is not one either: the rule drops a frame whose attribute
    # uses include a DataFrame attribute (advice/frames.py find_unused).
    uses = _uses(tmp_path, "df = pd.read_csv(path)\ncols = df.columns\nprint(df.amount.sum())\n")
    assert uses is not None
    assert uses.attributes == {"amount", "columns"}


def test_a_reader_call_that_names_or_renames_columns_gives_no_answer(tmp_path: Path) -> None:
    for call in (
        "pd.read_csv(path, usecols=['a'])",  # a selection already
        "pd.read_csv(path, names=['a', 'b'])",  # renames the file's columns
        "pd.read_csv(path, index_col=0)",  # a column by position
        "pd.read_csv(path, **options)",
    ):
        assert _uses(tmp_path, f"df = {call}\nprint(df['a'].sum())\n") is None, call


def test_a_frame_read_in_one_function_and_used_in_another_gives_no_answer(tmp_path: Path) -> None:
    file = tmp_path / "split.py"
    file.write_text(
        "import pandas as pd\n\n"
        "df = pd.read_csv('x.csv')\n\n\n"
        "def total():\n"
        "    return df.sum()\n\n\n"
        "print(df['a'].sum(), total())\n"
    )
    assert column_uses(str(file), 3) is None
