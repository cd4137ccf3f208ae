"""``python -m digitwidgets``: the same as the ``digitwidgets`` command (``digitwidgets.app``)."""

import sys

from digitwidgets.app import main

if __name__ == "__main__":
    sys.exit(main())
