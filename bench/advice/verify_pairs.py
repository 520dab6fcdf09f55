"""`memslim run --verify` on every pair's before.py in examples/advice/: which findings the patch
fixes mechanically, the saving they predict against the peaks' difference the verification
measures (the program and its patched copy, each run under memslim), and whether the patched
program's output and exit status stayed the same. A pair whose library is missing is named and
skipped.

    python3 bench/advice/verify_pairs.py       # a markdown table for bench/RESULTS.md
"""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "advice"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/_common.py
from _common import git_head  # noqa: E402

NEEDS = {"dtype": "numpy", "category": "pandas", "downcast": "pandas", "slots_attrs": "attr"}


def verified(pair: Path, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--verify", "--json", str(out), "before.py"],
        cwd=pair, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if not out.exists():
        tail = " | ".join(done.stderr.strip().splitlines()[-2:])
        return {"error": f"exit {done.returncode}: {tail}"}
    return json.loads(out.read_text()).get("verify", {"error": "no verification in the report"})


def main() -> None:
    print(f"Python {platform.python_version()}, {platform.platform()}, commit {git_head()}")
    print()
    print(
        "| pair | fixes applied (gone after the patch) | predicted (MB) | measured (MB) "
        "| measured / predicted | output, exit status |"
    )
    print("|---|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for pair in sorted(p for p in EXAMPLES.iterdir() if (p / "before.py").exists()):
            need = NEEDS.get(pair.name)
            if need and importlib.util.find_spec(need) is None:
                print(f"| {pair.name} | skipped: {need} is not installed | | | | |")
                continue
            result = verified(pair, Path(tmp) / f"{pair.name}.json")
            if "error" in result:
                print(f"| {pair.name} | {result['error']} | | | | |")
                continue
            fixes = ", ".join(
                f"{a['kind']} line {a['line']} ({'gone' if a['gone'] else 'still found'})"
                for a in result["applied"]
            )
            predicted, measured = result["predicted_bytes"], result["measured_bytes"]
            ratio = f"{measured / predicted:.2f}" if predicted > 0 else "— (speed only)"
            same = "same" if result["same_output"] and result["same_exit"] else "**differs**"
            print(
                f"| {pair.name} | {fixes or 'none: no mechanical fix'} | {predicted / 1e6:.2f} "
                f"| {measured / 1e6:.2f} | {ratio} | {same} |"
            )


if __name__ == "__main__":
    main()
