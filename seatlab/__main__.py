"""``python -m seatlab [-m] [OVERRIDES...]``: the experiment runner (Hydra app, configs in ``conf/``).

``conf/`` is found relative to this file (``seatlab/../conf``): the
repository's ``conf/`` when seatlab is installed editable (``pip install -e .``)
or run from a checkout; failing that (a non-editable install), ``./conf`` in
the working directory. Before Hydra parses the command line, per-run sweeps
(``clients=range(...)``, and ``backend=a,b`` without ``-m``) become lists: see
``seatlab.runner.overrides``.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from seatlab.runner import callback, job
from seatlab.runner.job import run_job
from seatlab.runner.overrides import OverrideError, rewrite_overrides


def conf_dir() -> str:
    """The repository's conf/ (editable install or checkout), else ./conf."""
    beside_package = Path(__file__).resolve().parent.parent / "conf"
    return str(beside_package if (beside_package / "config.yaml").is_file() else Path.cwd() / "conf")


@hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
def _hydra_main(cfg: DictConfig) -> Any:
    global _composed  # noqa: PLW0603 - goes with issue 11's exit code from job.json
    _composed = True
    return run_job(cfg)


_composed = False
"""Whether Hydra got as far as a composed config: if not, its error was in the config."""


def main() -> int:
    try:
        sys.argv[1:] = rewrite_overrides(sys.argv[1:])
    except OverrideError as exc:
        print(f"seatlab: {exc}", file=sys.stderr)
        return 2
    try:
        _hydra_main()
    except (SystemExit, Exception) as exc:
        if _composed or (isinstance(exc, SystemExit) and exc.code in (0, None)):
            raise
        # the config or an override is wrong: Hydra printed it (or, with HYDRA_FULL_ERROR=1, raised it)
        if not isinstance(exc, SystemExit):
            traceback.print_exc()
        return 2
    if callback.FAILED_JOBS:
        print(
            f"seatlab: {len(callback.FAILED_JOBS)} job(s) failed: {', '.join(callback.FAILED_JOBS)}",
            file=sys.stderr,
        )
        return 1
    if job.FAILED_POINTS:
        print(f"seatlab: {len(job.FAILED_POINTS)} point(s) failed (see report.md)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
