"""The wire format's limits, as plain numbers (no protobuf import): the server's flags and the runner's
config check both hold to them."""

from __future__ import annotations

MAX_CAPACITY = 2**32 - 1
"""Seat numbers and capacities are uint32 on the wire."""
