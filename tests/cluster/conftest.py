"""The cluster tests' hosts: one Ray cluster over three namespace hosts, shared by the whole session.

Host 0 (198.18.0.1) runs the Ray head, the runner and the server; hosts 1 and 2
run Ray workers and the load. Made once per session (about a minute on a
loaded 2-core machine) and always taken down: every process in the
namespaces ended, the namespaces deleted, also when a test fails.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from netns import RayCluster, TestHosts, can_make_namespaces


def ray_missing() -> str | None:
    """None when Ray and hydra-ray-launcher import, else why not."""
    try:
        import hydra_plugins.hydra_ray_launcher  # noqa: F401
        import ray  # noqa: F401
    except ImportError as exc:
        return f"Ray is not installed ({exc}): pip install -e '.[ray]' (the dev extra brings it)"
    return None


@pytest.fixture(scope="session")
def cluster() -> Iterator[RayCluster]:
    reason = ray_missing() or can_make_namespaces()
    if reason:
        pytest.skip(reason)
    hosts = TestHosts(3)
    try:
        hosts.up()
        ray_cluster = RayCluster(hosts, python=sys.executable)
        try:
            yield ray_cluster.up()
        finally:
            ray_cluster.down()
    finally:
        hosts.down()
