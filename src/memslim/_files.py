"""Checks and modes for the files memslim writes: light enough for ``memslim run`` to check
its output paths before the program starts without importing the report's modules (the
advice rules above all), which it imports after the program."""

from __future__ import annotations

import os


def check_writable(path: str, what: str = "the JSON report") -> None:
    """Raise OSError with a clear message if ``what`` cannot be written to ``path``."""
    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot write {what} to {path!r}: it is a directory")
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {what} to {path!r}: no such directory")
    if not os.access(directory, os.W_OK) or (
        os.path.exists(target) and not os.access(target, os.W_OK)
    ):
        raise PermissionError(f"cannot write {what} to {path!r}: permission denied")


def file_mode() -> int:
    """The mode a new file gets here (0666 less the umask), for files made by mkstemp (0600).
    The umask is read from /proc: os.umask() would change it for the program's threads too."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644
