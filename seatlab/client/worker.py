"""A load-generator process: one uvloop loop driving its share of the clients.

How this works: the parent starts ``worker_main`` in a spawned process with a
``WorkerPlan`` and a control pipe. The worker pre-generates its uuids and
request frames, opens its persistent connections, reports ``ready``, and
waits for ``start`` (a perf_counter_ns time shared by every process: on
Linux it is CLOCK_MONOTONIC, system-wide). During the run the hot path only
appends to four arrays (answer time, latency, kind, client). It reports
``all_answered`` once each of its clients has had an answer (the parent
opens the measured window from that), obeys ``window`` (stop at its end) and
``stop``, then drains outstanding requests for at most ``drain_s`` and sends
back its ``result``: the in-window latency histogram (encoded), per-client
counts, errors, unanswered requests and the seats confirmed to its clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import time
import traceback
import uuid as uuidlib
from array import array
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from time import perf_counter_ns
from typing import Any

from seatlab.client import histogram
from seatlab.client.answers import ERROR, RELEASED, SEAT, SOLD_OUT, book_body, cancel_body
from seatlab.client.connection import BOOK, CANCEL, CANCEL_ERROR, Client
from seatlab.client.ledger import ALL_TIME, ConfirmationLog
from seatlab.client.recording import window_latencies
from seatlab.client.schedule import Schedule
from seatlab.protocol.messages import ErrorCode

RING = 8
"""Duration mode: uuids each client cycles through (a uuid is reused only after it was cancelled)."""

_POOL_CAP = 200_000
ERROR_KINDS = ("refused", "reset", "timeout", "protocol", "server_error")


@dataclass(frozen=True)
class WorkerPlan:
    """What one load process does."""

    worker: int
    first_client: int
    clients: int
    host: str
    port: int
    mode: str
    rate: float | None  # this process's share, bookings/s; None = closed loop
    schedule: str
    offset_ns: int  # fixed schedule: this process's phase, so processes interleave
    connect: str
    timeout_s: float
    drain_s: float
    capacity: int
    free_seats: int
    seed: int | None
    checked: bool = True  # False against a calibration target: answers are counted, not checked
    hold: bool = False  # duration mode: keep each seat until the next is confirmed (see refill_mode)


class LoadWorker:
    """The state of one load process: its clients, the arrays they fill, the open-loop dispatcher."""

    def __init__(
        self, plan: WorkerPlan, control: Connection, progress: bool, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.plan = plan
        self.control = control
        self.progress = progress
        self.loop = loop
        self.host = plan.host
        self.port = plan.port
        self.timeout_s = plan.timeout_s
        self.timeout_ns = int(plan.timeout_s * 1e9)
        self.capacity = plan.capacity
        self.sellout = plan.mode == "sellout"
        self.checked = plan.checked
        self.refill = not self.sellout and plan.checked
        self.hold = self.refill and plan.hold
        self.open_loop = plan.rate is not None
        self.per_request = plan.connect == "per-request"
        self.stopping = False
        self.finished = False
        self.capped = False
        self.busy = 0
        self.t_done = array("q")
        self.t_lat = array("q")
        self.kinds = array("b")
        self.who = array("i")
        self.connections = 0
        self.reconnects = 0
        self.gave_up = 0
        self.errors_by_kind = dict.fromkeys(ERROR_KINDS, 0)
        self.server_errors: dict[str, int] = {}
        self.error_examples: list[str] = []
        self.unanswered_ms: list[float] = []
        self.unanswered_book_due = array("q")  # due times of the Books never answered
        self.unsent_due = 0
        self.confirmed: list[tuple[int, str, int]] = []
        self.held: dict[str, int] = {}  # uuid -> seat, until its Released (or NOT_FOUND) answer
        self.log = ConfirmationLog(plan.worker)  # for the parent's live double-booking check
        self.violations: list[str] = []
        self.answered_clients = 0
        self.remaining = plan.clients
        self.t0 = 0
        self.cpu_sys_s = 0.0
        self.next_progress = 0
        self.t_stop = 0
        self.t_finish = 0
        self.t_last_seat = 0
        self.t_all_answered = 0
        self.drain_deadline = 0
        self.window: tuple[int, int] | None = None
        self.idle: deque[Client] = deque()
        self.queue: deque[int] = deque()
        self.next_due = 0
        self.schedule: Schedule | None = None
        self.pool: list[tuple[str, bytes, bytes]] = []
        self.clients = [Client(self, i, plan.first_client + i) for i in range(plan.clients)]
        self.start_future: asyncio.Future[int] = loop.create_future()
        self.done_future: asyncio.Future[None] = loop.create_future()

    # ---- preparation

    def _prepare(self) -> None:
        if self.sellout:
            self.pool = [
                _pool_item() for _ in range(min(self.plan.free_seats + 2 * len(self.clients) + 16, _POOL_CAP))
            ]
        else:
            for c in self.clients:
                for _ in range(RING):
                    u = str(uuidlib.uuid4())
                    c.ring.append((u, u.encode("ascii"), c.prefix + book_body(u), c.prefix + cancel_body(u)))

    def take_uuid(self) -> tuple[str, bytes, bytes]:
        """A fresh uuid and its Book body (sell-out mode)."""
        pool = self.pool
        if not pool:
            pool.extend(_pool_item() for _ in range(1024))
        return pool.pop()

    async def _connect_all(self) -> None:
        async def connect(c: Client) -> None:
            c.connecting = True
            await c._open()

        await asyncio.gather(*(connect(c) for c in self.clients))

    # ---- the run

    async def run(self) -> dict[str, Any]:
        """Prepare, wait for the start, run until done, and return the result."""
        self._prepare()
        self.loop.add_reader(self.control.fileno(), self._on_control)
        # add_reader made the pipe non-blocking: a message larger than its buffer (a big batch of
        # confirmations, the result of thousands of clients) would fail half-sent with EAGAIN
        os.set_blocking(self.control.fileno(), True)
        if not self.per_request:
            await self._connect_all()
        self.control.send(("ready", {"worker": self.plan.worker, "connected": self.connections}))
        t0 = await self.start_future
        wait = (t0 - perf_counter_ns()) / 1e9
        if wait > 0:
            await asyncio.sleep(wait)
        self.t0 = t0
        cpu0 = time.process_time()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = perf_counter_ns()
        self._housekeeping()
        if self.open_loop:
            assert self.plan.rate is not None
            self.schedule = Schedule(
                self.plan.schedule, self.plan.rate, t0 + self.plan.offset_ns, self.plan.seed
            )
            self.next_due = self.schedule.next()
            self.idle.extend(self.clients)
            self._tick()
        else:
            for c in self.clients:
                c.book(perf_counter_ns())
        await self.done_future
        cpu = time.process_time() - cpu0
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu_sys_s = usage1.ru_stime - usage0.ru_stime
        wall = (perf_counter_ns() - wall0) / 1e9
        await asyncio.sleep(0.01)  # let the closes go out
        self.loop.remove_reader(self.control.fileno())
        self.control.send(self.log.take(ALL_TIME))
        return self._result(cpu, wall)

    def _tick(self) -> None:
        """Open loop: hand every request now due to an idle client, or queue it with its due time."""
        if self.stopping or self.finished:
            return
        now = perf_counter_ns()
        due = self.next_due
        idle = self.idle
        queue = self.queue
        schedule = self.schedule
        assert schedule is not None
        while due <= now:
            if idle:
                idle.popleft().book(due)
            elif not self.sellout or self.remaining:
                queue.append(due)
            due = schedule.next()
        self.next_due = due
        self.loop.call_later((due - now) / 1e9, self._tick)

    def client_idle(self, c: Client) -> None:
        """Open loop: ``c`` finished its request; give it the oldest queued one."""
        if self.queue:
            c.book(self.queue.popleft())
        else:
            self.idle.append(c)

    def _housekeeping(self) -> None:
        if self.finished:
            return
        now = perf_counter_ns()
        timeout_ns = self.timeout_ns
        for c in self.clients:
            if c.out_kind and c.transport is not None and now - c.out_sent > timeout_ns:
                c.abort("timeout", f"no answer within {self.timeout_s} s")
        if self.progress and now >= self.next_progress:
            self.next_progress = now + 400_000_000
            self.control.send(("progress", len(self.t_done), sum(self.errors_by_kind.values())))
        if self.checked:
            self.control.send(self.log.take(perf_counter_ns()))
        if self.stopping:
            self.check_finish()
        if not self.finished:
            self.loop.call_later(0.1, self._housekeeping)

    def _on_control(self) -> None:
        try:
            while self.control.poll():
                message = self.control.recv()
                if message[0] == "start":
                    if not self.start_future.done():
                        self.start_future.set_result(int(message[1]))
                elif message[0] == "window":
                    self.window = (int(message[1]), int(message[2]))
                    self.loop.call_later(max(0.0, (self.window[1] - perf_counter_ns()) / 1e9), self.stop)
                elif message[0] == "stop":
                    self.capped = True
                    self.stop()
        except (EOFError, OSError):  # the parent is gone: stop now
            self.loop.remove_reader(self.control.fileno())
            if not self.start_future.done():
                self.start_future.set_exception(RuntimeError("the parent closed the control pipe"))
            self.finish(perf_counter_ns())

    def stop(self) -> None:
        """Issue no new Book; finish once the outstanding requests are answered or ``drain_s`` passed."""
        if self.stopping or self.finished:
            return
        now = perf_counter_ns()
        self.stopping = True
        self.t_stop = now
        self.drain_deadline = now + int(self.plan.drain_s * 1e9)
        self.check_finish()

    def check_finish(self) -> None:
        """While stopping: finish when nothing is outstanding or the drain time is over."""
        now = perf_counter_ns()
        if self.busy <= 0 or now >= self.drain_deadline:
            self.finish(now)

    def finish(self, now: int) -> None:
        """End the run: count what is still unanswered, close every connection."""
        if self.finished:
            return
        self.finished = True
        self.t_finish = now
        if not self.t_stop:
            self.t_stop = now
        for c in self.clients:
            if c.out_kind:
                self.unanswered(c.out_kind, c.out_due, now)
                if c.out_kind == CANCEL:
                    # the server may have freed the seat and booked it to another uuid already:
                    # in doubt, not held (the Stats check allows for every unanswered request)
                    self.held.pop(c.cancel_uuid, None)
                c.out_kind = 0
            c.close()
        self.busy = 0
        if self.sellout:
            self.unsent_due = len(self.queue)
        else:
            for due in self.queue:
                self.unanswered(BOOK, due, now)
        self.queue.clear()
        if not self.done_future.done():
            self.done_future.set_result(None)

    # ---- callbacks from clients

    def unanswered(self, kind: int, due: int, now: int) -> None:
        """A request (due at ``due``) that will never be answered: count it, and keep a Book's due time."""
        self.unanswered_ms.append((now - due) / 1e6)
        if kind == BOOK:
            self.unanswered_book_due.append(due)

    def first_answer(self, now: int) -> None:
        self.answered_clients += 1
        if self.answered_clients == len(self.clients):
            self.t_all_answered = now
            self.control.send(("all_answered", now))

    def client_done(self, c: Client, now: int) -> None:
        """Sell-out mode: ``c`` was told sold out (or gave up)."""
        self.remaining -= 1
        if self.remaining <= 0:
            self.finish(now)

    def on_seat(self, c: Client, number: int, now: int) -> None:
        if not self.checked:
            return
        if not 1 <= number <= self.capacity:
            self.violation(f"seat {number} outside 1..{self.capacity} confirmed to uuid {c.uuid}")
        self.t_last_seat = now
        self.log.seat(now, number, c.index, c.uuid_b)
        if self.sellout:
            self.confirmed.append((number, c.uuid, c.index))
        else:
            self.held[c.uuid] = number

    def on_cancel_sent(self, c: Client, uuid: str, now: int) -> None:
        number = self.held.get(uuid)
        if number is not None:
            self.log.cancel_sent(now, number, c.index, uuid.encode("ascii"))

    def on_released(self, c: Client, number: int) -> None:
        held = self.held.pop(c.cancel_uuid, None)
        if held is not None and held != number:
            self.violation(f"cancel of uuid {c.cancel_uuid} released seat {number}, but it held seat {held}")

    def on_cancel_error(self, c: Client, code: int) -> None:
        if code == ErrorCode.NOT_FOUND:  # a retried Cancel whose first try was served: not held any more
            self.held.pop(c.cancel_uuid, None)

    def violation(self, message: str) -> None:
        if len(self.violations) < 100:
            self.violations.append(message)

    def error(self, kind: str, detail: str) -> None:
        self.errors_by_kind[kind] += 1
        if len(self.error_examples) < 5:
            self.error_examples.append(f"{kind}: {detail}")

    def server_error(self, code: int, message: object) -> None:
        try:
            name = ErrorCode.Name(code)
        except ValueError:
            name = str(code)
        self.server_errors[name] = self.server_errors.get(name, 0) + 1
        self.error("server_error", f"{name}: {message}")

    # ---- the result

    def _result(self, cpu_s: float, wall_s: float) -> dict[str, Any]:
        import numpy as np

        n = len(self.clients)
        t = np.frombuffer(self.t_done, dtype=np.int64)
        lat = np.frombuffer(self.t_lat, dtype=np.int64)
        kinds = np.frombuffer(self.kinds, dtype=np.int8)
        who = np.frombuffer(self.who, dtype=np.int32)
        if self.window and not self.sellout:
            ws, we = self.window
            cut = we
        else:  # sell-out (or a window that never opened): the run is the window
            ws, we = self.t0, 2**62
            cut = self.t_finish
        inwin = (t >= ws) & (t <= we)
        is_book = (kinds == SEAT) | (kinds == SOLD_OUT) | (kinds == ERROR)
        book_in = inwin & is_book
        never = np.frombuffer(self.unanswered_book_due, dtype=np.int64)
        served, censored = window_latencies(t, lat, kinds, never, ws, we, cut)

        def per_client(mask: Any) -> list[int]:
            return np.bincount(who[mask], minlength=n).tolist()

        answers = per_client(book_in)
        seats = per_client(inwin & (kinds == SEAT))
        sold_out = per_client(inwin & (kinds == SOLD_OUT))
        released = per_client(inwin & (kinds == RELEASED))
        first: list[float | None] = [None] * n
        last: list[float | None] = [None] * n
        if len(who):
            ids, idx = np.unique(who, return_index=True)
            for i, j in zip(ids.tolist(), idx.tolist(), strict=False):
                first[i] = (int(t[j]) - self.t0) / 1e9
            ids, idx = np.unique(who[::-1], return_index=True)
            for i, j in zip(ids.tolist(), idx.tolist(), strict=False):
                last[i] = (int(t[len(t) - 1 - j]) - self.t0) / 1e9
        rows = []
        for i, c in enumerate(self.clients):
            rows.append(
                {
                    "client": c.index,
                    "process": self.plan.worker,
                    "answers": answers[i],
                    "seats": seats[i],
                    "sold_out": sold_out[i],
                    "released": released[i],
                    "errors": c.errors,
                    "first_answer_s": first[i],
                    "last_answer_s": last[i],
                    "first_sold_out_s": (c.sold_out_at - self.t0) / 1e9 if c.sold_out_at else None,
                }
            )
        sold_times = [c.sold_out_at for c in self.clients if c.sold_out_at]
        return {
            "worker": self.plan.worker,
            "clients": rows,
            "served_histogram": histogram.encode(served),
            "censored_histogram": histogram.encode(censored),
            "window_answers": {
                "all": int(inwin.sum()),
                "book": int(book_in.sum()),
                "seat": int((inwin & (kinds == SEAT)).sum()),
                "sold_out": int((inwin & (kinds == SOLD_OUT)).sum()),
                "released": int((inwin & (kinds == RELEASED)).sum()),
                "error": int((inwin & ((kinds == ERROR) | (kinds == CANCEL_ERROR))).sum()),
            },
            "total_answers": len(t),
            "errors_by_kind": self.errors_by_kind,
            "server_errors_by_code": self.server_errors,
            "error_examples": self.error_examples,
            "connections": self.connections,
            "reconnects": self.reconnects,
            "gave_up": self.gave_up,
            "unanswered_ms": self.unanswered_ms,
            "unsent_due": self.unsent_due,
            "confirmed": self.confirmed,
            "held": sorted((number, u) for u, number in self.held.items()),
            "violations": self.violations,
            "cpu_s": cpu_s,
            "cpu_sys_s": self.cpu_sys_s,
            "wall_s": wall_s,
            "t_last_first_sold_out": max(sold_times) if len(sold_times) == n else None,
            "t_last_seat": self.t_last_seat or None,
            "t_all_answered": self.t_all_answered or None,
            "t_stop": self.t_stop,
            "t_finish": self.t_finish,
            "capped": self.capped,
        }


def _pool_item() -> tuple[str, bytes, bytes]:
    u = str(uuidlib.uuid4())
    return u, u.encode("ascii"), book_body(u)


def worker_main(control: Connection) -> None:
    """Entry point of a load process: read the plan from ``control``, run, send the result back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    loop: asyncio.AbstractEventLoop | None = None
    name = "?"
    try:
        _, plan, progress = control.recv()
        name = str(plan.worker)
        import uvloop

        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        worker = LoadWorker(plan, control, bool(progress), loop)
        result = loop.run_until_complete(worker.run())
        os.set_blocking(control.fileno(), True)  # (remove_reader may have left it non-blocking)
        control.send(("result", result))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            control.send(
                ("error", f"load process {name}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            )
    finally:
        if loop is not None:
            loop.close()
        control.close()
