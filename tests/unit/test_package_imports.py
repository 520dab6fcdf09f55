"""What importing memslim loads into a program's process: `memslim run` imports the package and
its engine before the program starts, and every shared library loaded then is memory the
program's run pays for (issue 9: memslim's own memory)."""

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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_the_engine_brings_no_shared_cpp_runtime() -> None:
    # libstdc++ is linked into the engine: a program that loads no C++ library of its own does
    # not map the shared one (about 0.7 MiB of resident pages) for memslim's sake.
    # Those mapped by importing it: under scripts/sanitize.sh the preloaded sanitizer runtimes
    # have mapped both already.
    out = _run(
        "def runtimes():\n"
        "    return {l.split()[-1].rsplit('/', 1)[-1].split('.so')[0]\n"
        "            for l in open('/proc/self/maps') if 'libstdc++' in l or 'libgcc_s' in l}\n"
        "before = runtimes()\n"
        "import memslim._core\n"
        "print(sorted(runtimes() - before))\n"
    )
    assert out.strip() == "[]"


def test_importing_the_package_loads_no_engine_until_a_name_is_used() -> None:
    # pytest imports the package in every session where memslim is installed (its plugin):
    # the engine and the census's modules are loaded at the first use of a public name.
    out = _run(
        "import sys\n"
        "import memslim, memslim.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('memslim.')))\n"
        "text = ''.join(['x'] * 100)\n"
        "print(memslim.sizeof([text]) > sys.getsizeof([text]) + 100)\n"
        "print('memslim._core' in sys.modules, 'memslim.heap' in sys.modules)\n"
        "from memslim import *\n"
        "print(sorted(set(memslim.__all__) - set(dir(memslim))), callable(track))\n"
    )
    assert out.splitlines() == [
        "['memslim._version', 'memslim.pytest_plugin']",
        "True",
        "True False",
        "[] True",
    ]


def test_the_report_console_prints_text_as_written_and_loads_no_emoji_table() -> None:
    # The report prints what the program gave it (paths, lines, names) as written: rich's
    # `:smile:` codes are not the program's to expand, and the table behind them, imported on
    # the first text that could hold one, is 0.56 MiB of the run's peak RSS (threads8).
    out = _run(
        "import io, sys\n"
        "from memslim.report.terminal import report_console\n"
        "file = io.StringIO()\n"
        "report_console(file).print('jobs/x:smile:.py:2 [bold]:thumbs_up:[/bold]')\n"
        "print(file.getvalue().strip())\n"
        "print('rich._emoji_codes' in sys.modules)\n"
    )
    assert out.splitlines() == ["jobs/x:smile:.py:2 :thumbs_up:", "False"]
