"""One sweep point: a fresh db, the server started, the load run against it, the server stopped.

Whatever fails, ``ServerProcess`` (a context manager) terminates, kills and
reaps the server; the point is then recorded as failed with the reason and
the sweep goes on. The server's stdout/stderr, the db file and the load
generator's files stay in the point's folder.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seatlab.runner.points import SweepPoint, bound_rps
from seatlab.runner.results import measurements, write_json
from seatlab.runner.sampler import ServerSampler, ServerUsage
from seatlab.runner.schema import Bound, Mode, RunSettings


def point_params(point: SweepPoint, settings: RunSettings) -> dict[str, Any]:
    """The row's parameter columns and Little's law's bound for them."""
    bound = bound_rps(
        point.backend.bound, point.clients, settings.threads, settings.delay_ms, offered_rps(settings)
    )
    predicted = settings.capacity / bound if settings.mode is Mode.sellout and bound > 0 else math.nan
    return {
        "point": point.index,
        "repetition": point.repetition,
        "backend": point.backend.name,
        "threads": settings.threads,
        "delay_ms": settings.delay_ms,
        "capacity": settings.capacity,
        "clients": point.clients,
        "mode": settings.mode.value,
        "diversity": processes(point, settings),
        "rate": math.nan if settings.rate is None else settings.rate,
        "connect": settings.connect,
        "duration_s": settings.duration_s if settings.mode is Mode.duration else math.nan,
        "bound_rps": bound,
        "predicted_sellout_s": predicted,
    }


def processes(point: SweepPoint, settings: RunSettings) -> int:
    """Load-generator processes: `diversity`, but never more than there are clients to spread over them."""
    return min(settings.diversity, point.clients)


def offered_rps(settings: RunSettings) -> float | None:
    """The open loop's offered load in answers/s, as the load generator counts throughput.

    `rate` is bookings/s; in duration mode every booking is followed by its
    cancel (two requests, two answers), in sell-out mode it is one request.
    """
    if settings.rate is None:
        return None
    return settings.rate * (2 if settings.mode is Mode.duration else 1)


def run_point(point: SweepPoint, settings: RunSettings, point_dir: Path) -> dict[str, Any]:
    """Run one point; never raises for a failure of the point itself (KeyboardInterrupt still stops the sweep)."""
    point_dir.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = point_params(point, settings)
    row["point_dir"] = point_dir.name
    started = time.monotonic()
    try:
        summary, usage, exit_code = _measure(point, settings, point_dir)
    except Exception as exc:
        reason = _reason(exc) + _log_hint(point_dir)
        row.update(status="failed", reason=reason, elapsed_s=time.monotonic() - started)
        write_json({"status": "failed", "reason": row["reason"]}, point_dir / "point.json")
        return row
    row.update(measurements(summary))
    row.update(server_cpu_pct=usage.cpu_pct, server_rss_mib=usage.peak_rss_mib, server_exit=exit_code)
    bound = row["bound_rps"]
    row["efficiency"] = row["throughput_rps"] / bound if not math.isnan(bound) and bound > 0 else math.nan
    row.update(cpu_per_request(row))
    row["status"], row["reason"] = judge_point(summary, exit_code)
    write_json({"status": row["status"], "reason": row["reason"]}, point_dir / "point.json")
    return row


def _measure(
    point: SweepPoint, settings: RunSettings, point_dir: Path
) -> tuple[dict[str, Any], ServerUsage, int]:
    # Imported here so the config, plots and reports work without the server and client packages.
    from seatlab.client import LoadSpec, run_load
    from seatlab.server.process import ServerProcess

    db_path: Path | None = None
    if point.backend.bound is not Bound.none:  # the calibration target keeps no seats
        db_path = point_dir / "seats.csv"
        db_path.unlink(missing_ok=True)
    server = ServerProcess(
        point.backend.name,
        capacity=settings.capacity,
        delay_ms=settings.delay_ms,
        threads=settings.threads,
        max_backlog=settings.max_backlog,
        db_path=db_path,
        sync=settings.sync,
        log_dir=point_dir,
        ready_timeout=settings.ready_timeout_s,
        extra_args=settings.extra_server_args,
    )
    with server:
        spec = LoadSpec(
            address=server.host,
            port=server.port,
            clients=point.clients,
            diversity=processes(point, settings),
            mode=settings.mode.value,
            duration_s=settings.duration_s,
            warmup_s=settings.warmup_s,
            answer_wait_s=settings.answer_wait_s,
            drain_s=settings.drain_s,
            rate=settings.rate,
            schedule=settings.schedule,
            connect=settings.connect,
            timeout_s=settings.timeout_s,
            max_time_s=settings.max_time_s,
            out_dir=point_dir / "load",
            progress=False,
        )
        sampler = ServerSampler(server.pid).start()
        try:
            with stderr_to(point_dir / "load.stderr"):
                summary = run_load(spec)
        finally:
            usage = sampler.stop()
        exit_code = server.stop()
    return summary, usage, exit_code


def cpu_per_request(row: dict[str, Any]) -> dict[str, float]:
    """CPU microseconds per answer, server and load generator (their CPU % spans the whole load run,
    warm-up and drain included, so this slightly overstates the cost in the window)."""
    rate = row.get("throughput_rps") or 0.0
    out = {}
    for side in ("server", "loadgen"):
        pct = row.get(f"{side}_cpu_pct")
        out[f"{side}_us_per_req"] = (
            pct / 100 * 1e6 / rate if rate > 0 and pct is not None and not math.isnan(pct) else math.nan
        )
    return out


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send file descriptor 2 to `path` for a while: the load generator's processes inherit it, so their
    tracebacks and warnings land in the point's folder instead of breaking the progress bar."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def judge_point(summary: dict[str, Any], exit_code: int) -> tuple[str, str]:
    """ok, or failed with the reason: a server that did not exit 0 on SIGTERM, a run that did not
    complete (no measured window, hit max_time), no answers at all, or a failed audit."""
    reasons = []
    if summary.get("completed") is False:
        warnings = "; ".join(str(w) for w in summary.get("warnings") or [])
        reasons.append(f"load run incomplete{': ' + warnings if warnings else ''}")
    elif not summary.get("answers"):
        warnings = "; ".join(str(w) for w in summary.get("warnings") or [])
        reasons.append(f"no answers in the measured window{': ' + warnings if warnings else ''}")
    if exit_code != 0:
        reasons.append(f"server exited {exit_code} after SIGTERM (expected 0)")
    audit = summary.get("audit") or {}
    if audit.get("ok") is False:  # None: not audited (the calibration target keeps no seats)
        reasons.append(f"audit failed: {audit.get('message', '')}")
    return ("failed" if reasons else "ok"), "; ".join(reasons)


def _log_hint(point_dir: Path) -> str:
    log = point_dir / "load.stderr"
    if log.is_file() and log.stat().st_size:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        return f" [load.stderr: {lines[-1].strip()[:200]}]" if lines else ""
    return ""


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:500]
