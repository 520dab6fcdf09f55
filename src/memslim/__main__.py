"""``python -m memslim``: the same as the ``memslim`` command."""

from memslim.cli.main import main

raise SystemExit(main())
