"""The metadata saved with every run: the command, the overrides, the swept keys, and what it ran on."""

from __future__ import annotations

import sys
from pathlib import Path

from seatlab.machine import git_commit, machine_info, versions
from seatlab.runner.results import SCHEMA_VERSION


def run_metadata(
    config: dict[str, object],
    overrides: list[str],
    swept: list[str],
    cpus: dict[str, object],
    server_python: dict[str, str] | None = None,
) -> dict[str, object]:
    """metadata.json: `swept` lists the points.csv columns this run sweeps (first = the plots' x axis,
    second = one line per value); `cpus` where the server and the load ran (``Pinning.to_json``: its
    ``description`` is the plots' subtitle); `server_python` the interpreter of seatlab's Python
    servers (``ServerPython.to_json``: path, empty for the runner's own, version and GIL; absent when
    the run has none); machine, versions and commit come from ``seatlab.machine``."""
    extra: dict[str, object] = {} if server_python is None else {"server_python": server_python}
    return {
        "schema_version": SCHEMA_VERSION,
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "overrides": overrides,
        "swept": swept,
        "cpus": cpus,
        **extra,
        "machine": machine_info(),
        "versions": versions(),
        "git": git_commit(),
        "config": config,
    }
