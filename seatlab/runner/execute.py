"""One sweep point: a fresh db, the server started, the load run against it, the server stopped.

Whatever fails, ``ServerProcess`` (a context manager) terminates, kills and
reaps the server; the point is then recorded as failed with the reason and
the sweep goes on. With ``load.hosts`` the load processes run on other Ray
nodes (``seatlab.cluster.remote``) against a server listening on this node's
address; the row then names the hosts and their round trip to the server, and
Little's law's bound counts it (``C / (delay + RTT)``). A load run that fails its audit or measured nothing still
hands back what it measured (the error's ``summary``): the row keeps those
figures beside the reason. The server's stdout/stderr, the db file and the
load generator's files stay in the point's folder. A Python server runs on
``server_python`` (probed once with the config) with ``--workers`` when
``workers`` is not 1; its CPU and memory are its whole process tree's. The machine's noise over the
load (load average, other processes' CPU, governor and boost: ``seatlab.runner.noise``) goes in the row.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from seatlab.modes import Mode, Offload
from seatlab.outputs import PointRow
from seatlab.registry import OFFLOADING
from seatlab.runner.cpus import cpu_ranges
from seatlab.runner.noise import UNMEASURED, MachineNoise, NoiseSampler
from seatlab.runner.points import CpuWork, SweepPoint, offered_answers_rps, point_limit
from seatlab.runner.results import write_json
from seatlab.runner.sampler import ServerSampler, ServerUsage
from seatlab.runner.schema import SeatlabConfig

if TYPE_CHECKING:
    from seatlab.client import LoadSpec
    from seatlab.client.processes import HostReport, LoadFactory
    from seatlab.client.summary import Summary


def point_params(
    point: SweepPoint, config: SeatlabConfig, point_dir: str, rtt_ms: float = math.nan
) -> PointRow:
    """The row of a point before it is measured: its parameters, Little's law's bound for them, and where
    each side ran (a multirun may sweep ``cpus``, so the rows say it beside metadata.json).

    ``rtt_ms``: the load hosts' round trip to the server, when the load ran on other hosts: each request
    also spends it on the wire, so the bound is ``L / (delay + RTT)``.
    """
    work = point_work(point, config)
    bound = point_limit(point, config.mode, work, 0.0 if math.isnan(rtt_ms) else rtt_ms)
    sellout = config.mode is Mode.sellout
    pinning = config.pinning
    python = config.interpreter if point.backend.command is None else None  # native, external: not Python
    return PointRow(
        point=point.index,
        repetition=point.repetition,
        backend=point.backend.name,
        threads=point.threads,
        workers=point.workers,
        delay_ms=point.delay_ms,
        work_ms=work.ms,
        work_kind=str(work.kind),
        offload=str(work.offload),
        capacity=point.capacity,
        clients=point.clients,
        mode=str(config.mode),
        diversity=load_process_count(point, config),
        rate=math.nan if point.rate is None else point.rate,
        connect=str(config.connect),
        duration_s=math.nan if sellout else config.duration,
        bound_rps=bound.rps,
        bound_by=bound.by,
        predicted_sellout_s=point.capacity / bound.rps if sellout and bound.rps > 0 else math.nan,
        server_cpus="" if pinning.server is None else cpu_ranges(pinning.server),
        server_cores=work.cores,
        loadgen_cpus="" if pinning.loadgen is None else cpu_ranges(pinning.loadgen),
        server_python="" if python is None else python.path,
        server_python_version="" if python is None else python.version,
        server_gil="" if python is None else python.gil,
        rtt_ms=rtt_ms,
        point_dir=point_dir,
    )


def point_work(point: SweepPoint, config: SeatlabConfig) -> CpuWork:
    """The point's CPU work as its server does it: none for a fixed-answer server (it serves nothing),
    offloaded only by the loops; ``cores``, what the server may use (its pinned CPUs, or this machine's)."""
    pinned = config.pinning.server
    cores = len(pinned) if pinned is not None else len(os.sched_getaffinity(0))
    if point.backend.fixed_answer or not point.work_ms:
        return CpuWork(0.0, config.work_kind, Offload.none, cores)
    offload = config.offload if point.backend.name in OFFLOADING else Offload.none
    return CpuWork(point.work_ms, config.work_kind, offload, cores)


def load_process_count(point: SweepPoint, config: SeatlabConfig) -> int:
    """Load-generator processes: `diversity`, but never more than there are clients to spread over them."""
    return min(config.diversity, point.clients)


@dataclass(frozen=True)
class Measured:
    """What a point's run gave: the load generator's summary (with its own verdict, ``error``, when it
    failed the run), the server's usage and its exit status after SIGTERM."""

    summary: Summary
    error: Exception | None
    usage: ServerUsage
    exit_code: int
    noise: MachineNoise = UNMEASURED


def run_point(point: SweepPoint, config: SeatlabConfig, point_dir: Path) -> PointRow:
    """Run one point; never raises for a failure of the point itself (KeyboardInterrupt still stops the sweep)."""
    point_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        measured = _measure(point, config, point_dir)
    except Exception as exc:
        reason = _reason(exc) + _log_hint(point_dir)
        row = replace(
            point_params(point, config, point_dir.name),
            status="failed",
            reason=reason,
            elapsed_s=time.monotonic() - started,
        )
    else:
        hosts = measured.summary.load_hosts
        params = point_params(point, config, point_dir.name, rtt_ms=hosts_rtt_ms(hosts))
        row = point_row(params, measured)
    write_json({"status": row.status, "reason": row.reason}, point_dir / "point.json")
    return row


def point_row(params: PointRow, measured: Measured) -> PointRow:
    """A measured point's row: its parameters, the summary's figures, the server's usage, and ok or failed
    with the reasons (``measured.error``: the load generator's own verdict, whose summary these figures are)."""
    summary = measured.summary
    every = summary.latency_ms
    served = summary.served_latency_ms
    status, reason = judge_point(summary, measured.exit_code)
    if measured.error is not None:
        own = _reason(measured.error)
        status, reason = "failed", own if not reason or reason in own else f"{own}; {reason}"
    usage, noise = measured.usage, measured.noise
    throughput = summary.throughput_rps
    return replace(
        params,
        throughput_rps=throughput,
        bookings_rps=summary.bookings_rps,
        efficiency=efficiency(params, throughput, summary.bookings_rps),
        sellout_s=_number(summary.sellout_s),
        offered_rps=_number(summary.offered_rps),
        p50_ms=_number(every.p50),
        p90_ms=_number(every.p90),
        p99_ms=_number(every.p99),
        p999_ms=_number(every.p999),
        max_ms=_number(every.max),
        mean_ms=_number(every.mean),
        p50_censored=every.lower_bound["p50"],
        p90_censored=every.lower_bound["p90"],
        p99_censored=every.lower_bound["p99"],
        p999_censored=every.lower_bound["p999"],
        max_censored=every.lower_bound["max"],
        censored=every.censored,
        served_p50_ms=_number(served.p50),
        served_p90_ms=_number(served.p90),
        served_p99_ms=_number(served.p99),
        served_p999_ms=_number(served.p999),
        served_max_ms=_number(served.max),
        served_mean_ms=_number(served.mean),
        answers=summary.answers,
        errors=summary.errors,
        unanswered=summary.unanswered,
        backlog_requests=summary.backlog_requests,
        backlog_wait_s=summary.backlog_wait_s,
        starved_clients=summary.starved_clients,
        fairness=_number(summary.fairness_jain),
        reconnects=summary.reconnects,
        server_cpu_pct=usage.cpu_pct,
        server_rss_mib=usage.peak_rss_mib,
        loadgen_cpu_pct=summary.loadgen_cpu_pct,
        server_us_per_req=us_per_request(usage.cpu_pct, throughput),
        loadgen_us_per_req=us_per_request(summary.loadgen_cpu_pct, throughput),
        loadgen_saturated=summary.loadgen_saturated,
        server_exit=measured.exit_code,
        load_hosts=";".join(f"{h.hostname}@{h.ip}" for h in summary.load_hosts or []),
        load_avg_start=noise.load_avg_start,
        load_avg_end=noise.load_avg_end,
        others_cpu_pct=noise.others_cpu_pct,
        cpu_governor=noise.cpu_governor,
        cpu_boost=noise.cpu_boost,
        elapsed_s=summary.elapsed_s,
        status=status,
        reason=reason,
    )


def hosts_rtt_ms(hosts: list[HostReport] | None) -> float:
    """The load hosts' round trip to the server: the clients-weighted mean of each host's median TCP
    connect time; NaN when the load ran here, or no host measured one."""
    weighted = [(h.rtt_ms, h.clients) for h in hosts or [] if h.rtt_ms is not None and h.clients]
    if not weighted:
        return math.nan
    return sum(r * c for r, c in weighted) / sum(c for _, c in weighted)


def efficiency(params: PointRow, throughput_rps: float, bookings_rps: float) -> float:
    """What the point achieved over Little's law's bound (answers/s); NaN without a bound.

    A closed loop: answers/s over the bound. An open loop offers bookings, so it is measured in
    bookings: bookings answered/s over the bound in bookings/s (``rate`` is the booking rate and the
    bound counts each booking's answers, ``offered_rps``). Its answers would undercount: a client's
    first booking has no earlier seat to cancel, and at 200 clients offered 100 bookings/s most
    bookings in a 3 s window are someone's first (164 answers/s for 100 bookings/s kept up with).
    """
    bound = params.bound_rps
    if math.isnan(bound) or bound <= 0:
        return math.nan
    rate = params.rate
    if math.isnan(rate):
        return throughput_rps / bound
    offered = offered_answers_rps(rate, Mode(params.mode)) or rate  # answers/s of `rate` bookings/s
    return bookings_rps / (bound * rate / offered)


def us_per_request(cpu_pct: float, throughput_rps: float) -> float:
    """CPU microseconds per answer from a CPU % of one core (which spans the whole load run, warm-up and
    drain included, so this slightly overstates the cost in the window); NaN without answers."""
    if throughput_rps > 0 and not math.isnan(cpu_pct):
        return cpu_pct / 100 * 1e6 / throughput_rps
    return math.nan


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def load_summary(spec: LoadSpec, load: LoadFactory | None = None) -> tuple[Summary, Exception | None]:
    """The one place that runs the load generator: its summary, and its own verdict when it failed the run.

    A run the load generator itself fails (its audit, or a run that measured nothing or could
    not be audited) raises with the run's summary attached (``exc.summary``): that summary is
    returned with the error, so the point keeps its measurements. Without one the error propagates.
    """
    from seatlab.client import AuditError, LoadError, run_load

    try:
        return (run_load(spec) if load is None else run_load(spec, load)), None
    except (AuditError, LoadError) as exc:
        summary = getattr(exc, "summary", None)
        if summary is None:
            raise
        return summary, exc


def _measure(point: SweepPoint, config: SeatlabConfig, point_dir: Path) -> Measured:
    # Imported here so the config, plots and reports work without the server and client packages.
    from seatlab.client import LoadSpec
    from seatlab.client.processes import LoadProcesses
    from seatlab.harness.process import ServerProcess, pinned
    from seatlab.harness.templates import command_argv
    from seatlab.server.config import ServerConfig

    external = point.backend.command
    work = point_work(point, config)
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
        workers=point.workers,
        max_backlog=config.max_backlog,
        db_path=db_path,
        sync=config.sync,
        work_ms=work.ms,
        work_kind=work.kind,
        offload=work.offload,
    )
    pinning = config.pinning
    server = ServerProcess(
        server_config,
        log_dir=point_dir,
        ready_timeout=config.ready_timeout,
        extra_args=config.extra_server_args,
        command=None if external is None else command_argv(external, server_config),
        cpus=pinning.server,
        python=config.interpreter.executable,
    )
    with server:
        spec = LoadSpec(
            address=server.host,
            port=server.port,
            clients=point.clients,
            diversity=load_process_count(point, config),
            mode=str(config.mode),
            duration_s=config.duration,
            warmup_s=config.warmup,
            answer_wait_s=config.answer_wait,
            drain_s=config.drain,
            interval_s=config.interval,
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
        noise = NoiseSampler().start()
        try:
            with stderr_to(point_dir / "load.stderr"), pinned(pinning.loadgen):
                summary, error = load_summary(spec, load)
        finally:
            usage = sampler.stop()
            machine = noise.stop()
        exit_code = server.stop()
    return Measured(summary, error, usage, exit_code, machine)


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


def judge_point(summary: Summary, exit_code: int) -> tuple[str, str]:
    """ok, or failed with the reason: a server that did not exit 0 on SIGTERM, a run that did not
    complete (no measured window, hit max_time), no answers at all, or a failed audit."""
    reasons = []
    warnings = "; ".join(summary.warnings)
    if not summary.completed:
        reasons.append(f"load run incomplete{': ' + warnings if warnings else ''}")
    elif not summary.answers:
        reasons.append(f"no answers in the measured window{': ' + warnings if warnings else ''}")
    if exit_code != 0:
        reasons.append(f"server exited {exit_code} after SIGTERM (expected 0)")
    if summary.audit.ok is False:  # None: not audited (the calibration target keeps no seats)
        reasons.append(f"audit failed: {summary.audit.message}")
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
