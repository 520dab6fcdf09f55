"""A census child's facts of a column of Python objects as a categorical (memslim._frames): built
from the cell where each distinct object first appears, they must be what pandas measures on
the categorical of the whole column."""

from __future__ import annotations

from typing import Any

import pytest

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

from memslim._frames import _as_category, _ByAddress, _object_cells  # noqa: E402

ROWS = 120_000


def _columns() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    names = np.array([f"name-{i:03d}" for i in range(300)], dtype=object)
    shared = names[rng.integers(0, len(names), ROWS)]
    with_missing = shared.copy()
    with_missing[::97] = None
    with_missing[::89] = np.nan
    # One str object per cell (what a NumPy unicode array becomes), of few values.
    own = np.array([str(s) for s in np.array(names)[rng.integers(0, len(names), ROWS)]], object)
    mixed = np.array([1, "a", 2.5, None] * (ROWS // 4), dtype=object)
    many = np.array([f"note-{i}" for i in range(ROWS)], dtype=object)
    return {
        "shared": shared,
        "with_missing": with_missing,
        "own": own,
        "mixed": mixed,
        "python_str": pd.array(with_missing, dtype="string[python]"),
        "many": many,
    }


@pytest.mark.parametrize("name", list(_columns()))
def test_a_columns_categorical_is_what_pandas_measures(name: str) -> None:
    values = _columns()[name]
    objects = _object_cells(pd, np, values)
    assert objects is not None
    facts = _as_category(pd, name, values, int(objects.nbytes), [10**9], _ByAddress(np, objects))
    whole = pd.Categorical(values)  # the truth: pandas' categorical of every cell
    if len(whole.categories) * 2 > len(values):
        assert facts is None
        return
    assert facts is not None
    assert facts["categories"] == len(whole.categories)
    assert facts["as_category"] == whole.memory_usage(deep=True)


def test_the_bytes_held_alone_count_each_distinct_object_once() -> None:
    """Arithmetic on known sizes: 300 distinct strings, each held by the column alone (and by
    ``names``, for the shared column's half)."""
    import sys

    rng = np.random.default_rng(11)
    words = [f"word-{i:04d}" for i in range(300)]
    column = np.array(words, dtype=object)[rng.permutation(np.arange(ROWS) % 300)]
    alone, shared = _ByAddress(np, column).distinct_bytes()
    assert shared == sum(sys.getsizeof(w) for w in words)  # the list `words` holds them too
    assert alone == 0
    del words
    alone, shared = _ByAddress(np, column).distinct_bytes()
    assert alone == 300 * sys.getsizeof("word-0000") and shared == 0
