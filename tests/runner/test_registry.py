"""The backend registry and the Hydra backend configs state each backend's bound once between them."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from seatlab.registry import BACKENDS, FIXED_ANSWER, ceiling_of

CONF = Path(__file__).resolve().parents[2] / "conf" / "backend"


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_registered_backend_has_a_config_that_agrees_on_its_bound(name: str) -> None:
    config = OmegaConf.load(CONF / f"{name}.yaml")[name]
    assert config.bound == BACKENDS[name].bound, f"conf/backend/{name}.yaml says bound {config.bound}"
    assert (config.bound == "none") == (name in FIXED_ANSWER)


def test_the_ceiling_is_pythons_when_both_ran_else_the_other_fixed_answer_server() -> None:
    assert ceiling_of(["tpool", "native_calibrate", "calibrate"]) == "calibrate"
    assert ceiling_of(["native_calibrate", "event"]) == "native_calibrate"
    assert ceiling_of(["tpool", "coro"]) is None
