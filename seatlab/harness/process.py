"""``ServerProcess``: a seat server as a child process that is always terminated, killed and reaped.

How this works (psf/pyperf ``popen_killer``, locust ``subprocess_utils``
style): the child's stdout and stderr go to files in ``log_dir``, never to
pipes, so a chatty child can never block on a full pipe. Entering the
context starts ``python -m seatlab.server`` and polls its stdout file for
the ``READY <host> <port>`` line until ``ready_timeout``; if the child exits
first or the deadline passes, it is killed and reaped and
``ServerStartError`` carries the tail of its stderr. Leaving the context
stops it: SIGTERM, then SIGKILL after the timeout, then reap.

``python=`` runs ``python -m seatlab.server`` on another interpreter (one
with seatlab installed; the runner's ``server_python``), the default being
this one's. ``command=`` runs another program instead (an external server: any
language, same contract, same lifecycle); a program that does not exist is a
``ServerStartError`` naming it. ``cpus=`` pins the child to those CPU ids
(``pinned``: it is forked with that mask, so every thread it starts inherits it).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Self

from seatlab.harness.children import end_child
from seatlab.modes import Sync
from seatlab.server.config import ServerConfig

_POLL_S = 0.02
_STDERR_TAIL = 2000


@contextmanager
def pinned(cpus: Collection[int] | None) -> Iterator[None]:
    """This thread on `cpus` for a while (None: left as it is), then back on its old mask.

    A process forked meanwhile starts with this mask and keeps it through exec; its threads
    inherit it. Thread-safe where ``preexec_fn`` is not: only the calling thread's mask changes.
    """
    if cpus is None:
        yield
        return
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


class ServerStartError(RuntimeError):
    """The server did not become ready; names the backend, the exit code and the stderr tail."""


def shorthand_config(backend: str, **fields: Any) -> ServerConfig:
    """``ServerConfig(backend=..., port=0, **fields)``, with a ``db_path`` and ``sync`` given as text."""
    fields.setdefault("port", 0)
    if fields.get("db_path") is not None:
        fields["db_path"] = Path(fields["db_path"])
    if "sync" in fields:
        fields["sync"] = Sync(fields["sync"])
    return ServerConfig(backend=backend, **fields)


class ServerProcess:
    """Start `python -m seatlab.server ...` as a child process; always terminated, killed and reaped.

    ``ServerProcess(ServerConfig(...), log_dir=...)`` runs that config's flags
    (``ServerConfig.to_argv``). ``ServerProcess("coro", capacity=50, delay_ms=2)``
    is the shorthand for ``ServerConfig(backend="coro", port=0, capacity=50, delay_ms=2)``:
    a free port unless ``port`` is given.
    """

    def __init__(
        self,
        config: ServerConfig | str,
        *,
        log_dir: str | os.PathLike[str] | None = None,
        ready_timeout: float = 10.0,
        extra_args: Sequence[str] = (),
        command: Sequence[str] | None = None,
        cpus: Collection[int] | None = None,
        python: str | os.PathLike[str] | None = None,
        **fields: Any,
    ) -> None:
        if isinstance(config, str):
            config = shorthand_config(config, **fields)
        elif fields:
            raise TypeError(f"ServerProcess(ServerConfig, ...): unexpected {', '.join(sorted(fields))}")
        self.config = config
        self.backend = config.backend
        self.args = [*config.to_argv(), *extra_args]
        self._command = None if command is None else [*command, *extra_args]
        self.python = sys.executable if python is None else os.fspath(python)
        self.cpus = None if cpus is None else frozenset(cpus)
        self._own_log_dir = log_dir is None
        self.log_dir = (
            Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="seatlab-server-"))
        )
        self.ready_timeout = ready_timeout
        self.host = ""
        self.port = 0
        self.pid = 0
        self.popen: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []

    @property
    def command(self) -> list[str]:
        """The child's command line: ``command=`` as given, else ``python -m seatlab.server`` and the flags
        (``python=``'s interpreter, or this one)."""
        if self._command is not None:
            return list(self._command)
        return [self.python, "-m", "seatlab.server", *self.args]

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "server.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "server.stderr"

    def __enter__(self) -> Self:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        self._files = [out, err]
        try:
            with pinned(self.cpus):  # the child is forked with this mask and keeps it through exec
                self.popen = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        except OSError as exc:  # no such program, not executable, CPUs not available
            for f in self._files:
                f.close()
            raise ServerStartError(
                f"server (backend {self.backend}) could not start {self.command[0]!r}: {exc.strerror or exc}"
            ) from exc
        self.pid = self.popen.pid
        try:
            self._wait_ready()
        except BaseException:
            self._close()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.popen is not None
        deadline = time.monotonic() + self.ready_timeout
        while True:
            line = self.stdout_path.read_bytes().split(b"\n", 1)
            if len(line) == 2:  # a whole first line
                words = line[0].decode(errors="replace").split()
                if len(words) == 3 and words[0] == "READY":
                    self.host, self.port = words[1], int(words[2])
                    return
                self.kill()
                raise ServerStartError(self._failure(f"printed {line[0][:200]!r} instead of READY"))
            code = self.popen.poll()
            if code is not None:
                self._reap()
                raise ServerStartError(self._failure(f"exited with code {code} before READY"))
            if time.monotonic() > deadline:
                self.kill()
                raise ServerStartError(self._failure(f"not READY within {self.ready_timeout:g} s"))
            time.sleep(_POLL_S)

    def _failure(self, what: str) -> str:
        try:
            tail = self.stderr_path.read_bytes()[-_STDERR_TAIL:].decode(errors="replace")
        except OSError:
            tail = ""
        program = "" if self._command is None else f", command {shlex.join(self._command)[:300]!r}"
        kind = "seatlab server" if self._command is None else "external server"
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        last = (
            f": {lines[-1][:300]}" if lines else ""
        )  # the complaint, first: a long usage text comes before it
        return f"{kind} (backend {self.backend}{program}) {what}{last}; stderr ends:\n{tail}"

    def stderr_text(self) -> str:
        """Everything the child wrote to stderr so far."""
        return self.stderr_path.read_bytes().decode(errors="replace")

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait; SIGKILL after ``timeout``; the exit code (negative = signal)."""
        assert self.popen is not None, "not started"
        end_child(self.popen, term_s=timeout)
        return self._reap()

    def kill(self) -> None:
        """SIGKILL and reap (crash tests)."""
        if self.popen is None:
            return
        end_child(self.popen, term_s=0)
        self._reap()

    def _reap(self) -> int:
        assert self.popen is not None
        code = self.popen.wait()
        for f in self._files:
            f.close()
        return code

    def _close(self) -> None:
        if self.popen is not None:
            self.kill()

    def __exit__(self, *exc: object) -> None:
        try:
            if self.running:
                self.stop()
        finally:
            self._close()
            if self._own_log_dir and exc[0] is None:
                shutil.rmtree(self.log_dir, ignore_errors=True)
