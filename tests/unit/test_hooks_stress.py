"""The hooks under stress (tests/stress/hooks_stress.py): eight threads allocate with and
without the GIL while tracking starts and stops, censuses run and children are forked. Here on
the normal build: it ends, exits 0, and its worker threads raised nothing. scripts/tsan.sh runs
the same program against a ThreadSanitizer build, where a data race is an error."""

import subprocess
import sys
from pathlib import Path

STRESS = Path(__file__).resolve().parent.parent / "stress" / "hooks_stress.py"


def test_hooks_survive_threads_restarts_censuses_and_forks() -> None:
    done = subprocess.run(
        [sys.executable, str(STRESS), "30"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stress ok 30"
