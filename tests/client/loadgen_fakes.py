"""Small in-test seat servers that misbehave on purpose, for the load generator's tests.

Each runs an asyncio loop in a thread on 127.0.0.1 port 0, speaks the
protocol through the project's codec and ``SeatService``, and can: answer
after a delay, stall every answer for a while once the Nth Book arrives,
or sit on a store that double-books or whose Stats lie.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Self

from seatlab.protocol.codec import FrameDecoder
from seatlab.protocol.messages import parse_request
from seatlab.seats.service import SeatService
from seatlab.seats.store import SeatStore


class DoubleBookingStore(SeatStore):
    """Confirms seat 1 to the first two uuids it books (keeps its own books right)."""

    def book(self, uuid: str) -> int:
        number = super().book(uuid)
        return 1 if number == 2 else number


class OneSeatForAllStore(SeatStore):
    """Confirms seat 1 to every uuid, and releases "seat 1" on every cancel: Stats stay consistent."""

    def book(self, uuid: str) -> int:
        return 1 if super().book(uuid) else 0

    def cancel(self, uuid: str) -> int:
        return 1 if super().cancel(uuid) else 0


class LyingStatsStore(SeatStore):
    """Its Stats report one seat fewer than are booked."""

    def stats(self) -> tuple[int, int]:
        capacity, booked = super().stats()
        return capacity, max(booked - 1, 0)


class FakeServer:
    """A seat server in a thread: ``with FakeServer(...) as s: s.port``."""

    def __init__(
        self,
        store: SeatStore | None = None,
        *,
        capacity: int = 100,
        delay_s: float = 0.0,
        stall_at_book: int | None = None,
        stall_s: float = 1.0,
    ) -> None:
        self.service = SeatService(store if store is not None else SeatStore(capacity))
        self.delay_s = delay_s
        self.stall_at_book = stall_at_book
        self.stall_s = stall_s
        self.books = 0
        self.paused_until = 0.0
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> Self:
        self._server = self.loop.run_until_complete(
            self.loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


class _Connection(asyncio.Protocol):
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None
        self.last_due = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        s = self.server
        loop = s.loop
        self.decoder.feed(data)
        while (payload := self.decoder.next_frame()) is not None:
            if parse_request(payload).WhichOneof("op") == "book":
                s.books += 1
                if s.books == s.stall_at_book:
                    s.paused_until = loop.time() + s.stall_s
            answer = s.service.handle(payload)
            due = max(loop.time() + s.delay_s, s.paused_until, self.last_due)
            self.last_due = due
            loop.call_at(due, self._send, answer)

    def _send(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)


class SecondSeatIsAlsoOneStore(SeatStore):
    """Confirms seat 1 to the first two uuids booked, and releases "seat 1" for both: consistent books.

    Nothing but the overlap of the two holds shows the double booking: Stats,
    Released answers and the seats held at the end all agree.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.shown: dict[str, int] = {}

    def book(self, uuid: str) -> int:
        number = super().book(uuid)
        if number == 2 or self.shown.get(uuid) == 1:
            self.shown[uuid] = 1
            return 1
        return number

    def cancel(self, uuid: str) -> int:
        number = super().cancel(uuid)
        return self.shown.pop(uuid, number) if number else number


class HostileServer:
    """Answers the first connection's Stats, then misbehaves on every connection after it.

    ``how``: ``close`` (closes each connection as it comes), ``garbage``
    (answers every read with bytes that are no frame), ``oversized`` (answers
    with a length prefix past the frame limit).
    """

    def __init__(self, how: str) -> None:
        self.how = how
        self.connections = 0
        self.fake = FakeServer()
        self.port = 0
        self._server: asyncio.Server | None = None

    def __enter__(self) -> Self:
        loop = self.fake.loop

        def protocol() -> asyncio.Protocol:
            self.connections += 1
            return _Connection(self.fake) if self.connections == 1 else _Hostile(self.how)

        self._server = loop.run_until_complete(loop.create_server(protocol, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self.fake._server = self._server
        self.fake._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.fake.__exit__(t, e, tb)


class _Hostile(asyncio.Protocol):
    def __init__(self, how: str) -> None:
        self.how = how
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.how == "close":
            transport.close()

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.how == "garbage":
            self.transport.write(b"\x05\xff\xff\xff\xff\xff")
        else:  # oversized: a 2**28-byte frame announced
            self.transport.write(b"\x80\x80\x80\x80\x01" + b"\x00" * 64)
