"""The runner tests' shared fixture: Hydra initialised on the repository's ``conf/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture
def hydra_conf() -> Iterator[None]:
    """Compose configs with ``hydra.compose`` for one test, from a clean global Hydra."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield
    GlobalHydra.instance().clear()
