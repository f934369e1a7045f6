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
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from seatlab.client import histogram
from seatlab.client.answers import ERROR, RELEASED, SEAT, SOLD_OUT

CANCEL_ERROR = 6
"""Kind recorded for an Error answer to a Cancel (``ERROR`` is an Error answer to a Book)."""


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


@dataclass
class Recording:
    """The hot path's arrays: one entry per answer, plus the due times of Books never answered."""

    t_done: array[int] = field(default_factory=lambda: array("q"))
    t_lat: array[int] = field(default_factory=lambda: array("q"))
    kinds: array[int] = field(default_factory=lambda: array("b"))
    who: array[int] = field(default_factory=lambda: array("i"))  # the client's index in its process
    never_answered_due: array[int] = field(default_factory=lambda: array("q"))

    def tally(
        self, worker: int, clients: Sequence[ClientTally], t0: int, window: tuple[int, int] | None, cut: int
    ) -> Tally:
        """The figures of the window ``[start, end]`` (``None``: the whole run, closing at ``cut``)."""
        import numpy as np

        n = len(clients)
        t = np.frombuffer(self.t_done, dtype=np.int64)
        kinds = np.frombuffer(self.kinds, dtype=np.int8)
        who = np.frombuffer(self.who, dtype=np.int32)
        start, end = window if window is not None else (t0, 2**62)
        if window is not None:
            cut = end
        served, censored = window_latencies(
            t, np.frombuffer(self.t_lat, dtype=np.int64), kinds,
            np.frombuffer(self.never_answered_due, dtype=np.int64), start, end, cut,
        )  # fmt: skip
        inside = (t >= start) & (t <= end)
        masks = {
            "all": inside,
            "book": inside & ((kinds == SEAT) | (kinds == SOLD_OUT) | (kinds == ERROR)),
            "seat": inside & (kinds == SEAT),
            "sold_out": inside & (kinds == SOLD_OUT),
            "released": inside & (kinds == RELEASED),
            "error": inside & ((kinds == ERROR) | (kinds == CANCEL_ERROR)),
        }
        counts = {name: int(mask.sum()) for name, mask in masks.items()}
        per_client = {
            name: np.bincount(who[masks[key]], minlength=n).tolist()
            for name, key in (("answers", "book"), ("seats", "seat"), ("sold_out", "sold_out"),
                              ("released", "released"))
        }  # fmt: skip
        first: list[float | None] = [None] * n
        last: list[float | None] = [None] * n
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
        return Tally(served, censored, counts, rows)


def window_latencies(
    t_done: Any, t_lat: Any, kinds: Any, never_answered_due: Any, start: int, end: int, cut: int
) -> tuple[HdrHistogram, HdrHistogram]:
    """(served, censored) histograms of the Books a window counts (int64 ns numpy arrays in).

    Answers count when they arrive in ``[start, end]``; ``cut`` is when the
    window closed for the unanswered ones (``end``, or the run's finish when
    the run is the window).
    """
    import numpy as np

    is_book = (kinds == SEAT) | (kinds == SOLD_OUT) | (kinds == ERROR)
    inside = is_book & (t_done >= start) & (t_done <= end)
    due = t_done - t_lat
    late = is_book & (t_done > cut) & (due <= cut)
    never = never_answered_due[never_answered_due <= cut]
    censored = cut - np.concatenate((due[late], never))
    return histogram_ns(t_lat[inside]), histogram_ns(censored)


def histogram_ns(values_ns: Any) -> HdrHistogram:
    """The histogram (us) of an int64 numpy array of nanoseconds."""
    import numpy as np

    values, counts = np.unique(values_ns // 1000, return_counts=True)
    return histogram.histogram_from_counts(values.tolist(), counts.tolist())
