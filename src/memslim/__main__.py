"""``python -m memslim``: the same as the ``memslim`` command."""

import os
import sys

# python -m put the working directory first on sys.path, where the ``memslim`` command has its
# own directory: a module there named like one memslim imports (token.py, resource.py) was
# imported in its place, and memslim failed before the program started. The program gets its
# own directory there (cli.target.run). Not under -P, which puts nothing there.
if sys.path and not getattr(sys.flags, "safe_path", False) and sys.path[0] == os.getcwd():
    sys.path[0] = os.path.dirname(sys.executable)

from memslim.cli.main import entry

raise SystemExit(entry())
