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
