"""The server's domain core: the seats and what a request does to them, with no I/O and no event loop.

``store.SeatStore`` holds the seats (O(1) book and cancel under one lock), ``journal.Journal`` the
CSV db file behind it (replay, torn writes, full disks, group-committed fsync), and
``service.SeatService`` is the one function every backend calls: request frames in, answer bytes
out, the commit included. The server's backends (``seatlab.server``) only move bytes and wait.
"""
