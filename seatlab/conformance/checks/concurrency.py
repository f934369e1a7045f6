"""Concurrency: no seat held twice, no uuid holding two, whatever the number of connections.

The checks read every connection at once (``selectors``) and close each as
soon as it has its answer, so a thread-pool server that serves a
connection per pool thread for its lifetime gets through them all.
"""

from __future__ import annotations

import selectors
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from seatlab.conformance.registry import Context, check, expect, expect_seat, free_seats, stats_of
from seatlab.conformance.target import Settings
from seatlab.conformance.wire import CheckFailed, Wire, kind, new_uuid
from seatlab.protocol import seat_pb2
from seatlab.protocol.messages import book_request

_CONNECTIONS = 100
_SELLOUT_CAPACITY = 200
_SELLOUT_CONNECTIONS = 12


def _answer_each(wires: list[Wire], timeout_s: float) -> list[seat_pb2.Response]:
    """The first answer on every connection, read as they come; each closed once it has answered."""
    answers: dict[int, seat_pb2.Response] = {}
    with selectors.DefaultSelector() as selector:
        for i, wire in enumerate(wires):
            selector.register(wire.sock, selectors.EVENT_READ, i)
        deadline = time.monotonic() + timeout_s
        while len(answers) < len(wires):
            ready = selector.select(max(deadline - time.monotonic(), 0))
            if not ready:
                raise CheckFailed(
                    f"{len(wires) - len(answers)} of {len(wires)} connections had no answer within {timeout_s:g} s"
                )
            for key, _ in ready:
                i = key.data
                wire = wires[i]
                answers[i] = wire.receive()  # readable: the answer (or EOF, which fails) is there
                selector.unregister(wire.sock)
                wire.close()  # a thread-pool server may now serve a waiting connection
    return [answers[i] for i in range(len(wires))]


@check(
    "concurrency.one-uuid-many-connections",
    f"{_CONNECTIONS} connections booking one uuid at once all get the same one seat",
)
def one_uuid_many_connections(ctx: Context) -> None:
    probe = ctx.connect()
    before = free_seats(probe, 1)
    probe.close()
    wires = [ctx.connect() for _ in range(_CONNECTIONS)]
    u = new_uuid()
    request = book_request(1, u)
    ctx.transcript.add(f"all      {_CONNECTIONS} connections send Book {u} (id 1), then read")
    for wire in wires:  # back to back, no answer read in between: as close to at once as one thread gets
        wire.sock.sendall(request)
    answers = _answer_each(wires, max(ctx.timeout_s, 20.0))
    numbers = {expect_seat(a, u, rid=1) for a in answers}
    expect(
        len(numbers) == 1, f"{_CONNECTIONS} Books of {u} at once got {len(numbers)} seats: {sorted(numbers)}"
    )
    _, booked = stats_of(ctx.connect())
    expect(
        booked == before + 1, f"Stats says {booked} booked after one uuid booked at once; before: {before}"
    )


def _book_until_sold_out(wire: Wire) -> list[tuple[int, str]]:
    seats: list[tuple[int, str]] = []
    while True:
        u = new_uuid()
        response = wire.book(u)
        if kind(response) == "sold_out":
            expect(
                response.sold_out.capacity == _SELLOUT_CAPACITY,
                f"SoldOut.capacity is {response.sold_out.capacity}, not {_SELLOUT_CAPACITY}",
            )
            wire.close()  # a thread-pool server may now serve a waiting connection
            return seats
        seats.append((expect_seat(response, u), u))


@check(
    "concurrency.sellout-many-connections",
    f"{_SELLOUT_CONNECTIONS} connections booking until sold out share seats 1..{_SELLOUT_CAPACITY}, each once",
    own_server=True,
    placeholders=("capacity",),
)
def sellout_many_connections(ctx: Context) -> None:
    server = ctx.start(Settings(capacity=_SELLOUT_CAPACITY, threads=4))
    wires = [ctx.connect(server, timeout_s=max(ctx.timeout_s, 20.0)) for _ in range(_SELLOUT_CONNECTIONS)]
    go = threading.Barrier(len(wires))

    def run(wire: Wire) -> list[tuple[int, str]]:
        go.wait()
        return _book_until_sold_out(wire)

    with ThreadPoolExecutor(len(wires)) as pool:
        results = list(pool.map(run, wires))
    seats = [s for r in results for s in r]
    numbers = sorted(n for n, _ in seats)
    expect(
        len(seats) == _SELLOUT_CAPACITY, f"{len(seats)} Seats were given out for {_SELLOUT_CAPACITY} seats"
    )
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    expect(not twice, f"seats given out twice: {twice[:20]}")
    expect(numbers == list(range(1, _SELLOUT_CAPACITY + 1)), f"seat numbers outside 1..{_SELLOUT_CAPACITY}")
    stats = stats_of(ctx.connect(server))
    expect(stats == (_SELLOUT_CAPACITY, _SELLOUT_CAPACITY), f"Stats after the sellout is {stats}")
