"""The experiment's one config model: ``SeatlabConfig``, registered with Hydra, validated in one place.

How this works (Hydra's structured-config pattern): ``SeatlabConfig`` holds
every default and is registered with Hydra's ConfigStore as ``seatlab_schema``;
``conf/config.yaml`` only puts it first in its defaults list (with the
``backend`` group and the ``hydra:`` block), so Hydra itself rejects an
unknown key or a value of the wrong type, naming the key. ``load_config``
turns the composed config into a ``SeatlabConfig`` instance with
``OmegaConf.to_object``, which runs ``__post_init__``: the one place where
ranges, lists and combinations are checked (``ConfigError`` names the key).

Seven keys may be a list of values, one sweep point each (``SWEPT_KEYS``):
``clients``, ``rate``, ``delay``, ``threads``, ``workers``, ``capacity``, ``work``. Their
schema type is ``Any`` (OmegaConf 2.3 has no ``int | list[int]``); the typed tuples of
values are ``client_counts``, ``rates``, ``delays_ms``, ``thread_counts``,
``worker_counts``, ``capacities`` and ``works_ms``.

The ``backend`` config group maps each selected backend to its settings
(``backend=[tpool,coro]`` selects two group files and their mappings
merge), so one run may cover several backends. An entry whose name is not a
built-in backend is an external server and needs a ``command`` template
(``seatlab.harness.templates``; ``backend=external`` takes ``server_command``):
each such entry is its own name in points.csv's ``backend`` column and the plots.
``cpus`` pins the server and the load processes (``seatlab.runner.cpus``).
``load.hosts`` and ``ray.address`` put the load processes on other nodes of a
Ray cluster (``seatlab.cluster``); ``address`` is where the server listens.
``server_python`` runs seatlab's Python servers on another interpreter, probed once
while the config is validated (``seatlab.runner.interpreter``); ``workers`` runs N
processes of a Python server (``--workers``), or of an external one whose template
names ``{workers}``.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from seatlab.modes import Connect, Mode, Offload, Schedule, Sync, WorkKind, words
from seatlab.protocol.limits import MAX_CAPACITY
from seatlab.registry import BACKENDS, OFFLOADING, PYTHON_BACKENDS

if TYPE_CHECKING:
    from seatlab.runner.cpus import Pinning
    from seatlab.runner.interpreter import ServerPython

KNOWN_BACKENDS = PYTHON_BACKENDS  # seatlab.registry: the built-in servers (python -m seatlab.server)


SWEPT_KEYS = {
    "clients": "clients",
    "rate": "rate",
    "delay": "delay_ms",
    "threads": "threads",
    "workers": "workers",
    "capacity": "capacity",
    "work": "work_ms",
}
"""Config keys that may list several values (one sweep point each) -> their points.csv column.

In this order they label a run's sweep: the first swept key is the plots' x axis
(``clients`` when it varies), the second draws one line per value.
"""


class ConfigError(ValueError):
    """A config value is out of range; the message starts with the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class Bound(Enum):
    """What limits a backend's concurrency under Little's law."""

    threads = "threads"  # min(clients, threads) requests in service at once (thread pool)
    clients = "clients"  # every client's request in service at once (coroutines, event loop)
    none = "none"  # no delay, no bound: the calibration target


@dataclass
class BackendConfig:
    """Settings that belong to one backend (``conf/backend/NAME.yaml``)."""

    label: str = ""
    bound: Bound | None = None
    """External servers only (default ``clients``): a registered backend's bound is the registry's."""
    command: str | None = None  # external servers only: the command template (seatlab.harness.templates)


@dataclass(frozen=True)
class BackendChoice:
    """One backend of the run: its name (the server's ``--backend``), how plots name it, its bound."""

    name: str
    label: str
    bound: Bound
    command: str | None = None  # an external server's command template; None: python -m seatlab.server

    @property
    def fixed_answer(self) -> bool:
        """A fixed-answer server (the machine's ceiling): bounded by ``none`` (the registry's word for the
        built-in ones, ``bound: none`` in an external server's config); the load generator then counts
        and audits nothing."""
        return self.bound is Bound.none


def _bound(name: str, stated: Bound | None) -> Bound:
    """A backend's bound: the registry's for a registered one (it follows from the model; a config that
    states another is refused), else what its config states (``clients`` if nothing)."""
    registered = BACKENDS.get(name)
    if registered is None:
        return stated or Bound.clients
    bound = Bound(registered.bound)
    if stated is not None and stated is not bound:
        raise ConfigError(
            f"backend.{name}.bound",
            f"{name} ({registered.model}) is bounded by {bound.value}, as seatlab.registry says; "
            f"its bound follows from the model and cannot be set to {stated.value}",
        )
    return bound


@dataclass
class CpusConfig:
    """``cpus.server`` / ``cpus.loadgen``: a list of CPU ids, ``auto`` or ``null`` (seatlab.runner.cpus)."""

    server: Any = "auto"
    loadgen: Any = "auto"


@dataclass
class RayConfig:
    """``ray.address``: the Ray cluster that ``load.hosts`` uses (``HOST:PORT`` of its head, or ``auto``)."""

    address: str | None = None


@dataclass
class LoadConfig:
    """``load.hosts``: 0 = the load processes run here; N = on N other nodes of the Ray cluster."""

    hosts: int = 0


@dataclass
class SeatlabConfig:
    """The whole experiment config; field comments are the documentation of ``conf/config.yaml``'s keys."""

    backend: dict[str, BackendConfig] = field(default_factory=dict)
    clients: Any = field(default_factory=lambda: [1, 2, 4, 16, 64])  # int or list: one point each
    rate: Any = None  # bookings/s in total (number or list); null = closed loop
    delay: Any = 50.0  # ms of simulated work per request (number or list)
    threads: Any = 2  # tpool: pool size; coro/event: event loops (int or list)
    workers: Any = 1  # processes of the server, sharing one seat store (int or list); --workers N
    capacity: Any = 5000  # seats (int or list)
    work: Any = 0.0  # ms of CPU work per request, before the delay (number or list); 0: none
    work_kind: WorkKind = WorkKind.python  # python: holds the GIL; released: hashlib.pbkdf2_hmac, releases it
    offload: Offload = Offload.none  # coro, event: thread does the work in a thread, off the loop
    mode: Mode = Mode.duration
    duration: float = 3.0  # s, measured window (duration mode)
    warmup: float = 0.5  # s before the window (duration mode)
    answer_wait: float = 0.5  # s after warm-up to wait for every connection's first answer
    drain: float = 0.5  # s to wait for answers still due after the run stops issuing requests
    interval: float = 1.0  # s, the timeline's step: answers and latency per interval (load/latency.hlog)
    diversity: int = 2  # load-generator processes (at most one per client)
    schedule: Schedule = Schedule.fixed  # open-loop schedule; poisson needs rate
    # str, not Connect: OmegaConf matches enum *names* (per_request), users type the value (per-request)
    connect: str = Connect.persistent
    sync: Sync = Sync.os
    timeout: float = 30.0  # s before a request counts as unanswered
    max_time: float = 600.0  # s, hard cap on one point's load run
    max_backlog: int = 1024  # listen backlog (the server's own default, 128, is too small at 1000 clients)
    ready_timeout: float = 10.0  # s for the server's READY line
    repeat: int = 1  # run every point this many times
    extra_server_args: list[str] = field(default_factory=list)  # appended to the server's command line
    # backend=external's command template: './my-server --port {port} --db-path {db_path} ...'
    server_command: str | None = None
    cpus: CpusConfig = field(default_factory=CpusConfig)  # where the server and the load processes run
    results_dir: str = "results"  # where runs/, multirun/ and the `latest` link live
    # the server's listen address; null: 127.0.0.1, or with load.hosts this node's IP (what Ray knows it by)
    address: str | None = None
    load: LoadConfig = field(default_factory=LoadConfig)  # where the load processes run
    ray: RayConfig = field(default_factory=RayConfig)  # the cluster of load.hosts
    # a Python with seatlab installed that runs seatlab's Python servers; null: the runner's own
    server_python: str | None = None

    def __post_init__(self) -> None:
        """The one validation: ``OmegaConf.to_object`` runs it, so no invalid ``SeatlabConfig`` exists."""
        backends = self.backends
        for key in SWEPT_KEYS:
            self.values(key)
        for key, low in (
            ("duration", 0.01),
            ("warmup", 0),
            ("answer_wait", 0),
            ("drain", 0),
            ("interval", 0.001),
            ("diversity", 1),
            ("timeout", 0.01),
            ("max_time", 0.1),
            ("max_backlog", 1),
            ("ready_timeout", 0.1),
            ("repeat", 1),
        ):
            _at_least(key, getattr(self, key), low)
        self.connect = _choice("connect", self.connect, Connect)
        if self.rates == (None,) and self.schedule is Schedule.poisson:
            raise ConfigError("schedule", "poisson is an open-loop schedule: set rate (bookings/s) too")
        if self.offload is not Offload.none:
            pools = [b.name for b in backends if b.name not in OFFLOADING and not b.fixed_answer]
            if pools:
                raise ConfigError(
                    "offload",
                    f"{self.offload} moves a loop's work off the loop: it applies to {', '.join(OFFLOADING)}, "
                    f"not {', '.join(pools)} (run those without it)",
                )
        self.pinning  # noqa: B018 - validates cpus.server / cpus.loadgen
        self._check_cluster()
        self._check_commands(backends)
        self.interpreter  # noqa: B018 - probes server_python (once per process)
        if self.mode is Mode.sellout and any(b.fixed_answer for b in backends):
            raise ConfigError(
                "backend", "the calibration target never sells out (it books nothing): use mode=duration"
            )

    def _check_commands(self, backends: tuple[BackendChoice, ...]) -> None:
        """A server started from a command template (``native_*``, ``external``, ``cserver``) has no
        ``--workers`` and no Python to choose: ``workers`` other than 1 is refused unless its template
        names ``{workers}``, ``server_python`` always."""
        commanded = [b for b in backends if b.command is not None]
        many = [n for n in self.worker_counts if n != 1]
        deaf = [b.name for b in commanded if many and "workers" not in _placeholders(b.command or "")]
        if deaf:
            raise ConfigError(
                "workers",
                f"{', '.join(deaf)} run{'s' * (len(deaf) == 1)} from a command template without {{workers}}, "
                f"so {'it has' if len(deaf) == 1 else 'they have'} no --workers: run "
                f"{'it' if len(deaf) == 1 else 'them'} with workers=1 (got {', '.join(map(str, many))})",
            )
        if self.server_python is not None and commanded:
            raise ConfigError(
                "server_python",
                f"chooses the Python of seatlab's own servers ({', '.join(KNOWN_BACKENDS)}); "
                f"{', '.join(b.name for b in commanded)} run{'s' * (len(commanded) == 1)} "
                "a program of its own: run without server_python",
            )

    def _check_cluster(self) -> None:
        hosts = self.load.hosts
        if isinstance(hosts, bool) or not isinstance(hosts, int) or hosts < 0:
            raise ConfigError("load.hosts", f"expected 0 (load here) or a number of Ray nodes, got {hosts!r}")
        if hosts and not self.ray.address:
            raise ConfigError(
                "ray.address",
                f"load.hosts={hosts} runs the load on other nodes of a Ray cluster: "
                "set ray.address=HOST:PORT (its head) or ray.address=auto",
            )
        address = self.ray.address
        if address and address != "auto" and not _host_port(address.removeprefix("ray://")):
            raise ConfigError("ray.address", f"expected HOST:PORT or auto, got {address!r}")
        if self.address is not None:
            try:
                ipaddress.ip_address(self.address)
            except ValueError:
                raise ConfigError(
                    "address", f"expected the IP address the server listens on, got {self.address!r}"
                ) from None

    @property
    def backends(self) -> tuple[BackendChoice, ...]:
        """The run's backends in the configured order."""
        if not self.backend:
            raise ConfigError(
                "backend", "choose at least one backend, e.g. backend=tpool or backend=[tpool,coro]"
            )
        choices = []
        for name, settings in self.backend.items():
            command = settings.command
            if name in KNOWN_BACKENDS and command is not None:
                raise ConfigError(
                    f"backend.{name}.command",
                    f"{name} is a built-in backend; an external server takes a name of its own "
                    "(conf/backend/NAME.yaml)",
                )
            if name not in KNOWN_BACKENDS:
                key = "server_command" if command == self.server_command else f"backend.{name}.command"
                if not command:
                    raise ConfigError(
                        key,
                        f"backend {name!r} is not built in ({', '.join(KNOWN_BACKENDS)}), so it is an "
                        "external server and needs a command template, e.g. "
                        f"{key}='./my-server --port {{port}} --capacity {{capacity}}'",
                    )
                _check_command(key, command)
            choices.append(
                BackendChoice(
                    name=name,
                    label=settings.label or name,
                    bound=_bound(name, settings.bound),
                    command=command,
                )
            )
        return tuple(choices)

    @functools.cached_property
    def pinning(self) -> Pinning:
        """Where the server and the load processes run (``cpus``); ``ConfigError`` names the key.

        Resolved once, on first read (``auto`` asks ``sched_getaffinity``): a read while a point's
        load generator is pinned (``pinned()``) would otherwise see only that half of the CPUs.
        """
        from seatlab.runner.cpus import resolve_pinning

        return resolve_pinning(self.cpus.server, self.cpus.loadgen)

    @functools.cached_property
    def interpreter(self) -> ServerPython:
        """The Python that runs seatlab's servers (``server_python``, or the runner's own), its version
        and whether its GIL is on; ``ConfigError`` naming ``server_python`` when it cannot run them.
        Probed once per process (``seatlab.runner.interpreter``), before any point runs."""
        from seatlab.runner.interpreter import probe_server_python

        serve = (BACKENDS[b.name].serve for b in self.backends if b.command is None)
        return probe_server_python(self.server_python, tuple(s.split(":")[0] for s in serve if s))

    @property
    def client_counts(self) -> tuple[int, ...]:
        return _listed("clients", self.clients, _integer(1))

    @property
    def rates(self) -> tuple[float | None, ...]:
        """Offered bookings/s per point; ``(None,)`` is the closed loop."""
        if self.rate is None:
            return (None,)
        return _listed("rate", self.rate, _number(0.001))

    @property
    def delays_ms(self) -> tuple[float, ...]:
        return _listed("delay", self.delay, _number(0))

    @property
    def works_ms(self) -> tuple[float, ...]:
        return _listed("work", self.work, _number(0))

    @property
    def thread_counts(self) -> tuple[int, ...]:
        return _listed("threads", self.threads, _integer(1))

    @property
    def worker_counts(self) -> tuple[int, ...]:
        from seatlab.server.config import MAX_WORKERS  # the server's own limit (its --workers refuses more)

        return _listed("workers", self.workers, _integer(1, MAX_WORKERS, "the server's --workers limit"))

    @property
    def capacities(self) -> tuple[int, ...]:
        return _listed("capacity", self.capacity, _integer(1, MAX_CAPACITY, "seat numbers are uint32"))

    def values(self, key: str) -> tuple[Any, ...]:
        """The values of one of ``SWEPT_KEYS``, one sweep point each."""
        views: dict[str, Callable[[], tuple[Any, ...]]] = {
            "clients": lambda: self.client_counts,
            "rate": lambda: self.rates,
            "delay": lambda: self.delays_ms,
            "threads": lambda: self.thread_counts,
            "workers": lambda: self.worker_counts,
            "capacity": lambda: self.capacities,
            "work": lambda: self.works_ms,
        }
        return views[key]()

    @property
    def swept(self) -> list[str]:
        """The points.csv columns of the keys this run sweeps, in ``SWEPT_KEYS`` order; ``["clients"]``
        when none has more than one value (metadata.json's ``swept``: first = x axis)."""
        columns = [column for key, column in SWEPT_KEYS.items() if len(self.values(key)) > 1]
        return columns or ["clients"]


def _host_port(text: str) -> bool:
    host, _, port = text.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def _check_command(key: str, template: str) -> None:
    from seatlab.harness.templates import TemplateError, check_template

    try:
        check_template(template)
    except TemplateError as exc:
        raise ConfigError(key, str(exc)) from None


def _placeholders(template: str) -> set[str]:
    from seatlab.harness.templates import placeholders

    return placeholders(template)


def load_config(cfg: DictConfig) -> SeatlabConfig:
    """The composed Hydra config (without its ``hydra`` node) as a validated ``SeatlabConfig``.

    Raises ``ConfigError`` naming the key.
    """
    config = OmegaConf.to_object(cfg)
    if not isinstance(config, SeatlabConfig):  # composed without the schema first in the defaults list
        raise ConfigError("defaults", f"expected the seatlab_schema config, got {type(config).__name__}")
    return config


T = TypeVar("T", int, float)


def _listed(key: str, value: Any, check: Callable[[str, Any], T]) -> tuple[T, ...]:
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        raise ConfigError(key, "the list of values is empty")
    return tuple(check(key, item) for item in items)


def _integer(low: int, high: int | None = None, why: str = "") -> Callable[[str, Any], int]:
    def check(key: str, item: Any) -> int:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ConfigError(key, f"expected an integer or a list of them, got {item!r}")
        if item < low:
            raise ConfigError(key, f"must be >= {low}, got {item}")
        if high is not None and item > high:
            raise ConfigError(key, f"must be <= {high} ({why}), got {item}")
        return item

    return check


def _number(low: float) -> Callable[[str, Any], float]:
    def check(key: str, item: Any) -> float:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise ConfigError(key, f"expected a number or a list of them, got {item!r}")
        _at_least(key, item, low)
        return float(item)

    return check


def _at_least(key: str, value: float, low: float) -> None:
    if not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if value < low:
        raise ConfigError(key, f"must be >= {low:g}, got {value!r}")


def _choice(key: str, value: str, choice: type[Connect]) -> Connect:
    try:
        return choice(value)
    except ValueError:
        raise ConfigError(key, f"expected one of {', '.join(words(choice))}, got {value!r}") from None


ConfigStore.instance().store(name="seatlab_schema", node=SeatlabConfig)
