"""Child processes: each child of a tracked program tracks itself into its own capture, and the
parent's report merges them (issue 12).

How a child comes to track itself:

- **fork** (``os.fork``, multiprocessing's ``fork`` start method, ``ProcessPoolExecutor`` on
  Linux before 3.14): an ``os.register_at_fork`` hook in the child starts tracking again from
  nothing (``_core.restart_in_forked_child``: the allocator hooks are inherited; the parent's
  records stay untouched, never freed, so that no page shared with the parent is copied).
- **spawn** and **forkserver**: multiprocessing starts a new interpreter with ``python -c
  CODE`` through ``multiprocessing.util.spawnv_passfds``; while the program runs, that function
  puts memslim's bootstrap in front of CODE (``bootstrap``), with the run's settings. A spawned
  child tracks itself from its first line; a fork server does not (its own memory is
  multiprocessing's, not the program's), but each worker it forks does.

The program sees none of it: no environment variable changes, its modules and ``sys.path`` are
its own, and a child exits as it would have (its ``os._exit`` status, its exit code, or the
SIGTERM that ``Pool.terminate`` sends it: the capture is written, then the signal kills the
child as before). SIGTERM is also relayed to a thread of memslim's (``engine/signal_relay.h``):
Python runs a handler only when the main thread gets back to bytecode, and a worker that was
entering ``sem_wait`` when the signal came would never have ended. A child writes its capture
into the run's directory of children (``<pid>.mslm``), checkpointed while it runs
(``capture.Checkpointer``) and completed when it ends; a child killed by SIGKILL leaves its
last checkpoint. Censuses are the parent's only.

The parent reads every child's capture when the program has ended (``collect``) and puts into
its report a table of processes, the peak of the whole process tree (the sum of all
processes' traced bytes over time, from their timelines), and the top lines across processes.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import inspect
import os
import posix
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from memslim._replace import as_the_real_one

SUFFIX = ".mslm"

# Set in the tracked program's process (and inherited by forked children).
_state: dict[str, Any] = {
    "settings": None,
    "child": None,
    "hook": None,
    "relay_threads": 0,
    "sites": [],  # _site_packages()
}


@dataclass(frozen=True)
class Settings:
    """What a child tracks with: the parent's settings, and where it writes its capture."""

    directory: str
    mode: str
    sample_interval: float
    seed: int
    native: bool
    command: list[str]
    subprocesses: bool = False  # --follow-subprocesses: `subprocess` children running python
    full_import_stacks: bool = False  # --full-import-stacks


def follow(settings: Settings) -> None:
    """In the program's process, before it starts: its children track themselves from now on."""
    _state["settings"] = settings
    _site_packages()  # read now, before the program runs
    if _state["hook"] is None:
        from memslim._imports import AfterImport

        os.register_at_fork(before=_ready_for_a_child, after_in_child=_after_fork)
        _state["hook"] = AfterImport(
            frozenset({"multiprocessing.util", "subprocess"}), _wrap_starter
        )
    _state["hook"].install()


def _site_packages() -> list[str]:
    """This interpreter's site-packages directories, the user's too, read before the program
    runs: while it runs, an import of ``site`` could be the program's (a ``site.py`` beside it,
    under ``python -S``, which imports none), as every module memslim imports then could be
    (its ``inspect.py`` crashed memslim's wrapping of subprocess). Under ``-S`` the module is
    not left imported: the program's ``sys.modules`` has no ``site`` there. Read once."""
    if _state["sites"]:
        return _state["sites"]
    had = "site" in sys.modules
    import site

    try:
        _state["sites"] = [*site.getsitepackages(), site.getusersitepackages()]
    finally:
        if not had:
            sys.modules.pop("site", None)
    return _state["sites"]


def _wrap_starter(module: Any) -> None:
    if module.__name__ == "subprocess":
        _wrap_subprocess(module)
    else:
        _wrap_spawn(module)


def unfollow() -> None:
    """The program has ended: children started from now on (by atexit handlers) are not
    tracked."""
    _state["settings"] = None
    if _state["hook"] is not None:
        _state["hook"].remove()


# --- spawn and forkserver: memslim's bootstrap in front of the new interpreter's code ---------

_SPAWN = "from multiprocessing.spawn import spawn_main"
_FORKSERVER = "from multiprocessing.forkserver import main"


def _wrap_spawn(util: Any) -> None:
    launch = util.spawnv_passfds
    if getattr(launch, "_memslim", False):
        return

    def spawnv_passfds(path: Any, args: Any, passfds: Any) -> Any:
        return launch(path, with_bootstrap(args), passfds)

    spawnv_passfds._memslim = True  # type: ignore[attr-defined]
    spawnv_passfds.__wrapped__ = launch  # type: ignore[attr-defined]
    util.spawnv_passfds = spawnv_passfds


def with_bootstrap(args: list[Any]) -> list[Any]:
    """``args`` of a new interpreter, with memslim's bootstrap in front of its ``-c`` code when
    that code is multiprocessing's spawn or fork server (anything else is left as it is)."""
    settings = _state["settings"]
    if settings is None or "-c" not in args:
        return args
    at = args.index("-c") + 1
    if at >= len(args) or not isinstance(args[at], str):
        return args
    code = args[at]
    if code.startswith(_SPAWN):
        kind = "spawn"
    elif code.startswith(_FORKSERVER):
        kind = "forkserver"
    else:  # the resource tracker, and anything else: not the program's work
        return args
    # Without memslim importable there (another interpreter's sys.path), the child runs as it
    # would have, untracked.
    bootstrap = (
        "try:\n"
        " import memslim.children as _memslim_children\n"
        "except ImportError:\n"
        " pass\n"
        "else:\n"
        f" _memslim_children.bootstrap({kind!r}, {asdict(settings)!r})\n"
        " del _memslim_children\n"
    )
    return [*args[:at], bootstrap + code, *args[at + 1 :]]


def bootstrap(kind: str, settings: dict[str, Any]) -> None:
    """First thing in an interpreter that multiprocessing started (see ``with_bootstrap``)."""
    try:
        _state["settings"] = Settings(**settings)
        if _state["hook"] is None:
            os.register_at_fork(after_in_child=_after_fork)
        if kind == "spawn":
            _start_child(restart=False)
        # A fork server: its workers, forked from it, track themselves (_after_fork).
    except Exception as e:  # the child runs on, untracked
        _say(f"memslim: child {os.getpid()} not tracked: {type(e).__name__}: {e}")


# --- os.fork's warning about threads (3.12+) -------------------------------------------------


_FORK_WARNING = (  # as CPython's posixmodule.c words it (3.12, 3.13)
    "This process (pid={pid}) is multi-threaded, use of fork() may lead to deadlocks in the child."
)


def quiet_fork_warning() -> None:
    """On 3.12+, ``os.fork`` warns (DeprecationWarning) when the process has more than one
    thread, counted by the kernel: memslim's own threads (the timeline's, the checkpoints')
    would make it warn in a program that has none. ``os.fork`` is wrapped: the interpreter's
    warning, attributed to the wrapper's module, is ignored by a filter for that module only,
    and the wrapper warns in its place, at the program's line, when the program has threads of
    its own (a C function's warning cannot be attributed further up than its caller)."""
    if sys.version_info < (3, 12) or getattr(os.fork, "_memslim", False):
        return
    import functools
    import re
    import warnings

    from memslim import _core

    real_fork = os.fork
    pattern = re.escape(_FORK_WARNING).replace(re.escape("{pid}"), r"\d+")

    def quiet() -> None:
        warnings.filterwarnings("ignore", pattern, DeprecationWarning, module=re.escape(__name__))

    quiet()
    ours = warnings.filters[0]

    @functools.wraps(real_fork)
    def fork() -> int:
        # Untracked: what this wrapper allocates (the file it reads the thread count from, its
        # 8 KiB buffer) is memslim's, not the program's at its os.fork line.
        tracked = _core.set_thread_tracked(False)
        try:
            threads = program_threads()
            # First again: a filter the program set since (simplefilter("default"), pytest's
            # per-test filters) came before it, and the interpreter's warning showed, at this
            # module's line, in a program with no thread (3.12, 3.13).
            if not warnings.filters or warnings.filters[0] is not ours:
                quiet()
        finally:
            _core.set_thread_tracked(tracked)
        pid = real_fork()
        if pid != 0 and threads > 1:
            with contextlib.suppress(Exception):  # -W error: the fork happened all the same
                warnings.warn(_FORK_WARNING.format(pid=os.getpid()), DeprecationWarning, 2)
        return pid

    fork._memslim = True  # type: ignore[attr-defined]
    os.fork = fork


def program_threads() -> int:
    """The process's threads (the kernel's count), less memslim's own."""
    from memslim import _core
    from memslim.capture import Checkpointer

    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        threads = int(fields[17])  # field 20, num_threads (fields after the command's ")")
    except (OSError, ValueError, IndexError):
        return 2  # not known: as if the program had threads (the warning stays)
    own = (1 if _core.is_tracking() else 0) + Checkpointer.running + _state["relay_threads"]
    return threads - own


# --- subprocess children that run python (--follow-subprocesses) ------------------------------


def _wrap_subprocess(subprocess: Any) -> None:
    popen = subprocess.Popen
    execute = popen._execute_child
    if getattr(execute, "_memslim", False):
        return
    parameters = list(inspect.signature(execute).parameters)
    shell_at = parameters.index("shell") if "shell" in parameters else -1
    env_at = parameters.index("env") if "env" in parameters else -1

    def _execute_child(self: Any, args: Any, executable: Any, *rest: Any, **named: Any) -> Any:
        settings = _state["settings"]
        if settings is not None and settings.subprocesses:
            shell = rest[shell_at - 3] if 0 <= shell_at - 3 < len(rest) else named.get("shell")
            env = rest[env_at - 3] if 0 <= env_at - 3 < len(rest) else named.get("env")
            if not shell and executable is None and isinstance(args, (list, tuple)):
                with contextlib.suppress(Exception):  # anything odd: the child as it was
                    args = with_memslim(list(args), settings, env) or args
        return execute(self, args, executable, *rest, **named)

    _execute_child._memslim = True  # type: ignore[attr-defined]
    _execute_child.__wrapped__ = execute  # type: ignore[attr-defined]
    popen._execute_child = _execute_child


_FLAGS = set("bBdhiOqRsuvVx")  # python's options without a value (not E, I, S: see below)


def with_memslim(
    args: list[Any], settings: Settings, env: dict[str, str] | None = None
) -> list[str] | None:
    """``python [options] script|-m module [args]`` run under ``memslim run --child-into``, or
    None: not this interpreter, ``-c`` or stdin, options that hide memslim from the child
    (``-S``, ``-E``, ``-I``), or a child that could not import memslim."""
    if not args or not all(isinstance(a, str) for a in args):
        return None
    found = shutil.which(args[0]) if os.sep not in args[0] else args[0]
    if found is None or os.path.realpath(found) != os.path.realpath(sys.executable):
        return None
    options: list[str] = []
    i = 1
    while i < len(args):
        word = args[i]
        if word in ("-W", "-X", "--check-hash-based-pycs"):
            if i + 1 >= len(args):
                return None
            options += args[i : i + 2]
            i += 2
        elif word == "-m" or word.startswith("-m"):
            module = word[2:] or (args[i + 1] if i + 1 < len(args) else "")
            rest = args[i + 1 :] if word[2:] else args[i + 2 :]
            target = ["-m", module, *rest] if module else []
            break
        elif word.startswith(("-W", "-X")):
            options.append(word)
            i += 1
        elif word.startswith("-") and word != "-" and not word.startswith("--"):
            if not set(word[1:]) <= _FLAGS:
                return None  # -c, -E, -I, -S, or an option this does not know
            options.append(word)
            i += 1
        elif word.startswith("-"):
            return None  # "-" (stdin), --version, --help, ...
        else:
            target = args[i:]
            break
    else:
        return None  # an interactive interpreter
    if not target or not _importable_in(env):
        return None
    run = ["-m", "memslim", "run", "--child-into", settings.directory, "--mode", settings.mode]
    run += ["--sample-interval", str(int(settings.sample_interval)), "--seed", str(settings.seed)]
    run += [] if settings.native else ["--python-only"]
    run += ["--full-import-stacks"] if settings.full_import_stacks else []
    run += ["--follow-subprocesses", "--"]
    return [args[0], *options, *run, *target]


def _importable_in(env: dict[str, str] | None) -> bool:
    """Whether a child with this environment (None: this one's) imports this memslim: from
    this interpreter's site-packages, or from its PYTHONPATH."""
    import memslim

    home = os.path.dirname(os.path.dirname(os.path.abspath(memslim.__file__)))
    if any(os.path.realpath(p) == os.path.realpath(home) for p in _site_packages()):
        return True
    path = (os.environ if env is None else env).get("PYTHONPATH", "")
    return any(p and os.path.realpath(p) == os.path.realpath(home) for p in path.split(os.pathsep))


# --- in a child ------------------------------------------------------------------------------


def _after_fork() -> None:
    from memslim import _core

    settings = _state["settings"]
    if settings is None or _core.in_census_child():
        return
    try:
        if _core.in_forked_child():
            _start_child(restart=True)  # forked while tracking: the program, or a child
        elif not _core.is_tracking():
            _start_child(restart=False)  # forked from a fork server
    except Exception as e:
        _say(f"memslim: child {os.getpid()} not tracked: {type(e).__name__}: {e}")


@dataclass
class _Child:
    settings: Settings
    started_at: float  # time.time() when tracking started
    checkpoints: Any
    lock: Any = field(default_factory=_thread.allocate_lock)  # held while finish() writes
    inside: set[int] = field(default_factory=set)  # threads in finish()
    finished: bool = False  # finish() began
    signal_after: int = 0  # a signal whose handler interrupted finish(): ends the child after


def _start_child(*, restart: bool) -> None:
    from memslim import _core, _native
    from memslim._tracking import watch_gc

    settings: Settings = _state["settings"]
    _core.set_census(None)  # censuses are the parent's (the callback is its copy)
    # Before tracking (re)starts: nothing here is the program's, and the checkpoints' thread
    # makes 16 KiB of frame stack before its first line, which would be a "<native thread>"
    # line in the child's report (a forked child records nothing until the restart).
    _set_up_child(settings)
    if restart:
        _core.restart_in_forked_child()
    else:
        s = settings
        _core.start_tracking(
            s.mode,
            float(s.sample_interval),
            s.seed,
            stacks_above_caller=False,
            full_import_stacks=s.full_import_stacks,
        )
        _native.start(native=s.native)
        watch_gc(True)


def _set_up_child(settings: Settings) -> None:
    from memslim import _core
    from memslim._threads import start_thread
    from memslim.capture import Checkpointer

    path = os.path.join(settings.directory, f"{os.getpid()}{SUFFIX}")
    Checkpointer.running = 0  # after a fork, only the forking thread lives on
    _state["relay_threads"] = 0
    child = _Child(settings, time.time(), None)
    checkpoints = Checkpointer(path, settings.command, process=lambda: _process(child))
    child.checkpoints = checkpoints
    _state["child"] = child
    checkpoints.start()
    # The ways a child ends: os._exit (multiprocessing's forked workers), a normal exit
    # (spawned ones), SIGTERM (Pool.terminate); each writes the capture first.
    as_the_real_one(_exit_after_capture, _real_exit)
    os._exit = posix._exit = _exit_after_capture
    atexit.register(finish, None)
    with contextlib.suppress(ValueError, OSError):  # not the main thread: no handler
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, _on_sigterm):
            signal.signal(signal.SIGTERM, _on_sigterm)
            if _core.relay_signal(signal.SIGTERM):
                start_thread(_on_relayed_signal)
                _state["relay_threads"] = 1


def _process(child: _Child) -> dict[str, Any]:
    """The ``process`` block of a child's report."""
    name = f"fork of {os.getppid()}"
    mp = sys.modules.get("multiprocessing")
    if mp is not None:
        with contextlib.suppress(Exception):
            current = mp.current_process()
            if current.name != "MainProcess":
                name = current.name
                target = getattr(current, "_target", None)
                if target is not None:
                    name += f" ({getattr(target, '__qualname__', None) or repr(target)})"
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "name": name,
        "started_at": child.started_at,
    }


def _ready_for_a_child() -> None:
    """Before the program forks: what a forked child needs to write its capture at its end is
    imported here, once, in the parent, not recorded, rather than in every child. A pool that
    forked a worker per task spent 50 of each child's 60 ms importing the report's modules, and
    its run took 10-15 times python's (a helper's programs, 2026-12-06)."""
    if "memslim.report.json_report" in sys.modules:
        return
    from memslim import _core

    tracked = _core.set_thread_tracked(False)
    try:
        with contextlib.suppress(Exception):  # the child imports it then, as before
            import memslim.report.json_report  # noqa: F401
    finally:
        _core.set_thread_tracked(tracked)


def finish(exit_code: int | None) -> None:
    """The child is ending: stop tracking and write its complete capture (once; a second
    thread that calls it waits until the capture is written)."""
    child = _state.get("child")
    if child is None or child.checkpoints._pid != os.getpid():
        return
    me = _thread.get_ident()
    child.inside.add(me)  # before the lock: a handler that interrupts this thread sees it
    try:
        with child.lock:
            if not child.finished:
                child.finished = True
                _write_final_capture(child, exit_code)
    finally:
        child.inside.discard(me)
    if child.signal_after:  # SIGTERM came while the capture was written: it ends the child now
        _die_of(child.signal_after)


def _write_final_capture(child: _Child, exit_code: int | None) -> None:
    try:
        from memslim import _core, _native
        from memslim._tracking import watch_gc

        child.checkpoints.stop()
        _core.stop_tracking()
        _native.stop()
        watch_gc(False)
        child.checkpoints.checkpoint(exit_code=exit_code, complete=True)
    except Exception as e:  # the child's exit is its own: say why, never raise
        if os.path.isdir(child.settings.directory):  # else the parent's report is made
            _say(f"memslim: child {os.getpid()}'s capture not written: {type(e).__name__}: {e}")


def _exit_after_capture(status: int) -> None:
    finish(status)
    _real_exit(status)


_real_exit = posix._exit  # imported before the program: memslim run replaces posix's


def _on_sigterm(signum: int, frame: Any) -> None:
    """Python's handler, in the main thread."""
    from memslim import _core

    _core.spare_from_signal()  # memslim's code runs: the capture is written (see below)
    child = _state.get("child")
    if child is not None and _thread.get_ident() in child.inside:
        # The child is ending already (a Pool worker told to stop, then terminated) and its
        # capture is being written, by the code this handler interrupted or by memslim's
        # thread it waits for: let that end first (the lock is not reentrant).
        child.signal_after = signum
        return
    finish(-signum)
    _die_of(signum)


# How long a child told to end (SIGTERM) may take to run memslim's code, which writes its
# capture, before it ends without it (its last checkpoint stands): python ends such a child at
# once; a Pool worker in one long C call holding the GIL ended only when the call returned
# (7.7 s on a helper's program, 2026-12-06; a call that never returns, never). Any other child
# runs memslim's code within milliseconds (its main thread's handler, or the relay's thread
# once the GIL is free): the grace is for a machine too busy to schedule either.
SIGNAL_GRACE_SECONDS = 2.0


def _on_relayed_signal() -> None:
    """memslim's thread, woken by the relayed SIGTERM wherever the main thread is."""
    from memslim import _core

    signum = _core.wait_for_relayed_signal(SIGNAL_GRACE_SECONDS)
    if signum:
        finish(-signum)
        _die_of(signum)


def _die_of(signum: int) -> None:
    """Ends the process by ``signum``, as it would have ended without memslim's handler."""
    from memslim import _core

    _core.die_of_signal(signum)


def _say(line: str) -> None:
    with contextlib.suppress(Exception):
        print(line, file=sys.__stderr__, flush=True)


# --- in the parent, after the program ----------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    path: str
    report: dict[str, Any]
    complete: bool


def collect(directory: str) -> tuple[list[ChildRun], list[str]]:
    """The children's captures in ``directory`` (by start time), and one line for each file
    that could not be read."""
    from memslim.capture import CaptureError, read_capture

    runs, problems = [], []
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(SUFFIX))
    except OSError:
        return [], []
    for name in names:
        path = os.path.join(directory, name)
        try:
            capture = read_capture(path)
        except CaptureError as e:
            problems.append(f"{name}: {e}")
            continue
        if not isinstance(capture.report.get("process"), dict):
            problems.append(f"{name}: not a child's capture")
            continue
        runs.append(ChildRun(path, capture.report, capture.complete))
    runs.sort(key=lambda r: (r.report["process"].get("started_at", 0), r.report["process"]["pid"]))
    return runs, problems


def _series(report: dict[str, Any], offset: float) -> list[tuple[float, int]]:
    """A process's traced bytes over time (seconds since the parent started): its timeline,
    its exact peak, and nothing once it ended."""
    points = [(offset + row["t"], int(row["traced_bytes"])) for row in report.get("timeline", [])]
    peak = report["peak"]
    points.append((offset + float(peak["at_s"]), int(peak["traced_bytes"])))
    points.sort()
    points.append((offset + float(report.get("duration_s", points[-1][0] - offset)) + 1e-6, 0))
    return points


def tree_peak(series: list[list[tuple[float, int]]]) -> tuple[int, float]:
    """The highest sum over time of step functions (each holds its last value until its next
    point), and when: (bytes, seconds)."""
    events = sorted((t, i, b) for i, points in enumerate(series) for t, b in points)
    now = [0] * len(series)
    total, best, when = 0, 0, 0.0
    for t, i, b in events:
        total += b - now[i]
        now[i] = b
        if total > best:
            best, when = total, t
    return best, when


def merged(parent: dict[str, Any], children: list[ChildRun], *, top: int = 20) -> dict[str, Any]:
    """The parent report's ``processes``, ``tree_peak`` and ``lines_across_processes``."""
    started = float(parent["process"]["started_at"])
    rows = []
    series = [_series(parent, 0.0)]
    lines = [(row, parent["process"]["pid"]) for row in parent.get("lines", [])]
    for child in children:
        report, process = child.report, child.report["process"]
        offset = float(process["started_at"]) - started
        rows.append(
            {
                "pid": process["pid"],
                "ppid": process["ppid"],
                "name": process["name"],
                "started_s": round(offset, 6),
                "duration_s": report["duration_s"],
                "peak_traced_bytes": report["peak"]["traced_bytes"],
                "peak_at_s": round(offset + float(report["peak"]["at_s"]), 6),
                "end_traced_bytes": report["end"]["traced_bytes"],
                "exit_code": report.get("exit_code"),
                "complete": child.complete,
                "capture": child.path,
            }
        )
        series.append(_series(report, offset))
        lines.extend((row, process["pid"]) for row in report.get("lines", []))
    best, when = tree_peak(series)
    lines.sort(key=lambda pair: -pair[0]["bytes_at_peak"])
    return {
        "processes": rows,
        "tree_peak": {"traced_bytes": best, "at_s": round(when, 6), "processes": len(series)},
        "lines_across_processes": [
            {
                "pid": pid,
                "file": row["file"],
                "line": row["line"],
                "function": row["function"],
                "bytes_at_peak": row["bytes_at_peak"],
            }
            for row, pid in lines[:top]
        ],
    }
