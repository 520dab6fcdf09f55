"""How the terminal report prints a finding's fix: the code as written, three spaces in, and
highlighted only where the console shows colours (elsewhere Pygments' lexer was 30-50 ms of
every report with a finding, for colours thrown away)."""

import subprocess
import sys
import textwrap

FIX = "@functools.lru_cache(maxsize=1024)\ndef fill(key):  # and drop CACHE"

PRINT = textwrap.dedent(
    f"""
    import io, sys
    from rich.console import Console
    from memslim.advice._finding import Finding
    from memslim.report.terminal import print_findings

    finding = Finding(kind="growth", file="/srv/job.py", line=3, symbol="CACHE", count=5000,
                      bytes_now=1_000_000, bytes_after=200_000, message="CACHE only grew.",
                      fix={FIX!r})
    colour = sys.argv[1] == "colour"
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=colour,
                      color_system="truecolor" if colour else None)
    print_findings([finding], 2_000_000, console=console)
    sys.stdout.write(out.getvalue())
    sys.stderr.write("pygments imported" if "pygments" in sys.modules else "pygments not imported")
    """
)


def _print(mode: str) -> subprocess.CompletedProcess[str]:
    # A process of its own: whether Pygments was imported depends on nothing run before.
    done = subprocess.run(
        [sys.executable, "-c", PRINT, mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def test_without_colours_the_fix_is_printed_as_written_and_not_lexed() -> None:
    done = _print("plain")
    lines = [line.rstrip() for line in done.stdout.splitlines()]
    assert "   @functools.lru_cache(maxsize=1024)" in lines
    assert "   def fill(key):  # and drop CACHE" in lines
    assert "\x1b[" not in done.stdout
    assert done.stderr == "pygments not imported"


def test_with_colours_the_fix_is_highlighted() -> None:
    done = _print("colour")
    assert "\x1b[" in done.stdout
    assert "lru_cache" in done.stdout and "fill" in done.stdout
    assert done.stderr == "pygments imported"
