"""Shared pytest fixtures and helpers for memslim's tests."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any


def traced_build(factory: Callable[[int], Any], copies: int) -> tuple[list[Any], int]:
    """Build ``[factory(i) for i in range(copies)]`` and return it with the bytes tracemalloc
    saw it take (allocated minus freed while building)."""
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        built = [factory(i) for i in range(copies)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()
    return built, after - before
