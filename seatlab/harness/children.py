"""Child processes that always end: waited for, then terminated, then killed, and always reaped.

How this works (psf/pyperf ``popen_killer``, locust ``subprocess_utils``):
``end_child`` gives a child ``wait_s`` to exit on its own, then SIGTERM
and ``term_s`` more, then SIGKILL, and reaps it whatever happened (a child
that already exited is simply reaped). ``ending`` is the context-manager
form: the children started inside it are ended on the way out, on success,
error or KeyboardInterrupt alike. The load generator ends its load
processes with it; ``ServerProcess.stop``/``kill`` are the same three steps
with ``wait_s=0`` (``kill``: ``term_s=0`` too).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from typing import Any


def end_child(popen: subprocess.Popen[Any], *, wait_s: float = 0.0, term_s: float = 5.0) -> int:
    """Wait ``wait_s``, SIGTERM and wait ``term_s`` (skipped at 0), SIGKILL; reaped; the exit code.

    The code is negative for a signal, as ``Popen.returncode`` has it.
    """
    if _exits_within(popen, wait_s):
        return popen.wait()
    if term_s > 0:
        with contextlib.suppress(ProcessLookupError):
            popen.terminate()
        if _exits_within(popen, term_s):
            return popen.wait()
    with contextlib.suppress(ProcessLookupError):
        popen.kill()
    return popen.wait()


def _exits_within(popen: subprocess.Popen[Any], seconds: float) -> bool:
    try:
        popen.wait(timeout=max(seconds, 0.0))
    except subprocess.TimeoutExpired:
        return False
    return True


@contextlib.contextmanager
def ending(
    children: list[subprocess.Popen[Any]], *, wait_s: float = 0.0, term_s: float = 5.0
) -> Iterator[list[subprocess.Popen[Any]]]:
    """Yield ``children`` (append to it as they start); end each of them on the way out."""
    try:
        yield children
    finally:
        for popen in children:
            end_child(popen, wait_s=wait_s, term_s=term_s)
