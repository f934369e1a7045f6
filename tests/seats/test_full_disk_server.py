"""Issue 13.1 through a real server: on a full disk every ``Seat`` answered is in the db, and the db reopens.

Each backend, each ``--sync`` mode: a server subprocess keeps its db on a
16 KiB tmpfs that ballast fills; a socket client books one uuid at a time
until the server has refused some with ``INTERNAL``, then the ballast is
removed and booking must work again. Afterwards the db file holds exactly
the bookings answered ``Seat``, and a new server starts from it.
"""

from __future__ import annotations

import socket
import uuid as uuidlib
from pathlib import Path

import pytest
from small_fs import SmallDisk

from seatlab.harness.process import ServerProcess
from seatlab.modes import Sync
from seatlab.protocol import seat_pb2
from seatlab.protocol.codec import FrameDecoder, encode
from seatlab.protocol.messages import ErrorCode, book_request, parse_response
from seatlab.seats.journal import Journal

CAPACITY = 5000
MAX_REQUESTS = 2000  # the 4 KiB the ballast leaves hold about a hundred lines
REFUSALS_WANTED = 5


class SeatClient:
    """One blocking connection speaking the wire protocol: a frame out, its Response back."""

    def __init__(self, server: ServerProcess) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=15)
        self.frames = FrameDecoder()
        self.request_id = 0

    def ask(self, frame_bytes: bytes) -> seat_pb2.Response:
        self.sock.sendall(frame_bytes)
        while (payload := self.frames.next_frame()) is None:
            data = self.sock.recv(65536)
            assert data, "the server closed the connection instead of answering"
            self.frames.feed(data)
        return parse_response(payload)

    def book(self, uuid: str) -> seat_pb2.Response:
        self.request_id += 1
        response = self.ask(book_request(self.request_id, uuid))
        assert response.id == self.request_id
        return response

    def booked(self) -> int:
        request = seat_pb2.Request(id=0)
        request.stats.SetInParent()
        return int(self.ask(encode(request)).stats.booked)

    def close(self) -> None:
        self.sock.close()


def book_and_record(client: SeatClient, uuid: str, acknowledged: dict[int, str]) -> bool:
    """Book ``uuid``; True if answered ``Seat`` (recorded), False if ``INTERNAL``; anything else fails."""
    response = client.book(uuid)
    kind = response.WhichOneof("result")
    if kind == "seat":
        assert response.seat.uuid == uuid and response.seat.number not in acknowledged
        acknowledged[response.seat.number] = uuid
        return True
    assert kind == "error" and response.error.code == ErrorCode.INTERNAL, response
    return False


@pytest.mark.parametrize("sync", list(Sync))
@pytest.mark.parametrize("backend", ["tpool", "coro", "event"])
def test_server_on_a_full_disk_acknowledges_only_what_the_db_holds(
    small_disk: SmallDisk, tmp_path: Path, backend: str, sync: Sync
) -> None:
    db = small_disk.root / "db.csv"
    acknowledged: dict[int, str] = {}
    refused: list[str] = []
    logs = tmp_path / "logs"
    with ServerProcess(backend, capacity=CAPACITY, db_path=db, sync=sync, log_dir=logs) as server:
        client = SeatClient(server)
        try:
            small_disk.fill()
            for i in range(MAX_REQUESTS):
                uuid = str(uuidlib.UUID(int=i + 1))
                if not book_and_record(client, uuid, acknowledged):
                    refused.append(uuid)
                    if len(refused) == REFUSALS_WANTED:
                        break
            assert len(refused) == REFUSALS_WANTED, "the full disk never refused a booking"
            assert client.booked() == len(acknowledged), "a refused booking still holds a seat"
            small_disk.free()
            for uuid in refused:  # the retries of the refused bookings, then fresh ones
                assert book_and_record(client, uuid, acknowledged), "no service after space was freed"
            for i in range(20):
                assert book_and_record(client, str(uuidlib.UUID(int=MAX_REQUESTS + i + 1)), acknowledged)
        finally:
            client.close()
        assert server.stop() == 0
    assert "No space left on device" in (logs / "server.stderr").read_text()

    assert db.read_bytes().endswith(b"\n"), f"a torn line is left in the db: {db.read_bytes()[-60:]!r}"
    journal, seats = Journal.open(db, CAPACITY)
    journal.close()
    assert seats == acknowledged
    with ServerProcess(
        backend, capacity=CAPACITY, db_path=db, sync=sync, log_dir=tmp_path / "again"
    ) as again:
        client = SeatClient(again)
        try:
            assert client.booked() == len(acknowledged)
        finally:
            client.close()
