"""Shared pytest fixtures and helpers for memslim's tests."""

from __future__ import annotations

import gc
import importlib.util
import os
import subprocess
import sysconfig
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


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


def build_testalloc(out_dir: Path, name: str = "_memslim_testalloc") -> Path:
    """Compiles the test-only extension tests/ext/testalloc.c for this interpreter as module
    ``name`` in ``out_dir``; returns the file."""
    source = Path(__file__).parent / "ext" / "testalloc.c"
    target = out_dir / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    compiler = os.environ.get("CC", "cc")
    command = [
        compiler, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", f"-DTESTALLOC_NAME={name}",
        f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(target), "-lpthread",
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return target


@pytest.fixture(scope="session")
def testalloc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The test-only extension tests/ext/testalloc.c, compiled for this interpreter."""
    target = build_testalloc(tmp_path_factory.mktemp("testalloc"))
    spec = importlib.util.spec_from_file_location("_memslim_testalloc", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
