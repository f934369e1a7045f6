"""``python -m seatlab [-m] [OVERRIDES...]``: the experiment runner (Hydra app, configs in ``conf/``).

``conf/`` is found relative to this file (``seatlab/../conf``): the
repository's ``conf/`` when seatlab is installed editable (``pip install -e .``)
or run from a checkout; failing that (a non-editable install), ``./conf`` in
the working directory. Before Hydra parses the command line, per-run sweeps
(``clients=range(...)``, and ``backend=a,b`` without ``-m``) become lists: see
``seatlab.runner.overrides``. The exit code is read back from the ``job.json``
files the jobs wrote (``seatlab.runner.outcome``): 0 all points ok, 1 a point
or job failed, 2 a config error, 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from seatlab.runner import folders  # noqa: F401 - registers the run folders' resolvers
from seatlab.runner.job import run_job
from seatlab.runner.outcome import CONFIG_ERROR, exit_code, job_receipt, recorded_jobs
from seatlab.runner.overrides import OverrideError, rewrite_overrides


def conf_dir() -> str:
    """The repository's conf/ (editable install or checkout), else ./conf."""
    beside_package = Path(__file__).resolve().parent.parent / "conf"
    return str(beside_package if (beside_package / "config.yaml").is_file() else Path.cwd() / "conf")


@hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
def _hydra_main(cfg: DictConfig) -> Any:
    return run_job(cfg)


def main() -> int:
    try:
        sys.argv[1:] = rewrite_overrides(sys.argv[1:])
    except OverrideError as exc:
        print(f"seatlab: {exc}", file=sys.stderr)
        return CONFIG_ERROR
    with job_receipt() as receipt:
        try:
            _hydra_main()
            hydra_code = 0
        except SystemExit as exc:  # Hydra's own errors exit 1; a refused config 2; Ctrl-C 130
            hydra_code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # HYDRA_FULL_ERROR=1: Hydra raises instead of printing
            traceback.print_exc()
            hydra_code = 1
        jobs = recorded_jobs(receipt)
    return exit_code(jobs, hydra_code)


if __name__ == "__main__":
    raise SystemExit(main())
