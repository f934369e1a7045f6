"""Coordinated omission: an open loop shows a server's 1 s stall in p99; a closed loop hides it.

The fake server answers in 5 ms and, once its 30th Book arrives, holds every
answer for one second. A closed-loop client waits for that answer and sends
nothing meanwhile, so the stall costs it exactly one slow sample among
hundreds. An open loop keeps requests due on schedule and measures them from
their due time, so every request due during the stall records it.
"""

from __future__ import annotations

from pathlib import Path

from loadgen_fakes import FakeServer

from seatlab.client import LoadSpec, histogram, run_load
from seatlab.client.summary import Summary


def _run(tmp_path: Path, name: str, rate: float | None, clients: int) -> tuple[Summary, int]:
    with FakeServer(capacity=1000, delay_s=0.005, stall_at_book=30, stall_s=1.0) as server:
        summary = run_load(
            LoadSpec(port=server.port, clients=clients, mode="duration", warmup_s=0.2, duration_s=2.5, rate=rate,
                     out_dir=tmp_path / name, timeout_s=20)
        )  # fmt: skip
    h = histogram.decode((tmp_path / name / "latency.hdr").read_bytes())
    stalled = sum(
        v.count_at_value_iterated_to for v in h.get_recorded_iterator() if v.value_iterated_to >= 500_000
    )
    return summary, int(stalled)


def test_open_loop_shows_the_stall_and_closed_loop_hides_it(tmp_path: Path) -> None:
    closed, closed_slow = _run(tmp_path, "closed", None, 1)
    opened, open_slow = _run(tmp_path, "open", 100.0, 4)
    c, o = closed.latency_ms, opened.latency_ms
    why = (
        f"closed loop: {c.count} Book latencies, {closed_slow} of them >= 500 ms, p99 {c.p99} ms, "
        f"max {c.max} ms -- the one client waited out the stall and sent nothing meanwhile, so the stall is "
        f"a single sample; open loop at 100/s: {o.count} latencies, {open_slow} >= 500 ms, p99 {o.p99} ms "
        "-- every request due during the stall was measured from its due time"
    )
    assert c.max >= 900, why  # the closed loop did meet the stall ...
    assert closed_slow <= 2 and c.p99 < 300, why  # ... but its p99 does not show it
    assert open_slow >= 30 and o.p99 >= 700, why
    assert closed.audit.ok and opened.audit.ok
    print(why)
