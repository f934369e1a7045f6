"""The sweep's progress bar: one line per finished point, counts and an ETA weighted by expected length."""

from __future__ import annotations

import io
import warnings

from seatlab.runner.progress import SweepProgress


def test_one_line_per_point_with_counts_failures_and_an_eta() -> None:
    out = io.StringIO()
    with SweepProgress([1.0, 1.0, 1.0], stream=out) as progress:
        for i in range(3):
            progress.start(f"tpool, {i} clients")
            progress.finish(f"tpool, {i} clients", "40.0 req/s" if i != 1 else "FAILED (boom)", ok=i != 1)
    text = out.getvalue()
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.startswith("point ")]
    assert lines == [
        "point 1/3: tpool, 0 clients: 40.0 req/s",
        "point 2/3: tpool, 1 clients: FAILED (boom)",
        "point 3/3: tpool, 2 clients: 40.0 req/s",
    ]
    assert "ETA" in text and "2/3 points, 1 failed" in text and "3/3 points, 1 failed" in text


def test_the_bar_counts_expected_seconds_so_a_long_point_weighs_more() -> None:
    progress = SweepProgress([1.0, 5.0], stream=io.StringIO())
    progress.finish("short point", "ok")
    assert (progress.bar.n, progress.bar.total) == (1.0, 6.0)  # 1/6 done after 1 of 2 points: ETA 5x elapsed
    progress.finish("long point", "ok")
    assert progress.bar.n == 6.0
    progress.__exit__(None, None, None)


def test_the_bar_ends_at_its_total_when_the_weights_do_not_add_up_to_it_exactly() -> None:
    """The total is rounded to 0.1 s; weights summing past it made tqdm warn and print ETA -00:00."""
    out = io.StringIO()
    weights = [3.04, 3.04, 3.04]  # 9.12 s, total 9.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm's "clamping frac to range [0, 1]"
        with SweepProgress(weights, stream=out) as progress:
            for i in range(3):
                progress.finish(f"point {i}", "ok")
            assert progress.bar.n == progress.bar.total == 9.1
    assert "-00:00" not in out.getvalue()
