"""``server_python``: the Python that runs seatlab's own servers, probed once before any point runs.

How this works: the runner starts ``PYTHON -m seatlab.server ...`` for every
point of a Python backend (``ServerProcess(python=...)``), so a wrong path or
a Python without seatlab would fail every point the same way. Instead the
config check asks it once, with a deadline, for its version and whether its
GIL is on (``sys._is_gil_enabled``, 3.13's free-threaded builds; older
Pythons always hold one), after importing what the server will: its
lifecycle (protobuf with it) and the run's backends (uvloop for the loops).
It runs from the runner's working directory, as the server does: in a
checkout a bare Python finds seatlab there, and fails on protobuf instead.
What failed (no such file, not a program, the ImportError's last line) is a
``ConfigError`` naming ``server_python``: exit 2, before any point runs. The
answer is kept per path for the life of the process (the config check and
the job validate the same config), and recorded in points.csv and
metadata.json. Without ``server_python`` the runner's own interpreter runs the
servers, and its own version and GIL are recorded, without a probe.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass

from seatlab.runner.schema import ConfigError

PROBE_TIMEOUT_S = 30.0
"""A Python that cannot import seatlab.server in this long is not one to measure a server with."""

PROBE = (
    "import sys, seatlab.server, seatlab.server.lifecycle{modules}; print(sys.version.split()[0]); "
    "print(getattr(sys, '_is_gil_enabled', lambda: True)())"
)
"""What the probe runs: the imports the server needs, then the version and whether the GIL is on."""


@dataclass(frozen=True)
class ServerPython:
    """The interpreter of seatlab's servers: its path as given (``""``: the runner's own), its version
    (``3.12.1``) and its GIL (``on``, ``off``; ``""``: unknown)."""

    path: str
    version: str
    gil: str

    @property
    def executable(self) -> str | None:
        """What ``ServerProcess(python=...)`` takes: the path, or None for the runner's own."""
        return self.path or None

    def to_json(self) -> dict[str, str]:
        """metadata.json's ``server_python``."""
        return {"path": self.path, "version": self.version, "gil": self.gil}


def gil_word(enabled: object) -> str:
    """``sys._is_gil_enabled()`` (or its printed form) in points.csv's words: on, off, or "" unknown."""
    text = str(enabled).strip()
    return {"True": "on", "False": "off"}.get(text, "")


def own_python() -> ServerPython:
    """The runner's interpreter, which runs the servers when ``server_python`` is null."""
    enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    return ServerPython("", sys.version.split()[0], gil_word(enabled))


@functools.cache
def probe_server_python(path: str | None, modules: tuple[str, ...] = ()) -> ServerPython:
    """``path``'s version and GIL (None: the runner's own, not probed); ``ConfigError("server_python")``
    saying what failed when it cannot run ``python -m seatlab.server`` with the backends in ``modules``
    (``seatlab.server.coro``)."""
    if path is None:
        return own_python()
    where = os.path.abspath(os.path.expanduser(path))  # not resolved: a venv's python is a symlink, kept
    if not os.path.exists(where):
        raise ConfigError(
            "server_python", f"{path!r} does not exist (expected a Python with seatlab installed)"
        )
    try:
        done = subprocess.run(
            [where, "-c", PROBE.format(modules="".join(f", {m}" for m in modules))],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            "server_python", f"{path!r} did not import seatlab.server within {PROBE_TIMEOUT_S:g} s"
        ) from None
    except OSError as exc:  # a directory, not executable, not a program
        raise ConfigError("server_python", f"{path!r} cannot run: {exc.strerror or exc}") from None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2:
        said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        why = said[-1][:300] if said else f"exit {done.returncode}, printed {done.stdout[:100]!r}"
        raise ConfigError(
            "server_python", f"{path!r} cannot run seatlab's server ({why}); install seatlab into it"
        )
    return ServerPython(where, lines[0], gil_word(lines[1]))
