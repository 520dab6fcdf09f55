"""The run's report reads only the lines largest at the peak from the tracker (the rows of every
line that allocated cost 38 MiB of RSS after importing scikit-learn): what it reads must be
what the whole aggregate says about those lines."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from memslim import _core
from memslim.profile_data import OWN_PREFIX, Profile

FUNCTIONS = 300

# One line of `both` runs in two code objects: the function's (a large bytearray, at the top)
# and its comprehension's (small lists, far below the cut). The report shows them as one line.
SOURCE = "\n".join(
    [f"def f{i}():\n    return [bytes({(i + 1) * 64})]" for i in range(FUNCTIONS)]
    + [
        "def both():",
        "    big = bytearray(4_000_000); small = [[k] for k in range(2000)]",
        "    return big, small",
    ]
)


def _run(tmp_path: Path) -> list:
    path = tmp_path / "many_lines.py"
    path.write_text(SOURCE + "\n")
    spec = importlib.util.spec_from_file_location("many_lines", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _core.start_tracking("exact", 262144.0, 0)
    try:
        held = [getattr(module, f"f{i}")() for i in range(FUNCTIONS)]
        held.append(module.both())
    finally:
        _core.stop_tracking()
    return held


def _rows(profile: Profile, count: int) -> list[tuple]:
    return [
        (s.file, s.line, s.bytes_at_peak, s.bytes_live, s.allocated_bytes, s.allocations)
        for s in profile.lines()[:count]
    ]


def test_the_top_lines_read_alone_are_those_of_the_whole_aggregate(tmp_path: Path) -> None:
    held = _run(tmp_path)
    whole = Profile.from_core(_core.tracking_result(OWN_PREFIX))
    top = Profile.from_core(_core.tracking_result(OWN_PREFIX, top_lines=20))
    assert len(top.line_rows) < len(whole.line_rows) / 5
    assert _rows(top, 15) == _rows(whole, 15)
    # The line of two code objects, first at the peak, with the comprehension's allocations.
    first = top.lines()[0]
    assert (Path(first.file).name, first.line) == ("many_lines.py", FUNCTIONS * 2 + 2)
    assert first.allocations >= 2000 + 1
    # The functions that ran are all there, though most frames are not.
    assert top.functions_ran() == whole.functions_ran()
    assert ("many_lines.py", f"f{FUNCTIONS - 1}") in {
        (Path(file).name, name) for file, name in top.functions_ran()
    }
    assert len(held) == FUNCTIONS + 1
