"""``python -m services.coordination <command>``: the commands are in ``ops/cli.py``."""

import sys

from services.coordination.ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
