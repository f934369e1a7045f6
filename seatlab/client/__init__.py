"""The seatlab load generator: closed and open loop, many processes, exact histograms, a booking audit.

``run_load(LoadSpec(...))`` is the library; ``python -m seatlab.client`` the command. A run
that cannot be made raises ``LoadError`` (exit 1, or 2 for bad parameters), one whose server broke
the booking rules ``AuditError`` (3), one that measured nothing or could not be audited
``FailedRunError`` (4); the last two carry the summary, written first.
"""

from __future__ import annotations

from seatlab.client.run import run_load
from seatlab.client.spec import AuditError, FailedRunError, LoadError, LoadSpec

__all__ = ["AuditError", "FailedRunError", "LoadError", "LoadSpec", "run_load"]
