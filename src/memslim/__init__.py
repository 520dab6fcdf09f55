"""memslim: find out where a Python program's memory goes, and what change saves how much.

Public API:

* :func:`sizeof` — the true deep size of an object (C++ engine).
* :func:`getsizeof` — exactly :func:`sys.getsizeof`, for comparison.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from memslim._sizeof import SizeDetail, SizeofError, TypeSize, getsizeof, sizeof

try:
    __version__ = _version("memslim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["SizeDetail", "SizeofError", "TypeSize", "__version__", "getsizeof", "sizeof"]
