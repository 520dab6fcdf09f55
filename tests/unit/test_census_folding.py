"""A census folds each leaf object (no references of its own, exactly one referrer: a str, an
int, a float) into the object that refers to it instead of giving it a node of its own. The
census must still count and size every object, and retained sizes must stay what they are.
Truth: tracemalloc measuring the same structure in a separate process, and the known number of
objects the program built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

N = 200_000

PROGRAM = f"""
import sys
N = {N}

def build():
    floats = [i + 0.5 for i in range(N)]  # floats
    strings = [f"item-{{i:06d}}" for i in range(N)]  # strings
    shared = "shared-" + "x" * 10
    both = [f"both-{{i:06d}}" for i in range(N)]  # both
    return {{"floats": floats, "strings": strings, "shared": [shared] * N,
             "both": both, "again": list(both)}}

if sys.argv[1] == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
    holder = build()
    print(tracemalloc.get_traced_memory()[0])
else:
    holder = build()
    import memslim
    census = memslim.snapshot(top=10)
    print({{r.path: r.retained for r in census.retainers}})
"""


def line_of(marker: str) -> int:
    return next(n for n, text in enumerate(PROGRAM.splitlines(), 1) if f"# {marker}" in text)


def run(tmp_path: Path, *args: str) -> str:
    (tmp_path / "prog.py").write_text(PROGRAM)
    ran = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def test_retained_sizes_count_the_folded_leaves(tmp_path: Path) -> None:
    built = int(run(tmp_path, "prog.py", "tracemalloc"))
    retained = eval(run(tmp_path, "prog.py", "census"))  # a dict of str: int
    holder = "module __main__ → global 'holder'"
    # The holder retains everything it built: tracemalloc's count of the same build, within
    # 1 KiB (448 bytes apart on CPython 3.11).
    assert retained[holder] == pytest.approx(built, abs=1024)
    # Each list of floats or strings held by it alone retains its items; the strings that two
    # lists share are retained by neither list, only by the holder above both.
    floats, strings = retained[f"{holder} → ['floats']"], retained[f"{holder} → ['strings']"]
    both = retained.get(f"{holder} → ['both']", 0)
    assert floats > N * 24 and strings > N * 55
    assert both < N * 9  # its item array only, no string
    assert retained[holder] > floats + strings + N * 55


def test_the_census_counts_folded_leaves_at_their_line(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run(tmp_path, "-m", "memslim", "run", "--json", str(report), "prog.py", "build")
    census = json.loads(report.read_text())["census"]
    at = {
        (row["type"], row["frames"][0]["line"]): row
        for row in census["sites"]
        if row["frames"] and row["frames"][0]["file"].endswith("prog.py")
    }
    # Every string the program built, folded (strings) or not (both: two referrers each).
    assert at["str", line_of("strings")]["count"] == N
    assert at["str", line_of("both")]["count"] == N
    # Floats: all but those CPython's free list kept from before tracking began (at most 100).
    assert N - 100 <= at["float", line_of("floats")]["count"] <= N
    types = {row["type"]: row for row in census["types"]}
    assert types["str"]["count"] >= 2 * N and types["float"]["count"] >= N


FREE_LIST = """
def make_and_drop():
    # 200 lists: the free list's 80 first, then new ones; freed last to first, the first 80
    # freed (new ones, made here under tracking) fill the free list again.
    junk = [[] for _ in range(200)]
    del junk

def build():
    return [i * 0.5 for i in range(100_000)]  # the list reuses one of them

make_and_drop()
kept = build()
"""


def test_a_list_from_the_free_list_is_charged_to_the_line_that_built_it(tmp_path: Path) -> None:
    """A list struct taken from CPython's free list keeps, in the tracker's map, the site of
    the list that first used its memory: the census must name the line that built it (its
    item array's), as the program reads (the array advice once lost its finding this way)."""
    (tmp_path / "lists.py").write_text(FREE_LIST)
    report = tmp_path / "report.json"
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--json", str(report), "lists.py"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    rows = [
        row
        for row in json.loads(report.read_text())["census"]["sites"]
        if row["type"] == "list" and row["bytes"] > 100_000 * 8
    ]
    built = next(n for n, text in enumerate(FREE_LIST.splitlines(), 1) if "reuses" in text)
    assert [(row["count"], row["frames"][0]["line"]) for row in rows] == [(1, built)]


# Records parsed from JSON: the decoder gives every record the same key objects, so each key
# is a leaf that N dicts refer to.
RECORDS = """
import json, sys
n, keys = int(sys.argv[2]), int(sys.argv[3])
doc = json.dumps([{f"key{k:02d}": None for k in range(keys)} for _ in range(n)])
if sys.argv[1] == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
    records = json.loads(doc)
    print(tracemalloc.get_traced_memory()[0])
else:
    records = json.loads(doc)
    del doc
    import memslim
    census = memslim.snapshot(top=3)
    print(census.analysis_bytes, census.retainers[0].path, census.retainers[0].retained)
"""


def test_a_leaf_every_record_shares_costs_the_census_no_edge_per_record(tmp_path: Path) -> None:
    """A leaf held by many (more than kSharedLeaf references: the keys every record of a JSON
    document shares) is a root of the census's graph, not N edges: the census's memory does
    not grow with the number of keys the records share, and the records' retained size is
    still what tracemalloc counts for them (the keys' few bytes go to the root)."""
    (tmp_path / "records.py").write_text(RECORDS)
    analysis = {}
    for keys in (4, 32):
        out = run(tmp_path, "records.py", "census", str(N), str(keys)).split()
        analysis[keys] = int(out[0])
    # 28 more keys per record were 28 more 4-byte edges per record, and as many predecessors
    # for the dominators: 22 MB more here. Now less than one edge's worth per record.
    assert analysis[32] - analysis[4] < N * 4, analysis
    built = int(run(tmp_path, "records.py", "tracemalloc", str(N), "32"))
    path, retained = out[1:-1], int(out[-1])
    assert " ".join(path) == "module __main__ → global 'records'"
    assert retained == pytest.approx(built, rel=1e-3)


def test_a_large_leaf_many_objects_share_keeps_its_referrers(tmp_path: Path) -> None:
    """A leaf of kFoldBelow bytes or more keeps its edges however many objects share it: the
    container above all its referrers retains it (and a path to it goes through them)."""
    (tmp_path / "blob.py").write_text(
        "import memslim\n"
        "blob = bytes(100_000)\n"
        "holders = [[blob] for _ in range(100)]\n"
        "del blob\n"
        "census = memslim.snapshot(top=3)\n"
        "print({r.path: r.retained for r in census.retainers})\n"
    )
    retained = eval(run(tmp_path, "blob.py"))  # a dict of str: int
    # The bytes object (100,033 bytes) and the 100 one-item lists are all under `holders`.
    assert retained["module __main__ → global 'holders'"] > 100_000 + 100 * 56
