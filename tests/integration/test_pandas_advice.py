"""pandas advice (issue 14, item 3): columns of few distinct strings as ``category``, integer
columns as the narrowest dtype that holds their values, float64 as float32 (lossy). Truth: the
same frame converted in a process of its own without memslim, its bytes read by tracemalloc
(which NumPy reports its buffers to) before and after each conversion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import memray_peak, thread_without_gil
from tests.integration.test_run import memslim_run

pytest.importorskip("pandas")

BUILD = """
import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
n = 400_000
cities = [f"city-{i:02d}" for i in range(30)]
columns = {
    "city": [cities[i] for i in rng.integers(0, 30, n)],
    "quantity": rng.integers(1, 100, n),
    "price": rng.random(n),
    "note": [f"note {i}" for i in range(n)],
}
frame = pd.DataFrame(columns)
del columns
"""

PROGRAM = (
    BUILD
    + """
ranked = frame.sort_values("price")
both = pd.concat([frame, ranked])
print(len(both), int(frame["quantity"].sum()))
"""
)

# The frame of BUILD, each fix applied in turn; what tracemalloc holds after each.
TRUTH = (
    "import gc, json, sys, tracemalloc\n"
    "tracemalloc.start()\n"
    + BUILD
    + """
gc.collect()
held = [tracemalloc.get_traced_memory()[0]]
frame["city"] = frame["city"].astype("category")
gc.collect()
held.append(tracemalloc.get_traced_memory()[0])
frame["quantity"] = frame["quantity"].astype("uint8")
gc.collect()
held.append(tracemalloc.get_traced_memory()[0])
json.dump({"city": held[0] - held[1], "quantity": held[1] - held[2]}, sys.stdout)
"""
)


def findings_of(tmp_path: Path, program: str, printed: str) -> list[dict]:
    """The findings (all of them) of `memslim run` on `program`, which must print `printed`."""
    script = tmp_path / "program.py"
    script.write_text(program)
    out = tmp_path / "report.json"
    result = memslim_run("--json", str(out), "--all-findings", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout == printed
    return json.loads(out.read_text())["findings"]


def truth_of(code: str, *args: str) -> Any:
    """What ``code`` prints as JSON, run in a process of its own without memslim."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout)


def line_of(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(marker))


def test_column_findings_save_what_the_converted_frame_saves(tmp_path: Path) -> None:
    findings = findings_of(tmp_path, PROGRAM, "800000 19987535\n")
    truth = truth_of(TRUTH)
    made = line_of(PROGRAM, "frame = pd.DataFrame(")
    at_frame = {(f["kind"], f["symbol"]): f for f in findings if f["line"] == made}

    city = at_frame[("category", "city")]
    assert abs(city["saving_bytes"] - truth["city"]) <= 0.05 * truth["city"], (city, truth)
    assert city["fix"].endswith('frame["city"] = frame["city"].astype("category")')
    assert "30 distinct" in city["message"] and not city["lossy"]

    quantity = at_frame[("downcast", "quantity")]
    assert abs(quantity["saving_bytes"] - truth["quantity"]) <= 0.05 * truth["quantity"]
    assert quantity["fix"].endswith('frame["quantity"] = frame["quantity"].astype("uint8")')

    # float64 -> float32 changes values: lossy, shown only with --all-findings.
    assert at_frame[("downcast", "price")]["lossy"]
    # 400,000 distinct notes: no category; and no PyArrow in this environment to hold them.
    assert ("category", "note") not in at_frame
    assert ("arrow-strings", "note") not in at_frame
    # The frame's own arrays get the frame's advice, not NumPy's dtype advice at its line.
    assert not [f for f in findings if f["kind"] == "dtype" and f["line"] == made]


def test_a_reader_call_gets_dtype_as_its_fix(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text("city,quantity\n" + "".join(f"c{i % 7},{i % 50}\n" for i in range(200_000)))
    script = tmp_path / "read.py"
    script.write_text(
        "import sys\n"
        "import pandas as pd\n"
        "orders = pd.read_csv(sys.argv[1])\n"
        "copies = [orders.copy() for _ in range(20)]  # the peak, with orders alive\n"
        "print(len(copies), len(orders))\n"
    )
    out = tmp_path / "report.json"
    result = memslim_run("--json", str(out), "--all-findings", str(script), str(data))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "20 200000\n"
    report = json.loads(out.read_text())
    findings = {(f["kind"], f["symbol"]): f for f in report["findings"] if f["line"] == 3}
    city = findings[("category", "city")]
    assert city["fix"] == 'orders = pd.read_csv(sys.argv[1])  # add: dtype={"city": "category"}'
    quantity = findings[("downcast", "quantity")]
    assert quantity["fix"].endswith('# add: dtype={"quantity": "uint8"}')
    assert quantity["bytes_now"] == 200_000 * 8 and quantity["bytes_after"] == 200_000


SHARED = """
import sys
import pandas as pd

n = 300_000
labels = [f"label {i % 20}" for i in range(n)]  # a new str per row, 20 values
frame = pd.DataFrame({"label": labels})
if sys.argv[1] == "drop":
    del labels  # the frame's column alone holds the 300,000 strings
floats = [i / 2 for i in range(2_000_000)]  # the peak, with frame alive
print(len(floats), len(frame))
"""

SHARED_TRUTH = """
import gc, json, sys, tracemalloc
tracemalloc.start()
n = 300_000
labels = [f"label {i % 20}" for i in range(n)]
import pandas as pd
frame = pd.DataFrame({"label": labels})
if sys.argv[1] == "drop":
    del labels
gc.collect()
before = tracemalloc.get_traced_memory()[0]
frame["label"] = frame["label"].astype("category")
gc.collect()
json.dump(before - tracemalloc.get_traced_memory()[0], sys.stdout)
"""


@pytest.mark.parametrize("labels", ["drop", "keep"])
def test_a_category_saving_counts_only_the_values_the_column_alone_holds(
    tmp_path: Path, labels: str
) -> None:
    # Converting the column frees its strings only if nothing else holds them: with the list
    # kept, the saving is the column's references less the codes (about 2 MB); dropped, the
    # 300,000 strings too (about 17 MB more).
    script = tmp_path / "shared.py"
    script.write_text(SHARED)
    out = tmp_path / "report.json"
    result = memslim_run("--json", str(out), "--all-findings", str(script), labels)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2000000 300000\n"
    truth = truth_of(SHARED_TRUTH, labels)
    made = line_of(SHARED, "frame = pd.DataFrame(")
    label = next(
        f
        for f in json.loads(out.read_text())["findings"]
        if f["line"] == made and f["kind"] == "category"
    )
    assert abs(label["saving_bytes"] - truth) <= 0.05 * truth, (label, truth)


COPIES = """
import numpy as np
import pandas as pd


def load(n):
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "a": rng.random(n),
            "b": rng.integers(0, 10**9, n),
            "c": rng.random(n),
        }
    )


def main():
    raw = load(300_000)
    clean = raw.copy()
    clean["c"] = clean["c"] * 2.0  # written: no longer the same values
    shallow = raw.copy(deep=False)  # shares raw's columns: no copy
    rebuilt = pd.DataFrame({"a": raw["a"].to_numpy().copy(), "z": raw["b"].to_numpy()})
    # The peak, after every frame is whole (a census is taken as the heap passes a margin).
    parts = [frame[name].to_numpy() for frame in (raw, clean, rebuilt) for name in frame]
    ranked = np.sort(np.concatenate(parts))
    print(len(raw), len(clean.columns), len(shallow), len(rebuilt.columns), len(ranked))


main()
"""


def test_copies_of_a_frame_kept_beside_it_are_found_at_the_copy(tmp_path: Path) -> None:
    findings = findings_of(tmp_path, COPIES, "300000 3 300000 2 2400000\n")
    copies = [f for f in findings if f["kind"] == "frame-copy"]
    by_line = {f["line"]: f for f in copies}
    made = line_of(COPIES, "    return pd.DataFrame(")
    # clean: a and b (8 bytes a row) are raw's values in memory of their own; c was written.
    # Charged to the .copy() line, with a shallow copy as its fix.
    clean = by_line[line_of(COPIES, "    clean = raw.copy()")]
    assert clean["symbol"] == "a, b", clean
    assert clean["bytes_now"] == 2 * 300_000 * 8 and clean["saving_bytes"] == 2 * 300_000 * 8
    assert clean["fix"].startswith("clean = raw.copy(deep=False)")
    assert f"made at line {made}" in clean["message"]
    # rebuilt: its "a" holds raw's values (no .copy() line: charged to the later line).
    rebuilt = by_line[line_of(COPIES, "    rebuilt = ")]
    assert rebuilt["symbol"] == "a" and rebuilt["bytes_now"] == 300_000 * 8, rebuilt
    # Nothing at raw's own line, nor at the shallow copy's: it copies nothing.
    assert set(by_line) == {clean["line"], rebuilt["line"]}, by_line


ARROW = """
import numpy as np
import pandas as pd

rng = np.random.default_rng(11)
n = 600_000
regions = [f"region-{i:02d}" for i in range(12)]
frame = pd.DataFrame(
    {
        "region": pd.array([regions[i] for i in rng.integers(0, 12, n)], dtype="string[pyarrow]"),
        "amount": rng.random(n),
    }
)
"""

ARROW_PROGRAM = (
    ARROW
    + """
# The peak, with the frame whole (larger than the list that building the frame made).
ranked = np.sort(np.tile(frame["amount"].to_numpy(), 4) * 3.0)
print(len(frame), len(ranked))
"""
)


def arrow_truth(build: str, conversion: str) -> str:
    """A program that runs ``build``, then ``conversion``, and prints what the conversion freed:
    in PyArrow's pool (which it does not report to tracemalloc) and in tracemalloc's bytes, in
    a process without memslim."""
    return "\n".join(
        [
            "import gc, json, sys, tracemalloc",
            "import pyarrow as pa",
            "tracemalloc.start()",
            build,
            "def held():",
            "    gc.collect()",
            "    return pa.total_allocated_bytes() + tracemalloc.get_traced_memory()[0]",
            "before = held()",
            conversion,
            "json.dump(before - held(), sys.stdout)",
        ]
    )


ARROW_TRUTH = arrow_truth(ARROW, 'frame["region"] = frame["region"].astype("category")')


def pyarrow_path() -> str | None:
    """Where PyArrow is: "" when this interpreter imports it, else the directory that
    scripts/test.sh installed it into beside the test environment (MEMSLIM_TEST_PYARROW: not
    in the test extras, since with PyArrow installed pandas 3 keeps every string column in
    Arrow, which the other tests here do not expect). None: nowhere."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        where = os.environ.get("MEMSLIM_TEST_PYARROW", "")
        return where if where and Path(where, "pyarrow").is_dir() else None
    return ""


def on_path(monkeypatch: pytest.MonkeyPatch, where: str | None, what: str = "PyArrow") -> None:
    """Puts ``where`` first on the programs' path ("": there already); None skips the test."""
    if where is None:
        pytest.skip(f"{what} is not installed (scripts/test.sh installs it beside the tests)")
    if where:
        paths = [where, os.environ.get("PYTHONPATH", "")]
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))


def test_a_pyarrow_string_column_of_few_values_gets_category(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path(monkeypatch, pyarrow_path())
    findings = findings_of(tmp_path, ARROW_PROGRAM, "600000 2400000\n")
    truth = truth_of(ARROW_TRUTH)
    made = line_of(ARROW, "frame = pd.DataFrame(")
    region = next(
        f
        for f in findings
        if f["line"] == made and f["kind"] == "category" and f["symbol"] == "region"
    )
    # 600,000 strings of 9 bytes and their offsets, against a code per row and 12 values.
    assert truth > 5_000_000, truth
    assert abs(region["saving_bytes"] - truth) <= 0.05 * truth, (region, truth)
    assert "PyArrow" in region["message"]


OBJECTS = """
import numpy as np
import pandas as pd

rng = np.random.default_rng(13)
n = 400_000
names = pd.Series([f"customer-{i:07d}-{rng.integers(10**6)}" for i in range(n)])
frame = pd.DataFrame({"customer": names.astype(object), "amount": rng.random(n)})
del names
"""

OBJECTS_PROGRAM = (
    OBJECTS
    + """
ranked = np.sort(np.tile(frame["amount"].to_numpy(), 40))  # the peak, with the frame whole
print(len(frame), frame["customer"].dtype)
"""
)

OBJECTS_TRUTH = arrow_truth(
    OBJECTS, 'frame["customer"] = frame["customer"].astype("string[pyarrow]")'
)


def test_a_column_of_python_strings_gets_string_pyarrow_where_pyarrow_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas 2 reads text as ``object`` columns of Python strings (pandas 3 too where asked
    to, as here); of many distinct values they are no category, and PyArrow would hold the
    characters in one buffer. Measured on pandas 2.3.3 by hand (bench/RESULTS.md)."""
    on_path(monkeypatch, pyarrow_path())
    findings = findings_of(tmp_path, OBJECTS_PROGRAM, "400000 object\n")
    truth = truth_of(OBJECTS_TRUTH)
    made = line_of(OBJECTS, "frame = pd.DataFrame(")
    (customer,) = [f for f in findings if f["line"] == made and f["symbol"] == "customer"]
    assert customer["kind"] == "arrow-strings", customer
    # 400,000 Python strings of about 25 characters (74 bytes and a pointer each), against
    # their characters and an 8-byte offset each.
    assert truth > 10_000_000, truth
    assert abs(customer["saving_bytes"] - truth) <= 0.05 * truth, (customer, truth)
    # Converted in the frame's dict, where the column is built.
    assert customer["fix"].startswith(
        '"customer": pd.array(names.astype(object), dtype="string[pyarrow]"),'
    ), customer["fix"]


READ2 = """
import os
import random
import tempfile

import numpy as np
import pandas as pd


def write(path, rows):
    rng = random.Random(3)
    with open(path, "w") as f:
        f.write("order,customer,amount\\n")
        for i in range(rows):
            name = f"customer-{rng.randrange(10**9):09d} {rng.randrange(10**6)}"
            f.write(f"{i},{name},{rng.random():.4f}\\n")


scratch = tempfile.mkdtemp()
path = os.path.join(scratch, "orders.csv")
write(path, 300_000)
orders = pd.read_csv(path)
os.remove(path)
os.rmdir(scratch)
"""

READ2_PROGRAM = (
    READ2
    + """
ranked = np.sort(np.tile(orders["amount"].to_numpy(), 60))  # the peak, with the frame whole
print(pd.__version__.split(".")[0], orders["customer"].dtype, len(ranked))
"""
)

READ2_TRUTH = arrow_truth(
    READ2, 'orders["customer"] = orders["customer"].astype("string[pyarrow]")'
)


def test_pandas_2_text_read_from_a_csv_gets_string_pyarrow_in_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas 2 (scripts/test.sh installs it beside the tests: MEMSLIM_TEST_PANDAS2) reads text
    as ``object`` columns of Python strings: the `arrow-strings` finding's own case, its fix a
    ``dtype=`` entry in the read."""
    pandas2 = os.environ.get("MEMSLIM_TEST_PANDAS2", "")
    on_path(monkeypatch, pyarrow_path())
    found = bool(pandas2) and Path(pandas2, "pandas").is_dir()
    on_path(monkeypatch, pandas2 if found else None, "pandas 2")
    findings = findings_of(tmp_path, READ2_PROGRAM, "2 object 18000000\n")
    truth = truth_of(READ2_TRUTH)
    read = line_of(READ2_PROGRAM, "orders = pd.read_csv(")
    (customer,) = [f for f in findings if f["line"] == read and f["symbol"] == "customer"]
    assert customer["kind"] == "arrow-strings", customer
    assert customer["fix"] == (
        'orders = pd.read_csv(path)  # add: dtype={"customer": "string[pyarrow]"}'
    )
    assert truth > 10_000_000, truth
    assert abs(customer["saving_bytes"] - truth) <= 0.05 * truth, (customer, truth)


READ_IS_THE_PEAK = """
import sys
import pandas as pd

def totals(path):
    orders = pd.read_csv(path)
    return orders.groupby("city")["amount"].sum()

top = totals(sys.argv[1])
print(pd.__version__.split(".")[0], len(top))
"""

# The same read, in a process of its own without memslim: tracemalloc's peak during it, with
# the dtype= given by argv[2] (JSON).
READ_PEAK = """
import json, sys, tracemalloc
import pandas as pd
tracemalloc.start()
orders = pd.read_csv(sys.argv[1], dtype=json.loads(sys.argv[2]) or None)
print(tracemalloc.get_traced_memory()[1])
"""


def test_pandas_2_read_whose_parse_is_the_peak_gets_column_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas 2 parses in the program's thread: the census nearest the peak runs inside the
    read, before the frame exists, and the frame, dropped when the function returns, makes no
    new high. The census after the read saw it; its columns' narrower forms save about as much
    at the parse's peak as on the frame (design, Advice)."""
    pandas2 = os.environ.get("MEMSLIM_TEST_PANDAS2", "")
    found = bool(pandas2) and Path(pandas2, "pandas").is_dir()
    on_path(monkeypatch, pandas2 if found else None, "pandas 2")
    data = tmp_path / "orders.csv"
    with data.open("w") as f:
        f.write("name,city,amount,quantity,code\n")
        for i in range(400_000):
            f.write(
                f"customer-{i:015d},city{i * 7 % 20:02d},{i % 9973 / 100},{i % 201},"
                f"{i * 7919 % 1_000_000}\n"
            )
    script = tmp_path / "program.py"
    script.write_text(READ_IS_THE_PEAK)
    out = tmp_path / "report.json"
    result = memslim_run("--json", str(out), "--all-findings", str(script), str(data))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2 20\n"
    findings = json.loads(out.read_text())["findings"]
    read = line_of(READ_IS_THE_PEAK, "    orders = pd.read_csv(")
    at_read = {(f["kind"], f["symbol"]): f for f in findings if f["line"] == read}

    def peak_with(dtype: dict[str, str]) -> int:
        return int(truth_of(READ_PEAK, str(data), json.dumps(dtype)))

    plain = peak_with({})
    fixes = [("category", "city", "category"), ("downcast", "quantity", "uint8")]
    for kind, column, dtype in fixes:
        finding = at_read[(kind, column)]
        truth = plain - peak_with({column: dtype})
        assert truth > 2_000_000, truth
        assert abs(finding["saving_bytes"] - truth) <= 0.2 * truth, (finding, truth)
        assert finding["fix"].endswith(f'# add: dtype={{"{column}": "{dtype}"}}'), finding
        assert "The peak was inside this read" in finding["message"]
    # The parse's own arrays on that line are not told to `.astype()` after the read.
    assert not [f for f in findings if f["kind"] == "dtype" and f["line"] == read]


MERGED = (
    """
import importlib.util, sys, threading
import numpy as np
import pandas as pd


def build(categorical):
    rng = np.random.default_rng(3)
    products = np.array([f"product-{i:03d}" for i in range(250)])
    picked = products[rng.integers(0, 250, 300_000)]
    if categorical:
        picked = pd.Categorical(picked)
    customer = rng.integers(0, 20_000, 300_000)
    return pd.DataFrame({"customer": customer, "product": picked})  # MADE


orders = build(sys.argv[2] == "fixed")
extra = pd.DataFrame({"customer": np.arange(20_000), "score": np.ones(20_000)})
merged = orders.merge(extra, on="customer", how="left", validate="many_to_one")  # MERGED
kept = list(range(1_000_000))  # the peak is after the frames are made, not while
shared = np.shares_memory(
    np.asarray(orders["product"].array), np.asarray(merged["product"].array)
)
if sys.argv[1] == "in-process":
    # The peak is reached while a thread is inside a native call without the GIL: its
    # censuses walk the heap in this process, and measure no frame.
"""
    + thread_without_gil(3, "    ")
    + """    pad = [float(i) for i in range(1_500_000)]
    done = len(pad)
    del pad
    release.set()
    other.join()
print(len(merged), shared)
"""
)


@pytest.mark.parametrize("census", ["forked", "in-process"])
def test_a_column_a_merged_frame_shares_is_found_where_it_was_made(
    tmp_path: Path, testalloc_path: str, census: str
) -> None:
    """pandas 3 merges the left frame's rows without copying its columns: the merged frame
    holds the same memory. Converting the merged frame's column alone frees nothing (measured:
    -0.6 MB on the pandas bench job, where memslim claimed 18.8 MiB at the merge); converted
    where it is made, both frames hold the narrower column. The finding is at that line, with
    tracemalloc's saving of that fix, whether the census nearest the peak was a child's or,
    beside a thread without the GIL, one walked in the program's process (which measures no
    frame: the report once had no finding at all then)."""
    script = tmp_path / "merged.py"
    script.write_text(MERGED)
    code = (
        "import json, runpy, sys, tracemalloc\n"
        f"sys.argv = [{str(script)!r}, 'forked', sys.argv[1]]\n"
        "tracemalloc.start()\n"
        "ns = runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "print(json.dumps([tracemalloc.get_traced_memory()[0], bool(ns['shared'])]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "plain"], capture_output=True, text=True, timeout=300,
        check=True,
    )  # fmt: skip
    plain, shared = json.loads(done.stdout.splitlines()[-1])
    if not shared:
        pytest.skip("this pandas copies the left frame's columns in a merge")
    done = subprocess.run(
        [sys.executable, "-c", code, "fixed"], capture_output=True, text=True, timeout=300,
        check=True,
    )  # fmt: skip
    fixed, _ = json.loads(done.stdout.splitlines()[-1])
    out = tmp_path / "report.json"
    result = memslim_run(
        "--json", str(out), "--all-findings", str(script), census, "plain", testalloc_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "300000 True\n"
    report = json.loads(out.read_text())
    if census == "in-process":
        assert report["census"]["forked"]["in_process"] >= 1
    made, merged = line_of(MERGED, "    return pd.DataFrame"), line_of(MERGED, "merged = ")
    product = [
        f for f in report["findings"] if f["kind"] == "category" and f["symbol"] == "product"
    ]
    assert [f["line"] for f in product] == [made], product
    assert merged not in {f["line"] for f in report["findings"] if f["kind"] == "category"}
    saving = product[0]["bytes_now"] - product[0]["bytes_after"]
    assert abs(saving - (plain - fixed)) <= 0.2 * (plain - fixed), (saving, plain - fixed)


FILTERED = """import pandas as pd

orders = pd.read_csv("orders.csv")
orders = orders[orders["qty"] > 0]
revenue = orders["qty"] * orders["price_cents"]
by_city = orders.groupby("city")["price_cents"].sum()
big_cities = orders[orders["price_cents"] > 15000]["city"].value_counts()
print("revenue", int(revenue.sum()), "cities", len(by_city), "top", by_city.idxmax(),
      "big", int((orders["price_cents"] > 15000).sum()), "big_cities", len(big_cities),
      "disc", int((orders["discount"] - 10).abs().sum()), "ids", int(orders["order_id"].sum()),
      int(orders["customer"].nunique()))
"""

# (Narrower in every column: the printed products overflow, only the peak is compared.)
CONVERTED = """orders["city"] = orders["city"].astype("category")
orders["customer"] = orders["customer"].astype("uint16")
orders["discount"] = orders["discount"].astype("uint8")
orders["price_cents"] = orders["price_cents"].astype("uint16")
orders["qty"] = orders["qty"].astype("uint8")
"""


def test_columns_of_a_frame_made_after_the_peak_claim_no_more_than_they_save(
    tmp_path: Path,
) -> None:
    """A read whose parse is the peak, then a row filter that every row passes: a frame made
    after the peak. Converting its columns there saves nothing at the peak; the columns' claim
    at that line is bounded by what the line held at the peak (before: 24 MB claimed for five
    columns, about nothing measured). Truth: memray's peak with and without the conversions."""
    import numpy as np

    rng = np.random.default_rng(5)
    n = 800_000
    data = tmp_path / "orders.csv"
    cities = np.array([f"City{i:02d}" for i in range(20)])
    columns = {
        "order_id": np.arange(1, n + 1),
        "customer": rng.integers(1, 50_000, n),
        "city": cities[rng.integers(0, 20, n)],
        "qty": rng.integers(1, 10, n),
        "price_cents": rng.integers(100, 20_000, n),
        "discount": rng.integers(0, 30, n),
    }
    with data.open("w") as f:
        f.write(",".join(columns) + "\n")
        np.savetxt(f, np.column_stack(list(columns.values())), fmt="%s", delimiter=",")
    script = tmp_path / "program.py"
    script.write_text(FILTERED)
    converted = tmp_path / "converted.py"
    filter_line = 'orders = orders[orders["qty"] > 0]\n'
    converted.write_text(FILTERED.replace(filter_line, filter_line + CONVERTED))
    out = tmp_path / "report.json"
    result = memslim_run("--json", str(out), "--all-findings", str(script), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert result.stdout == printed
    findings = json.loads(out.read_text())["findings"]
    filtered = line_of(FILTERED, "orders = orders[")
    kinds = {"category", "downcast", "arrow-strings"}
    claimed = sum(
        f["saving_bytes"] for f in findings if f["kind"] in kinds and f["line"] == filtered
    )
    peaks = [
        memray_peak(program, program.with_suffix(".bin"), python_allocators=False)[0]
        for program in (script, converted)
    ]
    saved = peaks[0] - peaks[1]
    assert claimed <= 1.2 * max(saved, 0) + (1 << 20), (claimed, saved, findings)
