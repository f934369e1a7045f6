"""The server's CPU and memory are its process tree's: a worker forked after the sampling starts counts,
even once it has exited and been reaped before the sampling stops."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from seatlab.runner.sampler import ServerSampler

# A parent that idles, forks a child after `wait` s that burns `burn` s of CPU (and holds ~40 MiB; it says
# "half" half way), then reaps it and idles on: the parent's own CPU stays near 0, the tree's is the child's.
FORKS_A_BUSY_CHILD = """
import os, sys, time
wait, burn, linger = map(float, sys.argv[1:4])
time.sleep(wait)
pid = os.fork()
if pid == 0:
    held = bytearray(40 * 2**20)
    for i in range(0, len(held), 4096):
        held[i] = 1
    half, end = time.process_time() + burn / 2, time.process_time() + burn
    while time.process_time() < half:
        pass
    print("half", flush=True)
    while time.process_time() < end:
        pass
    os._exit(0)
os.waitpid(pid, 0)
print("reaped", flush=True)
time.sleep(linger)
"""


@contextmanager
def parent(wait: float, burn: float, linger: float) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", FORKS_A_BUSY_CHILD, str(wait), str(burn), str(linger)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_child_forked_after_start_counts_even_once_it_is_gone() -> None:
    with parent(wait=0.3, burn=0.8, linger=5.0) as proc:
        time.sleep(0.1)  # the interpreter is up: its start-up CPU is before the span
        sampler = ServerSampler(proc.pid, interval=0.05).start()
        assert proc.stdout is not None and proc.stdout.readline() == "half\n"
        assert proc.stdout.readline() == "reaped\n"  # the child is gone
        time.sleep(0.2)
        usage = sampler.stop()
    cpu_s = usage.cpu_pct / 100 * usage.seconds
    # the child's 0.8 s of CPU (the parent alone: a few ms of sleeping); not counted twice through the
    # parent's children_user once it was reaped
    assert 0.6 <= cpu_s <= 1.0, f"{cpu_s:.2f} s of CPU over {usage.seconds:.2f} s"
    # the tree's peak: the child's 40 MiB beside the parent's interpreter
    assert usage.peak_rss_mib >= 40


def test_one_process_alone_is_counted_as_before() -> None:
    with parent(wait=10.0, burn=0.0, linger=0.0) as proc:
        time.sleep(0.1)
        sampler = ServerSampler(proc.pid, interval=0.05).start()
        time.sleep(0.5)
        usage = sampler.stop()
    assert usage.cpu_pct < 10 and 1 < usage.peak_rss_mib < 40


def test_a_process_gone_before_the_first_reading_gives_no_figures() -> None:
    with parent(wait=10.0, burn=0.0, linger=0.0) as proc:
        sampler = ServerSampler(proc.pid, interval=0.05)
        proc.kill()
        proc.wait()
        usage = sampler.start().stop()
    assert usage.cpu_pct != usage.cpu_pct and usage.peak_rss_mib != usage.peak_rss_mib  # NaN


def test_children_there_at_start_count_from_start_not_from_birth() -> None:
    """A child that burned 0.6 s of CPU before the span: only its 0.6 s within the span counts."""
    with parent(wait=0.0, burn=1.2, linger=5.0) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "half\n"
        sampler = ServerSampler(proc.pid, interval=0.05).start()
        assert proc.stdout.readline() == "reaped\n"
        usage = sampler.stop()
    cpu_s = usage.cpu_pct / 100 * usage.seconds
    assert 0.4 <= cpu_s <= 0.9, f"{cpu_s:.2f} s (from the child's birth it would be 1.2 s)"
