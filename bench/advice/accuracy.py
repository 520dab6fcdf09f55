"""How close each finding's predicted saving comes to the real one, for every pair in
examples/advice/ (after.py applies exactly the suggested fix): the saving memslim reports for
before.py against the difference in tracemalloc's peak traced bytes between before.py and
after.py, each run alone in a fresh interpreter without memslim (measure_pairs.py's harness).

    python3 bench/advice/accuracy.py            # a markdown table for bench/RESULTS.md
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "advice"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure_pairs import peak_in_subprocess  # noqa: E402 - the same harness as the README's table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/_common.py
from _common import git_head  # noqa: E402


def memslim_report(script: Path, out: Path) -> dict:
    subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--json", str(out), script.name],
        cwd=script.parent,
        capture_output=True,
        check=True,
    )
    return json.loads(out.read_text())


def main() -> None:
    print(f"Python {platform.python_version()}, {platform.platform()}, commit {git_head()}")
    print()
    print("| pair | finding (line) | predicted saving (MB) | real difference (MB) | ratio |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for pair in sorted(p for p in EXAMPLES.iterdir() if (p / "before.py").exists()):
            kind = pair.name.split("_")[0]
            before = memslim_report(pair / "before.py", Path(tmp) / "before.json")
            found = [f for f in before.get("findings", []) if f["kind"] == kind]
            real = peak_in_subprocess(pair / "before.py") - peak_in_subprocess(pair / "after.py")
            if not found:
                print(f"| {pair.name} | none | - | {real / 1e6:.2f} | - |")
                continue
            f = found[0]
            ratio = f"{f['saving_bytes'] / real:.2f}" if real > 0 else "time only"
            print(
                f"| {pair.name} | {kind} ({f['line']}) | {f['saving_bytes'] / 1e6:.2f} | "
                f"{real / 1e6:.2f} | {ratio} |"
            )


if __name__ == "__main__":
    main()
