"""``python -m cmdrun``: the ``cmdrun`` command (see :mod:`cmdrun._cli`)."""

import sys

from cmdrun._cli import main

if __name__ == "__main__":
    sys.exit(main())
