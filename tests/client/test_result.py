"""WorkerResult.merge: counts add, lists concatenate, histograms add exactly, times take the latest."""

from __future__ import annotations

from dataclasses import replace

from seatlab.client import histogram
from seatlab.client.result import ERROR_KINDS, WorkerResult, merge_all


def _result(worker: int, latencies_us: list[int], **changes: object) -> WorkerResult:
    base = WorkerResult(
        workers=(worker,),
        clients=[{"client": 10 - worker, "answers": len(latencies_us)}],
        served_histogram=histogram.encode(histogram.histogram_of(latencies_us)),
        censored_histogram=histogram.encode(histogram.histogram_of([5_000_000] * worker)),
        window_answers={"all": 2 * len(latencies_us), "book": len(latencies_us)},
        total_answers=3 * len(latencies_us),
        errors_by_kind=dict.fromkeys(ERROR_KINDS, worker),
        server_errors_by_code={f"CODE_{worker}": 1, "INTERNAL": 2},
        error_examples=[f"example {worker}"],
        connections=4,
        reconnects=worker,
        gave_up=0,
        unanswered_ms=[float(worker)],
        unsent_due=worker,
        confirmed=[(worker, f"u{worker}", worker)],
        held=[],
        violations=[],
        cpu_s=(1.0 * worker,),
        cpu_sys_s=(0.5,),
        wall_s=(2.0,),
        t_last_first_sold_out=100 * worker,
        t_last_seat=10 * worker,
        t_finish=1000 + worker,
        capped=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_merge_adds_counts_and_concatenates_lists() -> None:
    merged = merge_all([_result(2, [3000] * 10), _result(1, [1000] * 990)])
    assert merged.workers == (1, 2)
    assert [row["client"] for row in merged.clients] == [8, 9]  # sorted by client
    assert merged.window_answers == {"all": 2000, "book": 1000} and merged.total_answers == 3000
    assert merged.errors_by_kind == dict.fromkeys(ERROR_KINDS, 3)
    assert merged.server_errors_by_code == {"CODE_1": 1, "INTERNAL": 4, "CODE_2": 1}
    assert merged.connections == 8 and merged.reconnects == 3 and merged.unsent_due == 3
    assert merged.unanswered_ms == [1.0, 2.0] and merged.confirmed == [(1, "u1", 1), (2, "u2", 2)]
    assert merged.cpu_pct_by_process == [50.0, 100.0]
    assert (merged.t_last_first_sold_out, merged.t_last_seat, merged.t_finish) == (200, 20, 1002)


def test_merged_histograms_are_the_sum_not_an_average() -> None:
    merged = merge_all([_result(1, [1000] * 990), _result(2, [100_000] * 10)])
    served = histogram.latency_summary_ms(histogram.decode(merged.served_histogram))
    assert served.count == 1000 and served.p99 == 1.0  # averaging p99s would say ~50 ms
    assert histogram.decode(merged.censored_histogram).get_total_count() == 3


def test_a_sell_out_is_complete_only_if_complete_in_every_process() -> None:
    done, not_done = _result(1, [10]), _result(2, [10], t_last_first_sold_out=None, capped=True)
    merged = done.merge(not_done)
    assert merged.t_last_first_sold_out is None and merged.capped is True
    assert not_done.merge(done).t_last_first_sold_out is None
