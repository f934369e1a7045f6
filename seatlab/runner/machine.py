"""The metadata saved with every run: the command, the overrides, the machine, versions, commit, config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from seatlab.machine import git_commit, machine_info, versions


def run_metadata(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    from seatlab.runner.results import SCHEMA_VERSION

    return {
        "schema_version": SCHEMA_VERSION,
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "overrides": overrides,
        "machine": machine_info(),
        "versions": versions(),
        "git": git_commit(),
        "config": config,
    }
