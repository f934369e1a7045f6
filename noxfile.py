"""The test suite under every Python seatlab supports, one nox session per version.

    nox -s lint            # ruff check, ruff format --check, mypy (once, on the oldest Python)
    nox -s tests           # the whole suite on 3.11, 3.12 and 3.13 (nox -s tests-3.13: one version)
    nox -s compat          # 3.12 and 3.13: the suite less the Hydra runs, then one real end-to-end run,
                           # and the 3.11 runner (.venv) with its servers on this Python (server_python)

Each session installs the project as the README does (``-e '.[dev]'``) into
its own virtual environment under ``.nox/``. Interpreters are found on
``PATH`` or through pyenv (``pyenv install 3.12 3.13`` where missing); nox is
told never to download one, so a missing version is an error that names it.
``.ci/run`` runs ``lint`` and the 3.11 suite itself, then ``compat``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]
NEWER_PYTHONS = PYTHONS[1:]
LINTED = ["seatlab", "tests", "experiments", "noxfile.py"]
# whole Hydra experiments, minutes of the suite: compat replaces them with one real run of its own
HYDRA_RUNS = "tests/runner/test_cli.py"
# the Ray cluster on namespace hosts: minutes of cluster start-up per Python; CI runs it on 3.11 only
CLUSTER = "tests/cluster"
# the native servers' real Hydra runs (minutes): like HYDRA_RUNS, 3.11 only
NATIVE_RUNS = "tests/native/test_runner.py"

nox.options.sessions = ["lint", "tests"]
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True


def install(session: nox.Session) -> None:
    """The project and its dev tools, exactly as the README's test command installs them."""
    session.install("-e", ".[dev]")


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    """What .ci/run checks before the tests: lint, formatting and types."""
    install(session)
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("mypy")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite; arguments after ``--`` go to pytest."""
    install(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=NEWER_PYTHONS)
def compat(session: nox.Session) -> None:
    """The suite but its Hydra runs and the Ray cluster, then ``python -m seatlab +experiment=smoke`` for real (CI on 3.12, 3.13)."""
    install(session)
    session.run(
        "python",
        "-m",
        "pytest",
        f"--ignore={HYDRA_RUNS}",
        f"--ignore={CLUSTER}",
        f"--ignore={NATIVE_RUNS}",
        *session.posargs,
    )
    results = Path(session.create_tmp()) / "smoke-results"
    # exit 0 only if every sweep point ran and passed its audit (1: a point failed, 2: a config error)
    session.run("python", "-m", "seatlab", "+experiment=smoke", f"results_dir={results}")
    for row in smoke_rows(session, results, "the smoke run"):
        session.log(f"smoke: {row['backend']}, {row['clients']} clients: {row['throughput_rps']} req/s, ok")
    servers_on_this_python(session)


def smoke_rows(session: nox.Session, results: Path, what: str) -> list[dict[str, str]]:
    """The rows of a smoke run's points.csv; ``session.error`` unless there are some and all are ok."""
    points = results / "latest" / "points.csv"
    if not points.is_file():
        session.error(f"{what} wrote no {points}")
    with points.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or any(row["status"] != "ok" for row in rows):
        session.error(f"{what}'s points are not all ok: {points}")
    return rows


def servers_on_this_python(session: nox.Session) -> None:
    """The outer project's runner (``.venv``, CI's 3.11) runs +experiment=smoke with its servers on this
    session's Python (``server_python``): a runner and servers on different Pythons, as a free-threaded
    server would run. Skipped, saying so, where there is no ``.venv`` (``.ci/run`` makes it first)."""
    runner = Path(".venv/bin/python").absolute()  # not resolved: the venv's python is a symlink out of it
    if not runner.is_file():
        session.warn(f"no {runner}: the runner-on-another-Python check is skipped (.ci/run creates it)")
        return
    python = Path(session.bin) / "python"
    version = str(session.python)  # "3.12": nox's name for this session's interpreter
    results = Path(session.create_tmp()) / "server-python-results"
    session.run(
        str(runner), "-m", "seatlab", "+experiment=smoke", f"server_python={python}", f"results_dir={results}",
        external=True,
    )  # fmt: skip
    rows = smoke_rows(session, results, f"the {runner} run with server_python={python}")
    wrong = [
        row["server_python_version"]
        for row in rows
        if not row["server_python_version"].startswith(version + ".")
    ]
    if wrong:
        session.error(
            f"server_python={python}: points.csv says the servers ran on Python {', '.join(wrong)}, not {version}"
        )
    session.log(f"server_python: {len(rows)} points ok, servers on Python {rows[0]['server_python_version']}")
