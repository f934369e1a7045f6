"""Load processes on other Ray nodes, behind the interface of the local ``LoadProcesses``.

How this works: ``connect`` joins the Ray cluster at ``ray.address`` and
``place_hosts`` puts one ``LoadHost`` actor on each of ``load.hosts`` nodes
other than the runner's own (node affinity, not soft: an actor never lands
on the server's node), refusing when the cluster has fewer. Each host's clock
offset is known from the start (``clock.estimate_offset``; exactly 0 where
the node shares the runner's kernel). ``RemoteLoad`` is what ``run_load``
drives instead of ``LoadProcesses``: the plans go round-robin over the hosts,
every host first measures its round trip to the server (TCP connects), then
starts its processes; ``send`` moves each message into the host's clock and
hands it to the actor, ``receive`` keeps one ``LoadHost.receive`` call in
flight per host and moves what comes back into the runner's clock. So the
run loop, the live ledger and ``WorkerResult.merge`` are the local ones, and
the summary gains ``load_hosts``: who ran the load, its round trip, its clock.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from seatlab.client.control import Failure, FromWorker, ToWorker, WorkerPlan
from seatlab.client.processes import HostReport
from seatlab.client.result import WorkerResult
from seatlab.client.spec import LoadError
from seatlab.cluster.clock import SHARED, ClockOffset, boot_id, estimate_offset, from_host, to_host
from seatlab.cluster.host import HostFacts, LoadHost

RTT_SAMPLES = 21
_START_LEAD_NS = 1_000_000_000  # Start crosses Ray (a queued receive first): more lead than a local pipe
_POLL_S = 0.05  # how long one LoadHost.receive call waits; a send waits behind it at most this long


class ClusterError(Exception):
    """The Ray cluster cannot give what the run asks (no Ray, no cluster, too few nodes)."""


@dataclass
class PlacedHost:
    """One load node: its actor, who it is, its clock's offset from the runner's."""

    actor: Any  # the LoadHost actor handle
    facts: HostFacts
    clock: ClockOffset


def connect(address: str) -> None:
    """Join the cluster at ``address`` (``HOST:PORT`` or ``auto``) unless already joined."""
    try:
        import ray
    except ImportError:
        raise ClusterError("load.hosts needs Ray, which is not installed: pip install -e '.[ray]'") from None
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except Exception as exc:
        raise ClusterError(f"ray.address={address}: cannot join the Ray cluster: {exc}") from exc


def place_hosts(count: int) -> list[PlacedHost]:
    """One ``LoadHost`` on each of ``count`` alive nodes other than this one (``ClusterError`` if fewer)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    others = sorted(
        (n for n in ray.nodes() if n["Alive"] and n["NodeID"] != here), key=lambda n: n["NodeManagerAddress"]
    )
    if len(others) < count:
        raise ClusterError(
            f"load.hosts={count}: the Ray cluster has {len(others)} node(s) besides the runner's own "
            f"({', '.join(n['NodeManagerAddress'] for n in others) or 'none'}); "
            f"start more with `ray start --address=...` or lower load.hosts"
        )
    actor_class = ray.remote(num_cpus=0, max_restarts=0)(LoadHost)
    actors: list[Any] = [
        actor_class.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
        ).remote()
        for n in others[:count]
    ]
    facts: list[HostFacts] = ray.get([a.facts.remote() for a in actors])
    mine = boot_id()
    placed = []
    for actor, fact in zip(actors, facts, strict=True):
        clock = SHARED if fact.boot_id == mine else estimate_offset(_clock_of(actor))
        placed.append(PlacedHost(actor, fact, clock))
    return placed


def _clock_of(actor: Any) -> Callable[[], int]:
    import ray

    return lambda: int(ray.get(actor.clock.remote()))


_placed: dict[tuple[str, int], list[PlacedHost]] = {}


def load_hosts(address: str, count: int) -> list[PlacedHost]:
    """The hosts of this process's runs: placed once, reused by every point of the job."""
    key = (address, count)
    if key not in _placed:
        connect(address)
        _placed[key] = place_hosts(count)
    return _placed[key]


class RemoteLoad:
    """``LoadProcesses``' interface over the load hosts: ``receive``, ``send``, ``running``, ``results``."""

    start_lead_ns = _START_LEAD_NS

    def __init__(self, plans: list[WorkerPlan], progress: bool, hosts: list[PlacedHost]) -> None:
        if not hosts:
            raise ValueError("RemoteLoad needs at least one host")
        self.plans = plans
        self.progress = progress
        self.hosts = hosts
        self.owner = {plan.worker: i % len(hosts) for i, plan in enumerate(plans)}
        self.results: dict[int, WorkerResult] = {}
        self.rtt_ns: list[list[int]] = []
        self.calls: dict[int, Any] = {}  # host index -> its LoadHost.receive in flight
        self.started: list[int] = []

    def __enter__(self) -> Self:
        import ray

        try:
            first = self.plans[0]
            self.rtt_ns = ray.get(
                [h.actor.round_trips.remote(first.host, first.port, RTT_SAMPLES) for h in self.hosts]
            )
            starts = []
            for i, host in enumerate(self.hosts):
                mine = [p for p in self.plans if self.owner[p.worker] == i]
                if mine:
                    starts.append(host.actor.start.remote(mine, self.progress))
                    self.started.append(i)
            ray.get(starts)
        except BaseException as exc:
            self.close()
            if isinstance(exc, Exception) and not isinstance(exc, LoadError):
                raise LoadError(f"starting the load on the Ray hosts failed: {exc}") from exc
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def running(self) -> list[int]:
        """The workers that have not sent their result yet."""
        return [p.worker for p in self.plans if p.worker not in self.results]

    def _running_on(self, i: int) -> list[int]:
        return [w for w in self.running if self.owner[w] == i]

    def receive(self, among: list[int], timeout_s: float) -> list[FromWorker]:
        """What arrives from the hosts within ``timeout_s``, in the runner's clock (``among`` narrows
        nothing here: a host reports all its workers; the caller keeps what it waits for)."""
        import ray

        for i in self.started:
            if i not in self.calls and self._running_on(i):
                self.calls[i] = self.hosts[i].actor.receive.remote(self._running_on(i), _POLL_S)
        if not self.calls:
            return []
        ready, _ = ray.wait(list(self.calls.values()), num_returns=len(self.calls), timeout=timeout_s)
        out: list[FromWorker] = []
        for i, call in list(self.calls.items()):
            if call not in ready:
                continue
            del self.calls[i]
            host = self.hosts[i]
            try:
                messages = ray.get(call)
            except Exception as exc:
                raise LoadError(f"load host {self._name(i)} failed: {exc}") from exc
            for message in messages:
                if isinstance(message, Failure):
                    raise LoadError(f"load host {self._name(i)}: {message.message}")
                message = from_host(message, host.clock.offset_ns)
                if isinstance(message, WorkerResult):
                    self.results[message.workers[0]] = message
                out.append(message)
        return out

    def send(self, message: ToWorker) -> None:
        """To every host that still has a worker running, in its own clock."""
        for i in self.started:
            if self._running_on(i):
                self.hosts[i].actor.send.remote(to_host(message, self.hosts[i].clock.offset_ns))

    def close(self) -> None:
        """End every host's load processes (the actors stay for the job's next point)."""
        import ray

        with contextlib.suppress(Exception):
            ray.get([self.hosts[i].actor.close.remote() for i in self.started], timeout=30)
        self.calls.clear()

    def _name(self, i: int) -> str:
        facts = self.hosts[i].facts
        return f"{facts.hostname} ({facts.ip})"

    def describe(self) -> list[HostReport]:
        """The summary's ``load_hosts``: each host, its workers, its round trip to the server, its clock."""
        out = []
        for i, host in enumerate(self.hosts):
            trips = self.rtt_ns[i] if i < len(self.rtt_ns) else []
            clock = host.clock
            out.append(
                HostReport(
                    hostname=host.facts.hostname,
                    ip=host.facts.ip,
                    node_id=host.facts.node_id,
                    cpus=host.facts.cpus,
                    workers=[w for w, owner in self.owner.items() if owner == i],
                    clients=sum(p.clients for p in self.plans if self.owner[p.worker] == i),
                    rtt_ms=statistics.median(trips) / 1e6 if trips else None,
                    rtt_min_ms=min(trips) / 1e6 if trips else None,
                    rtt_samples=len(trips),
                    offset_ms=clock.offset_ns / 1e6,
                    uncertainty_ms=clock.uncertainty_ns / 1e6,
                    shared_clock=clock.shared,
                )
            )
        return out


def cluster_facts(address: str, count: int) -> dict[str, object]:
    """metadata.json's ``cluster``: the Ray address, the runner's node, and each load host with its clock
    (places the hosts now, so a cluster with too few nodes stops the job before any point)."""
    hosts = load_hosts(address, count)
    return {
        "ray_address": address,
        "server_node": node_address(),
        "load_hosts": [
            {"hostname": h.facts.hostname, "ip": h.facts.ip, "cpus": h.facts.cpus, **h.clock.to_json()}
            for h in hosts
        ],
    }


def node_address() -> str:
    """This node's IP as the Ray cluster knows it: where the load hosts can reach the server."""
    import ray

    return str(ray.util.get_node_ip_address())


def remote_load(address: str, count: int) -> Any:
    """``run_load``'s ``load`` argument for ``count`` hosts of the cluster at ``address``."""
    hosts = load_hosts(address, count)

    def make(plans: list[WorkerPlan], progress: bool) -> RemoteLoad:
        return RemoteLoad(plans, progress, hosts)

    return make
