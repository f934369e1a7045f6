"""What a load process records while it runs, and the window's figures made from it at the end.

How this works: on the hot path each answer appends four values to flat
arrays (answer time, latency, recorded kind, client), nothing more; a Book
that is never answered leaves its due time. At the end ``Recording.tally``
turns them into the window's figures: two histograms of the Books the
measured window counts, ``served`` (answered inside the window, at their
latency, even if sent before it opened) and ``censored`` (due by the
window's end and not answered by then, at their age when it closed: the
ones answered later while draining, and the ones never answered), the
window's answer counts, and one row per client.

Memory follows the run's state, not its length: once the window is known
(duration mode: the parent's ``Window``), ``fold`` turns what the arrays
hold into those figures so far (the histograms, the counts, per client its
counts and its first and last answer) and empties them; the load process
folds every ``FOLD_ANSWERS`` answers. Each answer's share of the figures
depends only on itself and the window, so folding in parts gives exactly
the figures of folding once. Before the window is known the arrays hold
the warm-up; a sell-out's window (the whole run up to the last first
SoldOut) is known only at the end, but its answers are bounded by the
capacity and the clients.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from seatlab.client import histogram
from seatlab.client.answers import answer_masks, book_mask
from seatlab.client.histogram import histogram_ns
from seatlab.client.timeline import Grid, Intervals, interval_figures

FOLD_ANSWERS = 1 << 16
"""Answers held before a load process folds them (about 1.4 MB of arrays)."""


@dataclass(frozen=True)
class ClientTally:
    """What the per-client rows need besides the arrays: who the client is and what it saw."""

    index: int
    errors: int
    sold_out_at: int  # ns, 0 = never told sold out


@dataclass(frozen=True)
class Tally:
    """The window's figures of one load process."""

    served: HdrHistogram
    censored: HdrHistogram
    window_answers: dict[str, int]
    rows: list[dict[str, Any]]
    intervals: Intervals  # the same figures per interval (``timeline``)


@dataclass
class _Folded:
    """The window's figures of the answers folded so far (``Recording.fold``)."""

    window: tuple[int, int]
    clients: int
    served: HdrHistogram = field(default_factory=histogram.new_histogram)
    late: HdrHistogram = field(default_factory=histogram.new_histogram)  # answered after the window
    counts: dict[str, int] = field(default_factory=dict)
    per_client: dict[str, Any] = field(default_factory=dict)  # name -> int64 numpy array per client
    first: Any = None  # per client: its first answer's time (ns), -1 none yet
    last: Any = None
    answers: int = 0
    intervals: Intervals | None = None


@dataclass
class Recording:
    """The hot path's arrays: one entry per answer, plus the due times of Books never answered."""

    t_done: array[int] = field(default_factory=lambda: array("q"))
    t_lat: array[int] = field(default_factory=lambda: array("q"))
    kinds: array[int] = field(default_factory=lambda: array("b"))
    who: array[int] = field(default_factory=lambda: array("i"))  # the client's index in its process
    never_answered_due: array[int] = field(default_factory=lambda: array("q"))
    interval_ns: int = 1_000_000_000
    """The timeline's step (``timeline.Grid``)."""
    _folded: _Folded | None = None

    @property
    def answers(self) -> int:
        """Every answer recorded, folded or not."""
        return len(self.t_done) + (self._folded.answers if self._folded is not None else 0)

    def fold(self, window: tuple[int, int], clients: int) -> None:
        """Fold what the arrays hold into the figures of ``window`` and empty them (in place: the
        clients append through bound methods). The window must be the one ``tally`` gets."""
        import numpy as np

        folded = self._folded
        if folded is None:
            folded = self._folded = _Folded(window, clients)
            folded.first = np.full(clients, -1, dtype=np.int64)
            folded.last = np.full(clients, -1, dtype=np.int64)
            none = np.empty(0, dtype=np.int64)
            folded.counts, folded.per_client = _window_counts(none, none, none, *window, clients)
        elif folded.window != window:
            raise ValueError(f"folded with window {folded.window}, now {window}")
        if not len(self.t_done):
            return
        t = np.frombuffer(self.t_done, dtype=np.int64)
        lat = np.frombuffer(self.t_lat, dtype=np.int64)
        kinds = np.frombuffer(self.kinds, dtype=np.int8)
        who = np.frombuffer(self.who, dtype=np.int32)
        start, end = window
        served, late = window_values(t, lat, kinds, np.empty(0, dtype=np.int64), start, end, end)
        histogram_ns(served, into=folded.served)  # recorded in place: no histogram made per fold
        histogram_ns(late, into=folded.late)
        grid = Grid(start, end, end, self.interval_ns)
        folded.intervals = interval_figures(
            grid, t, lat, kinds, np.empty(0, dtype=np.int64), folded.intervals
        )
        counts, per_client = _window_counts(t, kinds, who, start, end, clients)
        for name, value in counts.items():
            folded.counts[name] += value
        for name, values in per_client.items():
            folded.per_client[name] += values
        ids, idx = np.unique(who, return_index=True)
        unset = folded.first[ids] < 0
        folded.first[ids[unset]] = t[idx[unset]]
        ids, idx = np.unique(who[::-1], return_index=True)
        folded.last[ids] = t[len(t) - 1 - idx]
        folded.answers += len(t)
        del t, lat, kinds, who  # the views, before the arrays shrink
        for values in (self.t_done, self.t_lat, self.kinds, self.who):
            del values[:]

    def tally(
        self, worker: int, clients: Sequence[ClientTally], t0: int, window: tuple[int, int] | None, cut: int
    ) -> Tally:
        """The figures of the window ``[start, end]`` (``None``: the whole run, closing at ``cut``)."""
        import numpy as np

        n = len(clients)
        if window is not None:
            self.fold(window, n)
        elif self._folded is not None:
            raise ValueError("answers were folded into a window, but the tally has none")
        folded = self._folded
        if folded is not None:
            start, end = folded.window
            never = np.frombuffer(self.never_answered_due, dtype=np.int64)
            served = folded.served
            censored = histogram_ns(end - never[never <= end], into=histogram.merge([folded.late]))
            none = np.empty(0, dtype=np.int64)
            grid = Grid(start, end, end, self.interval_ns)
            held = None if folded.intervals is None else folded.intervals.copy()  # a tally changes nothing
            intervals = interval_figures(grid, none, none, none.astype(np.int8), never, held)
            counts, per_client = folded.counts, {k: v.tolist() for k, v in folded.per_client.items()}
            first = [None if v < 0 else (int(v) - t0) / 1e9 for v in folded.first.tolist()]
            last = [None if v < 0 else (int(v) - t0) / 1e9 for v in folded.last.tolist()]
        else:
            t = np.frombuffer(self.t_done, dtype=np.int64)
            kinds = np.frombuffer(self.kinds, dtype=np.int8)
            who = np.frombuffer(self.who, dtype=np.int32)
            start, end = t0, 2**62
            served, censored = window_latencies(
                t, np.frombuffer(self.t_lat, dtype=np.int64), kinds,
                np.frombuffer(self.never_answered_due, dtype=np.int64), start, end, cut,
            )  # fmt: skip
            counts, arrays = _window_counts(t, kinds, who, start, end, n)
            intervals = interval_figures(
                Grid(start, cut, end, self.interval_ns), t, np.frombuffer(self.t_lat, dtype=np.int64), kinds,
                np.frombuffer(self.never_answered_due, dtype=np.int64),
            )  # fmt: skip
            per_client = {k: v.tolist() for k, v in arrays.items()}
            first = [None] * n
            last = [None] * n
            if len(who):
                ids, idx = np.unique(who, return_index=True)
                for i, j in zip(ids.tolist(), idx.tolist(), strict=True):
                    first[i] = (int(t[j]) - t0) / 1e9
                ids, idx = np.unique(who[::-1], return_index=True)
                for i, j in zip(ids.tolist(), idx.tolist(), strict=True):
                    last[i] = (int(t[len(t) - 1 - j]) - t0) / 1e9
        rows = [
            {
                "client": c.index,
                "process": worker,
                **{name: values[i] for name, values in per_client.items()},
                "errors": c.errors,
                "first_answer_s": first[i],
                "last_answer_s": last[i],
                "first_sold_out_s": (c.sold_out_at - t0) / 1e9 if c.sold_out_at else None,
            }
            for i, c in enumerate(clients)
        ]
        return Tally(served, censored, counts, rows, intervals)


def _window_counts(
    t: Any, kinds: Any, who: Any, start: int, end: int, n: int
) -> tuple[dict[str, int], dict[str, Any]]:
    """The window's answer counts by kind, and per client (int64 arrays of ``n``), of these answers."""
    import numpy as np

    inside = (t >= start) & (t <= end)
    masks = {name: inside & mask for name, mask in answer_masks(kinds).items()}
    counts = {name: int(mask.sum()) for name, mask in masks.items()}
    per_client = {
        name: np.bincount(who[masks[key]], minlength=n).astype(np.int64)
        for name, key in (("answers", "book"), ("seats", "seat"), ("sold_out", "sold_out"),
                          ("released", "released"))
    }  # fmt: skip
    return counts, per_client


def window_latencies(
    t_done: Any, t_lat: Any, kinds: Any, never_answered_due: Any, start: int, end: int, cut: int
) -> tuple[HdrHistogram, HdrHistogram]:
    """(served, censored) histograms of the Books a window counts (int64 ns numpy arrays in).

    Answers count when they arrive in ``[start, end]``; ``cut`` is when the
    window closed for the unanswered ones (``end``, or the run's finish when
    the run is the window).
    """
    served, censored = window_values(t_done, t_lat, kinds, never_answered_due, start, end, cut)
    return histogram_ns(served), histogram_ns(censored)


def window_values(
    t_done: Any, t_lat: Any, kinds: Any, never_answered_due: Any, start: int, end: int, cut: int
) -> tuple[Any, Any]:
    """The values (ns) of ``window_latencies``' two histograms: served latencies, censored ages."""
    import numpy as np

    is_book = book_mask(kinds)
    inside = is_book & (t_done >= start) & (t_done <= end)
    due = t_done - t_lat
    late = is_book & (t_done > cut) & (due <= cut)
    never = never_answered_due[never_answered_due <= cut]
    return t_lat[inside], cut - np.concatenate((due[late], never))
