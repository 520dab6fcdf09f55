"""memslim on a program with 100,000 distinct deep stacks: memory grows with distinct frames,
not with stacks times depth, and the report's top lines are tracemalloc's (separate process)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_run import FIXTURES, run_json, tracemalloc_reference

SCRIPT = FIXTURES / "deep_stacks_job.py"
STACKS = 100_000


def _line_of(marker: str) -> int:
    for number, text in enumerate(SCRIPT.read_text().splitlines(), 1):
        if f"# {marker}" in text:
            return number
    raise AssertionError(marker)


def test_deep_distinct_stacks_cost_per_distinct_frame(tmp_path: Path) -> None:
    report, result = run_json(tmp_path, SCRIPT, "--no-census")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(STACKS)
    # Distinct frames by arithmetic (see the fixture), at least: the 41 base frames, the five
    # levels' 10 + 100 + ... + 100,000 call frames, 100,000 frames of level 0 calling the leaf,
    # and 100,000 leaf frames (one per allocating stack).
    distinct = 41 + sum(10**level for level in range(1, 6)) + 2 * STACKS
    parts = report["memslim"]["bookkeeping"]
    per_frame = (parts["stacks"] + parts["sites"]) / distinct
    # A stored stack (16 bytes per frame, 47+ frames deep) would cost over 750 bytes per
    # distinct frame here; a tree costs a node and an index slot, a site its counters.
    assert per_frame < 160, (per_frame, parts)
    assert report["memslim"]["sites"] >= STACKS


def test_deep_distinct_stacks_top_lines_match_tracemalloc(tmp_path: Path) -> None:
    report, result = run_json(tmp_path, SCRIPT, "--no-census")
    assert result.returncode == 0, result.stderr
    reference = tracemalloc_reference(tmp_path, SCRIPT)
    theirs = [line for line in reference["lines"] if line["file"] == str(SCRIPT)][:2]
    ours = [line for line in report["lines"] if line["file"] == str(SCRIPT)][:2]
    assert [line["line"] for line in theirs] == [_line_of("BIG"), _line_of("SMALL")]
    assert [line["line"] for line in ours] == [line["line"] for line in theirs]
    for mine, truth in zip(ours, theirs, strict=True):
        # tracemalloc's list that holds them is charged to the SMALL/BIG lines too (appends).
        assert abs(mine["bytes_at_peak"] - truth["bytes"]) / truth["bytes"] < 0.02, (mine, truth)
    # The top stack (the list KEEP's item array, last resized on an append) is a full path:
    # the leaf, level 0 to 5, the 41 base frames, the module.
    top = report["stacks"][0]["frames"]
    assert top[0]["line"] in (_line_of("BIG"), _line_of("SMALL"))
    assert [f["function"] for f in top] == ["leaf"] + ["level"] * 6 + ["base"] * 41 + ["<module>"]
