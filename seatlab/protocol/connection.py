"""The server's side of one connection, bytes only (python-hyper/h11's ``Connection`` idea).

How this works: a backend hands every chunk it reads to ``feed`` (``b""``
when the client closed its side), which answers what to serve now: the whole
requests to answer, in order, an ``Error`` frame to send after their answers
when the byte stream stopped being valid framing, whether to close once that
is sent, and whether more is left for the next turn (``next_batch`` asks
again without new data; ``receive_data`` only holds bytes, while a batch is
in flight). ``wants_read`` is the bounded buffering (uvicorn's
``flow_control``): past ``MAX_UNREAD`` received but unserved bytes the
backend stops reading, so a client that pipelines without reading its
answers stalls only itself.

The single-frame case lives here, not in the backends: a read that is
exactly one frame with a one-byte length (a closed-loop client's request)
is handed out as a reused one-request batch without going through the
decoder, so every backend keeps one path: read, feed, serve the batch.

There are no sockets, no event loop and no service here: the backends move
bytes and wait (``seatlab.server``); the answers come from
``SeatService.answer``. After a framing error the connection is over: what
still arrives is counted and discarded (the lingering close, nginx's
``lingering_close``: the backend shuts its write side, reads for at most
``LINGER_S`` seconds and ``LINGER_BYTES`` bytes, then closes, so the
``Error`` reaches a client that is still writing instead of a reset).
"""

from __future__ import annotations

from dataclasses import dataclass

from seatlab.protocol.codec import FrameDecoder, FrameError
from seatlab.protocol.messages import error_frame

MAX_UNREAD = 65536
"""Received bytes a connection may hold unserved before the backend stops reading it."""

TURN_FRAMES = 8
"""Requests served per connection per turn of a loop: one busy client cannot starve the others.

Under issue 13's abuse (200 pipelining connections, 500 slowloris) one round of turns takes
about 200 x this x 2-3 µs: with 32 an honest client waited 17-20 ms (p99 76-200 ms), with 8,
3-4 ms (p99 51-54 ms; experiments/core/README.md). A closed-loop client sends one request at a
time, so this never limits it."""

LINGER_S = 2.0
"""After a framing error: how long to keep reading (and discarding) before closing."""

LINGER_BYTES = 16 << 20
"""After a framing error: how many bytes to read and discard at most before closing."""


@dataclass(slots=True)
class Batch:
    """What to serve now, in this order: answer ``payloads``, send ``error``, then close if ``close``.

    A slotted class, not a NamedTuple: the backends read its fields once per request, and a slot is
    read in a few instructions where a NamedTuple's field (or its unpacking) costs hundreds.
    """

    payloads: list[bytes]
    """Whole request payloads, in the order they arrived."""
    error: bytes
    """An ``Error`` frame (a framing error) to send after their answers, or ``b""``."""
    close: bool
    """Nothing more will be served: close once the answers (and ``error``) are sent."""
    more: bool
    """The turn's limit cut this batch short: ask again on the next turn, without new data."""


_NOTHING = Batch([], b"", False, False)


class ServerConnection:
    """One client's byte stream: requests in order, a framing error once, the end of the stream."""

    __slots__ = ("_decoder", "_one", "_single", "discarded", "eof", "failed")

    def __init__(self) -> None:
        self._decoder = FrameDecoder()
        self._single: bytes | None = None  # the fast path: one whole request not in the decoder
        self._one = Batch([b""], b"", False, False)  # the fast path's batch, reused: no allocation
        self.eof = False
        """The client closed its side (its requests are still answered). Read it, never set it."""
        self.failed = False
        """A framing error was handed out: nothing more is served, only the lingering close is left."""
        self.discarded = 0
        """Bytes received after a framing error and thrown away (the lingering close's count)."""

    @property
    def buffered(self) -> int:
        """Received bytes not yet handed out as requests."""
        single = self._single
        return self._decoder.buffered + (len(single) + 1 if single is not None else 0)

    @property
    def idle(self) -> bool:
        """Nothing held: no bytes, no framing error, no end of stream (a read may go on the fast path)."""
        return self._single is None and not self._decoder.buffered and not self.failed and not self.eof

    @property
    def wants_read(self) -> bool:
        """Whether the backend should read more now (False: pause reading until a batch is served).

        After a framing error it reads on: the lingering close discards what comes.
        """
        return self.failed or (not self.eof and self.buffered <= MAX_UNREAD)

    @property
    def linger_over(self) -> bool:
        """After a framing error: the client sent more than ``LINGER_BYTES``; close now."""
        return self.discarded > LINGER_BYTES

    def feed(self, data: bytes, limit: int = TURN_FRAMES) -> Batch:
        """``receive_data(data)`` then ``next_batch(limit)``: a read, and what to serve now, in one call.

        The backends' one path: read, feed, serve the batch. A read that is exactly one whole
        request with a one-byte length, arriving on a connection that holds nothing (no bytes, no
        framing error, no end of stream: a closed-loop client's request), goes round the decoder:
        the batch is the reused one-request batch (valid until the next call).
        """
        n = len(data) - 1
        if (
            0 <= n < 0x80
            and data[0] == n
            and self._single is None
            and not self.failed
            and not self.eof
            and not self._decoder.buffered
        ):
            one = self._one
            one.payloads[0] = data[1:]
            return one
        self.receive_data(data)
        return self.next_batch(limit)

    def receive_data(self, data: bytes) -> None:
        """Take bytes the client sent; ``b""`` means it closed its side (end of stream)."""
        if self._single is None and not self.failed and data:
            n = len(data) - 1
            if n < 0x80 and data[0] == n and not self._decoder.buffered:  # exactly one frame
                self._single = data[1:]  # skip the decoder
                return
        if self.failed:
            self.discarded += len(data)
            return
        if not data:
            self.eof = True
            return
        if self._single is not None:  # a second read before the first was served: both go through the decoder
            single, self._single = self._single, None
            self._decoder.feed(bytes((len(single),)) + single)
        self._decoder.feed(data)

    def next_batch(self, limit: int = TURN_FRAMES) -> Batch:
        """Up to ``limit`` whole requests to serve now, and what follows them (see ``Batch``).

        Call it again once the batch's answers are sent (a backend with a delay
        asks for one request at a time); a batch is valid until then (the fast
        path reuses its object). An empty batch that does not close means: wait
        for more data.
        """
        single = self._single
        if single is not None:
            self._single = None
            if self.eof:
                return Batch([single], b"", True, False)
            one = self._one
            one.payloads[0] = single
            return one
        if self.failed:
            return Batch([], b"", True, False)
        decoder = self._decoder
        payloads: list[bytes] = []
        try:
            while len(payloads) < limit:
                payload = decoder.next_frame()
                if payload is None:
                    break
                payloads.append(payload)
            else:
                if decoder.buffered:  # the limit cut it short: the rest on the next turn
                    return Batch(payloads, b"", False, True)
        except FrameError as exc:
            self.failed = True
            self.discarded = decoder.buffered
            return Batch(payloads, error_frame(0, exc.code, exc.message), True, False)
        if not payloads and not self.eof:
            return _NOTHING
        # at the end of the stream what is left is at most a partial frame that can never complete
        return Batch(payloads, b"", self.eof, False)

    def take_all(self) -> list[bytes]:
        """Every whole request still buffered, the rest dropped (shutdown answers them all at once)."""
        payloads: list[bytes] = []
        while True:
            batch = self.next_batch(1 << 30)
            payloads += batch.payloads
            if not batch.more:
                break
        self.failed = True  # serve nothing more
        return payloads
