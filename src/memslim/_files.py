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


def check_not_source(path: str, source: str, what: str) -> None:
    """Raise FileExistsError if ``path`` is the program's ``source`` file: writing ``what``
    there would replace the program (``memslim run --json job.py job.py``)."""
    try:
        same = os.path.samefile(path, source)
    except (OSError, ValueError):
        return  # either does not exist (yet): nothing to lose
    if same:
        raise FileExistsError(f"cannot write {what} to {path!r}: it is the program's source")


def file_mode() -> int:
    """The mode a new file gets here (0666 less the umask), for files made by mkstemp (0600).
    The umask is read from /proc: os.umask() would change it for the program's threads too."""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def run_directory(kind: str) -> str:
    """A new temporary directory for one run's ``kind`` of files (census children's censuses,
    child processes' captures, an attached process's answer), named after this process:
    ``memslim-KIND-NS-PID-XXXXXXXX`` in the temporary directory, NS the inode of its PID
    namespace. Before making it, removes those of the same kind that runs killed before they
    could (SIGKILL, the OOM killer: a run that used too much memory is memslim's typical
    user's) left behind: made in this PID namespace by a process that is gone. A directory of a
    live process, another user's, another namespace's (a container sharing /tmp) or of an
    older name is left alone."""
    import tempfile

    prefix = f"memslim-{kind}-{_pid_namespace()}-"
    # tempfile keeps the directory it finds (tempfile.tempdir) for the process: the program's
    # cache, left as it was. A program that set TMPDIR while it ran got memslim's choice, made
    # before it started.
    cached = tempfile.tempdir
    try:
        directory = tempfile.gettempdir()
        _remove_orphans(directory, prefix)
        return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=directory)
    finally:
        tempfile.tempdir = cached


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux, or no /proc: no namespaces to tell apart
        return 0


def _remove_orphans(directory: str, prefix: str) -> None:
    import shutil

    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    uid = os.getuid()
    for entry in entries:
        pid_text = entry.name[len(prefix) :].partition("-")[0]
        if not entry.name.startswith(prefix) or not pid_text.isdigit():
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_uid != uid:
                continue
        except OSError:
            continue
        if not _gone(int(pid_text)):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)


def _gone(pid: int) -> bool:
    """Whether no process has ``pid`` (a zombie, or a process that reused it, has)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's: it exists
        return False
    return False
