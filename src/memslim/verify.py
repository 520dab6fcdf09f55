"""``memslim run --verify``: the run's mechanical fixes (patch.py) applied in a temporary copy of
the current directory, and the program run there again under memslim with the same arguments,
once as it is and once patched: per applied finding, whether it is gone after the patch; the
two peaks' difference against the predicted savings; whether the program's output (stdout) and
exit status stayed the same. When several fixes apply, each of them (up to MAX_ALONE, largest
predicted saving first) is also applied alone in a run of its own: what that one change saves,
measured, beside what it was predicted to save.

Both runs are made in copies, so that they run under the same conditions and neither writes to
the user's files: the current directory's files of up to 1 MiB are copied, larger ones (data)
linked; ``.git``, ``__pycache__``, ``node_modules`` and virtual environments are left out. The
program's own output during the verification runs is captured, not shown.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from memslim.patch import Patch, make_patch

_COPIED_BYTES = 1 << 20  # larger files are linked, not copied
_MAX_ENTRIES = 50_000  # a current directory larger than this is not copied
MAX_ALONE = 8  # fixes measured one at a time (each one more run of the program)
# A patched run may take SLOWER times the original's time, plus SLOWER_GRACE seconds: a fix that
# bounded a recursive function's memo made a 1.2 s program take 15.5 s, and minutes beyond, and
# --verify waited for it without a bound.
SLOWER = 10
SLOWER_GRACE = 30.0
_SKIPPED = {".git", "__pycache__", "node_modules", ".mypy_cache", ".pytest_cache", ".tox"}


class VerifyError(Exception):
    """Why the fixes could not be verified (one sentence)."""


@dataclass
class Ran:
    exit_code: int
    stdout: bytes
    peak_bytes: int
    findings: list[dict[str, Any]]


@dataclass
class Verified:
    applied: list[tuple[Any, bool]]  # (finding, gone after the patch)
    original: Ran
    patched: Ran
    # Per applied finding, the peak it saves applied alone (original's peak minus that run's);
    # None where it was not run alone (a single fix: the patched run is its own).
    alone: list[int | None] = field(default_factory=list)
    # And the exit status of that run (None where not run alone).
    alone_exit: list[int | None] = field(default_factory=list)
    # And whether its output was the original's (None where not run alone): which fix of
    # several changed the output (a cycle fix that let a Huffman tree's inner nodes be freed
    # printed "bits 0"; only the patched run's "output differs" said so before).
    alone_same_output: list[bool | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.alone:
            self.alone = [None] * len(self.applied)
        if not self.alone_exit:
            self.alone_exit = [None] * len(self.applied)
        if not self.alone_same_output:
            self.alone_same_output = [None] * len(self.applied)

    @property
    def predicted_bytes(self) -> int:
        return sum(finding.saving_bytes for finding, _gone in self.applied)

    @property
    def measured_bytes(self) -> int:
        return self.original.peak_bytes - self.patched.peak_bytes

    @property
    def same_output(self) -> bool:
        return self.original.stdout == self.patched.stdout

    @property
    def same_exit(self) -> bool:
        return self.original.exit_code == self.patched.exit_code

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": [
                {
                    "kind": f.kind,
                    "file": f.file,
                    "line": f.line,
                    "symbol": f.symbol,
                    "saving_bytes": f.saving_bytes,
                    "gone": gone,
                    "measured_alone_bytes": alone,
                    "alone_exit_code": code,
                    "alone_same_output": same,
                }
                for (f, gone), alone, code, same in zip(
                    self.applied, self.alone, self.alone_exit, self.alone_same_output, strict=True
                )
            ],
            "predicted_bytes": self.predicted_bytes,
            "measured_bytes": self.measured_bytes,
            "original": {
                "peak_traced_bytes": self.original.peak_bytes,
                "exit_code": self.original.exit_code,
            },
            "patched": {
                "peak_traced_bytes": self.patched.peak_bytes,
                "exit_code": self.patched.exit_code,
            },
            "same_output": self.same_output,
            "same_exit": self.same_exit,
        }


def alone_runs(patch: Patch) -> list[int]:
    """Which applied fixes ``verify`` also runs alone (indices into ``patch.applied``): none for
    a single fix, else up to MAX_ALONE, the largest predicted savings first."""
    if len(patch.applied) < 2:
        return []
    order = sorted(range(len(patch.applied)), key=lambda i: -patch.applied[i].saving_bytes)
    return order[:MAX_ALONE]


def verify(patch: Patch, argv: list[str], memslim_args: list[str], cwd: str) -> Verified:
    """Runs ``argv`` (the target and its arguments, as after ``memslim run``) as it is and
    patched, each in a copy of ``cwd``. Raises VerifyError when it cannot."""
    if not patch.applied:
        raise VerifyError("no finding of this run has a mechanical fix")
    for name in patch.files:
        if name.startswith(os.pardir + os.sep) or os.path.isabs(name):
            raise VerifyError(f"{name} is outside the current directory, which is what is copied")
    # Each fix alone, when there are several: which change saves how much.
    chosen = alone_runs(patch)
    with tempfile.TemporaryDirectory(prefix="memslim-verify-") as scratch:

        def run(which: str, files: dict[str, str], limit: float | None) -> Ran:
            """A run in a copy of ``cwd`` with ``files`` written over it, stopped after
            ``limit`` seconds (see SLOWER)."""
            copy = os.path.join(scratch, which)
            _mirror(cwd, copy)
            for name, text in files.items():
                target = os.path.join(copy, name)
                if os.path.islink(target):
                    os.unlink(target)
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
            report = os.path.join(scratch, f"{which}.json")
            return _run(copy, report, argv, memslim_args, limit)

        began = time.monotonic()
        original = run("original", {}, None)
        limit = SLOWER * (time.monotonic() - began) + SLOWER_GRACE
        patched = run("patched", patch.files, limit)
        in_original = _lines_in_original(patch, cwd)
        left = set()
        for f in patched.findings:
            name = _relative(f["file"], scratch)
            lines = in_original.get(name)
            line = (
                lines[f["line"]] if lines is not None and 0 < f["line"] < len(lines) else f["line"]
            )
            left.add((f["kind"], name, line, f["symbol"]))
        alone: list[int | None] = [None] * len(patch.applied)
        alone_exit: list[int | None] = [None] * len(patch.applied)
        alone_same: list[bool | None] = [None] * len(patch.applied)
        for i in chosen:
            single = make_patch([patch.applied[i]], cwd=cwd)
            if single.applied:  # it applies by itself too
                ran = run(f"alone-{i}", single.files, limit)
                alone[i] = original.peak_bytes - ran.peak_bytes
                alone_exit[i] = ran.exit_code
                alone_same[i] = ran.stdout == original.stdout
    applied = [
        (f, (f.kind, os.path.relpath(f.file, cwd), f.line, f.symbol) not in left)
        for f in patch.applied
    ]
    return Verified(applied, original, patched, alone, alone_exit, alone_same)


def _lines_in_original(patch: Patch, cwd: str) -> dict[str, list[int]]:
    """Per patched file, each patched line's number in the file as it was (index: the patched
    line's number; a line the patch rewrote or added maps to the first line it replaced or
    preceded). A finding is gone when no finding of its kind and symbol is left at its line:
    kind and symbol alone took the NumPy job's dtype finding on one line for the same dtype's
    finding on another, and said "still found" of a fix that worked."""
    maps: dict[str, list[int]] = {}
    for name, text in patch.files.items():
        try:
            with open(os.path.join(cwd, name), encoding="utf-8") as f:
                original = f.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        patched = text.splitlines()
        table = list(range(len(patched) + 1))
        matcher = difflib.SequenceMatcher(None, original, patched, autojunk=False)
        for _tag, i1, i2, j1, j2 in matcher.get_opcodes():
            for j in range(j1, j2):
                table[j + 1] = i1 + 1 + min(j - j1, max(i2 - i1 - 1, 0))
        maps[name] = table
    return maps


def _relative(file: str, scratch: str) -> str:
    """A file of a verification run, relative to its copy's root."""
    root = os.path.join(scratch, "patched")
    return os.path.relpath(file, root) if file.startswith(root + os.sep) else file


def _mirror(source: str, destination: str) -> None:
    entries = 0
    for folder, folders, files in os.walk(source):
        folders[:] = [
            d
            for d in folders
            if d not in _SKIPPED and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
        ]
        into = os.path.join(destination, os.path.relpath(folder, source))
        os.makedirs(into, exist_ok=True)
        entries += len(folders) + len(files)
        if entries > _MAX_ENTRIES:
            raise VerifyError(
                f"the current directory holds more than {_MAX_ENTRIES:,} files to copy"
            )
        for name in files:
            path = os.path.join(folder, name)
            try:
                if os.path.isfile(path) and os.path.getsize(path) <= _COPIED_BYTES:
                    shutil.copy2(path, os.path.join(into, name))
                else:
                    os.symlink(os.path.abspath(path), os.path.join(into, name))
            except OSError as e:
                raise VerifyError(f"could not copy {path}: {e.strerror or e}") from None


def _run(
    folder: str, report: str, argv: list[str], memslim_args: list[str], limit: float | None
) -> Ran:
    """One run of the program under memslim in ``folder``; one that takes longer than
    ``limit`` seconds is stopped, with everything it started (its own process group)."""
    command = [sys.executable, "-m", "memslim", "run", "--json", report, *memslim_args, *argv]
    try:
        with subprocess.Popen(
            command,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as process:
            try:
                stdout, _stderr = process.communicate(timeout=limit)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise VerifyError(
                    f"a patched run did not end within {limit:.0f} s, {SLOWER} times the"
                    " original's: a fix made the program slower (a bounded cache recomputing"
                    " what it dropped?)"
                ) from None
        with open(report, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise VerifyError(f"a verification run gave no report: {e}") from None
    return Ran(process.returncode, stdout, int(data["peak"]["traced_bytes"]), data["findings"])
