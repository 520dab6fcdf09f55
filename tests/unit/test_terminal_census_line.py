"""The census line of the terminal report says how much of the peak no census can see (native
memory: a parser's buffers) when that is a quarter of the peak or more, so that a census at
57% of the peak is not read as a census that missed the peak's objects."""

from __future__ import annotations

import io

from rich.console import Console

from memslim.heap import HeapCensus
from memslim.report.terminal import print_census


def _line(unseen: int, peak: int = 400 << 20) -> str:
    out = io.StringIO()
    console = Console(file=out, width=300, color_system=None)
    heap = HeapCensus(objects=1_000, bytes=80 << 20, types=[], retainers=[], analysis_bytes=0)
    print_census(100 << 20, heap, peak, top=5, console=console, unseen=unseen)
    return out.getvalue().splitlines()[0]


def test_native_memory_of_a_quarter_of_the_peak_or_more_is_named() -> None:
    line = _line(unseen=300 << 20)
    assert line.startswith("Heap census near the peak: taken at 100.0 MiB traced (25.0% of")
    assert "; 75.0% of the peak was native memory, which no census sees" in line


def test_less_native_memory_is_not() -> None:
    assert "native" not in _line(unseen=(100 << 20) - 1)
    assert "native" not in _line(unseen=0)
