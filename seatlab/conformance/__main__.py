"""``python -m seatlab.conformance``: see ``seatlab.conformance.cli``."""

from seatlab.conformance.cli import main

raise SystemExit(main())
