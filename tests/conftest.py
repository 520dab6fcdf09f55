"""Shared pytest fixtures and helpers for memslim's tests."""

from __future__ import annotations

import gc
import importlib.util
import os
import subprocess
import sys
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


def unsanitized_from_here(what: str) -> None:
    """In the sanitized run (scripts/sanitize.sh), skips the rest of the test: ``what`` it
    does from here on is left to the unsanitized runs."""
    if "MEMSLIM_SANITIZED" in os.environ:
        pytest.skip(f"sanitized run: memslim's side passed; {what} left to the unsanitized runs")


def outside_truth() -> None:
    """Called by a test where it starts measuring its truth with a tool outside memslim
    (tracemalloc, memray), after memslim's own runs. Those programs run no memslim code and ASan's
    runtime made them the slowest part of the sanitized run, which stops there."""
    unsanitized_from_here("the outside truth")


def memray_peak(
    script: Path, capture: Path, *args: str, python_allocators: bool = True
) -> tuple[int, subprocess.CompletedProcess[str]]:
    """memray's peak (it hooks malloc, so it sees native memory) of ``script`` run with
    ``args`` in the script's folder, with the completed run; skips the test where memray is not
    installed or cannot run. The capture is ``--aggregate``d: it keeps the high-water mark and
    not every allocation, so reading its peak takes milliseconds where ``memray stats`` read a
    capture of every event for 12 s. memray's peak counts the same allocations with or
    without ``--native`` (which only records C stacks), so none is asked for."""
    pytest.importorskip("memray")
    outside_truth()
    extra = ["--trace-python-allocators"] if python_allocators else []
    ran = subprocess.run(
        [sys.executable, "-m", "memray", "run", "--aggregate", *extra, "-q", "-f",
         "-o", str(capture), script.name, *args],
        cwd=script.parent, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if ran.returncode != 0:
        pytest.skip(f"memray could not run here: {ran.stderr.strip()[-200:]}")
    read = subprocess.run(
        [sys.executable, "-c",
         "import sys, memray; print(memray.FileReader(sys.argv[1]).metadata.peak_memory)",
         str(capture)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return int(read.stdout), ran


@pytest.fixture(scope="session")
def testalloc_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test-only extension's file, for a program run in a process of its own."""
    return str(build_testalloc(tmp_path_factory.mktemp("testalloc_path")))


def thread_without_gil(argument: int, indent: str = "") -> str:
    """A program's lines that load the test-only extension from ``sys.argv[argument]`` and
    start a thread that stays inside a native call that released the GIL (its censuses then
    walk the heap in the program's process: forked_census.ForkUnsafe) until the program runs
    ``release.set(); other.join()``."""
    lines = f"""
spec = importlib.util.spec_from_file_location("_memslim_testalloc", sys.argv[{argument}])
testalloc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(testalloc)
inside, release = threading.Event(), threading.Event()
def wait():
    inside.set()
    release.wait()
other = threading.Thread(target=testalloc.call_without_gil, args=(wait,))
other.start()
inside.wait()
"""
    return "".join(indent + line + "\n" for line in lines.strip("\n").splitlines())


@pytest.fixture(scope="session")
def testalloc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The test-only extension tests/ext/testalloc.c, compiled for this interpreter."""
    target = build_testalloc(tmp_path_factory.mktemp("testalloc"))
    spec = importlib.util.spec_from_file_location("_memslim_testalloc", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
