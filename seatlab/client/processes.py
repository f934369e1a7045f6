"""The load processes of a run: started as fresh interpreters, talked to over sockets, always ended.

How this works: each load process is ``python -m seatlab.client.process_entry FD``
(not multiprocessing's spawn, which re-imports the caller's ``__main__``),
given one end of a socketpair; the ``control`` messages are pickled over
it. ``LoadProcesses`` is a context manager: leaving it closes the sockets
and ends every process with ``seatlab.harness.children.end_child`` (5 s to exit on
its own, then SIGTERM, then SIGKILL, always reaped), whatever happened.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from types import TracebackType
from typing import Protocol, Self

from seatlab.client.control import Failure, FromWorker, Plan, ToWorker, WorkerPlan
from seatlab.client.result import WorkerResult
from seatlab.client.spec import LoadError
from seatlab.harness.children import end_child

_EXIT_GRACE_S = 5.0
_TERM_GRACE_S = 2.0


@dataclass(frozen=True)
class HostReport:
    """One host that ran load processes (summary.json's ``load_hosts``): who, which processes and how many
    clients, its round trip to the server (the median and the least of ``rtt_samples`` TCP connects), and
    its clock against the runner's."""

    hostname: str
    ip: str
    node_id: str
    cpus: int
    workers: list[int]
    clients: int
    rtt_ms: float | None
    rtt_min_ms: float | None
    rtt_samples: int
    offset_ms: float
    uncertainty_ms: float
    shared_clock: bool


class LoadGroup(Protocol):
    """The load processes of a run, wherever they run: ``run_load`` drives them through this."""

    results: dict[int, WorkerResult]
    start_lead_ns: int  # how far ahead of now the common start is set, so every process gets it in time

    def __enter__(self) -> Self: ...
    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    @property
    def running(self) -> list[int]: ...
    def receive(self, among: list[int], timeout_s: float) -> list[FromWorker]: ...
    def send(self, message: ToWorker) -> None: ...
    def describe(self) -> list[HostReport] | None: ...


LoadFactory = Callable[[list[WorkerPlan], bool], LoadGroup]
"""Makes a run's ``LoadGroup`` from its plans and whether to report progress."""


class LoadProcesses:
    """One process per plan on this machine; ``receive`` what they say, ``send`` to those still running."""

    start_lead_ns = 100_000_000

    def __init__(self, plans: list[WorkerPlan], progress: bool) -> None:
        self.plans = plans
        self.progress = progress
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pipes: list[Connection] = []
        self.results: dict[int, WorkerResult] = {}

    def __enter__(self) -> Self:
        try:
            for plan in self.plans:
                parent, child = socket.socketpair()
                with child:
                    fd = child.fileno()
                    command = [sys.executable, "-m", "seatlab.client.process_entry", str(fd)]
                    self.procs.append(subprocess.Popen(command, pass_fds=(fd,), stdin=subprocess.DEVNULL))
                conn = Connection(parent.detach())
                self.pipes.append(conn)
                conn.send(Plan(plan, self.progress))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def running(self) -> list[int]:
        """The processes that have not sent their result yet."""
        return [i for i in range(len(self.pipes)) if i not in self.results]

    def receive(self, among: list[int], timeout_s: float) -> list[FromWorker]:
        """The messages that arrive from processes ``among`` within ``timeout_s``.

        A result is also kept in ``results``. A process that sends a Failure,
        or ends without a result, raises LoadError naming it.
        """
        out: list[FromWorker] = []
        for conn in wait([self.pipes[i] for i in among], timeout=timeout_s):
            i = self.pipes.index(conn)  # type: ignore[arg-type]
            try:
                message = self.pipes[i].recv()
            except (EOFError, OSError) as exc:
                try:
                    code: int | None = self.procs[i].wait(timeout=2)
                except subprocess.TimeoutExpired:
                    code = None
                raise LoadError(
                    f"load process {i} ended (exit code {code}) before sending its result"
                ) from exc
            if isinstance(message, Failure):
                raise LoadError(message.message)
            if isinstance(message, WorkerResult):
                self.results[i] = message
            out.append(message)
        return out

    def send(self, message: ToWorker) -> None:
        """To every process still running (one that just ended is skipped)."""
        for i in self.running:
            with contextlib.suppress(OSError):
                self.pipes[i].send(message)

    def describe(self) -> list[HostReport] | None:
        """Where the load ran: here (None; the summary then names no hosts)."""
        return None

    def close(self) -> None:
        """Close the sockets; end every process (exit, SIGTERM, SIGKILL; reaped)."""
        for conn in self.pipes:
            with contextlib.suppress(OSError):
                conn.close()
        for proc in self.procs:
            end_child(proc, wait_s=_EXIT_GRACE_S, term_s=_TERM_GRACE_S)
