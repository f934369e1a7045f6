"""Issue 20: the bound drawn and reported is the smallest of Little's law, the CPU and the offered rate,
and names what binds."""

from __future__ import annotations

import pytest

from seatlab.modes import Offload, WorkKind
from seatlab.runner.points import CpuWork, limit
from seatlab.runner.schema import Bound

HELD = WorkKind.python
RELEASED = WorkKind.released


@pytest.mark.parametrize(
    ("bound", "clients", "threads", "delay", "rate", "work", "native", "rps", "by"),
    [
        # no work: Little's law alone, as before
        (Bound.threads, 10, 2, 50, None, CpuWork(), False, 40.0, "Little's law: 2 threads / 50 ms"),
        # work adds to each request's time: 2 threads / 55 ms
        (
            Bound.threads,
            10,
            2,
            50,
            None,
            CpuWork(5, HELD, cores=2),
            False,
            2 / 0.055,
            "Little's law: 2 threads / 55 ms",
        ),
        # GIL-held work: one core per process, whatever the threads or clients
        (
            Bound.clients,
            100,
            2,
            0,
            None,
            CpuWork(5, HELD, cores=2),
            False,
            200.0,
            "CPU: one core per process, the GIL / 5 ms",
        ),
        (
            Bound.threads,
            100,
            8,
            0,
            None,
            CpuWork(5, HELD, cores=2),
            False,
            200.0,
            "CPU: one core per process, the GIL / 5 ms",
        ),
        (
            Bound.clients,
            100,
            1,
            0,
            None,
            CpuWork(5, HELD, Offload.thread, cores=2),
            False,
            200.0,
            "CPU: one core per process, the GIL / 5 ms",
        ),
        # released work: as many cores as threads run it, never more than the cores
        (
            Bound.threads,
            100,
            2,
            0,
            None,
            CpuWork(5, RELEASED, cores=2),
            False,
            400.0,
            "CPU: 2 of 2 threads on 2 cores / 5 ms",
        ),
        (
            Bound.threads,
            100,
            8,
            0,
            None,
            CpuWork(5, RELEASED, cores=2),
            False,
            400.0,
            "CPU: 2 of 8 threads on 2 cores / 5 ms",
        ),
        (
            Bound.clients,
            100,
            1,
            0,
            None,
            CpuWork(5, RELEASED, cores=2),
            False,
            200.0,
            "CPU: 1 of 1 loops on 2 cores / 5 ms",
        ),
        (
            Bound.clients,
            100,
            1,
            0,
            None,
            CpuWork(5, RELEASED, Offload.thread, cores=2),
            False,
            400.0,
            "CPU: 2 cores (offloaded to threads) / 5 ms",
        ),
        # the C++ servers' busy loop runs on their threads, no GIL
        (
            Bound.threads,
            100,
            2,
            0,
            None,
            CpuWork(5, HELD, cores=2),
            True,
            400.0,
            "CPU: 2 of 2 threads on 2 cores / 5 ms",
        ),
        # an open loop offering less than that is bound by what it offers
        (Bound.clients, 100, 1, 0, 150.0, CpuWork(5, HELD, cores=2), False, 150.0, "the offered rate, 150/s"),
        # a fixed-answer server has no bound but the rate
        (Bound.none, 100, 1, 0, None, CpuWork(5, HELD, cores=2), False, float("nan"), ""),
    ],
)
def test_the_bound_is_the_smallest_limit_and_says_which(
    bound: Bound, clients: int, threads: int, delay: float, rate: float | None, work: CpuWork, native: bool,
    rps: float, by: str,
) -> None:  # fmt: skip
    got = limit(bound, clients, threads, delay, rate, work, native=native)
    assert got.rps == pytest.approx(rps, nan_ok=True) and got.by == by


@pytest.mark.parametrize(
    ("bound", "clients", "workers", "delay", "work", "rps", "by"),
    [
        # Little's law: a pool's threads in every worker process (2 threads each here)
        (Bound.threads, 50, 2, 50, CpuWork(), 80.0, "Little's law: 2 workers x 2 threads / 50 ms"),
        (Bound.threads, 3, 2, 50, CpuWork(), 60.0, "Little's law: 3 of 2 workers x 2 threads / 50 ms"),
        # every client is in service whatever the processes
        (Bound.clients, 50, 4, 50, CpuWork(), 1000.0, "Little's law: 50 clients / 50 ms"),
        # GIL-held work: one core per worker process, never more than the cores (2)
        (Bound.clients, 100, 2, 0, CpuWork(5, HELD, cores=2), 400.0,
         "CPU: 2 of 2 workers on 2 cores, one core per process (the GIL) / 5 ms"),
        (Bound.threads, 100, 4, 0, CpuWork(5, HELD, cores=2), 400.0,
         "CPU: 2 of 4 workers on 2 cores, one core per process (the GIL) / 5 ms"),
        (Bound.clients, 100, 2, 0, CpuWork(5, HELD, cores=4), 400.0,
         "CPU: 2 of 2 workers on 4 cores, one core per process (the GIL) / 5 ms"),
        # released work: every worker's threads (or loops), at most the cores
        (Bound.threads, 100, 2, 0, CpuWork(5, RELEASED, cores=8), 800.0,
         "CPU: 4 of 2 workers x 2 threads on 8 cores / 5 ms"),
        (Bound.clients, 100, 3, 0, CpuWork(5, RELEASED, cores=2), 400.0,
         "CPU: 2 of 3 workers x 2 loops on 2 cores / 5 ms"),
        (Bound.clients, 100, 2, 0, CpuWork(5, RELEASED, Offload.thread, cores=2), 400.0,
         "CPU: 2 cores (offloaded to threads) / 5 ms"),
    ],
)  # fmt: skip
def test_workers_multiply_the_pools_threads_and_the_gils_cores(
    bound: Bound, clients: int, workers: int, delay: float, work: CpuWork, rps: float, by: str
) -> None:
    got = limit(bound, clients, 2, delay, None, work, workers=workers)
    assert got.rps == pytest.approx(rps) and got.by == by
    one = limit(bound, clients, 2, delay, None, work)  # one worker: as before, never a higher bound
    assert one.rps <= got.rps and "worker" not in one.by


def test_the_findings_say_when_the_machine_not_the_bound_cut_a_cpu_bound_figure_short() -> None:
    import pandas as pd

    from seatlab.report.findings import _machine_full

    rows = pd.DataFrame(
        {
            "series": ["tpool", "tpool"], "clients": [8, 64], "bound_by": ["CPU: 2 of 2 threads on 2 cores / 5 ms"] * 2,
            "server_cpu_pct": [150.0, 185.0], "loadgen_cpu_pct": [5.0, 6.0], "server_cores": [2, 2],
            "server_cpus": ["", ""],
        }
    )  # fmt: skip
    (line,) = _machine_full(rows, "clients")
    assert "90% or more of the 2 cores" in line and "tpool at 64 clients (185% + 6%)" in line
    assert "8 clients" not in line
    assert _machine_full(rows.assign(server_cpus="0"), "clients") == []  # pinned: cores of its own
