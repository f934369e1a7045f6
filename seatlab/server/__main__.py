"""``python -m seatlab.server``: see ``seatlab.server.lifecycle``."""

from __future__ import annotations

from seatlab.server.lifecycle import main

raise SystemExit(main())
