"""A lying seat server for the cross-host audit test: every Book is confirmed seat 1.

``python one_seat_server.py ADDRESS``: prints ``READY ADDRESS PORT`` and serves until killed. It
speaks the protocol through the project's codec and ``SeatService``; only its store lies (the Stats
stay consistent with what it said), so only the live check across hosts can catch it.
"""

from __future__ import annotations

import asyncio
import sys

from seatlab.protocol.codec import FrameDecoder
from seatlab.seats.service import SeatService
from seatlab.seats.store import SeatStore


class OneSeatForAllStore(SeatStore):
    def book(self, uuid: str) -> int:
        return 1 if super().book(uuid) else 0

    def cancel(self, uuid: str) -> int:
        return 1 if super().cancel(uuid) else 0


class _Connection(asyncio.Protocol):
    def __init__(self, service: SeatService) -> None:
        self.service = service
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.decoder.feed(data)
        while (payload := self.decoder.next_frame()) is not None:
            answer = self.service.handle(payload)
            assert self.transport is not None
            # a little delay, so that two hosts' clients hold "seat 1" at once
            asyncio.get_running_loop().call_later(0.005, self.transport.write, answer)


async def main(address: str) -> None:
    service = SeatService(OneSeatForAllStore(1000))
    server = await asyncio.get_running_loop().create_server(lambda: _Connection(service), address, 0)
    print(f"READY {address} {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
