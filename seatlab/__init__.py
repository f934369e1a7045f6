"""seatlab: thread pool, coroutines or event loop, which serves more clients, faster, and why."""

__version__ = "0.1.0"
