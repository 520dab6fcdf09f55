"""Where a file belongs: memslim's own code, a library (the standard library, an installed
package, code without a file of its own) or the user's program.

One definition, read by the report (short paths), the advice (the user's lines) and the C++
stack index (``stack_index.cpp``: library frames folded under the program's lines; it calls
``library_dirs`` once, before it takes the tracker's lock).
"""

from __future__ import annotations

import contextlib
import functools
import os
import site
import sysconfig
from collections.abc import Sequence

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # memslim's own files


@functools.cache
def library_roots() -> tuple[tuple[str, str], ...]:
    """Where installed packages and the standard library live, with the prefix a file there is
    shown with, longest first (site-packages is inside the standard library's directory)."""
    roots = {sysconfig.get_path(name): "site-packages" for name in ("purelib", "platlib")}
    with contextlib.suppress(AttributeError):  # site.getsitepackages is missing in some venvs
        roots.update(dict.fromkeys(site.getsitepackages(), "site-packages"))
    roots[site.getusersitepackages()] = "site-packages"
    for name in ("stdlib", "platstdlib"):
        roots.setdefault(sysconfig.get_path(name), "<stdlib>")
    roots.setdefault(os.path.dirname(os.__file__), "<stdlib>")
    found = ((os.path.abspath(r), p) for r, p in roots.items() if r)
    return tuple(sorted(found, key=lambda rp: -len(rp[0])))


@functools.cache
def library_dirs() -> tuple[str, ...]:
    """library_roots' directories, each ending with a separator."""
    return tuple(os.path.join(root, "") for root, _ in library_roots())


def is_library_path(path: str) -> bool:
    """Whether an absolute path is a library's (see library_label)."""
    return library_label(path) is not None


def library_label(path: str) -> str | None:
    """``"<stdlib>"`` or ``"site-packages"`` for an absolute path under a library root, or in
    any interpreter's site-packages or dist-packages; None for any other path."""
    for root, label in library_roots():
        if path.startswith(root + os.sep):
            return label
    if f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path:
        return "site-packages"
    return None


def is_own_path(path: str) -> bool:
    return path.startswith(PACKAGE_DIR)


def without_own_frames(frames: Sequence[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """A stack (innermost first) as the report shows an allocation site: without memslim's own
    frames (the runner beneath the program, the import hook that wraps an extension's loading:
    `memslim/_imports.py` was shown as the site of NumPy's objects), unless there is nothing
    else."""
    kept = [frame for frame in frames if not is_own_path(frame[0])]
    return kept if kept else list(frames)
