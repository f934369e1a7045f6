"""The experiment's configuration: typed schemas for Hydra, and the check that runs before anything starts.

How this works: ``SeatlabConfig`` is registered with Hydra's ConfigStore as
``seatlab_schema`` and sits first in ``conf/config.yaml``'s defaults list,
so Hydra itself rejects an unknown key or a value of the wrong type (the
message names the key). Ranges and lists (negative clients, a bad backend
name in a list, ...) are checked by ``RunSettings.from_config`` right after
composition; ``ConfigError`` names the key. ``RunSettings`` is the plain,
frozen view of the config the rest of the runner works with.

The ``backend`` config group maps each selected backend to its settings
(``backend=[tpool,coro]`` selects two group files and their mappings
merge), so one run may cover several backends.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, OmegaConf

KNOWN_BACKENDS = ("tpool", "coro", "event", "calibrate")


MAX_CAPACITY = 2**32 - 1


class ConfigError(ValueError):
    """A config value is out of range; the message starts with the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class Mode(Enum):
    """How a load run ends: when the seats are sold out, or after a fixed window."""

    sellout = "sellout"
    duration = "duration"


class Bound(Enum):
    """What limits a backend's concurrency under Little's law."""

    threads = "threads"  # min(clients, threads) requests in service at once (thread pool)
    clients = "clients"  # every client's request in service at once (coroutines, event loop)
    none = "none"  # no delay, no bound: the calibration target


class Schedule(Enum):
    fixed = "fixed"
    poisson = "poisson"


class Connect(Enum):
    persistent = "persistent"
    per_request = "per-request"


class Sync(Enum):
    os = "os"
    fsync = "fsync"


@dataclass
class BackendConfig:
    """Settings that belong to one backend (``conf/backend/NAME.yaml``)."""

    label: str = ""
    bound: Bound = Bound.clients


@dataclass
class SeatlabConfig:
    """The schema of ``conf/config.yaml``; field comments are the documentation."""

    backend: dict[str, BackendConfig] = field(default_factory=dict)
    capacity: int = 5000
    delay: float = 50.0  # ms of simulated work per request
    threads: int = 2  # tpool: pool size; coro/event: event loops
    clients: Any = field(default_factory=lambda: [1, 2, 4, 16, 64])  # int or list of ints
    mode: Mode = Mode.duration
    duration: float = 3.0  # s, measured window (duration mode)
    warmup: float = 0.5  # s before the window (duration mode)
    answer_wait: float = (
        0.5  # s after warmup to wait for every connection's first answer (starved ones never come)
    )
    drain: float = 0.5  # s to wait for answers still due after the run stops issuing requests
    diversity: int = 2  # load-generator processes (at most one per client)
    rate: float | None = None  # bookings/s in total; null = closed loop
    schedule: Schedule = Schedule.fixed
    connect: Connect = Connect.persistent
    sync: Sync = Sync.os
    timeout: float = 30.0  # s before a request counts as unanswered
    max_time: float = 600.0  # s, hard cap on one point's load run
    max_backlog: int = 1024
    ready_timeout: float = 10.0  # s for the server's READY line
    repeat: int = 1  # run every point this many times
    extra_server_args: list[str] = field(default_factory=list)  # appended to the server's command line
    results_dir: str = "results"  # where runs/, multirun/ and the `latest` link live


ConfigStore.instance().store(name="seatlab_schema", node=SeatlabConfig)


@dataclass(frozen=True)
class BackendChoice:
    name: str
    label: str
    bound: Bound


@dataclass(frozen=True)
class RunSettings:
    """The validated configuration of one run (one Hydra job)."""

    backends: tuple[BackendChoice, ...]
    capacity: int
    delay_ms: float
    threads: int
    clients: tuple[int, ...]
    mode: Mode
    duration_s: float
    warmup_s: float
    answer_wait_s: float
    drain_s: float
    diversity: int
    rate: float | None
    schedule: str
    connect: str
    sync: str
    timeout_s: float
    max_time_s: float
    max_backlog: int
    ready_timeout_s: float
    repeat: int
    extra_server_args: tuple[str, ...]
    results_dir: str

    @classmethod
    def from_config(cls, cfg: DictConfig) -> RunSettings:
        """Check ranges and lists that the schema's types cannot express."""
        backends = _backends(cfg.backend)
        clients = _clients(cfg.clients)
        _at_least("capacity", cfg.capacity, 1)
        if cfg.capacity > MAX_CAPACITY:
            raise ConfigError(
                "capacity", f"must be <= {MAX_CAPACITY} (seat numbers are uint32), got {cfg.capacity}"
            )
        _at_least("delay", cfg.delay, 0)
        _at_least("threads", cfg.threads, 1)
        _at_least("duration", cfg.duration, 0.01)
        _at_least("warmup", cfg.warmup, 0)
        _at_least("answer_wait", cfg.answer_wait, 0)
        _at_least("drain", cfg.drain, 0)
        _at_least("diversity", cfg.diversity, 1)
        _at_least("timeout", cfg.timeout, 0.01)
        _at_least("max_time", cfg.max_time, 0.1)
        _at_least("max_backlog", cfg.max_backlog, 1)
        _at_least("ready_timeout", cfg.ready_timeout, 0.1)
        _at_least("repeat", cfg.repeat, 1)
        if cfg.rate is not None:
            _at_least("rate", cfg.rate, 0.001)
        elif Schedule(cfg.schedule) is Schedule.poisson:
            raise ConfigError("schedule", "poisson is an open-loop schedule: set rate (bookings/s) too")
        if Mode(cfg.mode) is Mode.sellout and any(b.bound is Bound.none for b in backends):
            raise ConfigError(
                "backend", "the calibration target never sells out (it books nothing): use mode=duration"
            )
        return cls(
            backends=backends,
            capacity=int(cfg.capacity),
            delay_ms=float(cfg.delay),
            threads=int(cfg.threads),
            clients=clients,
            mode=Mode(cfg.mode),
            duration_s=float(cfg.duration),
            warmup_s=float(cfg.warmup),
            answer_wait_s=float(cfg.answer_wait),
            drain_s=float(cfg.drain),
            diversity=int(cfg.diversity),
            rate=None if cfg.rate is None else float(cfg.rate),
            schedule=Schedule(cfg.schedule).value,
            connect=Connect(cfg.connect).value,
            sync=Sync(cfg.sync).value,
            timeout_s=float(cfg.timeout),
            max_time_s=float(cfg.max_time),
            max_backlog=int(cfg.max_backlog),
            ready_timeout_s=float(cfg.ready_timeout),
            repeat=int(cfg.repeat),
            extra_server_args=tuple(str(a) for a in cfg.extra_server_args),
            results_dir=str(cfg.results_dir),
        )


def _at_least(key: str, value: float, low: float) -> None:
    if not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if value < low:
        raise ConfigError(key, f"must be >= {low:g}, got {value!r}")


def _backends(node: Any) -> tuple[BackendChoice, ...]:
    if not isinstance(node, DictConfig) or len(node) == 0:
        raise ConfigError(
            "backend", "choose at least one backend, e.g. backend=tpool or backend=[tpool,coro]"
        )
    choices = []
    for name, settings in node.items():
        if name not in KNOWN_BACKENDS:
            raise ConfigError("backend", f"unknown backend {name!r}; known: {', '.join(KNOWN_BACKENDS)}")
        choices.append(
            BackendChoice(name=str(name), label=settings.label or str(name), bound=Bound(settings.bound))
        )
    return tuple(choices)


def _clients(node: Any) -> tuple[int, ...]:
    values = OmegaConf.to_container(node) if isinstance(node, ListConfig) else node
    items = values if isinstance(values, list) else [values]
    if not items:
        raise ConfigError("clients", "the list of client counts is empty")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ConfigError("clients", f"expected a positive integer or a list of them, got {item!r}")
        if item < 1:
            raise ConfigError("clients", f"every client count must be >= 1, got {item}")
        out.append(item)
    return tuple(out)


_SLUG_DROP = re.compile(r"[\[\]'\" ]")
_SLUG_BAD = re.compile(r"[^A-Za-z0-9=._+,-]")


def override_slug(override_dirname: str, limit: int = 60) -> str:
    """A short, path-safe suffix from Hydra's override dirname ('' when there are none)."""
    slug = _SLUG_DROP.sub("", override_dirname).replace("+", "")
    slug = _SLUG_BAD.sub("_", slug.replace("/", "."))
    slug = slug.replace(",", "_")[:limit]
    return f"_{slug}" if slug else ""


def time_stamp() -> str:
    """HH-MM-SS.mmm: readable, and two runs in the same second still get their own folders."""
    now = datetime.now()
    return now.strftime("%H-%M-%S") + f".{now.microsecond // 1000:03d}"


if not OmegaConf.has_resolver("seatlab_slug"):
    OmegaConf.register_new_resolver("seatlab_slug", override_slug)
if not OmegaConf.has_resolver("seatlab_time"):
    # cached like Hydra's ${now:}: one value per process, so every reference agrees
    OmegaConf.register_new_resolver("seatlab_time", time_stamp, use_cache=True)
