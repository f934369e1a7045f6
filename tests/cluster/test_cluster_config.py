"""The cluster keys' checks: a wrong ``load.hosts``, ``ray.address`` or ``address`` is refused by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seatlab.runner.schema import BackendConfig, ConfigError, LoadConfig, RayConfig, SeatlabConfig


def config(**fields: object) -> SeatlabConfig:
    return SeatlabConfig(backend={"coro": BackendConfig()}, **fields)  # type: ignore[arg-type]


def test_the_default_runs_the_load_here() -> None:
    c = config()
    assert c.load.hosts == 0 and c.ray.address is None and c.address is None


@pytest.mark.parametrize(
    ("fields", "key", "words"),
    [
        ({"load": LoadConfig(hosts=2)}, "ray.address", "set ray.address=HOST:PORT"),
        ({"load": LoadConfig(hosts=-1)}, "load.hosts", "got -1"),
        ({"ray": RayConfig(address="head-without-port")}, "ray.address", "expected HOST:PORT or auto"),
        ({"address": "not an ip"}, "address", "expected the IP address"),
    ],
)
def test_a_wrong_cluster_key_is_named(fields: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(**fields)
    assert info.value.key == key and words in str(info.value)


def test_auto_and_host_port_are_addresses() -> None:
    assert config(load=LoadConfig(hosts=1), ray=RayConfig(address="auto")).ray.address == "auto"
    assert config(ray=RayConfig(address="10.0.0.5:6379"), address="10.0.0.4").address == "10.0.0.4"


def test_the_runner_refuses_load_hosts_without_a_cluster_before_making_a_folder(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seatlab", "load.hosts=2", f"results_dir={tmp_path}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "ray.address" in done.stderr and "load.hosts=2" in done.stderr
    assert not (tmp_path / "runs").exists()
