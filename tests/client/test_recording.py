"""Issue 22.2: a load process folds its answers as the run goes, so its memory follows the clients, not
the run's length, and the figures are exactly those of folding once."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from seatlab.client import histogram
from seatlab.client.answers import CANCEL_ERROR, ERROR, RELEASED, SEAT, SOLD_OUT
from seatlab.client.recording import FOLD_ANSWERS, ClientTally, Recording

MS = 1_000_000
T0 = 10_000 * MS
CLIENTS = 50
KINDS = np.array([SEAT, SOLD_OUT, ERROR, RELEASED, CANCEL_ERROR], dtype=np.int8)


def _answers(n: int, seed: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """``n`` answers in time order over 0-12 s after T0 (a warm-up, a window, a drain), any kind."""
    rng = np.random.default_rng(seed)
    t = np.sort(T0 + rng.integers(0, 12_000 * MS, n))
    lat = rng.integers(1, 3000 * MS, n)  # some answered long after they were due
    kinds = KINDS[rng.integers(0, len(KINDS), n)]
    who = rng.integers(0, CLIENTS, n)
    return t.tolist(), lat.tolist(), kinds.tolist(), who.tolist()


def _record(
    recording: Recording, answers: tuple[list[int], ...], fold_every: int | None, window: tuple[int, int]
) -> None:
    for i, (t, lat, kind, who) in enumerate(zip(*answers, strict=True)):
        recording.t_done.append(t)
        recording.t_lat.append(lat)
        recording.kinds.append(kind)
        recording.who.append(who)
        if fold_every is not None and (i + 1) % fold_every == 0 and t >= window[0]:
            recording.fold(window, CLIENTS)


def _tally(recording: Recording, window: tuple[int, int]) -> tuple[object, ...]:
    clients = [ClientTally(i, errors=i % 3, sold_out_at=0) for i in range(CLIENTS)]
    tally = recording.tally(7, clients, T0, window, cut=T0 + 12_000 * MS)
    return (
        histogram.encode(tally.served),
        histogram.encode(tally.censored),
        tally.window_answers,
        tally.rows,
    )


@pytest.mark.parametrize("fold_every", [1, 97, 5000])
def test_folding_in_parts_gives_exactly_the_figures_of_folding_once(fold_every: int) -> None:
    window = (T0 + 2_000 * MS, T0 + 10_000 * MS)
    answers = _answers(20_000, seed=fold_every)
    never = [T0 + 1_000 * MS, T0 + 9_999 * MS, T0 + 11_000 * MS]  # due before, in, after the window's end
    once, parts = Recording(), Recording()
    _record(once, answers, None, window)
    _record(parts, answers, fold_every, window)
    for recording in (once, parts):
        recording.never_answered_due.extend(never)
    assert len(parts.t_done) < 20_000 and parts.answers == once.answers == 20_000
    assert _tally(parts, window) == _tally(once, window)


def test_a_process_that_folds_holds_a_bounded_number_of_answers_whatever_the_run_length() -> None:
    """1,000,000 answers, folded as a load process does: at most ``FOLD_ANSWERS`` stay in the arrays,
    and what the recording holds after a fold does not grow with the answers (21 bytes per answer
    when they are all kept: 21 MB here)."""
    window = (T0, T0 + 10**12)
    recording = Recording()
    after_fold: list[int] = []
    tracemalloc.start()
    try:
        for chunk in range(20):
            t, lat, kinds, who = _answers(50_000, seed=chunk)
            recording.t_done.extend(t)  # the same arrays the clients append to, a chunk at a time
            recording.t_lat.extend(lat)
            recording.kinds.extend(kinds)
            recording.who.extend(who)
            del t, lat, kinds, who  # the test's own lists of the chunk
            if len(recording.t_done) >= FOLD_ANSWERS:
                recording.fold(window, CLIENTS)
                after_fold.append(tracemalloc.get_traced_memory()[0])
            assert len(recording.t_done) < FOLD_ANSWERS
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert recording.answers == 1_000_000 and len(after_fold) >= 10
    half = after_fold[len(after_fold) // 2 - 1]  # about 500,000 answers in
    assert after_fold[-1] < half + 64 * 1024, (half, after_fold[-1])  # 500,000 more answers: no growth
    assert held / recording.answers < 2.0, f"{held:,} bytes held for 1,000,000 answers"


def test_a_window_fold_cannot_change_its_window_nor_be_tallied_without_one() -> None:
    recording = Recording()
    recording.t_done.append(T0)
    recording.t_lat.append(MS)
    recording.kinds.append(SEAT)
    recording.who.append(0)
    recording.fold((T0, T0 + MS), CLIENTS)
    with pytest.raises(ValueError, match="folded with window"):
        recording.fold((T0, T0 + 2 * MS), CLIENTS)
    with pytest.raises(ValueError, match="the tally has none"):
        recording.tally(0, [ClientTally(0, 0, 0)], T0, None, T0)
