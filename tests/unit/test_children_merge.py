"""children.py's pure parts: the process tree's peak against brute force, and the rewriting of
a new interpreter's command line (only multiprocessing's spawn and fork server)."""

from __future__ import annotations

import random

from memslim import children


def brute_force_peak(series: list[list[tuple[float, int]]]) -> int:
    """The largest sum, at any instant, of step functions (0 before their first point)."""
    times = sorted({t for points in series for t, _ in points})
    best = 0
    for now in times:
        total = 0
        for points in series:
            value = 0
            for t, b in points:  # sorted by time: the last point at or before now
                if t <= now:
                    value = b
            total += value
        best = max(best, total)
    return best


def test_tree_peak_is_the_largest_sum_at_any_instant() -> None:
    rng = random.Random(12)
    for _ in range(200):
        series = []
        for _process in range(rng.randrange(1, 5)):
            start = rng.uniform(0, 5)
            times = sorted(start + rng.uniform(0, 5) for _ in range(rng.randrange(1, 8)))
            series.append([(t, rng.randrange(0, 1000)) for t in times] + [(times[-1] + 0.1, 0)])
        best, when = children.tree_peak(series)
        assert best == brute_force_peak(series)
        assert best == 0 or any(t == when for points in series for t, _ in points)


def test_only_multiprocessing_interpreters_get_the_bootstrap() -> None:
    children._state["settings"] = children.Settings("/tmp/x", "exact", 1.0, 0, True, ["p.py"])
    try:
        code = "from multiprocessing.spawn import spawn_main; spawn_main(5)"
        spawn = ["python", "-B", "-c", code, "--multiprocessing-fork"]
        changed = children.with_bootstrap(spawn)
        assert changed[:3] == spawn[:3] and changed[4:] == spawn[4:]
        assert changed[3].endswith(spawn[3]) and "bootstrap('spawn'" in changed[3]
        compile(changed[3], "<spawn>", "exec")  # still one valid program
        server = ["python", "-c", "from multiprocessing.forkserver import main; main(1, 2)"]
        assert "bootstrap('forkserver'" in children.with_bootstrap(server)[2]
        tracker = ["python", "-c", "from multiprocessing.resource_tracker import main;main(7)"]
        assert children.with_bootstrap(tracker) == tracker
        script = ["python", "script.py", "-c"]
        assert children.with_bootstrap(script) == script
    finally:
        children._state["settings"] = None
    assert children.with_bootstrap(spawn) == spawn  # not following: untouched


def test_which_python_commands_run_under_memslim() -> None:
    import sys

    settings = children.Settings("/d", "exact", 262144.0, 0, True, ["p.py"], True)
    py = sys.executable
    run = ["-m", "memslim", "run", "--child-into", "/d", "--mode", "exact", "--sample-interval",
           "262144", "--seed", "0", "--follow-subprocesses", "--"]  # fmt: skip
    assert children.with_memslim([py, "job.py", "-c", "x"], settings) == [
        py, *run, "job.py", "-c", "x"]  # fmt: skip
    assert children.with_memslim([py, "-u", "-X", "dev", "-W", "ignore", "-m", "pkg.mod", "a"],
                                 settings) == [py, "-u", "-X", "dev", "-W", "ignore", *run,
                                               "-m", "pkg.mod", "a"]  # fmt: skip
    assert children.with_memslim([py, "-mpkg"], settings) == [py, *run, "-m", "pkg"]
    full = children.Settings("/d", "exact", 262144.0, 0, True, ["p.py"], True, True)
    assert children.with_memslim([py, "job.py"], full) == [
        py, *run[:-2], "--full-import-stacks", *run[-2:], "job.py"]  # fmt: skip
    for untouched in (
        [py, "-c", "print(1)"],  # no script to run under memslim
        [py, "-"],  # stdin
        [py],  # interactive
        [py, "-I", "job.py"],  # isolated: memslim may not be importable there
        [py, "-S", "job.py"],
        [py, "--version"],
        ["/bin/echo", "job.py"],  # not this interpreter
        [py, "-W"],  # malformed
    ):
        assert children.with_memslim(untouched, settings) is None, untouched
