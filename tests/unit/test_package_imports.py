"""What importing memslim loads into a program's process: `memslim run` imports the package and
its engine before the program starts, and every module and shared library loaded then is
memory the program's run pays for (issue 9: memslim's own memory)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_engine_loads_no_census_or_report_module() -> None:
    out = _run(
        "import sys, memslim._core\n"
        "print(sorted(m for m in ('memslim.heap', 'memslim._tracking', 'memslim._sizeof',"
        " 'memslim.profile_data', 'inspect', 'dataclasses') if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_the_public_names_still_work_when_first_used() -> None:
    out = _run(
        "import memslim\n"
        "print(memslim.sizeof((1, 2)) > 0, callable(memslim.track), memslim.snapshot.__name__)\n"
        "print('why_alive' in dir(memslim), memslim._core.__name__)\n"
        "try:\n"
        "    memslim.no_such_name\n"
        "except AttributeError as e:\n"
        "    print('AttributeError', e)\n"
        "from memslim import HeapCensus, Tracker\n"
        "print(HeapCensus.__name__, Tracker.__name__)\n"
    )
    assert out.splitlines() == [
        "True True snapshot",
        "True memslim._core",
        "AttributeError module 'memslim' has no attribute 'no_such_name'",
        "HeapCensus Tracker",
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_the_engine_brings_no_shared_cpp_runtime() -> None:
    # libstdc++ is linked into the engine: a program that loads no C++ library of its own does
    # not map the shared one (about 0.7 MiB of resident pages) for memslim's sake.
    out = _run(
        "import memslim._core\n"
        "print(sorted({l.split()[-1].rsplit('/', 1)[-1].split('.so')[0]"
        " for l in open('/proc/self/maps') if 'libstdc++' in l or 'libgcc_s' in l}))"
    )
    assert out.strip() == "[]"
