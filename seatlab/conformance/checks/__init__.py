"""The checks of the protocol contract, one module per part of ``protocol.md``; importing registers them.

They run in this order: semantics, pipelining, bad input, limits,
concurrency, then the process lifecycle (which starts servers of its own).
"""

from seatlab.conformance.checks import bad_input, concurrency, lifecycle, limits, pipelining, semantics

__all__ = ["bad_input", "concurrency", "lifecycle", "limits", "pipelining", "semantics"]
