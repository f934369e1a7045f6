"""The machine's noise during a point: load average, other processes' CPU, the CPU frequency policy.

How this works: two snapshots, at the start of the load and at its end. The CPU the machine spent
(``psutil.cpu_times()``, every CPU: user, nice, system, irq, softirq) minus what this process tree spent
is what other processes (and the kernel for them) took: this tree is the runner, the server and its
workers, and the load processes, all its descendants. A process's CPU here counts its reaped
children's (``children_user``, ``children_system``, as the kernel's rusage does), so a load process
that ended and was reaped before the second snapshot still counts, in the runner's figure; a
descendant living at the end counts from the first snapshot (or from its birth); one living at the
start and gone at the end counts from then through its parent. The difference is clipped at 0 (the
kernel's counters tick at 100 Hz). ``os.getloadavg`` gives the 1-minute load average at each end
(it counts this run's own processes too, and the previous point's, decaying over a minute). The
governor and boost come from sysfs (pyperf's ``system show`` reads the same files); empty when the
machine does not expose them (a container, a VM).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

CPUFREQ = Path("/sys/devices/system/cpu")
_BUSY = ("user", "nice", "system", "irq", "softirq")  # guest time is already inside user


@dataclass(frozen=True)
class MachineNoise:
    load_avg_start: float  # 1-minute load average when the load started
    load_avg_end: float
    others_cpu_pct: float  # % of one core used by processes other than this tree, mean over the span
    cpu_governor: str  # scaling_governor of every CPU (distinct values joined by ","); "" unreadable
    cpu_boost: str  # on, off; "" unreadable


UNMEASURED = MachineNoise(math.nan, math.nan, math.nan, "", "")


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(float(getattr(times, name, 0.0)) for name in _BUSY)


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def tree_cpu(root: psutil.Process) -> dict[psutil.Process, float]:
    """CPU seconds (its reaped children's included) of `root` and each living descendant."""
    seconds: dict[psutil.Process, float] = {}
    try:
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return seconds
    for process in tree:
        try:
            seconds[process] = _cpu_seconds(process)
        except psutil.Error:  # ended between the listing and the reading
            continue
    return seconds


def tree_spent(before: dict[psutil.Process, float], after: dict[psutil.Process, float]) -> float:
    """CPU seconds a process tree spent between two ``tree_cpu`` snapshots: each process living at the
    end from its first reading (0: born since), less the first reading of those gone since, whose whole
    life their parent's children times now hold."""
    spent = sum(now - before.get(process, 0.0) for process, now in after.items())
    return spent - sum(then for process, then in before.items() if process not in after)


def read_governor(root: Path = CPUFREQ) -> str:
    """The CPUs' frequency governors, distinct values in CPU order joined by ","; "" when unreadable."""
    found: list[str] = []
    for path in sorted(root.glob("cpu[0-9]*/cpufreq/scaling_governor")):
        try:
            found.append(path.read_text().strip())
        except OSError:
            continue
    return ",".join(dict.fromkeys(found))


def read_boost(root: Path = CPUFREQ) -> str:
    """Frequency boost: ``cpufreq/boost`` (1: on), else intel_pstate's ``no_turbo`` (1: off); ""
    when neither is readable."""
    for name, on in (("cpufreq/boost", "1"), ("intel_pstate/no_turbo", "0")):
        try:
            value = (root / name).read_text().strip()
        except OSError:
            continue
        return "on" if value == on else "off"
    return ""


class NoiseSampler:
    """``start()`` when the load starts, ``stop()`` when it has ended (before the server is stopped)."""

    def __init__(self, root: int | None = None) -> None:
        self.root = psutil.Process(os.getpid() if root is None else root)
        self._t0 = 0.0
        self._busy0 = 0.0
        self._tree0: dict[psutil.Process, float] = {}
        self._load0 = math.nan

    def start(self) -> NoiseSampler:
        self._load0 = os.getloadavg()[0]
        self._tree0 = tree_cpu(self.root)
        self._busy0 = _busy_seconds()
        self._t0 = time.monotonic()
        return self

    def stop(self) -> MachineNoise:
        busy = _busy_seconds() - self._busy0
        seconds = time.monotonic() - self._t0
        ours = tree_spent(self._tree0, tree_cpu(self.root))
        others = 100.0 * max(0.0, busy - ours) / seconds if seconds > 0 else math.nan
        return MachineNoise(
            load_avg_start=self._load0,
            load_avg_end=os.getloadavg()[0],
            others_cpu_pct=others,
            cpu_governor=read_governor(),
            cpu_boost=read_boost(),
        )
