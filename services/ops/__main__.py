"""``python -m services.ops <area> <command>``: the commands are in ``cli.py``."""

import sys

from services.ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
