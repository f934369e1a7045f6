"""A backend's bound is stated once: by the registry for the built-in and native servers, by its Hydra
config only for an external server."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from runner.composed import CONF, composed
from seatlab.registry import BACKENDS, FIXED_ANSWER, ceiling_of
from seatlab.runner.schema import Bound, ConfigError


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_a_registered_backends_config_leaves_its_bound_to_the_registry(name: str) -> None:
    stated = OmegaConf.load(CONF / "backend" / f"{name}.yaml")[name]
    assert "bound" not in stated, (
        f"conf/backend/{name}.yaml states a bound: the registry's is {BACKENDS[name].bound}"
    )


def test_a_run_takes_each_registered_backends_bound_from_the_registry() -> None:
    run = composed("backend=[tpool,coro,calibrate]")
    assert [(b.name, b.bound) for b in run.backends] == [
        ("tpool", Bound.threads),
        ("coro", Bound.clients),
        ("calibrate", Bound.none),
    ]
    assert [b.fixed_answer for b in run.backends] == [b.name in FIXED_ANSWER for b in run.backends]


def test_a_config_that_gives_a_registered_backend_another_bound_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"backend\.coro\.bound: coro .* is bounded by clients"):
        _ = composed("backend=coro", "backend.coro.bound=threads").backends
    assert composed("backend=coro", "backend.coro.bound=clients").backends[0].bound is Bound.clients


def test_an_external_server_states_its_own_bound() -> None:
    run = composed("backend=[external,cserver]", "server_command='./srv --port {port}'")
    assert [b.bound for b in run.backends] == [Bound.clients, Bound.clients]
    pool = composed(
        "backend=external", "server_command='./srv --port {port}'", "backend.external.bound=threads"
    )
    assert pool.backends[0].bound is Bound.threads


def test_the_ceiling_is_pythons_when_both_ran_else_the_other_fixed_answer_server() -> None:
    assert ceiling_of(["tpool", "native_calibrate", "calibrate"]) == "calibrate"
    assert ceiling_of(["native_calibrate", "event"]) == "native_calibrate"
    assert ceiling_of(["tpool", "coro"]) is None
