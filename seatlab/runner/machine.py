"""What a result ran on: the machine, the software versions and the git commit (saved with every run)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

_PACKAGES = ("seatlab", "hydra-core", "omegaconf", "uvloop", "protobuf", "pandas", "matplotlib", "psutil", "hdrhistogram")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else platform's best guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cores": cores,
        "logical_cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "hostname": platform.node(),
    }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_commit(where: Path | None = None) -> dict[str, Any] | None:
    """The commit of the seatlab checkout (and whether it had local changes), or None outside git."""
    repo = where or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def describe_machine(info: dict[str, Any]) -> str:
    """One line for plot titles: CPU model and the cores the server and load generator share."""
    return f"{info.get('cpu_model', '?')}; server and load generator share {info.get('cores', '?')} cores"


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
