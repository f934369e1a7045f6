"""Pinned cores: which CPUs the server and the load generator may run on (``cpus.server``, ``cpus.loadgen``).

Each key is a list of CPU ids, ``auto`` (the default) or ``null`` (unpinned).
``auto`` on both splits the CPUs available to this process in two disjoint
halves when there are 4 or more (server the lower half, load the upper), and
leaves both unpinned on fewer (the run says so once). ``auto`` beside a list
takes the available CPUs that list leaves. Refused, naming the key (exit 2):
an id that is negative or not available to this process (``os.sched_getaffinity``),
an empty list, and two lists that overlap without being equal: a partial
overlap measures neither "apart" nor "shared"; equal lists are the deliberate
"shared" case.

How it is applied (``seatlab.harness.process.pinned``): a forked child starts
with its parent thread's CPU mask and keeps it through exec, and its threads
inherit it. So the server is started by ``ServerProcess(cpus=...)`` from a
thread pinned for the moment of the fork, and the load processes by the
runner pinning its own thread around ``run_load``; both restore the old mask.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from seatlab.runner.schema import ConfigError

AUTO = "auto"
MIN_CPUS_TO_SPLIT = 4


@dataclass(frozen=True)
class Pinning:
    """The run's CPU choice: each side's CPU ids (None: unpinned) and how plots and metadata say it."""

    server: tuple[int, ...] | None
    loadgen: tuple[int, ...] | None
    description: str

    def to_json(self) -> dict[str, object]:
        """metadata.json's ``cpus``."""
        return {
            "server": None if self.server is None else list(self.server),
            "loadgen": None if self.loadgen is None else list(self.loadgen),
            "description": self.description,
        }


def cpu_ranges(cpus: Collection[int]) -> str:
    """``0-7,9``: CPU ids as ``Cpus_allowed_list`` writes them."""
    ids = sorted(cpus)
    parts: list[str] = []
    start = prev = ids[0]
    for cpu in [*ids[1:], None]:
        if cpu is not None and cpu == prev + 1:
            prev = cpu
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if cpu is not None:
            start = prev = cpu
    return ",".join(parts)


def _cpus_word(cpus: Collection[int]) -> str:
    return f"CPU{'s' if len(cpus) > 1 else ''} {cpu_ranges(cpus)}"


def resolve_pinning(server: Any, loadgen: Any, available: Collection[int] | None = None) -> Pinning:
    """The ``cpus`` keys as a ``Pinning`` (see the module docstring); ``ConfigError`` names the key."""
    pool = sorted(os.sched_getaffinity(0) if available is None else available)
    chosen = {
        "cpus.server": _ids("cpus.server", server, pool),
        "cpus.loadgen": _ids("cpus.loadgen", loadgen, pool),
    }
    s, g = chosen["cpus.server"], chosen["cpus.loadgen"]
    if s == AUTO and g == AUTO:
        if len(pool) < MIN_CPUS_TO_SPLIT:
            return Pinning(None, None, f"server and load generator share {len(pool)} cores")
        half = len(pool) // 2
        s, g = tuple(pool[:half]), tuple(pool[half:])
    elif s == AUTO or g == AUTO:
        auto_key, given = ("cpus.server", g) if s == AUTO else ("cpus.loadgen", s)
        rest = tuple(cpu for cpu in pool if given is None or cpu not in given)
        if not rest:
            raise ConfigError(auto_key, f"auto: no CPU left beside the other side's {list(given or [])}")
        s, g = (rest, g) if s == AUTO else (s, rest)
    assert not isinstance(s, str) and not isinstance(g, str)
    pinning = Pinning(s, g, describe(s, g, len(pool)))
    check_overlap(pinning)
    return pinning


def describe(server: tuple[int, ...] | None, loadgen: tuple[int, ...] | None, ncpus: int) -> str:
    """The subtitle of every plot: where each side ran."""
    if server is None and loadgen is None:
        return f"server and load generator share {ncpus} cores"
    if server is not None and server == loadgen:
        return f"server and load generator share {_cpus_word(server)}"
    if server is not None and loadgen is not None:  # "server on CPUs 0-7, load on 8-15"
        return f"server on {_cpus_word(server)}, load on {cpu_ranges(loadgen)}"
    where = [
        f"server on {_cpus_word(server)}" if server is not None else "server unpinned",
        f"load on {_cpus_word(loadgen)}" if loadgen is not None else "load unpinned",
    ]
    return ", ".join(where)


def _ids(key: str, value: Any, pool: list[int]) -> tuple[int, ...] | str | None:
    if value is None or value == AUTO:
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(key, f"expected a list of CPU ids, auto or null, got {value!r}")
    if not value:
        raise ConfigError(key, "the list of CPU ids is empty (null leaves the side unpinned)")
    for cpu in value:
        if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu < 0:
            raise ConfigError(key, f"CPU ids are integers >= 0, got {cpu!r}")
        if cpu not in pool:
            raise ConfigError(
                key, f"CPU {cpu} is not available to this process (available: {cpu_ranges(pool)})"
            )
    return tuple(sorted(set(value)))


def check_overlap(pinning: Pinning) -> None:
    """Two lists that overlap without being equal are refused (``cpus.loadgen`` named)."""
    s, g = pinning.server, pinning.loadgen
    if s is not None and g is not None and s != g and set(s) & set(g):
        shared = cpu_ranges(set(s) & set(g))
        raise ConfigError(
            "cpus.loadgen",
            f"overlaps cpus.server on CPU {shared}: give disjoint lists (apart) or equal ones (shared)",
        )
