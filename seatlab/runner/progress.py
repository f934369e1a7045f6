"""Progress over a run's sweep points: a ``tqdm`` bar with an ETA, on a private copy of stderr.

The bar counts expected seconds, not points, so the ETA weighs each point by
what it is expected to take (a sell-out point at 40 bookings/s weighs five
times one at 200/s); the points done and failed are its postfix, and each
finished point gets its own line above the bar.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Self, TextIO

from tqdm import tqdm


def _own_stderr() -> TextIO:
    """A private copy of stderr, so the bar still shows while fd 2 is sent to a point's log file."""
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    except (OSError, ValueError, AttributeError):  # no real descriptor (e.g. captured output)
        return sys.stderr


class SweepProgress:
    """``with SweepProgress(weights) as p: p.start(label); ...; p.finish(label, outcome, ok)``."""

    def __init__(self, weights: Sequence[float], stream: TextIO | None = None) -> None:
        """`weights`: each point's expected length in seconds, in the order the points run."""
        self.weights = list(weights)
        self.done = 0
        self.failed = 0
        self._own_stream = stream is None
        self.stream = stream if stream is not None else _own_stderr()
        self.bar = tqdm(
            total=round(sum(self.weights), 1),
            file=self.stream,
            unit="s",
            bar_format="{l_bar}{bar:24}| elapsed {elapsed}, ETA {remaining}{postfix}",
            dynamic_ncols=True,
            leave=True,
        )
        self._postfix()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
        if self._own_stream and self.stream is not sys.stderr:
            self.stream.close()

    def start(self, label: str) -> None:
        self.bar.set_description_str(label, refresh=True)

    def finish(self, label: str, outcome: str, ok: bool = True) -> None:
        """One line for the finished point above the bar, then the bar moves on by the point's weight."""
        self.failed += 0 if ok else 1
        self.bar.write(f"point {self.done + 1}/{len(self.weights)}: {label}: {outcome}", file=self.stream)
        left = self.bar.total - self.bar.n  # the total is rounded: never step past it (tqdm warns, ETA < 0)
        last = self.done + 1 == len(self.weights)
        self.bar.update(left if last else min(self.weights[self.done], left))
        self.done += 1
        self._postfix()

    def _postfix(self) -> None:
        failed = f", {self.failed} failed" if self.failed else ""
        self.bar.set_postfix_str(f"{self.done}/{len(self.weights)} points{failed}", refresh=True)
