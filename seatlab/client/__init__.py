"""The seatlab load generator: closed and open loop, many processes, exact histograms, a booking audit.

``run_load(LoadSpec(...))`` is the library; ``python -m seatlab.client`` the command.
"""

from __future__ import annotations

from seatlab.client.run import run_load
from seatlab.client.spec import AuditError, FailedRunError, LoadError, LoadSpec

__all__ = ["AuditError", "FailedRunError", "LoadError", "LoadSpec", "run_load"]
