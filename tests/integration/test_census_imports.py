"""Censuses wait while the program imports (modules, functions and classes are not what a peak
is made of, and an import-heavy program passed a margin every 50 ms); a program whose data is
built by an import and kept to the end still gets its census, at the end."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.integration.test_run import memslim_run

ITEMS = 300_000

MODULE = f"""
class Record:
    def __init__(self, i):
        self.i = i
        self.name = "r" + str(i)

# Built while this module is imported: the heap passes dozens of 5% margins.
RECORDS = [Record(i) for i in range({ITEMS})]
"""

SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import bigmod  # the program's data, and its peak, come from this import
print(len(bigmod.RECORDS))
"""


def test_no_census_during_an_import_and_one_at_the_end(tmp_path: Path) -> None:
    package = tmp_path / "lib"
    package.mkdir()
    (package / "bigmod.py").write_text(textwrap.dedent(MODULE))
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(SCRIPT))
    out = tmp_path / "report.json"
    result = memslim_run("--json", str(out), str(script), str(package))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert result.stdout.strip() == str(ITEMS)
    census = report["census"]
    # The list grew from ~4 MiB to ~40 MB inside the import: at 5% margins that was ~40 forks.
    # Now none while it grows: one census once the import has ended (when the heap holds after
    # it, or when the program ends with its data still held by the module), and each one taken
    # sees the whole list.
    forked = census["forked"]
    assert 1 <= forked["forks"] <= 2, forked
    assert all(m["traced_bytes"] >= 0.9 * report["peak"]["traced_bytes"] for m in forked["moments"])
    assert census["traced_bytes"] >= 0.95 * report["peak"]["traced_bytes"]
    records = next(row for row in census["types"] if row["type"] == "bigmod.Record")
    assert records["count"] == ITEMS
