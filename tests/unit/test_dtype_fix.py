"""The `dtype` finding's fix names the change that makes the arrays smaller where they are made:
`.astype()` / `dtype=` for NumPy's arrays, the column's `dtype=` for a pandas reader's own
arrays (a parse's chunks at its peak, which `.astype()` after the read does not change)."""

from __future__ import annotations

from pathlib import Path

from memslim.advice.dtype import _finding


def row(size: int) -> dict:
    return {"size": size, "bytes": size * 8, "itemsize": 8, "min": 0, "max": 199, "dtype": "<i8"}


def test_a_readers_arrays_get_the_columns_dtype_in_the_read(tmp_path: Path) -> None:
    source = tmp_path / "program.py"
    source.write_text("orders = pd.read_csv(path)\nvalues = np.arange(n) % 200\n")
    read = _finding([row(393_216)] * 3, (str(source), "main", 1), "uint8", 1, False)
    assert read.fix == 'orders = pd.read_csv(path)  # add: dtype={"<column>": "uint8"}'
    assert "made inside this read" in read.message
    # 3 arrays of 393,216 items, 7 bytes saved per item.
    assert read.bytes_now - read.bytes_after == 3 * 393_216 * 7
    made = _finding([row(1000)], (str(source), "main", 2), "uint8", 1, False)
    assert made.fix.endswith("# then: .astype(np.uint8), or dtype=np.uint8 where it is made")
    assert "inside this read" not in made.message


def test_arrays_a_library_made_inside_the_call_get_no_finding(tmp_path: Path) -> None:
    """scikit-learn's `fit`, scipy.sparse's index arrays, pandas' group codes: no `.astype()`
    on the user's line reaches them (the exploratory run's `clf.fit(Xtr, ytr)  # then:
    .astype(np.uint8)`). NumPy's own Python frames between are the same call; a pandas
    reader's arrays keep their finding (the column's dtype in the read)."""
    from memslim.advice.dtype import _made_inside_a_library

    source = tmp_path / "program.py"
    source.write_text("clf.fit(x, y)\norders = pd.read_csv(path)\nvalues = np.ones(n)\n")
    user = (str(source), "<module>", 1)
    sklearn = ("/venv/lib/site-packages/sklearn/tree/_classes.py", "fit", 400)
    numpy = ("/venv/lib/site-packages/numpy/_core/numeric.py", "ones", 190)
    assert _made_inside_a_library([sklearn, user], user)
    assert _made_inside_a_library([numpy, sklearn, user], user)
    assert not _made_inside_a_library([user], user)
    values = (str(source), "<module>", 3)
    assert not _made_inside_a_library([numpy, values], values)
    read = (str(source), "<module>", 2)
    parser = ("/venv/lib/site-packages/pandas/io/parsers/c_parser_wrapper.py", "read", 234)
    assert not _made_inside_a_library([parser, read], read)


def test_a_running_readers_arrays_are_the_parsers_not_a_working_array(tmp_path: Path) -> None:
    """A census inside pandas 3's parallel read: the read was still running. Its arrays are the
    parser's (the column's dtype in the read), not a NumPy call's working array; one it had not
    filled yet (every value the same) gets no finding. Truth: the arrays' values as given."""
    from memslim.advice.dtype import _filled_by_a_running_library, _running_call

    source = tmp_path / "program.py"
    source.write_text("orders = pd.read_csv(path)\nkinds = np.unique(codes)\n")
    read = (str(source), "<module>", 1)
    parser = ("/venv/lib/site-packages/pandas/io/parsers/c_parser_wrapper.py", "read", 306)
    running = {((parser[0], parser[2]), (read[0], read[2]))}
    filled = dict(row(1000), frames=[parser, read])
    unfilled = dict(filled, min=0, max=0)
    assert _running_call([filled], read, running) is None
    assert not _filled_by_a_running_library([filled], read, running)
    assert _filled_by_a_running_library([unfilled], read, running)
    assert not _filled_by_a_running_library([unfilled], read, set())  # the read had returned
    unique = (str(source), "<module>", 2)
    numpy = ("/venv/lib/site-packages/numpy/lib/_arraysetops_impl.py", "_unique1d", 350)
    working = dict(unfilled, frames=[numpy, unique])
    at_unique = {((numpy[0], numpy[2]), (unique[0], unique[2]))}
    assert _running_call([working], unique, at_unique) == "_unique1d"
    assert not _filled_by_a_running_library([working], unique, at_unique)
