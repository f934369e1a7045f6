"""The seat server process: one lifecycle, several concurrency backends.

``python -m seatlab.server --backend {tpool,coro,event,calibrate} ...`` (see
``seatlab.server.lifecycle``); ``ServerProcess`` in ``seatlab.harness.process``
starts one as a child process for tests and experiments.
"""
