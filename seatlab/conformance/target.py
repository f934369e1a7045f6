"""The server under test: started from a command template, or one already running at an address.

How this works: ``--command`` takes the template of ``backend=external``
(``seatlab.harness.templates``: the same placeholders, checked by the same
``check_template`` and filled in by the same ``command_argv``), and each
start fills it from a ``ServerConfig`` on port 0 with a db file of its own,
then runs it as a ``ServerProcess`` (READY line, logs in files, SIGTERM,
kill, reap). ``--backend NAME`` is shorthand for the template that starts
``python -m seatlab.server --backend NAME`` with every flag. ``--address``
starts nothing: it can neither restart nor signal the server, so the checks
that need that are skipped, and so are those whose settings (capacity,
delay, db file) only a start can choose.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from seatlab.harness.process import ServerProcess
from seatlab.harness.templates import NATIVE_PREFIX, PLACEHOLDERS, check_template, command_argv
from seatlab.modes import Sync
from seatlab.registry import FIXED_ANSWER
from seatlab.server.config import ServerConfig

_FLAGS = (
    "--address {address} --port {port} --max-backlog {max_backlog} --capacity {capacity} "
    "--delay {delay} --threads {threads} --sync {sync} --db-path {db_path}"
)


def backend_template(name: str, workers: int = 1) -> str:
    """The command template that ``--backend NAME`` stands for: seatlab's own server, every flag
    (``native_NAME``: the C++ server ``native:NAME``, built on first use); ``workers`` above 1 adds
    ``--workers`` (seatlab's Python servers only: a ``ValueError`` for a C++ one)."""
    if name.startswith("native_"):
        if workers != 1:
            raise ValueError(f"--workers {workers}: the C++ server {name} runs one process")
        return f"{NATIVE_PREFIX}{name.removeprefix('native_')} {_FLAGS}"
    python = shlex.quote(sys.executable).replace("{", "{{").replace("}", "}}")
    processes = f" --workers {workers}" if workers != 1 else ""
    return f"{python} -m seatlab.server --backend {shlex.quote(name)}{processes} {_FLAGS}"


@dataclass(frozen=True)
class Settings:
    """What a check asks of a server it starts (the template's placeholders fill in from these)."""

    capacity: int = 200
    delay_ms: float = 0.0
    threads: int = 4
    sync: str = "os"
    max_backlog: int = 256


@dataclass(frozen=True)
class Address:
    """A server already running at host:port (``--address``)."""

    host: str
    port: int
    fixed_answer: bool = False
    """Declared a fixed-answer server (``--fixed-answer``): the seat-store checks do not apply."""

    def describe(self) -> str:
        return f"the server running at {self.host}:{self.port}"


class Template:
    """Servers started from a command template (``--command``; ``--backend`` builds one)."""

    def __init__(
        self, template: str, label: str, ready_timeout_s: float = 10.0, fixed_answer: bool = False
    ) -> None:
        check_template(template)  # raises TemplateError naming what is wrong
        self.template = template
        self.label = label
        self.fixed_answer = fixed_answer
        """Declared a fixed-answer server (``--fixed-answer``): the seat-store checks do not apply."""
        self.ready_timeout_s = ready_timeout_s
        self.placeholders = {name for name in PLACEHOLDERS if "{" + name + "}" in template}

    @classmethod
    def for_backend(cls, name: str, ready_timeout_s: float = 10.0, workers: int = 1) -> Template:
        """Seatlab's own backend ``name`` (``tpool``, ``coro``, ``event``, ``calibrate``, ``native_*``),
        in ``workers`` processes; ``calibrate`` and ``native_calibrate`` are declared fixed-answer servers."""
        label = f"seatlab backend {name}" + (f", {workers} workers" if workers != 1 else "")
        return cls(backend_template(name, workers), label, ready_timeout_s, name in FIXED_ANSWER)

    def describe(self) -> str:
        return f"{self.label}: {self.template}"

    def missing(self, needed: tuple[str, ...]) -> list[str]:
        """The placeholders of ``needed`` the template does not use."""
        return [name for name in needed if name not in self.placeholders]

    def process(self, settings: Settings, db_path: Path, log_dir: Path) -> ServerProcess:
        """A ``ServerProcess`` (not yet started) for these settings, on a free port."""
        config = ServerConfig(
            backend="external",
            address="127.0.0.1",
            port=0,
            max_backlog=settings.max_backlog,
            db_path=db_path,
            capacity=settings.capacity,
            delay_ms=settings.delay_ms,
            threads=settings.threads,
            sync=Sync(settings.sync),
        )
        return ServerProcess(
            config,
            command=command_argv(self.template, config),
            log_dir=log_dir,
            ready_timeout=self.ready_timeout_s,
        )


Target = Template | Address
