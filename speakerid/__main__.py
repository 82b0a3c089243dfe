"""``python -m speakerid``: the command line of :mod:`speakerid.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
