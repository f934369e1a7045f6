"""One sweep point: a fresh db, the server started, the load run against it, the server stopped.

Whatever fails, ``ServerProcess`` (a context manager) terminates, kills and
reaps the server; the point is then recorded as failed with the reason and
the sweep goes on. With ``load.hosts`` the load processes run on other Ray
nodes (``seatlab.cluster.remote``) against a server listening on this node's
address; the row then names the hosts and their round trip to the server, and
Little's law's bound counts it (``C / (delay + RTT)``). A load run that fails its audit or measured nothing still
hands back what it measured (the error's ``summary``): the row keeps those
figures beside the reason. The server's stdout/stderr, the db file and the
load generator's files stay in the point's folder.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seatlab.modes import Mode
from seatlab.runner.cpus import cpu_ranges
from seatlab.runner.points import SweepPoint, bound_rps, offered_answers_rps, point_bound_rps
from seatlab.runner.results import measurements, write_json
from seatlab.runner.sampler import ServerSampler, ServerUsage
from seatlab.runner.schema import SeatlabConfig

if TYPE_CHECKING:
    from seatlab.client import LoadSpec
    from seatlab.client.processes import LoadFactory


def point_params(point: SweepPoint, config: SeatlabConfig) -> dict[str, Any]:
    """The row's parameter columns and Little's law's bound for them (and where each side ran: a
    multirun may sweep ``cpus``, so the rows say it beside metadata.json)."""
    bound = point_bound_rps(point, config.mode)
    sellout = config.mode is Mode.sellout
    pinning = config.pinning
    return {
        "point": point.index,
        "repetition": point.repetition,
        "backend": point.backend.name,
        "threads": point.threads,
        "delay_ms": point.delay_ms,
        "capacity": point.capacity,
        "clients": point.clients,
        "mode": str(config.mode),
        "diversity": processes(point, config),
        "rate": math.nan if point.rate is None else point.rate,
        "connect": str(config.connect),
        "duration_s": math.nan if sellout else config.duration,
        "bound_rps": bound,
        "predicted_sellout_s": point.capacity / bound if sellout and bound > 0 else math.nan,
        "server_cpus": "" if pinning.server is None else cpu_ranges(pinning.server),
        "loadgen_cpus": "" if pinning.loadgen is None else cpu_ranges(pinning.loadgen),
    }


def processes(point: SweepPoint, config: SeatlabConfig) -> int:
    """Load-generator processes: `diversity`, but never more than there are clients to spread over them."""
    return min(config.diversity, point.clients)


def run_point(point: SweepPoint, config: SeatlabConfig, point_dir: Path) -> dict[str, Any]:
    """Run one point; never raises for a failure of the point itself (KeyboardInterrupt still stops the sweep)."""
    point_dir.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = point_params(point, config)
    row["point_dir"] = point_dir.name
    started = time.monotonic()
    try:
        summary, error, usage, exit_code = _measure(point, config, point_dir)
    except Exception as exc:
        reason = _reason(exc) + _log_hint(point_dir)
        row.update(status="failed", reason=reason, elapsed_s=time.monotonic() - started)
        write_json({"status": "failed", "reason": row["reason"]}, point_dir / "point.json")
        return row
    row.update(point_row(row, summary, error, usage, exit_code))
    row.update(across_hosts(row, summary, point, config))
    write_json({"status": row["status"], "reason": row["reason"]}, point_dir / "point.json")
    return row


def point_row(
    params: dict[str, Any],
    summary: dict[str, Any],
    error: Exception | None,
    usage: ServerUsage,
    exit_code: int,
) -> dict[str, Any]:
    """A measured point's columns: the summary's figures, the server's usage, and ok or failed with the
    reasons (`error`: the load generator's own verdict, whose summary these figures are)."""
    row = {**params, **measurements(summary)}
    if math.isnan(row["offered_rps"]):  # a load generator older than summary schema 2: the configured rate
        row["offered_rps"] = params["rate"]
    row.update(server_cpu_pct=usage.cpu_pct, server_rss_mib=usage.peak_rss_mib, server_exit=exit_code)
    row["efficiency"] = efficiency(row, row["bound_rps"])
    row.update(cpu_per_request(row))
    status, reason = judge_point(summary, exit_code)
    if error is not None:
        own = _reason(error)
        status, reason = "failed", own if not reason or reason in own else f"{own}; {reason}"
    row.update(status=status, reason=reason)
    return row


def across_hosts(
    row: dict[str, Any], summary: dict[str, Any], point: SweepPoint, config: SeatlabConfig
) -> dict[str, Any]:
    """The columns of a load run on other hosts: who (``load_hosts``), their round trip to the server
    (``rtt_ms``: the clients-weighted mean of each host's median TCP connect time), and Little's law's
    bound with it: each request also spends a round trip on the wire, ``L / (delay + RTT)``."""
    hosts = summary.get("load_hosts")
    if not hosts:
        return {"load_hosts": "", "rtt_ms": math.nan}
    named = ";".join(f"{h['hostname']}@{h['ip']}" for h in hosts)
    weighted = [(h["rtt_ms"], h["clients"]) for h in hosts if h.get("rtt_ms") is not None and h["clients"]]
    if not weighted:
        return {"load_hosts": named, "rtt_ms": math.nan}
    rtt_ms = sum(r * c for r, c in weighted) / sum(c for _, c in weighted)
    offered = offered_answers_rps(point.rate, config.mode)
    bound = bound_rps(point.backend.bound, point.clients, point.threads, point.delay_ms + rtt_ms, offered)
    sellout = config.mode is Mode.sellout
    out: dict[str, Any] = {"load_hosts": named, "rtt_ms": rtt_ms, "bound_rps": bound}
    out["predicted_sellout_s"] = point.capacity / bound if sellout and bound > 0 else math.nan
    out["efficiency"] = efficiency(row, bound)
    return out


def efficiency(row: dict[str, Any], bound: float) -> float:
    """What the point achieved over Little's law's `bound` (answers/s); NaN without a bound.

    A closed loop: answers/s over the bound. An open loop offers bookings, so it is measured in
    bookings: bookings answered/s over the bound in bookings/s (``rate`` is the booking rate and the
    bound counts each booking's answers, ``offered_rps``). Its answers would undercount: a client's
    first booking has no earlier seat to cancel, and at 200 clients offered 100 bookings/s most
    bookings in a 3 s window are someone's first (164 answers/s for 100 bookings/s kept up with).
    """
    if math.isnan(bound) or bound <= 0:
        return math.nan
    rate = row.get("rate", math.nan)
    bookings = row.get("bookings_rps", math.nan)
    if rate is None or math.isnan(rate) or bookings is None or math.isnan(bookings):
        return float(row.get("throughput_rps", math.nan)) / bound
    offered = offered_answers_rps(rate, Mode(row["mode"])) or rate  # answers/s of `rate` bookings/s
    return float(bookings) / (bound * rate / offered)


def load_summary(spec: LoadSpec, load: LoadFactory | None = None) -> tuple[dict[str, Any], Exception | None]:
    """The one place that runs the load generator and turns its result into the summary dict.

    A run the load generator itself fails (its audit, or a run that measured nothing or could
    not be audited) raises with the run's summary attached (``exc.summary``): that summary is
    returned with the error, so the point keeps its measurements. Without one the error propagates.
    """
    from seatlab.client import AuditError, LoadError, run_load

    error: Exception | None = None
    try:
        result: Any = run_load(spec) if load is None else run_load(spec, load)
    except (AuditError, LoadError) as exc:
        result = getattr(exc, "summary", None)
        if result is None:
            raise
        error = exc
    summary = result if isinstance(result, dict) else result.to_json()
    return summary, error


def _measure(
    point: SweepPoint, config: SeatlabConfig, point_dir: Path
) -> tuple[dict[str, Any], Exception | None, ServerUsage, int]:
    # Imported here so the config, plots and reports work without the server and client packages.
    from seatlab.client import LoadSpec
    from seatlab.client.processes import LoadProcesses
    from seatlab.harness.process import ServerProcess, pinned
    from seatlab.harness.templates import command_argv
    from seatlab.server.config import ServerConfig

    external = point.backend.command
    db_path: Path | None = None
    # the calibration target keeps no seats; an external server's template may name {db_path} anyway
    if not point.backend.fixed_answer or external is not None:
        db_path = point_dir / "seats.csv"
        db_path.unlink(missing_ok=True)
    load: LoadFactory = LoadProcesses
    address = config.address or "127.0.0.1"
    if config.load.hosts:
        from seatlab.cluster.remote import node_address, remote_load

        assert config.ray.address is not None  # SeatlabConfig checked it
        load = remote_load(config.ray.address, config.load.hosts)
        address = config.address or node_address()
    server_config = ServerConfig(
        backend=point.backend.name,
        address=address,
        port=0,
        capacity=point.capacity,
        delay_ms=point.delay_ms,
        threads=point.threads,
        max_backlog=config.max_backlog,
        db_path=db_path,
        sync=config.sync,
    )
    pinning = config.pinning
    server = ServerProcess(
        server_config,
        log_dir=point_dir,
        ready_timeout=config.ready_timeout,
        extra_args=config.extra_server_args,
        command=None if external is None else command_argv(external, server_config),
        cpus=pinning.server,
    )
    with server:
        spec = LoadSpec(
            address=server.host,
            port=server.port,
            clients=point.clients,
            diversity=processes(point, config),
            mode=str(config.mode),
            duration_s=config.duration,
            warmup_s=config.warmup,
            answer_wait_s=config.answer_wait,
            drain_s=config.drain,
            rate=point.rate,
            schedule=str(config.schedule),
            connect=str(config.connect),
            timeout_s=config.timeout,
            max_time_s=config.max_time,
            out_dir=point_dir / "load",
            progress=False,
            fixed_answer=point.backend.fixed_answer,
        )
        sampler = ServerSampler(server.pid).start()
        try:
            with stderr_to(point_dir / "load.stderr"), pinned(pinning.loadgen):
                summary, error = load_summary(spec, load)
        finally:
            usage = sampler.stop()
        exit_code = server.stop()
    return summary, error, usage, exit_code


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
    warnings = "; ".join(str(w) for w in summary.get("warnings") or [])
    if summary.get("completed") is False:
        reasons.append(f"load run incomplete{': ' + warnings if warnings else ''}")
    elif not summary.get("answers"):
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
