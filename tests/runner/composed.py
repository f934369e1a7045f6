"""The Hydra config as a test composes it: ``conf/`` with overrides, validated (``load_config``)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from seatlab.runner.schema import SeatlabConfig, load_config

CONF = Path(__file__).resolve().parents[2] / "conf"


def composed(*overrides: str) -> SeatlabConfig:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return load_config(compose(config_name="config", overrides=list(overrides)))
    finally:
        GlobalHydra.instance().clear()
