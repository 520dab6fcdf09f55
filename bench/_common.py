"""What every benchmark records about the software it measured."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import os
import shlex
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def version(dist: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def memslim_build() -> str:
    """A fingerprint of the installed memslim: SHA-256 of its installed files (not bytecode),
    and when it was installed. Another session may reinstall memslim while a benchmark runs;
    comparing fingerprints tells which runs measured which build."""
    try:
        dist = importlib.metadata.distribution("memslim")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
    digest = hashlib.sha256()
    newest = 0.0
    for f in sorted(dist.files or [], key=str):
        if f.suffix == ".pyc":
            continue
        path = Path(str(f.locate()))
        try:
            digest.update(str(f).encode() + b"\0" + path.read_bytes())
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            digest.update(str(f).encode() + b"\0missing")
    if not newest:
        return digest.hexdigest()[:12]
    when = dt.datetime.fromtimestamp(newest, dt.UTC)
    return f"{digest.hexdigest()[:12]} (installed {when:%Y-%m-%d %H:%M:%S} UTC)"


def _git(*args: str) -> str:
    argv = ["git", "-C", str(REPO), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def git_head() -> str:
    """The repository's commit (short hash), with "+changes" when the work tree differs from it:
    every table is dated by the commit it measured."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def labelled_command(spec: str) -> tuple[str, list[str], dict[str, str]]:
    """A ``LABEL=COMMAND`` argument of the comparison scripts (bench/real/ab.py,
    bench/overhead/hook_instructions.py): the label, the command split like a shell line, and
    its environment, with the leading ``NAME=value`` words set in it. ValueError if malformed."""
    label, sep, line = spec.partition("=")
    if not sep or not label or not line.strip():
        raise ValueError(f"expected LABEL=COMMAND, got {spec!r}")
    words = shlex.split(line)
    env = dict(os.environ)
    while words and "=" in words[0] and not words[0].startswith("-"):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if not words:
        raise ValueError(f"{label}: no command after the environment assignments")
    return label, words, env
