"""The server package's tests: one conformance suite over every backend, real processes, real sockets."""
