"""A load process: one uvloop loop driving its share of the clients.

How this works: the parent starts ``worker_main`` in a fresh interpreter
and sends it a ``Plan`` over the control socket (``control.py`` has every
message). The process pre-generates its uuids and request frames, opens its
persistent connections, answers ``Ready``, and waits for ``Start`` (a
perf_counter_ns time shared by every process: on Linux it is
CLOCK_MONOTONIC, system-wide). During the run the hot path only appends to
the ``Recording`` arrays. The process reports ``AllAnswered`` once each of
its clients has had an answer (the parent opens the measured window from
that), ships its ``Confirmations`` every tenth of a second, obeys ``Window``
(stop at its end) and ``Stop``, then drains outstanding requests for at most
``drain_s`` and sends back its ``WorkerResult``.

The backlog: a request still outstanding when the drain ends is one the
server holds and may still answer: a thread pool whose threads each hold a
connection serves the queued connections' Books one by one after the
window (1,000 clients, 2 threads, 50 ms: about 25 s). The process keeps
those connections open and waits for their answers (``_await_backlog``),
sending nothing more, so the seats they book are confirmed to the ledger
and the end Stats is not queued behind them; the measured figures do not
change (an answer after the window counts at its age when the window
closed, as an unanswered request does). It waits while the server keeps
answering: the parent, which sees every process's ``Backlog``, calls a stall
(a server that stopped or died) after ``BACKLOG_QUIET_S`` without an answer
to any of them (a server serving its queue in order may answer another
process's clients first) and sends ``Stop(stalled=True)``; ``max_time_s``
from the start is the limit. Its CPU is not counted in the run's.
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
from multiprocessing.connection import Connection
from time import perf_counter_ns

from seatlab.client import control
from seatlab.client.answers import book_body, cancel_body
from seatlab.client.dispatch import OpenLoop
from seatlab.client.ledger import ALL_TIME, ConfirmationLog
from seatlab.client.load_client import BOOK, CANCEL, Client, ClientSettings
from seatlab.client.recording import FOLD_ANSWERS, ClientTally, Recording
from seatlab.client.result import ERROR_KINDS, WorkerResult
from seatlab.client.schedule import DueTimes
from seatlab.modes import Connect, Mode
from seatlab.protocol.messages import ErrorCode

RING = 8
"""Duration mode: uuids each client cycles through (a uuid is reused only after it was cancelled)."""

_POOL_CAP = 200_000
_HOUSEKEEPING_S = 0.1
_PROGRESS_NS = 400_000_000


class LoadWorker:
    """One load process's clients and what they share: counters, the seats they hold, the dispatcher."""

    def __init__(
        self, plan: control.WorkerPlan, pipe: Connection, progress: bool, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.plan = plan
        self.pipe = pipe
        self.progress = progress
        self.loop = loop
        self.sellout = plan.mode == Mode.sellout
        self.checked = plan.checked
        refill = not self.sellout and plan.checked
        self.settings = ClientSettings(
            host=plan.host, port=plan.port, timeout_s=plan.timeout_s, sellout=self.sellout,
            checked=plan.checked, refill=refill, hold=refill and plan.hold,
            per_request=plan.connect == Connect.per_request, open_loop=plan.rate is not None,
            capacity=plan.capacity,
        )  # fmt: skip
        self.timeout_ns = int(plan.timeout_s * 1e9)
        self.stopping = False
        self.finished = False
        self.capped = False
        self.busy = 0
        self.recording = Recording(interval_ns=int(plan.interval_s * 1e9))
        self.connections = 0
        self.reconnects = 0
        self.gave_up = 0
        self.errors_by_kind = dict.fromkeys(ERROR_KINDS, 0)
        self.server_errors: dict[str, int] = {}
        self.error_examples: list[str] = []
        self.unanswered_ms: list[float] = []
        self.unsent_due = 0
        self.confirmed: list[tuple[int, str, int]] = []
        self.held: dict[str, int] = {}  # uuid -> seat, until its Released (or NOT_FOUND) answer
        self.log = ConfirmationLog(plan.worker)  # for the parent's live double-booking check
        # the hot path appends to the log's arrays directly (ConfirmationLog.seat, minus two calls)
        self._log_t, self._log_seat = self.log.times.append, self.log.seats.append
        self._log_client, self._log_uuid = self.log.clients.append, self.log.uuids.extend
        self.violations: list[str] = []
        self.answered_clients = 0
        self.remaining = plan.clients
        self.t0 = 0
        self.next_progress = 0
        self.t_finish = 0
        self.t_last_seat = 0
        self.drain_deadline = 0
        self.window: tuple[int, int] | None = None
        self.backlog: set[Client] = set()  # outstanding when the run ended: answers still awaited
        self.backlog_requests = 0
        self.backlog_answered = 0
        self.backlog_stalled = False  # the parent said the server stopped answering them
        self.backlog_wait_s = 0.0
        self.backlog_outcome = "none"
        self.dispatcher: OpenLoop | None = None
        self.pool: list[tuple[str, bytes, bytes]] = []
        self.clients = [
            Client(self, self.settings, self.recording, i, plan.first_client + i) for i in range(plan.clients)
        ]
        self.start_future: asyncio.Future[int] = loop.create_future()
        self.done_future: asyncio.Future[None] = loop.create_future()

    # ---- preparation

    def _prepare(self) -> None:
        if self.sellout:
            wanted = min(self.plan.free_seats + 2 * len(self.clients) + 16, _POOL_CAP)
            self.pool = [_pool_item() for _ in range(wanted)]
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

    async def run(self) -> WorkerResult:
        """Prepare, wait for the start, run until done, and return the result."""
        self._prepare()
        self.loop.add_reader(self.pipe.fileno(), self._on_control)
        # add_reader made the pipe non-blocking: a message larger than its buffer (a big batch of
        # confirmations, the result of thousands of clients) would fail half-sent with EAGAIN
        os.set_blocking(self.pipe.fileno(), True)
        if not self.settings.per_request:
            await self._connect_all()
        self.pipe.send(control.Ready(self.plan.worker, self.connections))
        t0 = await self.start_future
        wait = (t0 - perf_counter_ns()) / 1e9
        if wait > 0:
            await asyncio.sleep(wait)
        self.t0 = t0
        cpu0 = time.process_time()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = perf_counter_ns()
        self._housekeeping()
        if self.plan.rate is not None:
            due = DueTimes(self.plan.schedule, self.plan.rate, t0 + self.plan.offset_ns, self.plan.seed)
            self.dispatcher = OpenLoop(self.loop, due)
            self.dispatcher.start(list(self.clients), perf_counter_ns())
        else:
            for c in self.clients:
                c.book(perf_counter_ns())
        await self.done_future
        cpu = time.process_time() - cpu0
        cpu_sys = resource.getrusage(resource.RUSAGE_SELF).ru_stime - usage0.ru_stime
        wall = (perf_counter_ns() - wall0) / 1e9
        await self._await_backlog()
        await asyncio.sleep(0.01)  # let the closes go out
        self.loop.remove_reader(self.pipe.fileno())
        self.pipe.send(self.log.take(ALL_TIME))
        return self._result(cpu, cpu_sys, wall)

    def _housekeeping(self) -> None:
        if self.finished:
            return
        now = perf_counter_ns()
        timeout_ns = self.timeout_ns
        for c in self.clients:
            if c.out_kind and c.transport is not None and now - c.out_sent > timeout_ns:
                c.abort("timeout", f"no answer within {self.plan.timeout_s} s")
        recording = self.recording
        if self.window is not None and not self.sellout and len(recording.t_done) >= FOLD_ANSWERS:
            recording.fold(self.window, len(self.clients))  # memory follows the clients, not the run's length
        if self.progress and now >= self.next_progress:
            self.next_progress = now + _PROGRESS_NS
            errors = sum(self.errors_by_kind.values())
            self.pipe.send(control.Progress(self.plan.worker, recording.answers, errors))
        if self.checked:
            self.pipe.send(self.log.take(perf_counter_ns()))
        if self.stopping:
            self.check_finish()
        if not self.finished:
            self.loop.call_later(_HOUSEKEEPING_S, self._housekeeping)

    def _on_control(self) -> None:
        try:
            while self.pipe.poll():
                message = self.pipe.recv()
                if isinstance(message, control.Start):
                    if not self.start_future.done():
                        self.start_future.set_result(message.t0)
                elif isinstance(message, control.Window):
                    self.window = (message.start, message.end)
                    self.loop.call_later(max(0.0, (message.end - perf_counter_ns()) / 1e9), self.stop)
                elif isinstance(message, control.Stop):
                    if message.stalled:
                        self.backlog_stalled = True
                    else:
                        self.capped = True
                        self.stop()
        except (EOFError, OSError):  # the parent is gone: stop now
            self.loop.remove_reader(self.pipe.fileno())
            if not self.start_future.done():
                self.start_future.set_exception(RuntimeError("the parent closed the control pipe"))
            self.finish(perf_counter_ns())

    def stop(self) -> None:
        """Issue no new Book; finish once the outstanding requests are answered or ``drain_s`` passed."""
        if self.stopping or self.finished:
            return
        now = perf_counter_ns()
        self.stopping = True
        if self.dispatcher is not None:
            self._never_sent(self.dispatcher.halt(), now)
        self.drain_deadline = now + int(self.plan.drain_s * 1e9)
        self.check_finish()

    def check_finish(self) -> None:
        """While stopping: finish when nothing is outstanding or the drain time is over."""
        now = perf_counter_ns()
        if self.busy <= 0 or now >= self.drain_deadline:
            self.finish(now, backlog=not self.capped)

    def finish(self, now: int, backlog: bool = False) -> None:
        """End the run: close every connection but, with ``backlog``, those whose request the server
        still holds (their answers are awaited after the run); count the rest as unanswered."""
        if self.finished:
            return
        self.finished = True
        self.t_finish = now
        for c in self.clients:
            if c.out_kind and backlog and c.transport is not None:
                self.backlog.add(c)
                continue
            if c.out_kind:
                self.unanswered(c, now)
                c.out_kind = 0
            c.close()
        self.busy = len(self.backlog)
        self.backlog_requests = len(self.backlog)
        if self.dispatcher is not None:
            self._never_sent(self.dispatcher.halt(), now)
        if not self.done_future.done():
            self.done_future.set_result(None)

    async def _await_backlog(self) -> None:
        """After the run: wait for the answers the server still owes (see the module's docstring)."""
        if not self.backlog:
            return
        start = perf_counter_ns()
        cap = self.t0 + int(self.plan.max_time_s * 1e9)
        outcome = "answered"
        next_report = 0
        while self.backlog:
            now = perf_counter_ns()
            for c in [c for c in self.backlog if c.transport is None]:  # the server closed it: no answer
                self.backlog.discard(c)
                self.unanswered(c, now)
                c.out_kind = 0
            if not self.backlog:
                break
            if self.backlog_stalled:
                outcome = "stalled"
                break
            if now >= cap:
                outcome = "capped"
                break
            if now >= next_report:
                next_report = now + _PROGRESS_NS
                self.pipe.send(control.Backlog(self.plan.worker, len(self.backlog), self.backlog_answered))
            await asyncio.sleep(0.05)
        now = perf_counter_ns()
        for c in self.backlog:
            self.unanswered(c, now)
            c.out_kind = 0
            c.close()
        self.backlog.clear()
        self.busy = 0
        self.backlog_wait_s = (now - start) / 1e9
        self.backlog_outcome = outcome
        self.pipe.send(control.Backlog(self.plan.worker, 0, self.backlog_answered))

    def _never_sent(self, dues: list[int], now: int) -> None:
        """Open-loop requests due but never sent: late Books in duration mode, merely unsent in a sell-out."""
        if self.sellout:
            self.unsent_due += len(dues)
            return
        for due in dues:
            self.unanswered_ms.append((now - due) / 1e6)
            self.recording.never_answered_due.append(due)

    # ---- ClientHost: what the clients report

    def connected(self, reconnect: bool) -> None:
        self.connections += 1
        if reconnect:
            self.reconnects += 1

    def unanswered(self, c: Client, now: int) -> None:
        """``c``'s outstanding request will never be answered: count it, keep a Book's due time."""
        self.unanswered_ms.append((now - c.out_due) / 1e6)
        if c.out_kind == BOOK:
            self.recording.never_answered_due.append(c.out_due)
        elif c.out_kind == CANCEL:
            # the server may have freed the seat and booked it to another uuid already:
            # in doubt, not held (the Stats check allows for every unanswered request)
            self.held.pop(c.cancel_uuid, None)

    def next_request(self, c: Client, now: int) -> None:
        """``c`` was answered: drain, wait for the schedule (open loop), or book again (closed loop);
        after the run, one of the backlog's answers: that client is done."""
        if self.finished:
            if c in self.backlog:
                self.backlog.discard(c)
                self.backlog_answered += 1
                c.close()
        elif self.stopping:
            self.check_finish()
        elif self.dispatcher is not None:
            self.dispatcher.client_idle(c)
        else:
            c.book(now)

    def first_answer(self, now: int) -> None:
        self.answered_clients += 1
        if self.answered_clients == len(self.clients):
            self.pipe.send(control.AllAnswered(self.plan.worker, now))

    def client_done(self, c: Client, now: int, gave_up: bool) -> None:
        """``c`` is done for good: told sold out (sell-out mode), or it gave up on the server."""
        if gave_up:
            self.gave_up += 1
        self.remaining -= 1
        if self.remaining <= 0:
            self.finish(now)

    def on_seat(self, c: Client, number: int, now: int) -> None:
        if not self.checked:
            return
        if not 1 <= number <= self.plan.capacity:
            self.violation(f"seat {number} outside 1..{self.plan.capacity} confirmed to uuid {c.uuid}")
        self.t_last_seat = now
        self._log_t(now)
        self._log_seat(number)
        self._log_client(c.index)
        self._log_uuid(c.uuid_b)
        if self.sellout:
            self.confirmed.append((number, c.uuid, c.index))
        else:
            self.held[c.uuid] = number

    def on_cancel_sent(self, c: Client, now: int) -> None:
        """The Cancel goes out now; ``now`` is when the Seat answer that prompted it was read."""
        number = self.held.get(c.cancel_uuid)
        if number is not None:  # ConfirmationLog.cancel_sent, inlined
            # strictly after that Seat: at equal times the ledger replays a Cancel first, and a
            # cancel-after-book Cancel logged at its own Seat's time would release nothing
            t = perf_counter_ns()
            self._log_t(t if t > now else now + 1)
            self._log_seat(-number)
            self._log_client(c.index)
            self._log_uuid(c.cancel_uuid_b)

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

    def _result(self, cpu_s: float, cpu_sys_s: float, wall_s: float) -> WorkerResult:
        from seatlab.client import histogram

        clients = [ClientTally(c.index, c.errors, c.sold_out_at) for c in self.clients]
        window = self.window if not self.sellout else None  # a sell-out's window is the whole run
        tally = self.recording.tally(self.plan.worker, clients, self.t0, window, self.t_finish)
        sold_times = [c.sold_out_at for c in self.clients if c.sold_out_at]
        return WorkerResult(
            workers=(self.plan.worker,),
            clients=tally.rows,
            served_histogram=histogram.encode(tally.served),
            censored_histogram=histogram.encode(tally.censored),
            window_answers=tally.window_answers,
            total_answers=self.recording.answers,
            errors_by_kind=self.errors_by_kind,
            server_errors_by_code=self.server_errors,
            error_examples=self.error_examples,
            connections=self.connections,
            reconnects=self.reconnects,
            gave_up=self.gave_up,
            unanswered_ms=self.unanswered_ms,
            unsent_due=self.unsent_due,
            confirmed=self.confirmed,
            held=sorted((number, u) for u, number in self.held.items()),
            violations=self.violations,
            cpu_s=(cpu_s,),
            cpu_sys_s=(cpu_sys_s,),
            wall_s=(wall_s,),
            t_last_first_sold_out=max(sold_times) if len(sold_times) == len(self.clients) else None,
            t_last_seat=self.t_last_seat or None,
            t_finish=self.t_finish,
            capped=self.capped,
            backlog_requests=self.backlog_requests,
            backlog_answered=self.backlog_answered,
            backlog_wait_s=(self.backlog_wait_s,),
            backlog_outcomes=(self.backlog_outcome,),
            intervals=tally.intervals,
        )


def _pool_item() -> tuple[str, bytes, bytes]:
    u = str(uuidlib.uuid4())
    return u, u.encode("ascii"), book_body(u)


def worker_main(pipe: Connection) -> None:
    """Entry point of a load process: read the plan from ``pipe``, run, send the result back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    loop: asyncio.AbstractEventLoop | None = None
    worker = -1
    try:
        message = pipe.recv()
        if not isinstance(message, control.Plan):
            raise TypeError(f"expected a Plan first, got {type(message).__name__}")
        worker = message.plan.worker
        import uvloop

        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        load = LoadWorker(message.plan, pipe, message.progress, loop)
        result = loop.run_until_complete(load.run())
        os.set_blocking(pipe.fileno(), True)  # (remove_reader may have left it non-blocking)
        pipe.send(result)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            pipe.send(
                control.Failure(
                    worker, f"load process {worker}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                )
            )
    finally:
        if loop is not None:
            loop.close()
        pipe.close()
