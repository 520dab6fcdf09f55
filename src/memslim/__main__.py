"""``python -m memslim``: the same as the ``memslim`` command."""

from memslim.cli.main import entry

raise SystemExit(entry())
