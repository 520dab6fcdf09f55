"""The ``memslim`` command."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import errno
import fcntl
import gc
import math
import os
import pickle
import platform
import posix
import resource
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any, NoReturn, TextIO

from memslim._replace import as_the_real_one
from memslim.cli.target import (
    Outcome,
    Prepared,
    Target,
    TargetError,
    prepare,
    print_syntax_error,
    run,
    with_the_programs_tracers,
)

# Traced bytes grow by this share from one census to the next. Each census forks, and the
# program then takes a page fault for each page of its heap it writes: a heap that grows
# steadily pays for about (1 + margin) / margin forks of its final size. In exact mode the
# last census sees 95% of a peak, passing ones too. Sample mode, made to cost less, takes
# them further apart and scales what its last census saw to the peak, site by site, from the
# tracker's samples (advice's Run.peak_scale).
EXACT_MARGIN = 0.05
SAMPLE_MARGIN = 0.25


def _add_target_arguments(parser: argparse.ArgumentParser) -> None:
    # Only for the usage and help: main() cuts the target off before argparse sees it
    # (split_target), so that its arguments are never taken for memslim's.
    parser.add_argument(
        "-m", dest="module", metavar="MODULE", help="run a module, like python -m (ends options)"
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="script.py [args...]",
        help="the script to run; it and every word after it go to the program",
    )


def _positive_int(text: str) -> int:
    """A count or a byte interval: from 1 to 2**63 - 1, what the tracker's integers hold (a
    --top of 2**64 ran the program, then failed with a traceback; a --sample-interval of
    2**1024, with one before it started)."""
    value = int(text)
    if not 1 <= value < 1 << 63:
        raise argparse.ArgumentTypeError("must be from 1 to 2**63 - 1")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number, not {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError(f"must be from 0 to 2**64 - 1, not {value}")
    return value


def _add_top(parser: argparse.ArgumentParser, default: int, what: str) -> None:
    parser.add_argument(
        "--top",
        type=_positive_int,
        default=default,
        metavar="N",
        help=f"{what} to show (default {default})",
    )


class _VersionAction(argparse.Action):
    """``--version``: memslim's version and the interpreter's."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        import memslim

        print(f"memslim {memslim.__version__} (CPython {platform.python_version()})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memslim",
        description="Find out where a Python program's memory goes.",
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run_parser = commands.add_parser(
        "run",
        help="run a script and charge every allocation to its line and stack",
        description=(
            "Run a script (or -m module) as __main__ and charge every Python-level allocation "
            "to its line and stack. The report (peak, top lines and stacks at the peak) goes to "
            "stderr; the target's output and exit status are its own."
        ),
    )
    run_parser.add_argument(
        "--mode",
        choices=("exact", "sample"),
        default="exact",
        help="exact: every block (default); sample: a byte-interval sample, lower overhead",
    )
    run_parser.add_argument(
        "--sample-interval",
        type=_positive_int,
        default=256 * 1024,
        metavar="BYTES",
        help="sample mode: mean bytes between samples (default 262144)",
    )
    run_parser.add_argument(
        "--seed", type=_seed, default=0, help="sample mode: random seed (default: random)"
    )
    run_parser.add_argument("--json", metavar="FILE", help="write the report as JSON (memslim/1)")
    run_parser.add_argument(
        "--html", metavar="FILE", help="write the report as one self-contained HTML page"
    )
    run_parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write a capture file, checkpointed while the program runs (a killed run leaves "
        "its last checkpoint): read it with `memslim report FILE`",
    )
    _add_top(run_parser, 10, "lines")
    run_parser.add_argument(
        "--patch",
        metavar="FILE",
        help="write the findings' mechanical fixes (generator expressions, __slots__, pandas "
        "column dtypes, NumPy dtypes, array.array, tuples, deques, sys.intern, weak "
        "references, bounded caches) as a unified diff to FILE, for git apply",
    )
    run_parser.add_argument(
        "--verify",
        action="store_true",
        help="apply those fixes in a temporary copy of the current directory and run the program "
        "there again, as it is, patched, and with each fix alone: what each fix saved, and "
        "whether the output and exit status stayed the same",
    )
    run_parser.add_argument(
        "--limit",
        type=_size,
        metavar="SIZE",
        help="a memory limit (2GiB, 512M, 1.5GB): whether the program's peak fits it and which "
        "findings together bring it under (default: the cgroup's limit, in a container)",
    )
    run_parser.add_argument(
        "--no-census",
        dest="census",
        action="store_false",
        help="do not take heap censuses as traced bytes reach new highs (less advice)",
    )
    run_parser.add_argument(
        "--python-only",
        action="store_true",
        help="trace Python's allocators only: not NumPy's array buffers nor native code's malloc",
    )
    run_parser.add_argument(
        "--no-children",
        dest="children",
        action="store_false",
        help="do not track child processes (multiprocessing, os.fork)",
    )
    run_parser.add_argument(
        "--all-frames",
        action="store_true",
        help="top lines by each stack's innermost line, library lines included (default: the "
        "program's own lines, with the library lines under each)",
    )
    run_parser.add_argument(
        "--full-import-stacks",
        action="store_true",
        help="keep every frame of stacks inside imports (default: of each imported module's "
        "frames, its own line, and the allocating line when it is the module's own code: far "
        "fewer stacks to store)",
    )
    run_parser.add_argument(
        "--follow-subprocesses",
        action="store_true",
        help="also track `subprocess` children that run this Python (script or -m module)",
    )
    # A `subprocess` child of a tracked program, run by memslim (children.with_memslim): its
    # capture goes into the parent's directory of children; no report of its own.
    run_parser.add_argument("--child-into", metavar="DIR", help=argparse.SUPPRESS)
    run_parser.add_argument(
        "--all-findings",
        action="store_true",
        help="show every finding, also those saving under 1 MiB or 1%% of the peak, and lossy ones",
    )
    _add_target_arguments(run_parser)

    report = commands.add_parser(
        "report",
        help="report on a capture file written by `memslim run -o FILE`",
        description=(
            "Read a capture file and print its report; with --json, also write it as JSON "
            "(memslim/1). A capture left by a run that was killed is complete up to its last "
            "checkpoint, and says so."
        ),
    )
    report.add_argument("file", help="the capture file")
    report.add_argument("--json", metavar="FILE", help="write the report as JSON (memslim/1)")
    report.add_argument(
        "--html", metavar="FILE", help="write the report as one self-contained HTML page"
    )
    report.add_argument(
        "--all-frames",
        action="store_true",
        help="top lines by each stack's innermost line (default: the program's own lines)",
    )
    _add_top(report, 10, "lines")

    diff = commands.add_parser(
        "diff",
        help="compare two runs (JSON reports or capture files); --fail-over for CI",
        description=(
            "Compare two runs: peak and end, the lines and types that grew or shrank, the "
            "findings that appeared or disappeared. Each side is a memslim/1 JSON report "
            "(memslim run --json) or a capture file (memslim run -o). Exit status: 0, 1 when "
            "--fail-over is given and the peak grew by more than that, 2 for a file that "
            "cannot be read."
        ),
    )
    diff.add_argument("old", help="the earlier run's report or capture")
    diff.add_argument("new", help="the later run's report or capture")
    diff.add_argument(
        "--fail-over",
        type=_finite,
        metavar="PERCENT",
        help="exit 1 if the peak grew by more than PERCENT percent",
    )
    diff.add_argument("--json", metavar="FILE", help="write the diff as JSON (memslim-diff/1)")
    _add_top(diff, 10, "rows")

    attach = commands.add_parser(
        "attach",
        help="take a census of a running Python process, without restarting it",
        description=(
            "Take a census of a running CPython 3.11-3.13 process (the same version as this "
            "memslim's): its objects by type, what retains the most, and the advice that needs "
            "only a census. With --track, also record its allocations for that long and show "
            "what grew. Needs gdb and ptrace permission; the process is stopped only while gdb "
            "injects the request (it runs at the process's next Python instruction)."
        ),
    )
    attach.add_argument("pid", type=int, help="the process id")
    attach.add_argument("--json", metavar="FILE", help="write the answer as JSON")
    attach.add_argument(
        "--track",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="record allocations for this long first, then report what grew",
    )
    attach.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the process to run Python code (default 30)",
    )
    attach.add_argument(
        "--all-findings", action="store_true", help="show every finding, also small ones"
    )
    _add_top(attach, 10, "rows")

    heap = commands.add_parser(
        "heap",
        help="report on a heap snapshot saved by memslim.save_snapshot()",
        description=(
            "Read a heap snapshot file and print its census by type, what each type retains, "
            "and (with --baseline) what grew since an earlier snapshot."
        ),
    )
    heap.add_argument("file", help="the snapshot file")
    heap.add_argument("--baseline", metavar="FILE", help="an earlier snapshot to compare with")
    _add_top(heap, 15, "rows")

    sizeof = commands.add_parser(
        "sizeof",
        help="run a script, then show the true deep size of each of its global variables",
        description=(
            "Run a script (or -m module) to the end, then measure each of its global "
            "variables with memslim.sizeof and show the largest, with a breakdown by type."
        ),
    )
    _add_top(sizeof, 10, "globals")
    _add_target_arguments(sizeof)
    return parser


# Commands that run a program: memslim's options end where the target starts.
_RUNNERS = ("run", "sizeof")
# Lines (and their frames) the run's report reads from the tracker: the largest at the peak.
REPORT_LINES = 1000


def split_target(argv: list[str], parser: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """``argv`` cut where the program to run starts, as ``python`` cuts its own: the first word
    that is not one of the command's options (or an option's value) is the script, and ``-m
    MODULE`` names a module; everything after goes to the program untouched (``--``, ``-h``,
    ``--json`` included). A ``--`` before the target ends memslim's options and is dropped.
    Returns (memslim's words, the target's words: ``[script, ...]`` or ``["-m", MODULE, ...]``).
    """
    if not argv or argv[0] not in _RUNNERS:
        return argv, []
    subcommands = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    takes_value = {
        option
        for action in subcommands[argv[0]]._actions
        if action.nargs != 0 and action.option_strings
        for option in action.option_strings
    }
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return argv[:i], argv[i + 1 :]
        if word == "-m" or (word.startswith("-m") and not word.startswith("--")):
            module = word[2:] or (argv[i + 1] if i + 1 < len(argv) else "")
            rest = argv[i + 1 :] if word[2:] else argv[i + 2 :]
            return argv[:i], ["-m", module, *rest] if module else ["-m"]
        if word == "-" or not word.startswith("-"):
            return argv[:i], argv[i:]
        # One of memslim's options (or one argparse will reject): its value comes with it.
        i += 2 if word in takes_value else 1
    return argv, []


def _target_from(command: str, words: list[str], parser: argparse.ArgumentParser) -> Target:
    if words[:1] == ["-m"]:
        if len(words) < 2:
            parser.error(f"{command}: -m needs a module name")
        return Target(module=words[1], args=words[2:])
    if not words:
        parser.error(f"{command}: give a script to run (or -m MODULE)")
    return Target(script=words[0], args=words[1:])


def _heap_report(args: argparse.Namespace) -> int:
    from memslim.heap import load_snapshot
    from memslim.report.terminal import print_saved_heap

    try:
        heap = load_snapshot(args.file)
        baseline = load_snapshot(args.baseline) if args.baseline else None
    except (OSError, ValueError) as e:
        print(f"memslim: {e}", file=sys.stderr)
        return 1
    print_saved_heap(heap, baseline, title=args.file, top=args.top)
    return 0


def _wait_for_threads(set_tracked: Callable[[bool], bool]) -> None:
    """What the interpreter does first when the program ends (``threading._shutdown``): the
    functions registered with ``threading._register_atexit`` run (concurrent.futures' tells
    an executor's idle workers to end: a ThreadPoolExecutor never shut down hung the run), and
    every non-daemon thread is joined, again while one that was joined started another. What
    the program's threads allocate meanwhile is the program's; what this thread allocates here
    is memslim's own, not recorded (with ``set_tracked``, ``_core.set_thread_tracked``): the
    lists of threads, whose stack, threading.enumerate under memslim's frames, was a line of
    the program's in the report of a program that never used a thread. The interpreter's own
    call at exit then finds it done and returns."""
    tracked = set_tracked(False)
    try:
        shutdown = getattr(threading, "_shutdown", None)
        if shutdown is not None:
            with_the_programs_tracers(shutdown)
            return
        main = threading.main_thread()
        joined: set[threading.Thread] = set()  # once each: a join that returns early ends none
        while True:
            waiting = [
                t
                for t in threading.enumerate()
                if t is not main and not t.daemon and t not in joined
            ]
            if not waiting:
                return
            for thread in waiting:
                thread.join()
                joined.add(thread)
    finally:
        set_tracked(tracked)


def _from_threading(exception: BaseException) -> BaseException:
    """``exception`` with its traceback from the threading module's frame on, as when the
    interpreter calls ``threading._shutdown`` itself (memslim's frames above it left out)."""
    tb = exception.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != threading.__file__:
        tb = tb.tb_next
    return exception.with_traceback(tb) if tb is not None else exception


def _stop_the_programs_monitoring() -> None:
    """After the program and its atexit handlers: the events of the sys.monitoring tools it
    left registered (3.12+) are turned off, since what runs from here on is memslim's report
    (as its trace and profile functions are, target._set_tracers_aside)."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        for tool in range(6):  # the tools' ids; sys.settrace's own are above
            with contextlib.suppress(ValueError):
                if monitoring.get_tool(tool) is not None:
                    monitoring.set_events(tool, monitoring.events.NO_EVENTS)


def _run_tracked(args: argparse.Namespace, target: Target, prepared: Prepared) -> int:
    from memslim import _core, _native, _stacks
    from memslim._tracking import watch_gc

    start_pid = os.getpid()
    _keep_stderr()
    census: dict[str, object] = {}
    # Each census's top retainers (traced bytes, [(path, retained, items)]): what grows.
    history: list[tuple[int, list[tuple[str, int, int | None]]]] = []
    forked = None
    if args.census:
        from memslim._paths import library_dirs
        from memslim.forked_census import (
            NEAR_PEAK,
            ForkedCensuses,
            hide_census_children_from_waits,
            leave_the_programs_fork_hooks,
            raised_by_a_signal_handler,
        )
        from memslim.heap import retainer_summary, take_raw_census

        census_top = max(args.top, 10)  # retainers each census keeps
        margin = SAMPLE_MARGIN if args.mode == "sample" else EXACT_MARGIN
        forked = ForkedCensuses(top=census_top)

        def take_census() -> bool:
            # Runs at a safe point while traced bytes reach a new high (see _core.set_census):
            # a forked child walks a copy of the heap while the program runs on. False: not
            # now, the census stays due (a fork here could wait on a lock).
            try:
                return census_here(sys._getframe(1))
            except BaseException as e:
                # A signal handler of the program's that raised while the census ran: the
                # exception is the program's (an alarm's TimeoutError was taken for a failed
                # fork, and a program that waited for it looped forever).
                if raised_by_a_signal_handler(e):
                    _core.census_raised_for_the_program(e)
                raise

        def census_here(frame: types.FrameType) -> bool:
            # Not where the memory cgroup's limit has no room for one: the kernel would kill a
            # process to make room (a census child first; with memory.oom.group, the program
            # too). Counted and said in the report; the margin moves on as if it was taken.
            if forked.no_room_to_fork():
                return True
            try:
                if not forked.take():
                    return False
                forked.follow_the_call(frame)
                return True
            except OSError as e:  # no fork here (limits, ForkUnsafe): walk the heap in process
                if raised_by_a_signal_handler(e):
                    raise
            visible = _core.visible_traced_bytes()
            if _core.census_is_follow_up() or not forked.sees_nothing_new(visible, margin):
                traced = _core.traced_bytes()
                census.clear()  # the previous census is memslim's, not the program's: not counted
                began = time.perf_counter()
                raw = take_raw_census(census_top, advice=True)
                forked.in_process(time.perf_counter() - began, visible)
                census["raw"] = raw
                census["traced_bytes"] = traced
                census["visible"] = min(visible, raw["bytes"])  # as a forked one's (chosen)
                history.append((traced, retainer_summary(raw)))
            # In a library's call (pandas 3.1's parallel read_csv, whose threads parse without
            # the GIL: ForkUnsafe), what the call returns is seen by a census after it, forked
            # then, whether or not this one was walked; without this the usecols pair lost its
            # finding under the sanitizers.
            forked.follow_the_call(frame)
            return True

        _core.set_census(take_census, margin, 4 << 20)
        leave_the_programs_fork_hooks()
        hide_census_children_from_waits()
        # Where the libraries are (sysconfig), read now: a census asks (follow_the_call), and
        # a Ctrl-C inside sysconfig's first reading, in a census, left it half made: the
        # report then failed on it (3.13, test_sigint_is_never_lost_whenever_it_arrives).
        library_dirs()
    # Whatever memslim imports or builds for the run, before tracking starts: a module imported
    # while it runs would be charged to the program (155 KiB of dataclass and enum code on a
    # program that only printed a line).
    from memslim._threads import OwnWork
    from memslim.capture import Checkpointer
    from memslim.children import quiet_fork_warning

    if args.output:
        # Checkpoints build the report while the program runs. Without them the report's
        # modules (the advice rules above all: 14 ms) are imported after the program.
        import memslim.report.json_report  # noqa: F401

    # On 3.12+ its warning filter compiles a regular expression: 8.7 KiB charged to a program
    # that only printed a line, when it ran after tracking had started.
    quiet_fork_warning()
    children_dir = _follow_children(args, target) if args.children else None
    process = {
        "pid": start_pid,
        "ppid": os.getppid(),
        "name": " ".join(target.argv) if args.child_into else "main",
        "started_at": time.time(),
    }
    checkpoints = None
    if args.output:
        # Its thread starts before tracking does: what a new thread allocates before its first
        # line (16 KiB of frame stack) was a "<native thread>" line of the program's.
        checkpoints = Checkpointer(
            args.output,
            target.argv,
            process=lambda: process,
            census=None if forked is None else forked.latest,
        )
        checkpoints.start()
    watch_gc(True)
    # Stacks stop at this frame: the runner beneath the target is the same for every allocation.
    _stacks.forget()
    if forked is not None:
        forked.start_clock()
    # The instant the tracker's times (peak, timeline) count from, on the wall clock: the
    # process tree's peak lines up its processes' times by it. Taken where the process dict is
    # made, some steps earlier, a spawned worker descheduled between the two (a busy machine)
    # had its times shifted earlier than its sibling's, and the tree's peak of two workers that
    # held their data at once (a barrier) missed their overlap (CI-like load, 1 run in ~15).
    process["started_at"] = time.time()
    _core.start_tracking(
        args.mode,
        float(args.sample_interval),
        args.seed,
        stacks_above_caller=True,
        full_import_stacks=args.full_import_stacks,
    )
    _native.start(native=not args.python_only)

    def census_at_end() -> None:
        # A program that ends at its peak (its data held by module globals, or its peak
        # reached while importing, when censuses wait) has its census taken now.
        if forked is None:
            return
        # No census after this one: a plateau's or a margin's, asked for as the program ended,
        # would otherwise run at the first bytecode of memslim's own that follows.
        _core.set_census(None)
        peak, now = _core.peak_traced_bytes(), _core.traced_bytes()
        in_process = int(census.get("traced_bytes", -1))  # type: ignore[call-overload]
        if forked.behind(peak, now) and in_process < NEAR_PEAK * peak:
            with OwnWork():  # as in a census the tracker calls (the path's posixpath lines)
                take_census()

    def stop() -> None:
        # memslim's own work from here on (a call, not OwnWork's with block, whose object and
        # bound methods would be the program's last allocations); tracking stops below.
        tracked = _core.set_thread_tracked(False)
        if children_dir is not None:
            from memslim import children

            children.unfollow()
        if checkpoints is not None:
            checkpoints.stop()
        _core.stop_tracking()
        _core.set_thread_tracked(tracked)
        _native.stop()
        _core.set_census(None)
        watch_gc(False)

    # How many of the program's threads were left when it ended (end_other_threads).
    threads_left: list[int | None] = [None]

    def end_other_threads(before: Callable[[], object] | None = None) -> None:
        """The program has ended: its threads still running (daemon threads, and others when
        a Ctrl-C stopped the wait for them) end at their next take of the GIL, as when the
        interpreter exits, instead of running on through the report, printing after the
        program's last line and taking the CPU (three CPU-bound daemon threads made a 0.3 s
        program's run take 1.9 s). ``before`` runs first (the atexit handlers, which may still
        need them: a logging QueueListener's stop joins its daemon thread). memslim's own
        thread, which the end joins, is stopped before."""
        if checkpoints is not None:
            checkpoints.stop()
        # The handlers under the program's tracers, the mark in the same C call.
        threads_left[0] = with_the_programs_tracers(_core.finalize_other_threads, before)
        _stop_the_programs_monitoring()

    def at_end(outcome: Outcome) -> Outcome:
        """What python does after the program's last line, in the program's world (run)."""
        try:
            _wait_for_threads(_core.set_thread_tracked)
        except KeyboardInterrupt as e:
            if sys.version_info >= (3, 13):
                outcome = Outcome(130, outcome.main_globals, interrupted=True)
            else:
                # Python 3.11 and 3.12 report it as ignored in the threading module and end
                # as the program did (status 0 after its last line: memslim said -2).
                _core.write_unraisable(_from_threading(e), threading)
        census_at_end()
        if os.getpid() == start_pid and not _core.in_forked_child():
            # Then the program's atexit handlers, as the interpreter runs them next (a forked
            # child of the program's runs them as it exits), and its threads still running
            # end there, as they do at the interpreter's exit (end_other_threads). Not
            # recorded, as when they ran after the report: what is registered there is
            # mostly the libraries' (certifi's, imported by a .pth file at startup).
            tracked = _core.set_thread_tracked(False)
            try:
                end_other_threads(atexit._run_exitfuncs)
            finally:
                _core.set_thread_tracked(tracked)
        return outcome

    def finish(outcome: Outcome) -> int:
        try:
            return _finish_run(
                args,
                target,
                outcome,
                forked,
                census,
                history,
                checkpoints,
                process,
                children_dir,
                threads_left[0],
            )
        except OSError as e:
            if e.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            # The report imports its modules and opens its files after the program: a program
            # that left no descriptor free (it may, and python exits as it did) got memslim's
            # traceback and exit status 1.
            _say(f"memslim: no report: the program left no file descriptor free ({e.strerror})")
            return outcome.exit_code
        except ImportError as e:
            # A module the report needs cannot be imported after the program (`python -S`
            # with memslim on PYTHONPATH leaves rich, in site-packages, off the path): it was
            # memslim's traceback and status 1.
            _say(f"memslim: no report: {e}")
            return outcome.exit_code

    real_exit = os._exit

    def exit_now(status: int) -> NoReturn:
        """os._exit, called by the program itself: the process ends without unwinding, so the
        report is made first (the JSON above all), then the real os._exit. Forked children
        (census children, multiprocessing's) and other threads exit at once."""
        if (
            os.getpid() == start_pid
            and not _core.in_forked_child()
            and threading.current_thread() is threading.main_thread()
        ):
            os._exit = posix._exit = real_exit
            with contextlib.suppress(BaseException):
                end_other_threads()
                census_at_end()
                stop()
                main = sys.modules.get("__main__")
                finish(Outcome(status, dict(getattr(main, "__dict__", {}))))
        real_exit(status)

    as_the_real_one(exit_now, real_exit)
    os._exit = posix._exit = exit_now
    try:
        outcome = run(prepared, target, _core.set_thread_tracked, at_end)
    finally:
        os._exit = posix._exit = real_exit
        stop()
    if os.getpid() != start_pid or _core.in_forked_child():
        # A forked child that returned through the program: its capture, if it tracks itself;
        # the report is the parent's to write.
        from memslim import children

        children.finish(outcome.exit_code)
        return outcome.exit_code
    _ended_by_ctrl_c[0] = outcome.interrupted
    return finish(outcome)


def _follow_children(args: argparse.Namespace, target: Target) -> str | None:
    """Children track themselves into a directory of captures: ``FILE.children`` beside the
    capture of ``-o FILE`` (its earlier captures removed), else a temporary one."""
    from memslim import children
    from memslim._files import run_directory

    try:
        if args.child_into:  # a subprocess child: its own children go beside it
            directory = args.child_into
        elif args.output:
            directory = args.output + ".children"
            os.makedirs(directory, exist_ok=True)
            for name in os.listdir(directory):
                if name.endswith(children.SUFFIX):
                    os.unlink(os.path.join(directory, name))
        else:
            directory = run_directory("children")
    except OSError as e:
        _say(f"memslim: child processes not tracked: {e.strerror or e}")
        return None
    children.follow(
        children.Settings(
            directory=os.path.abspath(directory),
            mode=args.mode,
            sample_interval=float(args.sample_interval),
            seed=args.seed,
            native=not args.python_only,
            command=target.argv,
            subprocesses=args.follow_subprocesses,
            full_import_stacks=args.full_import_stacks,
        )
    )
    return directory


def _finish_run(
    args: argparse.Namespace,
    target: Target,
    outcome: Outcome,
    forked: Any,
    census: dict[str, object],
    history: list[tuple[int, list[tuple[str, int, int | None]]]],
    checkpoints: Any = None,
    process: dict[str, Any] | None = None,
    children_dir: str | None = None,
    threads_left: int | None = None,
) -> int:
    """After the program (tracking stopped): the last census, the RSS ledger, the report.
    ``threads_left``: how many of the program's threads were left when they were ended, None
    if they were not (they are ended here then)."""
    from memslim import _core

    # The program's recursion limit was the program's: the report's imports and calls nest
    # deeper than a limit it may have lowered (sys.setrecursionlimit(50): memslim's own
    # RecursionError, no report, exit 1). python's default for the rest, at least.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    # The program's threads left end at their next take of the GIL (as _run_tracked's
    # end_other_threads does, for a `finish` that came another way).
    if threads_left is None:
        threads_left = _core.finalize_other_threads()
    started_in = getattr(args, "started_in", None)
    if started_in is not None:
        with contextlib.suppress(OSError):  # gone: the program's directory it is
            os.chdir(started_in)
    from memslim.rss import RssLedger, allocators_now, process_memory

    # RSS at the end, explained: read before the report allocates anything.
    memory = process_memory()
    end = None if memory is None else RssLedger.from_parts(-1, memory, allocators_now())
    ledgers: dict[str, Any] = {"at_peak_census": None, "end": end}
    # The live-block map is read by nothing after that ledger (the censuses were forked with
    # their own copy): freed before the report allocates, as the index is after it is read.
    _core.release_blocks()
    # The report makes many short-lived objects while the program's whole heap is still alive:
    # collections during it would walk that heap again and again, for nothing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    from memslim._progress import EndProgress, to_a_fresh_line

    if not args.child_into:  # which writes no report of its own
        to_a_fresh_line(_stream())
    # Not in a `subprocess` child: its parent's terminal is the user's.
    # Nor with threads left: its thread would end at its first take of the GIL.
    progress = EndProgress(_stream(), show=not args.child_into and not threads_left)
    progress.set("reading the tracker's tables")
    progress.start()
    try:
        # The tracker's report first, while the newest census child walks on the other core:
        # on scikit-learn's bench job, 0.4 s of each, one after the other until now.
        from memslim.profile_data import OWN_PREFIX, Profile

        # The HTML page's icicle draws up to 1,000 stacks; the JSON keeps 50. The report and
        # the advice read the lines largest at the peak: the top thousand, not every line
        # that allocated (50,000 rows and their frames after importing scikit-learn: 38 MiB
        # more RSS while the program's heap is still there).
        profile = Profile.from_core(
            _core.tracking_result(
                OWN_PREFIX,
                top_stacks=1000 if args.html else 64,
                top_lines=max(REPORT_LINES, args.top),
            )
        )
        _core.release_stack_index()
        # And the report's modules (rich above all): imported after the run, not during it.
        import memslim.advice
        import memslim.report.json_report
        import memslim.report.terminal  # noqa: F401

        costs = None
        if forked is not None:
            progress.set("waiting for the last census")
            try:
                forked.finish(_core.peak_traced_bytes())
                last, forked_history, costs = forked.results(profile.peak_visible_bytes)
                ledgers["at_peak_census"] = forked.peak_ledger
                census["frame_columns"] = forked.frame_columns
                census["frame_facts"] = forked.frame_facts
                for error in forked.errors[:1]:
                    _say(f"memslim: {error}")
            except (OSError, EOFError, pickle.UnpicklingError) as e:
                _say(f"memslim: the census could not be read: {e}")
                last = None
            finally:
                forked.close()
            if last is not None and (
                "raw" not in census
                or forked.better_than(
                    int(census["traced_bytes"]),  # type: ignore[call-overload]
                    int(census.get("visible", 0)),  # type: ignore[call-overload]
                    profile.peak_visible_bytes,
                )
            ):
                census.update(raw=last[1], traced_bytes=last[0])
                history = forked_history
        return _report(
            args,
            target,
            outcome,
            profile,
            census,
            history,
            costs,
            ledgers,
            progress,
            checkpoints,
            process,
            children_dir,
        )
    finally:
        progress.close()
        if gc_was_enabled:
            gc.enable()
        if args.child_into:
            pass  # the parent's directory
        elif children_dir is not None and not args.output:
            import shutil

            shutil.rmtree(children_dir, ignore_errors=True)
        elif children_dir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(children_dir)  # only if no child wrote there


def _size(text: str) -> int:
    from memslim.limit import parse_size

    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _limit_fit(args: argparse.Namespace, profile: Any, findings: Any, ledgers: Any) -> Any:
    """The memory limit's verdict (memslim.limit.Fit), or None without a limit."""
    from memslim.limit import cgroup_limit, fit, program_peak_rss

    limit, source = getattr(args, "limit", None), "--limit"
    if limit is None:
        limit, source = cgroup_limit(), "cgroup"
    if limit is None:
        return None
    peak = program_peak_rss(profile.peak_rss_bytes, ledgers)
    return fit(limit, source, peak, findings or [])


def _report(
    args: argparse.Namespace,
    target: Target,
    outcome: Outcome,
    profile: Any,
    census: dict[str, object],
    history: list[tuple[int, list[tuple[str, int, int | None]]]],
    census_costs: dict[str, float] | None,
    ledgers: dict[str, Any],
    progress: Any,
    checkpoints: Any = None,
    process: dict[str, Any] | None = None,
    children_dir: str | None = None,
) -> int:
    # Imported after the run: the program shares its process with as few memslim objects as
    # possible (rich above all).
    from memslim.advice import Run, advise
    from memslim.report.json_report import build_report, write_report
    from memslim.report.terminal import print_run_report

    if ledgers.get("end") is not None:
        ledgers["end"] = dataclasses.replace(ledgers["end"], seconds=profile.elapsed_seconds)
    heap = None
    if "raw" in census:
        from memslim.heap import census_from_raw

        heap = (int(census["traced_bytes"]), census_from_raw(census["raw"]))  # type: ignore[call-overload,arg-type]
    # Without a census (a small or --no-census run), the findings that read allocation sites
    # and source still run.
    run_facts = Run(
        profile,
        heap[1] if heap else None,
        heap[0] if heap else 0,
        history[:-1],
        outcome.main_globals,
        frame_columns=census.get("frame_columns") or {},  # type: ignore[arg-type]
        frame_facts=census.get("frame_facts") or {},  # type: ignore[arg-type]
    )
    # Children get no findings (nor censuses): the parent's report is the one read.
    progress.set("looking for savings")
    findings = None if args.child_into else advise(run_facts, everything=args.all_findings)
    from memslim._native import problems as untraced

    limit = None if args.child_into else _limit_fit(args, profile, findings, ledgers)
    status = outcome.exit_code
    patched = None  # what the terminal says of --patch
    made = None
    if (getattr(args, "patch", None) or getattr(args, "verify", False)) and not args.child_into:
        from memslim.patch import make_patch

        made = make_patch(findings or [])
    if getattr(args, "patch", None) and made is not None:
        try:
            with open(args.patch, "w", encoding="utf-8") as f:
                f.write(made.diff)
            patched = (
                f"Patch: {len(made.applied)} fix(es) written to {args.patch} "
                f"(git apply {args.patch}); {len(made.left)} finding(s) left to the author."
                if made.applied
                else f"Patch: no finding of this run has a mechanical fix; {args.patch} is empty."
                if not made.left
                else f"Patch: none of the {len(made.left)} finding(s) could be fixed mechanically"
                f" here (a decision for the author, or code that the fix would change the meaning"
                f" of); {args.patch} is empty."
            )
        except OSError as e:
            _say(f"memslim: cannot write {args.patch!r}: {e.strerror or e}")
            status = outcome.exit_code or 2
    verified = None  # the verification runs (--verify), or why there are none
    if getattr(args, "verify", False) and made is not None:
        from memslim.verify import VerifyError, alone_runs, verify

        progress.set(f"verifying the fixes: {2 + len(alone_runs(made))} more runs")
        try:
            verified = verify(made, _verify_argv(target), _verify_options(args), os.getcwd())
        except VerifyError as e:
            verified = str(e)
    child_runs: list[Any] = []
    if children_dir is not None and not args.child_into:
        from memslim import children

        child_runs, unreadable = children.collect(children_dir)
        for line in unreadable[:1]:
            _say(f"memslim: a child's capture was not read: {line}")
    report = None
    # The JSON first: a terminal that went away (`memslim run ... 2>&1 | head`) must not cost
    # the file, nor change the exit status.
    if args.json or args.output or args.html or child_runs:
        progress.set("writing the report")
        report = build_report(
            profile,
            command=target.argv,
            exit_code=outcome.exit_code,
            census=heap,
            findings=findings,
            census_costs=census_costs,
            untraced=untraced,
            rss=ledgers,
            process=process,
        )
        if child_runs:
            report.update(children.merged(report, child_runs))
        if limit is not None:
            report["limit"] = limit.to_json()
        if verified is not None:
            report["verify"] = (
                {"error": verified} if isinstance(verified, str) else verified.as_json()
            )
        writers: list[tuple[str, Any]] = []
        if args.json:
            writers.append((args.json, lambda path: write_report(report, path)))
        if args.html:
            writers.append((args.html, lambda path: _write_html(report, path, profile)))
        if args.output:
            from memslim.capture import write_capture

            writers.append(
                (
                    args.output,
                    lambda path: write_capture(
                        path, report, complete=True, written_s=profile.elapsed_seconds
                    ),
                )
            )
        for path, write in writers:
            try:
                write(path)
            except OSError as e:
                _say(f"memslim: cannot write {path!r}: {e.strerror or e}")
                status = outcome.exit_code or 2
    if checkpoints is not None and checkpoints.error:
        _say(f"memslim: {checkpoints.error}")
    if args.child_into:
        return status  # the parent reports
    from memslim.report.terminal import report_console

    progress.close()
    # BrokenPipeError: its reader left (the console sent the rest to /dev/null); OSError,
    # ValueError: stderr was closed under memslim too. Neither is the program's exit status.
    with contextlib.suppress(OSError, ValueError):
        console = report_console(_stream())
        print_run_report(
            profile,
            console=console,
            title=" ".join(target.argv),
            top=args.top,
            census=heap,
            findings=findings,
            untraced=untraced,
            rss=ledgers,
            all_frames=args.all_frames,
            tree=report.get("tree_peak") if report is not None else None,
        )
        if report is not None and report.get("processes"):
            from memslim.report.terminal import print_processes

            print_processes(report, top=args.top, console=console)
        if limit is not None:
            from memslim.report.terminal import print_limit

            print_limit(limit, console=console)
        if patched is not None:
            console.print(patched)
        if verified is not None:
            from memslim.report.terminal import print_verify

            print_verify(verified, console=console)
    return status


def _verify_argv(target: Target) -> list[str]:
    """The target and its arguments as ``memslim run`` takes them, for a run in a copy of the
    current directory: a script inside it by its relative path (the copy's, not the original)."""
    if target.module:
        return ["-m", target.module, *target.args]
    script = target.script or ""
    inside = os.path.relpath(os.path.abspath(script))
    if not inside.startswith(os.pardir + os.sep):
        script = inside
    return ["--", script, *target.args]


def _verify_options(args: argparse.Namespace) -> list[str]:
    """The options of this run that change what a verification run measures."""
    options = ["--mode", args.mode, "--sample-interval", str(int(args.sample_interval))]
    if args.seed:
        options += ["--seed", str(args.seed)]
    if not args.census:
        options.append("--no-census")
    if args.python_only:
        options.append("--python-only")
    if args.all_findings:
        options.append("--all-findings")
    return options


# Where memslim's own report and messages go: a copy of stderr made before the program ran, so
# that a program that closes or replaces its stderr (sys.stderr.close(), os.close(2), a
# StringIO) keeps its own behaviour and the report still reaches the terminal.
_out: dict[str, TextIO] = {}


def _keep_stderr() -> None:
    """A copy of stderr for the report (a program may close or replace its own), not inherited
    by programs the target execs, at a high descriptor: at 3 it was the program's first (its
    first pipe was 4 and 5 where python gives 3 and 4)."""
    try:
        fd = sys.stderr.fileno()
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        high = min(1023, soft - 1) if soft != resource.RLIM_INFINITY else 1023
        try:
            copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, max(3, high))
        except OSError:  # none free up there
            copy = os.dup(fd)
        _out["stream"] = os.fdopen(copy, "w", encoding=sys.stderr.encoding, errors="replace")
        os.register_at_fork(after_in_child=_close_stderr)
    except (AttributeError, OSError, ValueError):  # no descriptor (a test's captured stderr)
        _out["stream"] = sys.stderr


def _close_stderr() -> None:
    """Closes the copy of stderr (_keep_stderr) once the report is written: left open, `python
    -X dev` warned of an unclosed file at every run. And in every child the program forks (the
    report is the parent's; a child's messages go to its own stderr): a daemon that closed its
    descriptors 0-2 held the caller's stderr pipe open through it, and `$(memslim run ...)`
    waited for the daemon to end where python returned at once."""
    stream = _out.pop("stream", None)
    if stream is not None and stream is not sys.stderr:
        with contextlib.suppress(OSError, ValueError):
            stream.close()


def _stream() -> TextIO:
    return _out.get("stream", sys.stderr)


def _say(line: str) -> None:
    """One line of memslim's own to stderr; nothing if stderr's reader left or it is closed."""
    stream = _stream()
    try:
        print(line, file=stream, flush=True)
    except BrokenPipeError:  # the rest goes nowhere
        from memslim.report.terminal import silence

        silence(stream)
    except (OSError, ValueError):
        pass


def _write_html(report: dict[str, Any], path: str, profile: Any = None) -> None:
    from memslim.report.html_report import build_html
    from memslim.report.json_report import write_text

    stacks = None
    if profile is not None:  # the tracker's top stacks, more than the report keeps
        stacks = [
            {"frames": [f.as_json() for f in frames], "bytes_at_peak": total}
            for frames, total in profile.stacks(1000)
        ]
    write_text(path, build_html(report, stacks=stacks), suffix=".html")


def _write_json(data: dict[str, Any], path: str) -> bool:
    """Writes ``data`` to ``path`` (atomically); False, said in one line, if it cannot."""
    from memslim.report.json_report import write_report

    try:
        write_report(data, path)
    except OSError as e:
        print(f"memslim: cannot write {path!r}: {e.strerror or e}", file=sys.stderr)
        return False
    return True


def _capture_report(args: argparse.Namespace) -> int:
    """`memslim report FILE [--json OUT]`."""
    from memslim._files import check_writable
    from memslim.capture import ODD_CONTENTS, CaptureError, print_capture, read_capture
    from memslim.report.terminal import report_console

    try:
        if args.json:
            check_writable(args.json)
        if args.html:
            check_writable(args.html, "the HTML report")
        capture = read_capture(args.file)
    except (OSError, CaptureError) as e:
        print(f"memslim: {e}", file=sys.stderr)
        return 1 if isinstance(e, CaptureError) else 2
    # The children's captures beside it (memslim run -o FILE): read now, so that children
    # that ended after the report was written, or the parent's last checkpoint, have them.
    child_dir = args.file + ".children"
    if os.path.isdir(child_dir) and isinstance(capture.report.get("process"), dict):
        from memslim import children

        runs, _unreadable = children.collect(child_dir)
        if runs:
            report = dict(capture.report)
            report.update(children.merged(report, runs))
            capture = dataclasses.replace(capture, report=report)
    if args.json or args.html:
        report = dict(capture.report)
        report["capture"] = {"complete": capture.complete, "written_s": capture.written_s}
        if args.json and not _write_json(report, args.json):
            return 2
        if args.html:
            try:
                _write_html(report, args.html)
            except OSError as e:
                print(f"memslim: cannot write {args.html!r}: {e.strerror or e}", file=sys.stderr)
                return 2
            except ODD_CONTENTS as e:
                print(f"memslim: corrupted capture: unexpected report ({type(e).__name__})",
                      file=sys.stderr)  # fmt: skip
                return 1
    try:
        print_capture(capture, top=args.top, console=report_console(), all_frames=args.all_frames)
    except ODD_CONTENTS as e:
        why = f"corrupted capture: unexpected report ({type(e).__name__})"
        print(f"memslim: {why}", file=sys.stderr)
        return 1
    return 0


def _diff(args: argparse.Namespace) -> int:
    """`memslim diff OLD NEW [--fail-over PERCENT] [--json OUT]`."""
    from memslim._files import check_writable
    from memslim.diff import DiffError, diff_reports, load_report, peak_grew_over, print_diff
    from memslim.report.terminal import report_console

    try:
        if args.json:
            check_writable(args.json, "the diff")
        diff = diff_reports(load_report(args.old), load_report(args.new), top=max(args.top, 50))
    except (OSError, DiffError) as e:
        print(f"memslim: {e}", file=sys.stderr)
        return 2
    if args.json and not _write_json(diff, args.json):
        return 2
    print_diff(diff, old_name=args.old, new_name=args.new, top=args.top, console=report_console())
    if args.fail_over is not None and peak_grew_over(diff, args.fail_over):
        grew = diff["peak"]["change_percent"]
        how = "from nothing" if grew is None else f"by {grew:+.1f}%"
        print(
            f"memslim: the peak grew {how}, more than the {args.fail_over:g}% allowed",
            file=sys.stderr,
        )
        return 1
    return 0


def _attach(args: argparse.Namespace) -> int:
    """`memslim attach PID [--track SECONDS] [--json OUT]`."""
    from memslim._files import check_writable
    from memslim.attach import AttachError, attach, print_answer
    from memslim.report.terminal import report_console

    if args.track < 0 or args.timeout <= 0:
        print("memslim: --track must be >= 0 and --timeout > 0 seconds", file=sys.stderr)
        return 2
    try:
        if args.json:
            check_writable(args.json, "the answer")
        answer = attach(
            args.pid,
            top=max(args.top, 10),
            track_seconds=args.track,
            timeout=args.timeout,
            all_findings=args.all_findings,
        )
    except (OSError, AttachError) as e:
        print(f"memslim: {e}", file=sys.stderr)
        return 2
    if args.json and not _write_json(answer, args.json):
        return 2
    print_answer(answer, top=args.top, console=report_console())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    own, target_words = split_target(words, parser)
    args = parser.parse_args(own)
    if args.command == "heap":
        return _heap_report(args)
    if args.command == "report":
        return _capture_report(args)
    if args.command == "diff":
        return _diff(args)
    if args.command == "attach":
        return _attach(args)
    target = _target_from(args.command, target_words, parser)
    if args.command == "run" and args.child_into:
        args.output = os.path.join(args.child_into, f"{os.getpid()}.mslm")
        args.json, args.html, args.census = None, None, False
    if args.command == "run":
        from memslim._files import check_writable

        # A relative path means the directory memslim was started in, whichever directory the
        # program moves to: the capture is written while it runs, the reports after it (from
        # the directory it started in: _finish_run). They went into the program's directory,
        # and could overwrite a file of the same name there.
        args.started_in = os.getcwd()
        if args.output:
            args.output = os.path.abspath(args.output)
        outputs = [
            (path, what)
            for path, what in (
                (args.json, "the JSON report"),
                (args.output, "the capture"),
                (args.html, "the HTML report"),
                (args.patch, "the patch"),
            )
            if path
        ]
        try:
            for path, what in outputs:
                check_writable(path, what)
        except OSError as e:
            print(f"memslim: {e}", file=sys.stderr)
            return 2
    try:
        prepared = prepare(target)
    except TargetError as e:
        print(f"memslim: {e}", file=sys.stderr)
        return e.exit_code
    except SyntaxError as e:
        print_syntax_error(e)
        return 1

    if args.command == "run":
        from memslim._files import check_not_source

        try:
            for path, what in outputs:
                check_not_source(path, prepared.code.co_filename, what)
        except OSError as e:
            print(f"memslim: {e}", file=sys.stderr)
            return 2
        try:
            return _run_tracked(args, target, prepared)
        finally:
            _close_stderr()

    from memslim.report.globals_table import print_globals_report

    outcome = run(prepared, target)
    _ended_by_ctrl_c[0] = outcome.interrupted
    print_globals_report(outcome.main_globals, top=args.top, title=" ".join(target.argv))
    return outcome.exit_code


# Whether the program ended by an uncaught KeyboardInterrupt (its traceback printed already).
_ended_by_ctrl_c = [False]


def _quiet_excepthook(*_exc_info: object) -> None:
    pass


def entry() -> int:
    """The ``memslim`` command (and ``python -m memslim``): ``main``, then, when the program
    ended by an uncaught KeyboardInterrupt, the end python gives it: the interpreter finalizes
    (the program's atexit handlers ran before the report) and the process ends by SIGINT, so
    that a shell or a parent sees a Ctrl-C (a shell's loop stops) and not an exit status of
    130. Raising it uncaught from the top level is what makes python do so; its traceback was
    printed."""
    code = main()
    if _ended_by_ctrl_c[0]:
        sys.excepthook = _quiet_excepthook
        raise KeyboardInterrupt
    return code
