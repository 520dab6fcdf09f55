"""Censuses taken by a forked child while the program runs on.

A census walks the whole heap; done in the program's own process it stops the program for as
long (seconds for millions of objects, and a run of a few seconds paid for it twice). Here the
census callback forks (``_core.census_fork``): the child holds a copy-on-write image of the heap
at that instant, walks and summarises it, writes the summary to a file and leaves; the program
pays for the fork and for the pages it writes while the child lives (copy-on-write).

The summary crosses the process boundary as plain data: types travel as references (address,
module, qualified name) that the parent resolves to the same live type objects (the child is a
copy of the parent, so a type at that address is that type while it lives); other objects that
the census names (dict keys in paths) travel as their repr.
"""

from __future__ import annotations

import _thread
import array
import contextlib
import errno
import gc
import os
import pickle
import posix
import resource
import shutil
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from memslim import _core
from memslim._files import run_directory
from memslim._paths import is_library_path, is_own_path
from memslim._replace import as_the_real_one
from memslim.limit import cgroup_headroom
from memslim.rss import RssLedger, allocators_now, process_memory

# A census that saw this share of the peak's traced bytes is the report's: none nearer is
# waited for or taken.
NEAR_PEAK = 0.95
# Another census is the report's instead of the one nearest the peak only if it saw this much
# more of the peak's Python and NumPy bytes (ForkedCensuses.chosen).
CLEARLY_MORE = 1.25


@dataclass(frozen=True)
class _TypeRef:
    address: int
    module: str
    qualname: str


_PLAIN = (type(None), bool, int, float, str, bytes)


def _encode(value: Any) -> Any:
    """``value`` as data that pickles without importing anything of the program's."""
    if type(value) in _PLAIN:
        return value
    for plain in _PLAIN[1:]:  # a subclass (an enum member, NumPy's float64): its plain value
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, type):
        # A class's __module__ may be anything (a descriptor of its metaclass, say).
        module = getattr(value, "__module__", "")
        qualname = getattr(value, "__qualname__", "")
        return _TypeRef(
            id(value),
            module if isinstance(module, str) else "",
            qualname if isinstance(qualname, str) else value.__name__,
        )
    if isinstance(value, array.array):
        return value
    if isinstance(value, dict):
        return {_encode(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_encode(v) for v in value)
    return repr(value)[:200]


def _pack_sites(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with its (type, site, count, bytes) rows as one array of integers and a table of
    their types (heap.SiteRows): a program that imports scikit-learn has 110,000 such rows, and
    as tuples of type references they took the child half a second to encode and the report as
    long to read back."""
    rows = raw.get("sites")
    if not rows:
        return raw
    from memslim.heap import SiteRows

    packed = SiteRows.pack(rows)
    raw = {**raw, "sites": {"types": packed.types, "rows": packed.flat}}
    for key in ("site_live", "site_tracked"):  # site -> bytes, as (site, bytes) pairs
        if key in raw:
            pairs = array.array("q")
            for site, size in raw[key].items():
                pairs.extend((site, size))
            raw[key] = pairs
    return raw


def _unpack_sites(raw: dict[str, Any]) -> dict[str, Any]:
    """What ``_pack_sites`` packed, as rows again (still packed: heap.SiteRows)."""
    packed = raw.get("sites")
    if isinstance(packed, dict):
        from memslim.heap import SiteRows

        raw["sites"] = SiteRows(packed["types"], packed["rows"])
    for key in ("site_live", "site_tracked"):
        pairs = raw.get(key)
        if isinstance(pairs, array.array):
            raw[key] = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return raw


def _live_types() -> dict[int, type]:
    """Every type alive in this process, by address (through ``__subclasses__``)."""
    found: dict[int, type] = {}
    pending: list[type] = [object]
    while pending:
        cls = pending.pop()
        if id(cls) in found:
            continue
        found[id(cls)] = cls
        # type.__subclasses__(cls), not cls.__subclasses__(): on a metaclass (ABCMeta, typing's
        # _ProtocolMeta) the latter finds type's unbound method, and its classes were missed.
        pending.extend(type.__subclasses__(cls))
    return found


def _decode(value: Any, live: dict[int, type], gone: dict[int, type]) -> Any:
    if isinstance(value, _TypeRef):
        cls = live.get(value.address)
        if cls is not None and cls.__qualname__ == value.qualname:
            return cls
        # The type died after the census: a stand-in with its name (no advice reads it).
        stand_in = gone.get(value.address)
        if stand_in is None:
            stand_in = gone[value.address] = types.new_class(value.qualname.rsplit(".", 1)[-1])
            stand_in.__qualname__ = value.qualname
            stand_in.__module__ = value.module
        return stand_in
    if isinstance(value, dict):
        return {_decode(k, live, gone): _decode(v, live, gone) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, live, gone) for v in value]
    if isinstance(value, tuple):
        return tuple(_decode(v, live, gone) for v in value)
    return value


class ForkUnsafe(OSError):
    """A fork now could leave the program's threads waiting forever: threads are in a native
    library's code without the GIL (_core.native_threads_without_gil), and the libraries' fork
    handlers run in the fork. OpenBLAS's shuts its thread pool down: a matrix product in flight
    in another thread then waits for it forever (numpy's ``a @ a.T`` in four threads of a pool
    hung every run). An OSError, as a fork that fails: the census walks the heap in the
    program's process instead, with the GIL held, while those threads run on."""


class _StopWaiting(Exception):
    """SIGTERM while the report waits for a census (ForkedCensuses.finish)."""


def _stop_waiting(signum: int, frame: types.FrameType | None) -> None:
    raise _StopWaiting


def _program_hooks_start_here() -> None:
    """Registered as an ``after_in_child`` fork hook before the program runs: the program's own
    hooks come after it (``leave_the_programs_fork_hooks``)."""


def _around_census_forks() -> None:
    """Registered as a ``before`` and an ``after_in_parent`` fork hook on 3.13+, to find the
    interpreter's lists of those (``leave_the_programs_fork_hooks``)."""


def _lists_ending_with(hook: Callable[[], None]) -> list[list]:
    import gc

    return [
        found
        for found in gc.get_referrers(hook)
        if type(found) is list and found and found[-1] is hook
    ]


def leave_the_programs_fork_hooks() -> None:
    """Census children run the interpreter's ``after_in_child`` fork hooks but the program's own
    (those registered from now on): one that printed did so once per census. The list is found
    as the one container that holds a hook registered now, last. On 3.13+, where a census fork
    runs the ``before`` and ``after_in_parent`` hooks (tracker.cpp ``census_fork``), their
    lists are found so too, and set aside around each census fork: 3.11 and 3.12 run none of
    them there, and a program's that counted or logged its forks did so once per census."""
    os.register_at_fork(after_in_child=_program_hooks_start_here)
    lists = _lists_ending_with(_program_hooks_start_here)
    if len(lists) == 1:
        _core.set_census_child_hooks(lists[0], len(lists[0]) - 1)
    if sys.version_info >= (3, 13):
        os.register_at_fork(before=_around_census_forks, after_in_parent=_around_census_forks)
        lists = _lists_ending_with(_around_census_forks)
        if len(lists) == 2:  # in either order: both are emptied alike
            _core.set_census_fork_hooks(lists[0], lists[1])


def threading_main() -> bool:
    """Whether this is the main thread (the only one that may set signal handlers)."""
    return threading.current_thread() is threading.main_thread()


# Census children not reaped yet by memslim, and those a wait of the program's took
# (hide_census_children_from_waits).
_census_pids: set[int] = set()
_reaped_for_us: set[int] = set()
_real_waits: dict[str, Any] = {}
# Census children memslim reaped while a wait of the program's was in progress (cleared when
# none is), and how many such waits are in progress.
_reaped_while_waiting: list[int] = []
_waits_in_progress = [0]


def _reaped_by_memslim(pid: int) -> None:
    """Census child ``pid`` was reaped by memslim (``_reap``), maybe while a wait of the
    program's had it already (see _past_census_children)."""
    if _waits_in_progress[0]:
        _reaped_while_waiting.append(pid)


def _has_children_of_its_own() -> bool:
    """Whether the process has children other than census children (True when the kernel does
    not list a thread's children)."""
    try:
        children: set[int] = set()
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children", encoding="utf-8") as f:
                children.update(int(pid) for pid in f.read().split())
    except (OSError, ValueError):
        return True
    return not children <= _census_pids


def _past_census_children(
    real: Callable[..., Any],
    any_child: Callable[..., bool],
    pid_of: Callable[[Any], int],
    left_waitable: Callable[..., bool] = lambda *args: False,
) -> Callable[..., Any]:
    """The wait ``real`` (one of os's), made to go on waiting past the census children it
    takes: when called for any child (``any_child`` of its arguments) and it returns a census
    child's pid (``pid_of`` its result), the child is kept for memslim (``_reap``) and the wait
    is made again. ``left_waitable``: the call leaves the child waitable (waitid's WNOWAIT), so
    it is reaped here, as the program would not."""

    def wait(*args: Any) -> Any:
        try:
            for_any = any_child(*args)
        except TypeError:  # arguments the wait refuses: its own message, as under python
            return real(*args)
        if not for_any:
            return real(*args)
        if _census_pids and not _has_children_of_its_own():
            # As under python with no child: at once, not when a census child has ended.
            raise ChildProcessError(errno.ECHILD, os.strerror(errno.ECHILD))
        _waits_in_progress[0] += 1
        try:
            while True:
                mark = len(_reaped_while_waiting)
                got = real(*args)
                pid = pid_of(got)
                # A census can run between the wait's return and this check, and reap the child
                # that a WNOWAIT left waitable: it was still a census child's pid.
                if pid in _reaped_while_waiting[mark:]:
                    continue
                if pid not in _census_pids:
                    return got
                if left_waitable(*args):
                    with contextlib.suppress(ChildProcessError):
                        _real_waits["waitpid"](pid, 0)
                _census_pids.discard(pid)
                _reaped_for_us.add(pid)
        finally:
            _waits_in_progress[0] -= 1
            if not _waits_in_progress[0]:
                _reaped_while_waiting.clear()

    as_the_real_one(wait, real)
    return wait


def hide_census_children_from_waits() -> None:
    """The program's waits for any child (``os.wait()``, ``os.waitpid(-1, ...)`` and the
    process-group forms, ``wait3``, ``wait4``, ``waitid(P_ALL, ...)``) never return a census
    child: one they take is kept for memslim and the wait goes on (or, WNOHANG, returns what
    else ended). A program that waited for its own workers with ``os.wait()`` got a census
    child's pid and failed on it (KeyError), and a SIGCHLD handler reaped 29-39 children it
    never started (a helper's programs, 2026-12-06); memslim could then have killed a pid the
    kernel had given to another process."""
    if _real_waits:
        return
    _real_waits["waitpid"] = os.waitpid  # memslim's own waits (_reap)
    first = itemgetter(0)
    replacements = {
        "waitpid": _past_census_children(os.waitpid, lambda pid, options: pid <= 0, first),
        "wait": _past_census_children(os.wait, lambda: True, first),
        "wait3": _past_census_children(os.wait3, lambda options: True, first),
        "wait4": _past_census_children(os.wait4, lambda pid, options: pid <= 0, first),
        "waitid": _past_census_children(
            os.waitid,
            lambda idtype, ident, options: idtype in (os.P_ALL, os.P_PGID),
            lambda got: 0 if got is None else got.si_pid,
            lambda idtype, ident, options: bool(options & os.WNOWAIT),
        ),
    }
    for name, replacement in replacements.items():
        setattr(os, name, replacement)
        setattr(posix, name, replacement)


def raised_by_a_signal_handler(exc: BaseException) -> bool:
    """Whether ``exc`` was raised in a Python signal handler set now (its frame is in the
    traceback): in memslim's code that runs inside the program (a census), the program's
    exception, not memslim's."""
    handlers = set()
    for signum in signal.valid_signals():
        try:
            handler = signal.getsignal(signum)
        except (OSError, ValueError):
            continue
        code = getattr(getattr(handler, "__func__", handler), "__code__", None)
        if code is not None:
            handlers.add(code)
    if not handlers:
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in handlers:
            return True
        tb = tb.tb_next
    return False


def fork_would_block() -> bool:
    """Whether forking now could wait forever. On 3.13 the fork runs the program's
    ``os.register_at_fork(before=...)`` hooks (tracker.cpp ``census_fork``), and
    concurrent.futures' takes a plain lock that a thread holds while it starts a pool's worker
    (``submit``): a census at a safe point there waited for a lock its own thread held (pandas
    3.1's parallel read_csv). Held by another thread, it is let go soon: the census waits for
    the next safe point either way."""
    if sys.version_info < (3, 13):
        return False  # no hooks run (census_fork)
    pool = sys.modules.get("concurrent.futures.thread")
    lock = getattr(pool, "_global_shutdown_lock", None)
    return lock is not None and lock.locked()


# How many code objects the tracker compares (tracker.cpp, kFollowCodes).
FOLLOW_CODES = 4


def _program_codes(frame: types.FrameType | None) -> list[types.CodeType]:
    """The code objects of the program's frames on a stack, innermost first, up to memslim's
    own frames (the runner's)."""
    codes: list[types.CodeType] = []
    while frame is not None and not is_own_path(frame.f_code.co_filename):
        if not _is_library(frame):
            codes.append(frame.f_code)
        frame = frame.f_back
    return codes


def _is_library(frame: types.FrameType) -> bool:
    file = frame.f_code.co_filename
    return file.startswith("<") or is_library_path(os.path.abspath(file))


def _frame_rows(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The facts of each pandas DataFrame a census measured (memslim._frames): its site, rows,
    large columns' facts and bytes by column, without its copies (which name rows of that
    census only)."""
    frames = raw.get("advice", {}).get("frames", ())
    return [
        {
            "site": row["site"],
            "rows": row["rows"],
            "columns": row["columns"],
            "sizes": row.get("sizes"),
            "copies": [],
        }
        for row in frames
        if (row.get("columns") or row.get("sizes")) and row.get("site") is not None
    ]


def _keep_largest_rows(
    kept: dict[int, list[dict[str, Any]]], seen: Iterable[dict[str, Any]]
) -> None:
    """Adds one census's frame facts to ``kept``: per site, the rows of the census that
    measured the most column bytes there."""
    summed: dict[int, list[dict[str, Any]]] = {}
    for row in seen:
        summed.setdefault(row["site"], []).append(row)

    def size(rows: list[dict[str, Any]]) -> int:
        return sum(column["bytes"] for row in rows for column in row["columns"])

    for site, rows in summed.items():
        if size(rows) > size(kept.get(site, [])):
            kept[site] = rows


def _keep_largest(
    kept: dict[int, tuple[int, dict[str, int]]], seen: Iterable[tuple[int, int, dict[str, int]]]
) -> None:
    """Adds one census's frames to ``kept``: per site, the frames made there summed (rows and
    each column's bytes), kept when larger than what an earlier census saw there."""
    summed: dict[int, tuple[int, dict[str, int]]] = {}
    for site, rows, sizes in seen:
        total_rows, columns = summed.get(site, (0, {}))
        for name, size in sizes.items():
            columns[name] = columns.get(name, 0) + size
        summed[site] = (total_rows + rows, columns)
    for site, (rows, columns) in summed.items():
        if sum(columns.values()) > sum(kept.get(site, (0, {}))[1].values()):
            kept[site] = (rows, columns)


def _private_dirty_bytes() -> int:
    """Pages this process wrote since the fork (its own copies): memslim's cost."""
    try:
        with open("/proc/self/smaps_rollup", encoding="utf-8") as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _proc_kib(path: str, key: str) -> int | None:
    """The value (in KiB) of ``key`` in a /proc file of ``key: value kB`` lines."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def child_memory_budget() -> int | None:
    """How many bytes a census child may allocate: half of what the machine has available
    now. A census walk needs about 80 bytes per object (a program with 50 million objects:
    4 GB), and a child that took the machine's last free memory would push the program it
    measures into swap or into the OOM killer. A memory cgroup's limit is not taken here: the
    limit is on address space (RLIMIT_DATA), and the walk reserves its arrays generously (pages
    never written are never resident, nor charged to a cgroup), so half of what a cgroup had
    left gave up censuses that needed a tenth of it. The parent does not fork where the
    cgroup has no room (ForkedCensuses.no_room_to_fork)."""
    available = _proc_kib("/proc/meminfo", "MemAvailable")
    return None if available is None else available * 1024 // 2


def _limit_child_memory(budget: int | None) -> tuple[int, int]:
    """Caps this (child) process's new data pages at ``budget`` bytes: an allocation beyond it
    fails (``MemoryError``) and the census is given up, with the reason sent to the parent.
    Returns the limit it replaced."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a child that fails leaves no core file
    before = resource.getrlimit(resource.RLIMIT_DATA)
    data = _proc_kib("/proc/self/status", "VmData")  # what the fork inherited, counted too
    if budget is not None and data is not None:
        limit = data * 1024 + budget
        hard = before[1]
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return before


def promote(pid: int) -> bool:
    """Gives census child ``pid`` the program's priority: it ran as a batch job at nice 19 or
    at idle priority (SCHED_IDLE) so as to take next to no CPU time from the program, but once
    the program has ended the report waits for it, and at those priorities any other busy
    process on the machine stalled it (two busy loops on two cores: the report waited as long
    as they ran). Whether it could: an unprivileged user whose RLIMIT_NICE is 0 may neither
    leave SCHED_IDLE nor lower a nice value."""
    try:
        os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0))
    except (OSError, AttributeError):
        return False
    return True


def demote(pid: int) -> None:
    """Moves census child ``pid`` to idle priority (SCHED_IDLE): a newer child is walking, the
    one the report waits for, and on a spare core the two shared the time equally (see
    tracker.cpp, ``census_fork``). Lowering a priority needs no privilege; a child that has
    ended is left alone."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


# Each census's row in ForkedCensuses._rows (numbers, not objects: see there). _FOLLOW_UP: 0,
# or for a follow-up (follow_the_call) the traced bytes when it was asked for (see chosen).
_PID, _TRACED, _STARTED, _KILLED_AT, _STATE, _VISIBLE, _FOLLOW_UP = range(7)
_FIELDS = 7
_RUNNING, _KILLED, _DONE, _FAILED, _LOST = 1.0, 2.0, 3.0, 4.0, 5.0
_ROWS = 64  # rows made at a time (more: the array's buffer, past pymalloc's 512 B, is malloc's)
# _totals (_PEAK_SEEN: the traced peak when the last census was taken, see follow_the_call;
# _WAIT_SECONDS: how long the report waited for children after the program, see finish;
# _IN_PROCESS...: censuses walked in the program's process instead, see in_process;
# _LAST_VISIBLE: what the last census taken, forked or not, could see, see sees_nothing_new;
# _NO_ROOM...: censuses not forked for the memory cgroup's limit, see no_room_to_fork;
# _LOST_TO_SIGKILL: children killed by another hand than memslim's, see _reap;
# _ASKED_AT: the traced bytes when the last follow-up was asked for, see follow_the_call)
(
    _FORKS,
    _FORK_SECONDS,
    _CHILD_SECONDS,
    _COUNT,
    _PEAK_SEEN,
    _WAIT_SECONDS,
    _IN_PROCESS,
    _IN_PROCESS_SECONDS,
    _LAST_VISIBLE,
    _NO_ROOM,
    _NO_ROOM_FIRST_SECONDS,
    _NO_ROOM_NEED,
    _NO_ROOM_LEFT,
    _NO_ROOM_LIMIT,
    _LOST_TO_SIGKILL,
    _NO_ROOM_KILLED,
    _ASKED_AT,
) = range(17)
_TOTALS = _ASKED_AT + 1


class ForkedCensuses:
    """The census children of one run. ``take`` runs in the census callback.

    At most two children walk at once: the oldest, left to finish (each finished census is a
    point of the growth history) at idle priority, and the newest, which a newer census
    replaces (the report wants the one nearest the peak, such as the one taken as a full
    collection starts), at a batch job's lowest priority, so that it has the spare core first.

    Everything kept about the children while the program runs is numbers in arrays made before
    it starts, never objects: a Python object that memslim keeps from the middle of a run sits
    in one of pymalloc's arenas between the program's objects, and holds that whole arena (1
    MiB) after the program freed its part. The census machinery's few hundred small objects
    (a dataclass per child, its path, a tuple per census) kept 19 MiB of arenas that a run
    without censuses gave back (json_csv_pipeline, at its end).
    """

    def __init__(self, top: int) -> None:
        self.top = top
        self.directory = run_directory("census")
        self._rows = array.array("d", bytes(8 * _FIELDS * (_ROWS + 1)))  # row 0: unused
        self._totals = array.array("d", bytes(8 * _TOTALS))
        self.start_clock()
        # The RSS ledger at the last census (set by results()): RSS explained near the peak.
        self.peak_ledger: Any = None
        # Per allocation site of pandas DataFrames, the largest (rows, bytes by column) that
        # any census saw there (set by results()): the usecols advice needs a frame's columns
        # also when the census nearest the peak ran inside the read that made it.
        self.frame_columns: dict[int, tuple[int, dict[str, int]]] = {}
        # And their facts (memslim._frames), per site the census that measured the most
        # there: a frame made by a read whose parse was the peak is seen only after it.
        self.frame_facts: dict[int, list[dict[str, Any]]] = {}
        # Why the report does not wait for the newest census (finish), if it did not.
        self.given_up: str | None = None
        self._timeout = 0.0  # finish()'s
        # The census results() chose: its traced bytes and what it saw of them (better_than).
        self.last_traced: int | None = None
        self.last_visible = 0

    def start_clock(self) -> None:
        """Census times count from now: call it just before tracking starts (the report's
        times count from there; what memslim does in between, imports above all, once put a
        census at the end of a run after the run's own end)."""
        self.started = time.monotonic()
        self.started_wall = time.time()  # the same instant on the clock of _STARTED

    # What was recorded, read after the run.

    @property
    def forks(self) -> int:
        return int(self._totals[_FORKS])

    @property
    def child_seconds(self) -> float:
        """How long children lived in all: while one lives, every page the program writes is
        copied (copy-on-write) and the child takes a core. (Making the margin between censuses
        widen when children take more than a share of the run was tried twice: it saved 5-20%
        of the time and put the report's census at 78-85% of the peak instead of 96-100%.)"""
        return self._totals[_CHILD_SECONDS]

    @property
    def done(self) -> list[tuple[int, str]]:
        """(traced bytes, file) of each census that finished, in the order they were taken."""
        return [(int(self._get(n, _TRACED)), self._path(n)) for n in self._numbers(_DONE)]

    @property
    def errors(self) -> list[str]:
        """Why children failed, and why the last census was not waited for (a sentence each)."""
        found = []
        if self._totals[_NO_ROOM]:
            found.append(self._no_room_sentence())
        if self._totals[_LOST_TO_SIGKILL]:
            lost = int(self._totals[_LOST_TO_SIGKILL])
            found.append(
                f"{lost} census {'child was' if lost == 1 else 'children were'} killed"
                " (SIGKILL) before finishing: the kernel's out-of-memory killer takes them"
                " before the program"
            )
        if self.given_up:
            found.append(self.given_up)
        for n in self._numbers(_FAILED):
            with (
                contextlib.suppress(OSError),
                open(self._path(n) + ".error", encoding="utf-8") as f,
            ):
                found.append(f.read())
        return found

    def no_room_to_fork(self) -> bool:
        """Whether this process's memory cgroup has too little room under its limit for a
        census now. Where the cgroup's limit is reached the kernel kills a process in it (a
        census child first, by its score; with Kubernetes' ``memory.oom.group``, every one, the
        program too), so under a limit a census is forked only where what it may take fits in
        what is left (the newest census, where there is room for one only: the one walking is
        killed, unless it is a follow-up). A child may take the program's anonymous pages once
        more (every page the program writes while the child walks is copied, and a full
        collection writes every container's), and for its walk about as much as the Python
        heap (65 bytes an object on the JSON/CSV bench, for 82 traced). A child still walking
        when what is left falls below a tenth of the program's pages (the program grew into the
        room it took) is killed: the program's memory is the program's. Censuses not taken are
        counted and said in the report (errors); the margin moves on as if they were."""
        headroom = cgroup_headroom()
        if headroom is None:
            return False
        memory = process_memory()
        if memory is None:
            return False
        left, limit = headroom
        anon = memory["anon"]
        for n in self._numbers(_RUNNING):
            self._reap(n, block=False)
        running = self._numbers(_RUNNING)
        if running and left < max(anon // 10, 16 << 20):
            for n in running:
                self._kill(n)
            self._totals[_NO_ROOM_KILLED] += len(running)
            running = []
        need = anon + max(0, int(_core.live_bytes_by_domain()["python"]))
        # Room for it beside the one that walks on (of two walking, _replace_older kills one).
        if left >= need * (1 + min(len(running), 1)):
            return False
        # Room for one: the newest census, nearest the peak of a program that grows, instead
        # of the one walking (a follow-up, which no later census replaces, walks on).
        # Once a census has finished: a program that grows past all room would otherwise be
        # left with none.
        if left >= need and self._numbers(_DONE) and not any(self._follows(n) for n in running):
            for n in running:
                self._kill(n)
            return False
        if not self._totals[_NO_ROOM]:  # the first one left out, as the report says
            self._totals[_NO_ROOM_FIRST_SECONDS] = time.monotonic() - self.started
            self._totals[_NO_ROOM_LIMIT] = limit
            self._totals[_NO_ROOM_NEED] = need
            self._totals[_NO_ROOM_LEFT] = left
        self._totals[_NO_ROOM] += 1
        return True

    def _no_room_sentence(self) -> str:
        """What no_room_to_fork did, in one sentence."""
        from memslim._units import format_bytes

        skipped = int(self._totals[_NO_ROOM])
        need, left = (format_bytes(int(self._totals[c])) for c in (_NO_ROOM_NEED, _NO_ROOM_LEFT))
        said = (
            f"{skipped} {'census was' if skipped == 1 else 'censuses were'} not taken under the"
            f" memory cgroup's limit of {format_bytes(int(self._totals[_NO_ROOM_LIMIT]))}, from"
            f" {self._totals[_NO_ROOM_FIRST_SECONDS]:.2f} s on: a census could take {need} (the"
            f" pages the program writes while its child walks are copied), with {left} left for"
            " it and any census still walking"
        )
        killed = int(self._totals[_NO_ROOM_KILLED])
        if killed:
            said += (
                f", and {killed} census {'child' if killed == 1 else 'children'} walking"
                " stopped when the program needed the room"
            )
        return said + "; a higher limit allows censuses nearer the peak"

    def _get(self, number: int, column: int) -> float:
        return self._rows[number * _FIELDS + column]

    def _set(self, number: int, column: int, value: float) -> None:
        self._rows[number * _FIELDS + column] = value

    def _numbers(self, state: float) -> list[int]:
        """The censuses in ``state``, oldest first (a list made for the caller, then freed)."""
        count = int(self._totals[_COUNT])
        return [n for n in range(1, count + 1) if self._rows[n * _FIELDS + _STATE] == state]

    def in_process(self, seconds: float, visible: int) -> None:
        """Counts a census walked in the program's process where no fork could be (ForkUnsafe,
        a failed fork): the program stood still for its ``seconds``; it saw ``visible`` bytes
        (Python's and NumPy's)."""
        self._totals[_IN_PROCESS] += 1
        self._totals[_IN_PROCESS_SECONDS] += seconds
        self._totals[_LAST_VISIBLE] = visible

    def sees_nothing_new(self, visible: int, margin: float) -> bool:
        """Whether a census now, which could see ``visible`` bytes (Python's and NumPy's),
        would see what the last census taken saw: they have not grown by ``margin`` (the
        mode's) since. Such a census, which could only be walked in the program's process, is
        left out: it is asked for by native memory growing (a parallel CSV parse's buffers, its
        threads without the GIL: pandas 3.1's read_csv, two walks of 80-95 ms in sample mode,
        0.8-1.1 s in exact mode on a busy machine, while the program stood still), and the last
        census saw as much of the objects as the mode's margins promise."""
        return visible < self._totals[_LAST_VISIBLE] * (1 + margin)

    def _path(self, number: int) -> str:
        return os.path.join(self.directory, f"census-{number:05d}.pickle")

    def take(self) -> bool:
        """Fork a census child now (replacing the newest one still walking, if two are); False
        when a fork now could wait forever (fork_would_block): nothing was done. Raises
        ForkUnsafe when a fork could leave the program's other threads waiting forever: the
        caller walks the heap in this process instead."""
        if fork_would_block():
            return False
        # A thread in a native library without the GIL: census_fork waits a few milliseconds
        # for it to leave (none can enter while this thread holds the GIL), else fails (OSError,
        # EBUSY) and the heap is walked in this process.
        # Nothing from here to the fork releases the GIL (the older children are seen to after
        # it): each release let the program's other threads run a switch interval (5 ms each,
        # while they wait for it), and the heap the census was asked to see changed meanwhile. A
        # census in one of three workers took 10-75 ms so, the heap fell by a quarter before its
        # fork, and the census nearest the peak was seen below half of it in some runs (found by
        # a helper trying threaded programs, 2026-12-06).
        # Imported by the run before it starts (cli.main): a lookup here.
        from memslim.heap import retainer_summary, take_raw_census

        number = int(self._totals[_COUNT]) + 1
        if (number + 1) * _FIELDS > len(self._rows):
            self._rows.frombytes(bytes(8 * _FIELDS * _ROWS))
        self._totals[_COUNT] = number
        path = self._path(number)
        traced = _core.traced_bytes()
        visible = _core.visible_traced_bytes()
        memory = process_memory()  # this instant's RSS, for the child's ledger
        seconds = time.monotonic() - self.started
        began = time.perf_counter()
        try:
            pid = _core.census_fork()
        except OSError as e:
            if e.errno == errno.EBUSY:
                raise ForkUnsafe("a thread is in a native library without the GIL") from None
            raise
        if pid == 0:  # the child: never returns
            # Its descriptors above stderr are closed (census_fork): the program's signal
            # wakeup descriptor too, whose number the files opened here would take.
            with contextlib.suppress(ValueError):
                signal.set_wakeup_fd(-1)
            # The allocators' state first, before the walk allocates: it is the parent's.
            now = allocators_now()
            # No collection here: one would run the finalizers of the program's garbage (its
            # __del__ methods, a file's flush) in this copy of it.
            gc.disable()
            status = 1
            budget = child_memory_budget()
            unlimited = resource.getrlimit(resource.RLIMIT_DATA)
            try:
                unlimited = _limit_child_memory(budget)
                raw = take_raw_census(self.top, advice=True, frames=True)
                ledger = None if memory is None else RssLedger.from_parts(seconds, memory, now)
                header = {
                    "traced_bytes": traced,
                    "summary": _encode(retainer_summary(raw)),
                    "walked_bytes": raw["bytes"],  # what its objects hold (chosen)
                    "child_private_bytes": _private_dirty_bytes(),
                    "ledger": ledger,
                    "frame_facts": _frame_rows(raw),
                }
                # The header first: the parent reads every census's header, and the census
                # itself from the last file only.
                with open(path + ".tmp", "wb") as f:
                    pickle.dump(header, f, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(_encode(_pack_sites(raw)), f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(path + ".tmp", path)
                status = 0
            except BaseException as e:  # told to the parent, which reports it in one line
                resource.setrlimit(resource.RLIMIT_DATA, unlimited)  # room to say why
                if isinstance(e, MemoryError) and budget is not None:
                    why = (
                        f"a census was given up: it needed more than {budget >> 20} MiB,"
                        " half of the memory available when it began"
                    )
                else:
                    why = f"a census failed: {type(e).__name__}: {e}".replace("\n", " ")
                with open(path + ".error", "w", encoding="utf-8") as f:
                    f.write(why)
            finally:
                os._exit(status)
        self._totals[_FORK_SECONDS] += time.perf_counter() - began
        self._totals[_FORKS] += 1
        self._set(number, _PID, pid)
        _reaped_for_us.discard(pid)  # an earlier child's with this pid: long gone
        _census_pids.add(pid)
        self._set(number, _TRACED, traced)
        self._set(number, _VISIBLE, visible)
        self._totals[_LAST_VISIBLE] = visible
        self._set(number, _STARTED, time.time())  # comparable with the census file's mtime
        self._set(number, _STATE, _RUNNING)
        # A follow-up's is never 0, which says "not a follow-up" (_follows).
        follow_up = max(1.0, self._totals[_ASKED_AT]) if _core.census_is_follow_up() else 0.0
        self._set(number, _FOLLOW_UP, follow_up)
        self._replace_older(number)
        return True

    def _replace_older(self, newest: int) -> None:
        """After census ``newest`` forked: of the children still walking before it, with two,
        one is killed, else the one is demoted."""
        for n in self._numbers(_RUNNING) + self._numbers(_KILLED):
            if n != newest:
                self._reap(n, block=False)
        running = [n for n in self._numbers(_RUNNING) if n != newest]
        if len(running) >= 2:
            # The oldest walks on, at idle priority already; a follow-up census (the frame a
            # parse returned) is not replaced: no later census may see what it sees. Nor is one
            # above the new census (the heap fell between: several threads' peak, each freeing
            # its part): the new one goes instead. A census at 92% of such a peak was replaced
            # by one at 49% (a helper's threaded programs, 2026-12-06).
            # A follow-up census is never the one killed: it runs after the call returned, below
            # the call's peak, and sees what the call built (pandas 2's read: its frame).
            traced = self._get(newest, _TRACED)
            older = [n for n in running if not self._follows(n) and self._get(n, _TRACED) <= traced]
            if older:
                self._kill(older[-1])
            elif self._follows(newest):
                others = [n for n in running if not self._follows(n)]
                self._kill(others[-1] if others else running[-1])
            else:
                self._kill(newest)
        elif running:
            demote(int(self._get(running[-1], _PID)))  # no longer the newest

    def follow_the_call(self, frame: types.FrameType | None) -> None:
        """After a census at ``frame``: when native memory made most of the traced bytes and the
        census ran inside a library's call (a CSV parse at its peak, or after it, when the census
        waited for the main thread to wake and the parse's buffers were freed by then: the peak's
        bytes count as what it could not see), asks for one more census as soon as the program's
        own code allocates again (``_core.census_after_return``): by then the call has returned
        what it built (the DataFrame), which this census could not see and which nothing may ever
        push to a new high (the parse's buffers were the peak). A census in the program's own code
        sees what the calls returned: nothing is asked for then.

        A census can run in a thread the library started (one of a parallel parse's workers, when
        a collection starts there): no program frame is on its stack, and the program's code that
        waits for the call is in another thread. The program frames of every thread are taken
        then (the census's own thread first); a census that finds none leaves the request as it
        was (CI, 3.12: the request was dropped so, and the frame never seen)."""
        if frame is None:
            return
        if not _is_library(frame) or _core.census_is_follow_up():
            # A follow-up asks for none: it runs once the program's code allocates again, when
            # what the call returned is bound. One inside the next line's library call asked
            # again (its peak beyond the last census's), and the report waited for both
            # (pandas_job: two follow-ups 10 ms apart).
            self._totals[_PEAK_SEEN] = _core.peak_traced_bytes()
            _core.census_after_return([])
            return
        # What it cannot see: native memory now, or, when a new peak was reached since the last
        # census, all of the peak beyond what it sees (a census that waited for the main thread to
        # wake, after the parse's buffers were freed). Only then: every library census after a
        # parse's peak would ask again (pandas_job: 4 follow-ups, 16 forks instead of 13).
        visible, peak = _core.visible_traced_bytes(), _core.peak_traced_bytes()
        unseen = _core.traced_bytes() - visible
        if peak > self._totals[_PEAK_SEEN]:
            unseen = max(unseen, peak - visible)
        self._totals[_PEAK_SEEN] = peak
        if unseen <= visible:
            return
        codes = _program_codes(frame)
        if not codes:
            here = _thread.get_ident()
            codes = [
                code
                for ident, top in sys._current_frames().items()
                if ident != here
                for code in _program_codes(top)
            ]
        if codes:
            self._totals[_ASKED_AT] = _core.traced_bytes()
            _core.census_after_return(list(dict.fromkeys(codes))[:FOLLOW_CODES])

    def _follows(self, number: int) -> bool:
        """Whether census ``number`` is a follow-up (see follow_the_call)."""
        return self._get(number, _FOLLOW_UP) != 0

    def behind(self, peak_bytes: int, current_bytes: int) -> bool:
        """Whether a census now would see 95% of the peak's bytes and none taken so far does
        (a child that ended without writing its census does not count)."""
        near = NEAR_PEAK * peak_bytes
        if current_bytes < near:
            return False
        for n in self._numbers(_RUNNING):
            self._reap(n, block=False)
        return all(
            self._get(n, _TRACED) < near for n in self._numbers(_RUNNING) + self._numbers(_DONE)
        )

    def _reap(self, number: int, *, block: bool) -> bool:
        """Whether child ``number`` has ended (waiting for it if ``block``)."""
        pid = int(self._get(number, _PID))
        if pid in _reaped_for_us:  # a wait of the program's took it
            _reaped_for_us.discard(pid)
            ended = pid
        else:
            waitpid = _real_waits.get("waitpid", os.waitpid)
            try:
                ended, status = waitpid(pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                # Reaped by the program: a handler's waitpid(pid), or a wait for any child that
                # took it just now (a census can run between the wait's return and its check:
                # the pid stays a census child's for that check).
                ended = -1
            else:
                if ended > 0:
                    _reaped_by_memslim(pid)
                    if (
                        self._get(number, _STATE) == _RUNNING  # not killed by memslim
                        and os.WIFSIGNALED(status)
                        and os.WTERMSIG(status) == signal.SIGKILL
                    ):
                        self._totals[_LOST_TO_SIGKILL] += 1
        if ended > 0:
            _census_pids.discard(pid)
        if ended == 0:
            return False
        path, started = self._path(number), self._get(number, _STARTED)
        lived = (self._get(number, _KILLED_AT) or time.time()) - started
        with contextlib.suppress(OSError):  # it ended when it wrote its census
            lived = os.stat(path).st_mtime - started
        self._totals[_CHILD_SECONDS] += max(0.0, lived)
        if os.path.exists(path):
            self._set(number, _STATE, _DONE)
        elif os.path.exists(path + ".error"):
            self._set(number, _STATE, _FAILED)
        else:
            self._set(number, _STATE, _LOST)  # killed
        return True

    def finish(self, peak_bytes: int, timeout: float = 120.0) -> None:
        """Wait for the children still walking (the newest census is the nearest to the peak),
        unless a finished census already saw 95% of the peak's bytes; one that does not finish
        within ``timeout`` seconds is killed. Each is given normal priority first (promote).

        Ctrl-C or SIGTERM while it waits (the program has ended) stops the wait, not the run:
        the children still walking are killed and the report is made from the censuses that
        finished. Before, a Ctrl-C there ended memslim with a traceback of its own and no
        report, and SIGTERM with no report and the census directory left behind."""
        began = time.monotonic()
        self._timeout = timeout
        installed, previous = threading_main(), None
        if installed:
            previous = signal.signal(signal.SIGTERM, _stop_waiting)
        try:
            self._finish(peak_bytes, began + timeout)
        except (KeyboardInterrupt, _StopWaiting) as e:
            for n in self._numbers(_RUNNING):
                self._kill(n)
            what = "Ctrl-C" if isinstance(e, KeyboardInterrupt) else "SIGTERM"
            self.given_up = f"the last census was not waited for ({what})" + self._left()
        finally:
            if installed:  # None: a handler set from C, which Python cannot put back
                signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
            self._totals[_WAIT_SECONDS] += time.monotonic() - began

    def _left(self) -> str:
        """What the report's census is, after the newest was given up."""
        return (
            ": the report's census is an earlier one"
            if self.done
            else ": the report has no census of the heap"
        )

    def _finish(self, peak_bytes: int, deadline: float) -> None:
        running = self._numbers(_RUNNING)
        newest = max(running, key=lambda n: self._get(n, _TRACED), default=None)
        # The older one is waited for only while fewer than two censuses have finished: the
        # growth advice compares censuses, and on a busy machine no child may have run at all
        # while the program did (idle priority). Otherwise it is killed: its census would only
        # add a point to the growth history, and it shares the CPU with the newest.
        for n in running:
            if n == newest or self._follows(n):
                continue
            if not self._reap(n, block=False) and len(self.done) >= 2:
                self._kill(n)
        for n in self._numbers(_RUNNING):
            promote(int(self._get(n, _PID)))
        while True:
            for n in self._numbers(_RUNNING):
                self._reap(n, block=False)
            waiting = self._numbers(_RUNNING)
            if not waiting:
                break
            done = self.done
            close_enough = any(traced >= NEAR_PEAK * peak_bytes for traced, _ in done)
            newest_over = newest not in waiting
            # A follow-up census is waited for: what it sees (a read's DataFrame) no other does.
            follow_ups = any(self._follows(n) for n in waiting)
            enough = (newest_over or close_enough) and len(done) >= 2 and not follow_ups
            if enough or time.monotonic() > deadline:
                for n in waiting:
                    self._kill(n)
                if not enough:
                    self.given_up = (
                        f"the last census was given up after {self._timeout:.0f} s of waiting"
                        + self._left()
                    )
                break
            time.sleep(0.005)

    def chosen(
        self, peak_visible: int | None = None, walked: dict[str, int] | None = None
    ) -> str | None:
        """The file of the census the report reads: the one nearest the peak by traced bytes,
        unless another saw clearly more of what a census can see at the peak
        (``peak_visible``: the peak's Python and NumPy bytes). A CSV parse's census is nearest
        by traced bytes, mostly the parser's native buffers; the census after the peak, with
        the frame and what was built on it, saw twice its objects (examples/advice/category
        with PyArrow).

        What a census saw is the least of its Python and NumPy bytes when it forked and of
        the bytes its walk found in objects (``walked``, by file): inside a parse the tracker
        counts the parser's Python-domain buffers and the objects only its C code holds, which
        no walk reaches. A parse's census at 62.5 MB of them found 26.5 MB of objects, and was
        chosen over the census after it (69 MB, the 400,000 labels built on the frame) when
        that one came before `set(labels)` rather than inside it (3.13 under load, 10 runs in
        12)."""
        done = self._numbers(_DONE)
        if not done:
            return None
        # A follow-up is as near as the census that asked for it: it sees what that census's
        # call built, once returned. When that census was not walked (sees_nothing_new), an
        # earlier one by a few MB more traced bytes was chosen (pandas_job: one at 1.8 s of a
        # 6.6 s run, whose 300,000 strings made an intern finding, where the follow-up's frame
        # column makes a category one).
        nearest = max(done, key=lambda n: max(self._get(n, _TRACED), self._get(n, _FOLLOW_UP)))
        if peak_visible is None:
            return self._path(nearest)
        found = walked or {}

        def seen(n: int) -> float:
            return min(self._saw(n, found), peak_visible)

        best = max(done, key=lambda n: (seen(n), self._get(n, _TRACED)))
        return self._path(best if seen(best) > CLEARLY_MORE * seen(nearest) else nearest)

    def _saw(self, number: int, walked: dict[str, int]) -> float:
        """What census ``number`` saw: the least of its Python and NumPy bytes when it forked
        and of what its walk found in objects (``walked``, by file, when read; see chosen)."""
        visible = self._get(number, _VISIBLE)
        return min(visible, walked.get(self._path(number), visible))

    def results(
        self, peak_visible: int | None = None
    ) -> tuple[tuple[int, dict[str, Any]] | None, list[tuple[int, Any]], dict]:
        """The report's census (traced bytes, raw census: see ``chosen``), every census's
        retainer summary (oldest first), and what the censuses cost."""
        last: tuple[int, dict[str, Any]] | None = None
        history: list[tuple[int, Any]] = []
        costs = {
            # When each census that the report read was taken (seconds since tracking began)
            # and at what traced bytes: the HTML timeline marks them.
            "moments": [
                {
                    "t": max(0.0, self._get(n, _STARTED) - self.started_wall),
                    "traced_bytes": int(self._get(n, _TRACED)),
                    "follow_up": self._follows(n),
                }
                for n in self._numbers(_DONE)
            ],
            "forks": self.forks,
            # Follow-up censuses forked (see follow_the_call), finished or not.
            "follow_ups": sum(self._follows(n) for n in range(1, int(self._totals[_COUNT]) + 1)),
            "fork_seconds": self._totals[_FORK_SECONDS],
            "child_seconds": self.child_seconds,  # all children, replaced ones included
            # How long the report waited for children after the program ended (finish).
            "wait_seconds": self._totals[_WAIT_SECONDS],
            # Censuses walked in the program's process instead (a thread in a native library
            # without the GIL, or no fork possible) and how long the program stood still for
            # them.
            "in_process": int(self._totals[_IN_PROCESS]),
            "in_process_seconds": self._totals[_IN_PROCESS_SECONDS],
            "child_private_bytes_max": 0,
            # Censuses not forked for the memory cgroup's limit (no_room_to_fork), and children
            # killed by SIGKILL from outside (the kernel's out-of-memory killer).
            "no_room": int(self._totals[_NO_ROOM]),
            "killed_from_outside": int(self._totals[_LOST_TO_SIGKILL]),
        }
        live = _live_types()
        gone: dict[int, type] = {}
        headers = []
        for _traced, path in sorted(self.done):
            with open(path, "rb") as f:
                headers.append((path, pickle.load(f)))
        walked = {path: header["walked_bytes"] for path, header in headers}
        chosen = self.chosen(peak_visible, walked)
        for path, header in headers:
            history.append((header["traced_bytes"], header["summary"]))
            rows = header.get("frame_facts", ())
            _keep_largest(
                self.frame_columns,
                ((row["site"], row["rows"], row["sizes"]) for row in rows if row["sizes"]),
            )
            _keep_largest_rows(self.frame_facts, (row for row in rows if row["columns"]))
            costs["child_private_bytes_max"] = max(
                costs["child_private_bytes_max"], header["child_private_bytes"]
            )
            # RSS explained near the peak: the nearest census's ledger (read last, in this
            # order by traced bytes), whichever census's objects the report lists.
            self.peak_ledger = header.get("ledger")
            if path == chosen:
                with open(path, "rb") as f:
                    pickle.load(f)  # the header, read above
                    raw = _unpack_sites(_decode(pickle.load(f), live, gone))
                last = (header["traced_bytes"], raw)
                self.last_traced = header["traced_bytes"]
                self.last_visible = next(
                    int(self._saw(n, walked)) for n in self._numbers(_DONE)
                    if self._path(n) == path
                )  # fmt: skip
        return last, history, costs

    def better_than(self, traced: int, visible: int, peak_visible: int | None) -> bool:
        """Whether the census ``results`` chose should be the report's rather than one walked
        in the program's process (at ``traced`` bytes, seeing ``visible`` of them: the least of
        its Python and NumPy bytes and of its objects' bytes): the rule of ``chosen``. An
        in-process census inside a parse (ForkUnsafe: its threads parse without the GIL) is
        nearest the peak by traced bytes, mostly the parser's buffers; the forked one at the
        function's return saw what was built on the frame."""
        if self.last_traced is None:
            return False
        cap = peak_visible if peak_visible is not None else max(visible, self.last_visible)
        seen, theirs = min(self.last_visible, cap), min(visible, cap)
        if self.last_traced >= traced:
            return not theirs > CLEARLY_MORE * seen
        return seen > CLEARLY_MORE * theirs

    def latest(self) -> tuple[int, dict[str, Any]] | None:
        """The newest census that finished, read from its file (traced bytes, raw census), or
        None: what a checkpoint of the capture shows while the program runs. Nothing of it is
        kept here."""
        # A child that wrote its file (atomically: os.replace) is done, reaped or not: reaping
        # is the main thread's (take, finish).
        candidates = self._numbers(_DONE) + self._numbers(_RUNNING)
        done = [n for n in candidates if os.path.exists(self._path(n))]
        if not done:
            return None
        newest = max(done, key=lambda n: self._get(n, _TRACED))
        try:
            with open(self._path(newest), "rb") as f:
                header = pickle.load(f)
                raw = _unpack_sites(_decode(pickle.load(f), _live_types(), {}))
        except (OSError, EOFError, pickle.UnpicklingError):
            return None  # the checkpoint goes without it; the report says why at the end
        return header["traced_bytes"], raw

    def _kill(self, number: int) -> None:
        """Ends child ``number`` now; it is reaped later (take, close): the kernel frees a large
        child's pages for milliseconds, and the program need not wait for that."""
        pid = int(self._get(number, _PID))
        if pid not in _reaped_for_us:  # else ended, and its pid may be another's by now
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._set(number, _KILLED_AT, time.time())
        self._set(number, _STATE, _KILLED)

    def close(self) -> None:
        for n in self._numbers(_RUNNING):
            self._kill(n)
        for n in self._numbers(_KILLED):
            self._reap(n, block=True)
        shutil.rmtree(self.directory, ignore_errors=True)
