"""Where a run's results go: the run and sweep folder names (Hydra resolvers) and the ``latest`` link.

``conf/config.yaml`` names a run's folder
``${results_dir}/runs/DATE/${seatlab_time:}${seatlab_slug:${hydra.job.override_dirname}}``:
the time to the millisecond (two runs in one second get their own folders)
and a short, path-safe form of the overrides.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

_SLUG_DROP = re.compile(r"[\[\]'\" ]")
_SLUG_BAD = re.compile(r"[^A-Za-z0-9=._+,-]")


def override_slug(override_dirname: str, limit: int = 60) -> str:
    """A short, path-safe suffix from Hydra's override dirname ('' when there are none)."""
    slug = _SLUG_DROP.sub("", override_dirname).replace("+", "")
    slug = _SLUG_BAD.sub("_", slug.replace("/", "."))
    slug = slug.replace(",", "_")[:limit]
    return f"_{slug}" if slug else ""


def time_stamp() -> str:
    """HH-MM-SS.mmm: readable, and two runs in the same second still get their own folders."""
    now = datetime.now()
    return now.strftime("%H-%M-%S") + f".{now.microsecond // 1000:03d}"


def update_latest(results_dir: Path, target: Path) -> None:
    """Point ``results_dir/latest`` at `target` (relative link, replaced atomically)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    link = results_dir / "latest"
    relative = os.path.relpath(target.resolve(), results_dir.resolve())
    tmp = results_dir / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(relative, tmp)
    os.replace(tmp, link)


if not OmegaConf.has_resolver("seatlab_slug"):
    OmegaConf.register_new_resolver("seatlab_slug", override_slug)
if not OmegaConf.has_resolver("seatlab_time"):
    # cached like Hydra's ${now:}: one value per process, so every reference agrees
    OmegaConf.register_new_resolver("seatlab_time", time_stamp, use_cache=True)
