"""``python -m seatlab.client``."""

from __future__ import annotations

import sys

from seatlab.client.cli import main

if __name__ == "__main__":
    sys.exit(main())
