"""What a census child sends the report survives the trip: every type comes back as the same
live type object, metaclasses included, and the packed (type, site, count, bytes) rows come back
equal; and a child that ended without its census does not count as one near the peak."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from memslim import forked_census


class Meta(type):
    pass


class SubMeta(Meta):  # found only through Meta's subclasses
    pass


class Plain:
    pass


Classes = [SubMeta(f"C{i}", (), {}) for i in range(3)]


def _round_trip(raw: dict) -> dict:
    data = pickle.dumps(forked_census._encode(forked_census._pack_sites(raw)))
    decoded = forked_census._decode(pickle.loads(data), forked_census._live_types(), {})
    return forked_census._unpack_sites(decoded)


def test_live_types_include_subclasses_of_metaclasses() -> None:
    live = forked_census._live_types()
    for cls in (Meta, SubMeta, Plain, *Classes, int, type):
        assert live.get(id(cls)) is cls, cls


def test_site_rows_come_back_with_the_same_type_objects() -> None:
    rows = [(SubMeta, 7, 3, 1200), (Plain, None, 1, 16), (int, 2**31, 5, 140), (SubMeta, 9, 1, 400)]
    back = _round_trip({"objects": 10, "sites": rows, "types": [(SubMeta, 4, 1600)]})
    got = [(r.type, r.site, r.count, r.bytes) for r in back["sites"]]
    assert got == rows
    assert all(a[0] is b[0] for a, b in zip(got, rows, strict=True))
    assert len(back["sites"]) == 4 and back["sites"][-1].site == 9 and back["sites"][1].site is None
    assert back["types"][0][0] is SubMeta
    assert back["objects"] == 10


def test_a_type_that_died_comes_back_as_a_stand_in_with_its_name() -> None:
    gone = type("Gone", (), {})
    data = pickle.dumps(forked_census._encode({"sites": [], "types": [(gone, 1, 16)]}))
    live = forked_census._live_types()
    live.pop(id(gone))  # as if it had been collected after the census
    back = forked_census._decode(pickle.loads(data), live, {})
    stand_in = back["types"][0][0]
    assert stand_in is not gone and stand_in.__qualname__ == "Gone"


def _add_census(
    censuses: forked_census.ForkedCensuses,
    traced: int,
    *,
    pid: int = 0,
    visible: int = 0,
    state: float = forked_census._RUNNING,
    asked_at: int = 0,
) -> None:
    """A census row as ForkedCensuses.take writes it, without forking (``asked_at``: a
    follow-up's, the traced bytes when it was asked for)."""
    number = int(censuses._totals[forked_census._COUNT]) + 1
    censuses._totals[forked_census._COUNT] = number
    censuses._set(number, forked_census._PID, pid)
    censuses._set(number, forked_census._TRACED, traced)
    censuses._set(number, forked_census._VISIBLE, visible)
    censuses._set(number, forked_census._STATE, state)
    censuses._set(number, forked_census._FOLLOW_UP, asked_at)


def test_a_child_that_ended_without_its_census_does_not_count_near_the_peak() -> None:
    # At the end of a run a census is taken if none so far saw 95% of the peak: a child that
    # walks one near the peak counts, one that died before writing its census does not (CI saw
    # a report read a census at 62% of the peak when its last child was lost).
    censuses = forked_census.ForkedCensuses(top=5)
    walking = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                               stdin=subprocess.PIPE)  # fmt: skip
    try:
        _add_census(censuses, 100, pid=walking.pid)
        assert not censuses.behind(peak_bytes=100, current_bytes=100)
    finally:
        walking.stdin.close()  # type: ignore[union-attr]
        os.waitid(os.P_PID, walking.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped
    try:
        assert censuses.behind(peak_bytes=100, current_bytes=100)
        assert not censuses.behind(peak_bytes=100, current_bytes=90)  # a census now: too low
    finally:
        censuses.close()
        walking.wait()  # reaped already (by behind, or here)


def test_the_report_reads_the_census_that_saw_clearly_more_of_the_peaks_objects() -> None:
    # Censuses (traced bytes, of which Python's and NumPy's): a CSV parse's at 84 (30 of them
    # objects, the rest the parser's native buffers) and one after the peak at 80 (72). The
    # peak held 98 of Python and NumPy bytes. The nearest by traced bytes is the parse's; the
    # later one saw 72 / 30 of what a census sees: the report's. Within 25% of each other,
    # the nearest stays the report's (arithmetic on the rows, no census taken).
    censuses = forked_census.ForkedCensuses(top=5)
    try:
        for traced, visible in ((40, 35), (84, 30), (80, 72)):
            _add_census(censuses, traced, visible=visible, state=forked_census._DONE)
        parse, after = censuses._path(2), censuses._path(3)
        assert censuses.chosen() == parse  # no peak split given: by traced bytes alone
        assert censuses.chosen(peak_visible=98) == after
        assert censuses.chosen(peak_visible=35) == parse  # 35 against 30: not clearly more
    finally:
        censuses.close()


def test_a_follow_up_is_as_near_the_peak_as_the_census_that_asked_for_it() -> None:
    # pandas_job: a census in build_frame at 103 (traced, all Python and NumPy bytes), then
    # inside read_csv at 720 (79 of them visible, the rest the parser's buffers) one not walked,
    # as it saw nothing new, which asked for a follow-up at the call's return: 100 (94). Both
    # forked ones saw about as much; the follow-up stands for the census at 720, and is the
    # report's. A follow-up asked at fewer traced bytes than an earlier census is no nearer.
    censuses = forked_census.ForkedCensuses(top=5)
    try:
        _add_census(censuses, 103, visible=100, state=forked_census._DONE)
        _add_census(censuses, 100, visible=94, state=forked_census._DONE, asked_at=720)
        assert censuses.chosen(peak_visible=100) == censuses._path(2)
        assert censuses.chosen() == censuses._path(2)
        censuses._set(2, forked_census._FOLLOW_UP, 101)
        assert censuses.chosen(peak_visible=100) == censuses._path(1)
    finally:
        censuses.close()


def test_what_a_census_saw_is_also_what_its_walk_found_in_objects() -> None:
    # A parse's census at 88 (Python and NumPy bytes 62 when it forked) whose walk found 26 in
    # objects (the parser's buffers and what only its C code holds reach no walk), and one
    # after it at 69 (69, its walk 62: the frame and the labels built on it). By the bytes
    # when they forked, 69 is not clearly more than 62; by what each walk found, 62 is more
    # than twice 26. A walk that found more than its census's Python bytes (objects made
    # before tracking) counts no more than those.
    censuses = forked_census.ForkedCensuses(top=5)
    try:
        for traced, visible in ((40, 35), (88, 62), (69, 69)):
            _add_census(censuses, traced, visible=visible, state=forked_census._DONE)
        early, parse, after = censuses._path(1), censuses._path(2), censuses._path(3)
        assert censuses.chosen(peak_visible=94) == parse
        walked = {early: 30, parse: 26, after: 62}
        assert censuses.chosen(peak_visible=94, walked=walked) == after
        # The parse's walk found its objects after all: within 25% of the later census.
        assert censuses.chosen(peak_visible=94, walked={**walked, parse: 60}) == parse
        # A walk beyond the census's own Python bytes: the early census saw 35, not 90.
        assert censuses.chosen(peak_visible=94, walked={**walked, early: 90}) == after
    finally:
        censuses.close()


WAITID_RACE = """\
import os
from memslim import forked_census
from tests.unit.test_forked_census import _add_census

census = os.fork()
if census == 0:
    os._exit(0)
os.waitid(os.P_PID, census, os.WEXITED | os.WNOWAIT)  # ended, not reaped
r, w = os.pipe()
program = os.fork()
if program == 0:
    os.close(w)
    os.read(r, 1)
    os._exit(7)
os.close(r)
censuses = forked_census.ForkedCensuses(top=5)
_add_census(censuses, 0, pid=census)
forked_census._census_pids.add(census)
returned = []

def waitid(*args):
    got = os.waitid(*args)
    returned.append(got.si_pid)
    if got.si_pid == census:
        censuses.behind(peak_bytes=100, current_bytes=100)  # a census here reaps its children
        os.close(w)  # the program's child ends
    return got

wait = forked_census._past_census_children(
    waitid, lambda *args: True, lambda got: got.si_pid,
    lambda idtype, ident, options: bool(options & os.WNOWAIT),
)
got = wait(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
print(returned == [census, program], got.si_pid == program)
print(os.waitstatus_to_exitcode(os.waitpid(got.si_pid, 0)[1]))
censuses.close()
"""


def test_a_wait_goes_on_past_a_census_child_that_memslim_reaped_after_the_wait_returned() -> None:
    # waitid(WNOWAIT) returned a census child, still waitable, and a census that ran before the
    # wait's check reaped it: the program got the census child's pid and its waitpid failed
    # (CI, Python 3.13, 2026-12-07). Its own process: no other child of the test's is waitable.
    result = subprocess.run(
        [sys.executable, "-c", WAITID_RACE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],  # where `tests` is found
    )
    assert (result.stdout, result.returncode) == ("True True\n7\n", 0), result.stderr
