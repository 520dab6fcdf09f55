"""Capture files: a run's report kept on disk, to be rendered later (``memslim report FILE``).

``memslim run -o FILE`` writes one when the program ends. Layout (little-endian), 32 bytes of
header and a payload:

    magic "MSLMCAPT" | u32 format version | u32 flags | u64 payload length |
    u32 CRC-32 of the payload | u32 zero | payload

Flags: bit 0, the run ended and the capture is complete (clear: a checkpoint written while the
program ran); bit 1, the payload is zlib-compressed. The payload is UTF-8 JSON: an object with
``report`` (the memslim/1 report, see report/json_report.py) and ``written_s`` (seconds since the
run started when it was written). Its size is the report's: bounded by the top lines, stacks and
census rows it keeps, and by the timeline, never by the number of allocations.

A reader rejects, in one line and never with a traceback, a file that is not a capture (wrong
magic), one from a newer memslim, a truncated or over-long one, one whose checksum does not
match, and a payload that is not what this module writes. JSON, not pickle: a capture comes
from disk, and loading one must never run code.
"""

from __future__ import annotations

import _thread
import json
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memslim._threads import start_thread

MAGIC = b"MSLMCAPT"
VERSION = 1
_HEADER = struct.Struct("<8sIIQII")
COMPLETE = 1
COMPRESSED = 2
_KNOWN_FLAGS = COMPLETE | COMPRESSED


# Lines a checkpoint reads from the tracker: the report keeps its top 100 (json_report).
TOP_LINES = 100


# What rendering a capture whose file is valid but whose report is not as memslim writes it
# raises (`memslim report` says so in one line).
ODD_CONTENTS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


class CaptureError(ValueError):
    """A file that cannot be read as a capture; the message is one line."""


@dataclass(frozen=True)
class Capture:
    report: dict[str, Any]
    complete: bool  # False: the last checkpoint of a run that did not end (killed)
    written_s: float  # when it was written, in seconds since the run started


def frame(payload: bytes, flags: int) -> bytes:
    """``payload`` behind its header (length and checksum)."""
    return _HEADER.pack(MAGIC, VERSION, flags, len(payload), zlib.crc32(payload), 0) + payload


def encode(report: dict[str, Any], *, complete: bool, written_s: float) -> bytes:
    payload = zlib.compress(
        json.dumps({"report": report, "written_s": written_s}, separators=(",", ":")).encode(), 6
    )
    return frame(payload, COMPRESSED | (COMPLETE if complete else 0))


def write_capture(path: str, report: dict[str, Any], *, complete: bool, written_s: float) -> None:
    """Write atomically: a reader (or a kill) never finds half a capture, only the last one."""
    data = encode(report, complete=complete, written_s=written_s)
    target = os.path.abspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".memslim-", suffix=".capture", dir=os.path.dirname(target))
    try:
        from memslim._files import file_mode

        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def decode(data: bytes) -> Capture:
    if len(data) < _HEADER.size:
        raise CaptureError(f"not a memslim capture: {len(data)} bytes, too short")
    magic, version, flags, length, checksum, zero = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CaptureError("not a memslim capture (wrong magic bytes)")
    if version > VERSION:
        raise CaptureError(
            f"capture format version {version} is newer than this memslim reads ({VERSION}):"
            " upgrade memslim"
        )
    if version == 0 or flags & ~_KNOWN_FLAGS or zero != 0:
        raise CaptureError("corrupted capture header")
    payload = data[_HEADER.size :]
    if len(payload) != length:
        what = "truncated capture" if len(payload) < length else "capture has trailing bytes"
        raise CaptureError(f"{what}: {len(payload)} payload bytes, the header says {length}")
    if zlib.crc32(payload) != checksum:
        raise CaptureError("corrupted capture: checksum mismatch")
    try:
        if flags & COMPRESSED:
            payload = zlib.decompress(payload)
        body = json.loads(payload.decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CaptureError(f"corrupted capture: unreadable payload ({type(e).__name__})") from e
    if not isinstance(body, dict):
        raise CaptureError("corrupted capture: unexpected payload")
    report, written = body.get("report"), body.get("written_s")
    if not isinstance(report, dict) or not isinstance(written, (int, float)):
        raise CaptureError("corrupted capture: unexpected payload")
    from memslim.report.json_report import SCHEMA

    if report.get("schema") != SCHEMA:
        raise CaptureError(f"corrupted capture: its report is not {SCHEMA}")
    return Capture(report, bool(flags & COMPLETE), float(written))


def read_capture(path: str) -> Capture:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CaptureError(f"cannot read {path!r}: {e.strerror or e}") from e
    return decode(data)


class Checkpointer:
    """Writes the run's capture while the program runs, so that a run that is killed (SIGKILL,
    the OOM killer) leaves its report up to the last checkpoint.

    A thread of memslim's own (``_thread``, so that ``threading.enumerate()`` in the program
    does not see it; untracked: what it allocates is not the program's) wakes every
    ``interval`` seconds and writes a checkpoint when the traced peak grew by 5% since the
    last one, or when the last one is ``max_age`` seconds old — within a budget: all
    checkpoints together take at most ``BUDGET`` of the time since the run started. A
    checkpoint builds the report from the tracker's aggregate while holding the GIL (the
    program waits), at a cost that grows with the sites recorded: the next one's cost is
    expected to be the last one's scaled by the growth of memslim's tables since, and it is
    put off while that would go over the budget. (bench/real: a fixed interval of 30 times the
    last cost still let a checkpoint of 0.9 s into a 7 s run, when scikit-learn's imports had
    multiplied the sites since the first.) With censuses, a checkpoint carries the newest one
    that has finished (``census``: read from its child's file, nothing kept between
    checkpoints), so that a killed run's capture still says what its objects were.
    """

    GROWTH = 1.05
    BUDGET = 0.03
    running = 0  # threads of this class alive in this process (children.program_threads)

    def __init__(
        self,
        path: str,
        command: list[str],
        *,
        process: Callable[[], dict[str, Any]] | None = None,
        census: Callable[[], tuple[int, dict[str, Any]] | None] | None = None,
        interval: float = 0.5,
        max_age: float = 5.0,
    ) -> None:
        self.path = path
        self.command = command
        self.process = process  # the report's "process" block, made when it is written
        self.census = census  # the newest census so far (traced bytes, raw census), or None
        self.interval = interval
        self.max_age = max_age
        self.written = 0
        self.seconds = 0.0  # spent writing checkpoints
        self.error: str | None = None
        self._stop = _thread.allocate_lock()
        self._done = _thread.allocate_lock()
        self._pid = -1
        self._ended = False

    def start(self) -> None:
        self._pid = os.getpid()
        self._stop.acquire()
        self._done.acquire()
        # Counted before the thread exists, not by the thread: it may wait for the GIL while
        # the program runs on and forks (os.fork's 3.12+ warning counts the kernel's threads;
        # on 3.13 in CI a program without threads was warned).
        Checkpointer.running += 1
        try:
            start_thread(self._loop, time.monotonic())
        except BaseException:
            Checkpointer.running -= 1
            raise

    def stop(self) -> None:
        """Ends the thread (after the checkpoint it may be writing); nothing once it has ended
        (the ended thread holds ``_stop``: a second stop waited for it forever). Nothing in a
        forked child of the program: the thread is the parent's (and its locks' state a
        copy)."""
        if os.getpid() != self._pid or not self._stop.locked() or self._ended:
            return
        self._stop.release()
        self._done.acquire()
        self._ended = True

    def _loop(self, started: float) -> None:
        from memslim import _core

        try:
            last_peak, last_time, last_cost, last_size = 0, started, 0.0, 1
            while not self._stop.acquire(timeout=self.interval):
                peak, now = _core.peak_traced_bytes(), time.monotonic()
                if peak <= last_peak * self.GROWTH and now - last_time < self.max_age:
                    continue
                size = max(1, _core.bookkeeping_bytes())
                expected = last_cost * size / last_size
                if self.seconds + expected > self.BUDGET * (now - started):
                    continue
                began = time.perf_counter()
                self.checkpoint()
                last_cost = time.perf_counter() - began
                self.seconds += last_cost
                last_peak, last_time, last_size = peak, time.monotonic(), size
        except BaseException as e:  # one line at the end of the run; the program runs on
            self.error = f"checkpoints stopped: {type(e).__name__}: {e}".replace("\n", " ")
        finally:
            Checkpointer.running -= 1
            self._done.release()

    def checkpoint(self, *, exit_code: int | None = None, complete: bool = False) -> None:
        """Writes the capture now (``complete``: the last one, the run has ended)."""
        from memslim import _core
        from memslim._native import problems
        from memslim.profile_data import OWN_PREFIX, Profile
        from memslim.report.json_report import build_report

        profile = Profile.from_core(_core.tracking_result(OWN_PREFIX, top_lines=TOP_LINES))
        report = build_report(
            profile,
            command=self.command,
            exit_code=exit_code,
            census=self._census(),
            untraced=problems,
            process=None if self.process is None else self.process(),
        )
        write_capture(self.path, report, complete=complete, written_s=profile.elapsed_seconds)
        self.written += 1

    def _census(self) -> tuple[int, Any] | None:
        """The newest census as the report shows it, or None."""
        if self.census is None:
            return None
        from memslim.heap import census_from_raw

        newest = self.census()
        return None if newest is None else (newest[0], census_from_raw(newest[1]))


def print_capture(capture: Capture, *, top: int, console: Any, all_frames: bool = False) -> None:
    """The terminal report of a capture, and when the run was cut short, that it was."""
    from rich.text import Text

    from memslim.advice import Finding
    from memslim.heap import census_from_report
    from memslim.profile_data import Profile
    from memslim.report.terminal import print_run_report
    from memslim.rss import RssLedger

    report = capture.report
    if not capture.complete:
        console.print(
            Text(
                "The run did not end (killed?): this is its last checkpoint, written "
                f"{capture.written_s:.2f} s after it started; "
                + (
                    "its census is the last one taken by then; no advice."
                    if "census" in report
                    else "no census or advice."
                ),
                style="yellow",
            )
        )
    findings = report.get("findings")
    ledgers = report.get("rss_ledger") or {}
    print_run_report(
        Profile.from_report(report),
        console=console,
        title=" ".join(report["command"]),
        top=top,
        census=census_from_report(report["census"]) if "census" in report else None,
        findings=None if findings is None else [Finding.from_json(f) for f in findings],
        untraced=report.get("memslim", {}).get("untraced", []),
        rss={when: RssLedger.from_json(row) for when, row in ledgers.items() if row},
        all_frames=all_frames,
        tree=report.get("tree_peak"),
    )
    if report.get("processes"):
        from memslim.report.terminal import print_processes

        print_processes(report, top=top, console=console)
    if report.get("limit"):
        from memslim.limit import Fit
        from memslim.report.terminal import print_limit

        print_limit(Fit.from_json(report["limit"]), console=console)
