"""memslim command-line interface."""

import sys

# The modules of this process before the command line imported any (cli.target: a program
# may have its own module named like one memslim imports after this).
PROCESS_MODULES = frozenset(sys.modules)
