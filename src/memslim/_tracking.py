"""Allocation tracking from Python: ``with memslim.track() as t`` and ``@memslim.profile``."""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from memslim import _core, _native, _stacks

if TYPE_CHECKING:
    from memslim.profile_data import Profile

# profile_data (and inspect, for a decorated function's source) are imported where they are
# used, after tracking: `memslim run` imports this module before the program starts, and every
# module imported then adds objects and RSS to the program it measures.

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SAMPLE_INTERVAL = 256 * 1024


# At a collection's start, a census due (or one at the peak before a full collection); and
# what the collector frees until its stop is charged as its (_core.gc_callback: a C function, so
# that a program's own sys.settrace function sees no memslim frame at every collection).
_on_gc = _core.gc_callback


def watch_gc(on: bool) -> None:
    """While on, what the cyclic GC frees (rather than reference counting) is charged to the
    sites that allocated it (``Site.gc_freed_bytes``)."""
    if on and _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
    elif not on:
        _core.set_gc_collecting(False)
        if _on_gc in gc.callbacks:
            gc.callbacks.remove(_on_gc)


class Tracker:
    """Tracks every Python-level allocation while active. Use :func:`track`."""

    def __init__(
        self,
        mode: str = "exact",
        *,
        sample_interval: int = DEFAULT_SAMPLE_INTERVAL,
        seed: int = 0,
        python_only: bool = False,
        full_import_stacks: bool = False,
    ) -> None:
        if mode not in ("exact", "sample"):
            raise ValueError("mode must be 'exact' or 'sample'")
        self.mode = mode
        self.python_only = python_only
        self.sample_interval = sample_interval
        self.seed = seed
        self.full_import_stacks = full_import_stacks
        self._profile: Profile | None = None
        self._running = False
        # Started while memslim already tracked (under `memslim run`, or inside another
        # track()): the block runs under that tracking, which this tracker reads and never stops.
        self._nested = False
        # The function whose lines the profile tables ("file\0qualname"; "": the heaviest).
        self._function = ""

    def start(self) -> None:
        if _core.is_tracking():
            # Raising here made a program that uses track() fail under `memslim run`.
            self._nested = True
            self._running = True
            return
        self._nested = False
        _stacks.forget()
        _core.start_tracking(
            self.mode,
            float(self.sample_interval),
            self.seed,
            full_import_stacks=self.full_import_stacks,
        )
        _native.start(native=not self.python_only)
        watch_gc(True)
        self._running = True

    def stop(self) -> Profile:
        if self._running and self._nested:
            self._running = False
            self._profile = self._collect()
        elif self._running:
            _core.stop_tracking()
            _native.stop()
            watch_gc(False)
            self._running = False
            self._profile = self._collect()
        if self._profile is None:
            raise RuntimeError("this tracker was never started")
        return self._profile

    def _collect(self) -> Profile:
        from memslim.profile_data import OWN_PREFIX, Profile

        return Profile.from_core(_core.tracking_result(OWN_PREFIX, self._function))

    def __enter__(self) -> Tracker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def profile(self) -> Profile:
        if self._running:
            return self._collect()
        if self._profile is None:
            raise RuntimeError("this tracker was never started")
        return self._profile

    @property
    def peak_bytes(self) -> int:
        """High-water mark of traced bytes (an unbiased estimate in sample mode)."""
        return _core.peak_traced_bytes() if self._running else self.profile.peak_bytes

    @property
    def current_bytes(self) -> int:
        return _core.traced_bytes() if self._running else self.profile.current_bytes

    def report(self, *, top: int = 10, file: TextIO | None = None) -> None:
        """Print the terminal report (top lines and stacks at the peak) to ``file`` (stderr)."""
        from memslim.report.terminal import print_run_report, report_console

        console = report_console(file)
        print_run_report(self.profile, title="tracked block", top=top, console=console)


def track(
    mode: str = "exact",
    *,
    sample_interval: int = DEFAULT_SAMPLE_INTERVAL,
    seed: int = 0,
    python_only: bool = False,
    full_import_stacks: bool = False,
) -> Tracker:
    """Track allocations in a ``with`` block::

    with memslim.track() as t:
        build()
    print(t.peak_bytes)
    t.report()

    Python's allocators, NumPy's array buffers and native code's ``malloc`` family are traced;
    ``python_only=True`` traces Python's allocators only. Stacks inside an import keep, of each
    imported module's frames, its own line and, when it is the module's own code, the allocating
    line; ``full_import_stacks=True`` keeps them all.

    When memslim is already tracking (under ``memslim run``, or inside another ``track()``),
    the block runs under that tracking, whose options stay as they are: the tracker's
    ``profile``, ``peak_bytes`` and ``current_bytes`` are then the enclosing tracking's, since
    it began.
    """
    return Tracker(
        mode,
        sample_interval=sample_interval,
        seed=seed,
        python_only=python_only,
        full_import_stacks=full_import_stacks,
    )


def profile(func: F | None = None, *, file: TextIO | None = None) -> Any:
    """Decorator: print a line-by-line memory table of ``func`` after each call, like
    memory_profiler's, but from exact allocation accounting instead of RSS.

    Columns: ``Increment`` — the bytes this line (callees included) allocated that were live at
    the call's peak: what the line adds to the function's high-water mark (never negative; a
    temporary freed on the next loop iteration counts once, not as a swing); ``Mem usage`` —
    the increments cumulated in source order, so the last line shows the function's peak;
    ``Occurrences`` — allocations the line made; ``Line Contents`` — the source. When memslim
    is already tracking (for example under ``memslim run``), the function just runs: the run's
    report covers it.
    """

    def decorate(target: F) -> F:
        code = target.__code__

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _core.is_tracking():
                return target(*args, **kwargs)
            tracker = Tracker("exact")
            tracker._function = f"{code.co_filename}\0{code.co_qualname}"
            tracker.start()
            try:
                return target(*args, **kwargs)
            finally:
                result = tracker.stop()
                _print_profile(target, code, result, file or sys.stderr)

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def _print_profile(target: Callable[..., Any], code: Any, result: Profile, file: TextIO) -> None:
    # rich is imported here, not at the top: importing memslim (and so every `memslim run`)
    # should add as few objects as possible to the program it measures.
    import inspect

    from rich.table import Table
    from rich.text import Text

    from memslim._units import format_bytes

    per_line = result.function_lines(code.co_filename, code.co_qualname)
    try:
        source_lines, first = inspect.getsourcelines(target)
    except (OSError, TypeError):
        source_lines, first = [], code.co_firstlineno
    table = Table(
        title=Text(
            f"{code.co_filename}: {code.co_qualname} — peak {format_bytes(result.peak_bytes)}"
        ),
        title_justify="left",
    )
    for name in ("Line #", "Mem usage", "Increment", "Occurrences"):
        table.add_column(name, justify="right")
    table.add_column("Line Contents", overflow="ellipsis", no_wrap=True)
    cumulative = 0
    numbers = range(first, first + len(source_lines)) if source_lines else sorted(per_line)
    for number in numbers:
        text = source_lines[number - first].rstrip("\n") if source_lines else ""
        stats = per_line.get(number)
        if stats is None:
            table.add_row(str(number), "", "", "", Text(text))
            continue
        cumulative += stats.bytes_at_peak
        table.add_row(
            str(number),
            format_bytes(cumulative),
            format_bytes(stats.bytes_at_peak),
            f"{stats.allocations:,}",
            Text(text),
        )
    from memslim.report.terminal import report_console

    report_console(file).print(table)
