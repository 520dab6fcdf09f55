"""Sizes for people, in every report (terminal, HTML, pytest, attach, diff): no imports, so
that reading one costs the program nothing (the pytest plugin and the tracker use it)."""

from __future__ import annotations


def format_bytes(n: int) -> str:
    """Human-readable bytes with binary prefixes: 1536 -> '1.5 KiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def allocations_header(mode: str) -> str:
    """The count column's name: in sample mode a line's count is of its sampled blocks (a
    block is sampled by its bytes, so no count of allocations follows from them)."""
    return "samples" if mode == "sample" else "allocations"
