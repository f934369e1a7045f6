"""The timeline inside a point: a load process's figures per interval, merged across processes.

How this works: the intervals are a grid of ``step`` ns laid from the measured window's start
(interval 0; a sell-out's window is the whole run, so the run's start) back over the warm-up and on
to the window's close; the last interval ends at the close, so it may be shorter. The grid takes the
window's own three times, as ``recording.window_values`` does (answers count up to ``end``;
unanswered Books are cut at ``close``), and each figure is the window's rule applied per interval:

- an answer counts in the interval it arrived in (counts by kind, as the window's answer counts),
  and a Book's at its latency in that interval's ``served`` histogram. An answer after the window's
  end counts in no interval (in a sell-out, whose end is open, it counts in the last one, as in the
  window).
- a Book still waiting at an interval's close (due by then, not answered by then: answered later, or
  never) counts in that interval's ``censored`` histogram at its age then: a lower bound, as the
  window counts the Books still waiting when it closes. It counts at every close it waits through,
  so a server that stops for a second shows in the p99 of each interval while it stops, not only in
  the one where the answers finally come.

So over the window's intervals (0 on) the served histograms add up to the window's (served_latency.hdr)
exactly, the answer counts to its counts, and the last interval's censored histogram is the window's
(censored_latency.hdr). An interval's every-request view is its served plus its censored histogram, as
latency.hdr is the window's; those do not add up across intervals, because a long wait counts at each
close it waits through. Each answer's share depends only on itself and the grid, so a load process
that folds its answers in parts (``Recording.fold``) gets exactly the figures of folding once, and
the processes' figures add up (``Intervals.merge``) on the grid they share (one window, one step).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from seatlab.client import histogram
from seatlab.client.answers import ANSWER_COUNTS, answer_masks, book_mask

COUNTS = ANSWER_COUNTS
"""The answer counts kept per interval: the window's, in this order."""


@dataclass(frozen=True)
class Grid:
    """The intervals of one run (ns, perf_counter_ns): ``step`` long from ``origin``, the last ending at
    ``close``; answers later than ``end`` count in none (``end`` > ``close``: in the last)."""

    origin: int
    close: int
    end: int
    step: int

    @property
    def last(self) -> int:
        """The index of the interval that ends at ``close``."""
        return max(0, _ceil_div(self.close - self.origin, self.step) - 1)

    def index(self, t: Any) -> Any:
        """Each time's interval (int64 numpy arrays): interval k is (origin + k step, origin + (k+1) step],
        interval 0 also holds ``origin`` itself (the window counts from its start, inclusive)."""
        import numpy as np

        k = _ceil_div(t - self.origin, self.step) - 1
        return np.minimum(np.where(t == self.origin, 0, k), self.last)

    def bounds(self, k: int) -> tuple[int, int]:
        """Interval ``k``'s start and close (ns)."""
        return self.origin + k * self.step, min(self.origin + (k + 1) * self.step, self.close)

    def closes(self, k: Any) -> Any:
        """The close of each interval in ``k`` (an int64 numpy array)."""
        import numpy as np

        return np.minimum(self.origin + (k + 1) * self.step, self.close)


@dataclass(frozen=True)
class Intervals:
    """Per interval of ``grid`` (by index, only those with something in them): the answer counts
    (``COUNTS``' order) and the encoded served and censored histograms (microseconds)."""

    grid: Grid
    counts: dict[int, tuple[int, ...]] = field(default_factory=dict)
    served: dict[int, bytes] = field(default_factory=dict)
    censored: dict[int, bytes] = field(default_factory=dict)

    def copy(self) -> Intervals:
        """The same figures, in dicts of their own (``interval_figures(into=...)`` adds in place)."""
        return Intervals(self.grid, dict(self.counts), dict(self.served), dict(self.censored))

    def shares_grid(self, other: Intervals) -> bool:
        """Whether ``merge`` can add these up: the same origin and step (the closes may differ)."""
        return (self.grid.origin, self.grid.step) == (other.grid.origin, other.grid.step)

    def merge(self, other: Intervals) -> Intervals:
        """Both together: counts add, histograms add bucket by bucket. The grids must share their origin
        and step; the close is the later one (a sell-out's processes close when each is done)."""
        a, b = self.grid, other.grid
        if not self.shares_grid(other):
            raise ValueError(f"intervals on different grids: {a} and {b}")
        grid = Grid(a.origin, max(a.close, b.close), max(a.end, b.end), a.step)
        counts = dict(self.counts)
        for k, values in other.counts.items():
            mine = counts.get(k)
            counts[k] = values if mine is None else tuple(x + y for x, y in zip(mine, values, strict=True))
        return Intervals(
            grid, counts, _merged(self.served, other.served), _merged(self.censored, other.censored)
        )

    def histograms(self, k: int) -> tuple[HdrHistogram, HdrHistogram]:
        """Interval ``k``'s (served, censored) histograms, empty where nothing was recorded."""
        served, censored = self.served.get(k), self.censored.get(k)
        return (
            histogram.new_histogram() if served is None else histogram.decode(served),
            histogram.new_histogram() if censored is None else histogram.decode(censored),
        )

    def count(self, k: int, name: str) -> int:
        """Interval ``k``'s count of answers ``name`` (one of ``COUNTS``)."""
        values = self.counts.get(k)
        return 0 if values is None else values[COUNTS.index(name)]


def _merged(a: dict[int, bytes], b: dict[int, bytes]) -> dict[int, bytes]:
    out = dict(a)
    for k, data in b.items():
        out[k] = data if k not in out else histogram.encode(histogram.merge([out[k], data]))
    return out


def interval_figures(
    grid: Grid, t_done: Any, t_lat: Any, kinds: Any, never_answered_due: Any, into: Intervals | None = None
) -> Intervals:
    """The per-interval figures of these answers and never-answered Books (int64 ns numpy arrays in);
    with ``into`` (on ``grid``), added to its figures in place (a fold: no copy of what it holds)."""
    import numpy as np

    out = Intervals(grid) if into is None else into
    if out.grid != grid:
        raise ValueError(f"intervals on {out.grid}, figures on {grid}")
    counted = t_done <= grid.end
    k = grid.index(t_done[counted])
    by_name = answer_masks(kinds[counted])
    is_book = by_name["book"]
    masks = [by_name[name] for name in COUNTS]
    ks, where = np.unique(k, return_inverse=True)
    by_kind = [np.bincount(where[mask], minlength=len(ks)).tolist() for mask in masks]
    for i, interval in enumerate(ks.tolist()):
        values = tuple(column[i] for column in by_kind)
        before = out.counts.get(interval)
        out.counts[interval] = values if before is None else tuple(map(sum, zip(before, values, strict=True)))
    _record_by_interval(out.served, k[is_book], t_lat[counted][is_book])
    # the waiting: every Book, answered (at any time) or not, at each close it waits through
    book = book_mask(kinds)
    due = np.concatenate(((t_done - t_lat)[book], never_answered_due))
    answered = np.concatenate((t_done[book], np.full(len(never_answered_due), np.iinfo(np.int64).max)))
    waiting_k, ages = waiting(grid, due, answered)
    _record_by_interval(out.censored, waiting_k, ages)
    # an hdrh histogram and its encoder refer to each other, so only the cyclic collector frees the
    # ones decoded here (their counts: 180 kB each); collecting the young generations frees them now
    gc.collect(1)
    return out


def waiting(grid: Grid, due: Any, answered: Any) -> tuple[Any, Any]:
    """(interval, age) of each close a request waits through: due by the close, answered after it.

    The closes of intervals ``first..last`` a request due at ``d`` and answered at ``t`` (int64 max:
    never) waits through are those ``b`` with ``d <= b < t``: from the first interval whose close is
    at or after ``d`` to the last whose close is before ``t``.
    """
    import numpy as np

    last = grid.last
    first = _ceil_div(due - grid.origin, grid.step) - 1  # the first close at or after the due time
    first = np.where((first >= last) & (due > grid.close), last + 1, np.minimum(first, last))
    before = _ceil_div(np.minimum(answered, grid.close) - grid.origin, grid.step) - 2
    upto = np.where(answered > grid.close, last, before)  # the last close before the answer
    n = np.maximum(upto - first + 1, 0)
    total = int(n.sum())
    if not total:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    owner = np.repeat(np.arange(len(n)), n)
    step_in = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    k = first[owner] + step_in
    return k, grid.closes(k) - due[owner]


def _record_by_interval(store: dict[int, bytes], k: Any, values_ns: Any) -> None:
    """Add each value (ns) to its interval's histogram in ``store`` (encoded, microseconds)."""
    import numpy as np

    if not len(k):
        return
    order = np.argsort(k, kind="stable")
    k, values_ns = k[order], values_ns[order]
    ks, starts = np.unique(k, return_index=True)
    for interval, part in zip(ks.tolist(), np.split(values_ns, starts[1:]), strict=True):
        before = store.get(interval)
        h = histogram.new_histogram() if before is None else histogram.decode(before)
        store[interval] = histogram.encode(histogram.histogram_ns(part, into=h))


def _ceil_div(a: Any, b: int) -> Any:
    """ceil(a / b) for integers or int64 numpy arrays (b > 0)."""
    return -((-a) // b)
