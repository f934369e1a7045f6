"""``LoadHost``: the load generator's processes on one Ray node, driven by the runner through Ray.

How this works: the runner places one ``LoadHost`` Ray actor on each load
node (``seatlab.cluster.remote``). The actor is a relay, not a second load
generator: ``start`` runs the same ``LoadProcesses`` a local run uses (fresh
``python -m seatlab.client.process_entry`` interpreters on that node, the same
``WorkerPlan``, the same control socket), ``send`` and ``receive`` pass the
same typed ``control`` messages through. Times stay in the node's own clock
here; the runner moves them (``seatlab.cluster.clock``). The actor also says
what node it is (``facts``), reads its clock for the offset estimate
(``clock``), and measures the round trip to the server the way TCP sees it
(``round_trips``: the time a connect takes, SYN to SYN-ACK, which no server
delay or thread pool stretches).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from time import perf_counter_ns

from seatlab.client.control import Failure, FromWorker, ToWorker, WorkerPlan
from seatlab.client.processes import LoadProcesses
from seatlab.client.spec import LoadError
from seatlab.cluster.clock import boot_id


@dataclass(frozen=True)
class HostFacts:
    """Who a load node is: its name, the address Ray knows it by, its kernel's boot id, its CPUs."""

    hostname: str
    ip: str
    node_id: str
    boot_id: str
    cpus: int


class LoadHost:
    """One node's load processes (the Ray actor class; ``remote.place_hosts`` wraps it)."""

    def __init__(self) -> None:
        self.processes: LoadProcesses | None = None
        self.local: dict[int, int] = {}  # a plan's worker number -> its index in this node's processes

    def facts(self) -> HostFacts:
        import ray

        return HostFacts(
            hostname=socket.gethostname(),
            ip=ray.util.get_node_ip_address(),
            node_id=ray.get_runtime_context().get_node_id(),
            boot_id=boot_id(),
            cpus=os.cpu_count() or 1,
        )

    def clock(self) -> int:
        """This node's perf_counter_ns now."""
        return perf_counter_ns()

    def round_trips(self, host: str, port: int, samples: int, timeout_s: float = 5.0) -> list[int]:
        """The time (ns) each of ``samples`` TCP connects to ``host:port`` took, one after another."""
        out = []
        for _ in range(samples):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(timeout_s)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                t = perf_counter_ns()
                s.connect((host, port))
                out.append(perf_counter_ns() - t)
            time.sleep(0.005)
        return out

    def start(self, plans: list[WorkerPlan], progress: bool) -> int:
        """Start one load process per plan on this node; returns how many."""
        self.local = {plan.worker: i for i, plan in enumerate(plans)}
        self.processes = LoadProcesses(plans, progress).__enter__()
        return len(plans)

    def send(self, message: ToWorker) -> None:
        if self.processes is not None:
            self.processes.send(message)

    def receive(self, among: list[int], timeout_s: float) -> list[FromWorker]:
        """What the processes of ``among`` (worker numbers) said within ``timeout_s``; a failure as a
        ``Failure`` message (worker -1) instead of an exception, so it crosses Ray as the others do."""
        if self.processes is None:
            return []
        local = [self.local[w] for w in among if w in self.local]
        if not local:
            time.sleep(timeout_s)
            return []
        try:
            return self.processes.receive(local, timeout_s)
        except LoadError as exc:
            return [Failure(-1, str(exc))]

    def close(self) -> None:
        """End every load process of this node (``LoadProcesses.close``: exit, SIGTERM, SIGKILL)."""
        if self.processes is not None:
            self.processes.close()
            self.processes = None
