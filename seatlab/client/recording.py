"""The measured window's latency histograms, made from what a load process recorded.

How this works: while the run goes, each answer appends four values to
flat arrays (answer time, latency, answer kind, client), nothing more; a
Book that is never answered leaves its due time. At the end
``window_latencies`` turns them into two histograms of the Books the
measured window counts: ``served`` (answered inside the window, at their
latency, even if sent before it opened) and ``censored`` (due by the
window's end and not answered by then, at their age when it closed: the
ones answered later while draining, and the ones never answered).
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

from seatlab.client import histogram
from seatlab.client.answers import ERROR, SEAT, SOLD_OUT


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
