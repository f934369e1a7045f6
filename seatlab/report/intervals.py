"""95% intervals over a point's repetitions (``repeat=N``): the median with a bootstrap interval, and the
ratio of two sets of repetitions with its own (the findings' comparisons and ``seatlab.compare``).

Why the median and a percentile bootstrap (``scipy.stats.bootstrap``, ``method="percentile"``) rather
than a t-interval on the mean: the repetitions of a point on a shared machine are few and not normal,
one run disturbed by another process lands far from the rest, and a mean (and a t-interval built on
its standard deviation) follows that run while the median does not; the plots already join repeated
points at their median. The bootstrap assumes no distribution, and the same resampling gives the
interval of a ratio of two medians (B/A), which has no closed form. Its limit, stated where it is
used: with few repetitions (under 5) a bootstrap interval of a median cannot be wider than the runs'
range, so it is optimistic; ``repeat=5`` or more is what it is meant for. The resampling is seeded,
so a report redrawn from the same files says the same thing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 9_999
SEED = 21
METHOD = (
    "median over repetitions, 95% percentile bootstrap interval "
    f"(scipy.stats.bootstrap, {RESAMPLES:,} resamples)"
)
RATIO_METHOD = (
    "ratio of the medians, 95% percentile bootstrap interval over the repetitions of each side "
    f"(scipy.stats.bootstrap, {RESAMPLES:,} resamples); significant when it excludes 1"
)
ONE_RUN = "one run: no interval"
FEW_RUNS = 5  # fewer repetitions than this: the interval is optimistic (said where it is shown)


@dataclass(frozen=True)
class Interval:
    """A figure (a median, or a ratio of medians) and its 95% interval; NaN bounds without one.

    ``runs``: the repetitions behind it (a ratio: the fewer of its two sides)."""

    value: float
    low: float
    high: float
    runs: int

    @property
    def known(self) -> bool:
        """Whether there is an interval: two repetitions or more, and finite bounds."""
        return self.runs >= 2 and math.isfinite(self.low) and math.isfinite(self.high)

    def excludes(self, value: float) -> bool:
        """Whether `value` lies outside the interval (the difference from it is significant)."""
        return self.known and (self.low > value or self.high < value)

    def text(self, digits: int = 3) -> str:
        """``412 [398, 420]``, or ``412 (one run: no interval)``."""
        if not self.known:
            return f"{_num(self.value, digits)} ({ONE_RUN})" if self.runs == 1 else _num(self.value, digits)
        return f"{_num(self.value, digits)} [{_num(self.low, digits)}, {_num(self.high, digits)}]"


def _num(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _clean(values: Iterable[float]) -> npt.NDArray[np.float64]:
    array = np.asarray([float(v) for v in values], dtype=float)
    return array[np.isfinite(array)]


def median_interval(values: Iterable[float]) -> Interval:
    """The median of the repetitions and its 95% bootstrap interval (none from fewer than two)."""
    data = _clean(values)
    if data.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    middle = float(np.median(data))
    if data.size == 1 or np.all(data == data[0]):
        same = middle if data.size > 1 else math.nan
        return Interval(middle, same, same, int(data.size))
    low, high = _bootstrap((data,), _median)
    return Interval(middle, low, high, int(data.size))


def ratio_interval(base: Iterable[float], other: Iterable[float]) -> Interval:
    """median(other) / median(base) and its 95% bootstrap interval, each side resampled on its own;
    no interval unless both sides have two repetitions or more."""
    a, b = _clean(base), _clean(other)
    if a.size == 0 or b.size == 0 or float(np.median(a)) == 0.0:
        return Interval(math.nan, math.nan, math.nan, int(min(a.size, b.size)))
    ratio = float(np.median(b) / np.median(a))
    runs = int(min(a.size, b.size))
    if runs < 2:
        return Interval(ratio, math.nan, math.nan, runs)
    if np.all(a == a[0]) and np.all(b == b[0]):
        return Interval(ratio, ratio, ratio, runs)
    low, high = _bootstrap((a, b), _ratio)
    return Interval(ratio, low, high, runs)


def _median(x: npt.NDArray[np.float64], axis: int = -1) -> npt.NDArray[np.float64]:
    return np.asarray(np.median(x, axis=axis))


def _ratio(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], axis: int = -1) -> npt.NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.median(b, axis=axis) / np.median(a, axis=axis))


def _bootstrap(data: tuple[npt.NDArray[np.float64], ...], statistic: object) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a resample whose median is 0 gives inf: it falls outside 95%
        result = stats.bootstrap(
            data,
            statistic,  # type: ignore[arg-type]
            n_resamples=RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            vectorized=True,
            paired=False,
            rng=np.random.default_rng(SEED),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def repeated(frame: pd.DataFrame, x: str) -> bool:
    """Whether any point of `frame` (one series) ran more than once: then its figures get intervals."""
    return bool(len(frame)) and bool(frame.groupby(x, dropna=False).size().max() > 1)


def by_value(frame: pd.DataFrame, x: str, column: str) -> dict[object, Interval]:
    """One series' `column` at each value of `x`: the median of its repetitions and its interval."""
    if column not in frame.columns:
        return {}
    return {at: median_interval(part[column]) for at, part in frame.groupby(x, sort=True)}


def error_bars(intervals: dict[object, Interval]) -> tuple[list[float], list[float], list[list[float]]]:
    """The points with an interval as matplotlib's errorbar takes them: xs, medians, [below, above]."""
    known = [(at, i) for at, i in intervals.items() if i.known]
    xs = [float(at) for at, _ in known]  # type: ignore[arg-type]  # a swept key's values are numbers
    values = [i.value for _, i in known]
    below = [i.value - i.low for _, i in known]
    above = [i.high - i.value for _, i in known]
    return xs, values, [below, above]
