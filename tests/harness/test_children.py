"""end_child: a child process always ends and is reaped, by the gentlest step that works (real processes)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from seatlab.harness.children import end_child, ending

SLEEPS = "import time; print('up', flush=True); time.sleep(60)"
IGNORES_SIGTERM = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + SLEEPS


def _python(code: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"up\n"  # its handlers are in place
    return child


def test_a_child_that_exits_in_time_is_only_waited_for() -> None:
    child = _python(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(0.2)"
    )
    assert end_child(child, wait_s=5, term_s=5) == 0


def test_a_child_that_does_not_exit_gets_sigterm() -> None:
    child = _python(SLEEPS)
    started = time.monotonic()
    assert end_child(child, wait_s=0.1, term_s=5) == -signal.SIGTERM
    assert time.monotonic() - started < 3


def test_a_child_that_ignores_sigterm_is_killed() -> None:
    child = _python(IGNORES_SIGTERM)
    assert end_child(child, wait_s=0, term_s=0.3) == -signal.SIGKILL
    no_term = _python(IGNORES_SIGTERM)
    assert end_child(no_term, term_s=0) == -signal.SIGKILL  # term_s=0: straight to SIGKILL


def test_an_exited_child_is_reaped_and_ending_ends_children_on_error() -> None:
    done = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    done.wait()
    assert end_child(done) == 3
    children: list[subprocess.Popen[bytes]] = []
    try:
        with ending(children, term_s=2):
            children.append(_python(SLEEPS))
            raise RuntimeError("the run failed")
    except RuntimeError:
        pass
    assert children[0].returncode == -signal.SIGTERM
