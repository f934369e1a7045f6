"""External servers through the runner: a command template, real programs, real Hydra runs.

The external servers are the project's own ``python -m seatlab.server --backend
event`` given as a template, and the C reference server
(``/work/shared/ref/cserver.c``, built here with ``cc``) with its real seat store
(``-S``), so the audit checks a store that is not ours.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from runner.test_cli import latest, processes_mentioning, seatlab
from runner.test_config import settings as config_of
from seatlab.runner.overrides import rewrite_overrides
from seatlab.runner.schema import ConfigError, SeatlabConfig

CSERVER_C = Path("/work/shared/ref/cserver.c")
EVENT_TEMPLATE = (
    f"{sys.executable} -m seatlab.server --backend event --port {{port}} --capacity {{capacity}} "
    "--delay {delay} --threads {threads} --db-path {db_path} --max-backlog {max_backlog} --address {address}"
)
TINY = ["duration=0.3", "warmup=0.1", "ready_timeout=20", "clients=[2]"]


@pytest.fixture(scope="module")
def cserver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C reference server, compiled for this test run."""
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH to build the reference server")
    if not CSERVER_C.is_file():
        pytest.skip(f"{CSERVER_C} is not on this machine")
    binary = tmp_path_factory.mktemp("ref") / "cserver"
    subprocess.run([cc, "-O2", "-pthread", "-o", str(binary), str(CSERVER_C)], check=True, timeout=120)
    return binary


def settings(*overrides: str) -> SeatlabConfig:
    """The config as ``python -m seatlab`` composes it (command templates quoted for Hydra)."""
    return config_of(*rewrite_overrides(overrides))


def with_cserver(binary: Path) -> dict[str, str]:
    return {"SEATLAB_CSERVER": str(binary)}


def test_two_external_servers_run_side_by_side_under_their_own_names(tmp_path: Path, cserver: Path) -> None:
    done = seatlab(
        tmp_path, "backend=[external,cserver]", f"server_command={EVENT_TEMPLATE}", "delay=0", *TINY,
        env=with_cserver(cserver),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = latest(tmp_path)
    points = pd.read_csv(run / "points.csv")
    assert list(points["backend"]) == ["external", "cserver"], points
    assert (points["status"] == "ok").all(), points[["backend", "status", "reason"]]
    assert (points["throughput_rps"] > 0).all() and (points["server_exit"] == 0).all()  # SIGTERM: exit 0
    assert (points["server_cpu_pct"] > 0).all() and (points["server_rss_mib"] > 0).all()  # sampled
    for row in points.itertuples():
        folder = run / "points" / row.point_dir
        summary = json.loads((folder / "load" / "summary.json").read_text())
        assert summary["audit"]["ok"] is True, (row.backend, summary["audit"])  # a real store, audited
        assert (folder / "server.stdout").read_text().startswith("READY 127.0.0.1 ")
    # the template was filled in: the event server got its db path in the point's folder
    assert (run / "points" / points["point_dir"][0] / "seats.csv").is_file()
    assert "SERVED" in (run / "points" / points["point_dir"][1] / "server.stderr").read_text()  # cserver's
    labels = json.loads((run / "metadata.json").read_text())["config"]["backend"]
    assert (
        labels["cserver"]["label"] == "C reference (-S)" and labels["external"]["command"] == EVENT_TEMPLATE
    )
    assert not processes_mentioning(str(tmp_path))  # every server reaped


def test_servers_that_cannot_start_fail_their_point_and_the_sweep_goes_on(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-server"
    done = seatlab(
        tmp_path, "backend=[external,cserver,event]", f"server_command={missing} --port {{port}}",
        "delay=5", *TINY, env={"SEATLAB_CSERVER": shutil.which("false") or "/bin/false"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # some points failed
    points = pd.read_csv(latest(tmp_path) / "points.csv").set_index("backend")
    assert list(points["status"]) == ["failed", "failed", "ok"], points["reason"]
    assert f"could not start '{missing}': No such file or directory" in points.loc["external", "reason"]
    cserver_reason = points.loc["cserver", "reason"]
    assert "backend cserver" in cserver_reason and "exited with code 1 before READY" in cserver_reason
    assert not processes_mentioning(str(tmp_path))


def test_an_unknown_placeholder_stops_the_run_before_anything_starts(tmp_path: Path) -> None:
    done = seatlab(tmp_path, "backend=external", "server_command=./srv --port {prot}", *TINY)
    assert done.returncode == 2
    assert "server_command: unknown placeholder {prot}" in done.stderr and "{port}" in done.stderr
    assert not (tmp_path / "results" / "runs").exists()  # refused before the run folder was made


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        (["backend=external"], "server_command", "needs a command template"),
        (["backend=external", "server_command=./srv {port:5d}"], "server_command", "no format spec"),
        (["backend=external", "server_command=./srv {port"], "server_command", "bad braces"),
        (["backend=external", "server_command=./srv 'unclosed {port}"], "server_command", "cannot split"),
        (["backend=external", "server_command=./srv {}"], "server_command", "unknown placeholder {}"),
        (["backend=cserver", "backend.cserver.command=x {portt}"], "backend.cserver.command", "{portt}"),
        (["backend=tpool", "+backend.tpool.command=./srv"], "backend.tpool.command", "built-in backend"),
    ],
)
def test_bad_templates_name_the_key_and_what_is_wrong(
    hydra_conf: None, overrides: list[str], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(*overrides)
    assert caught.value.key == key and words in str(caught.value)


def test_a_template_with_spaces_quotes_and_braces_reaches_the_config_as_typed(hydra_conf: None) -> None:
    template = "sh -c 'exec ./srv --port {port}' --db '{db_path}'"
    config = settings("backend=external", f"server_command={template}")
    (choice,) = config.backends
    assert (choice.name, choice.command) == ("external", template)
    from seatlab.harness.templates import command_argv
    from seatlab.server.config import ServerConfig

    argv = command_argv(template, ServerConfig(backend="external", port=0, db_path=Path("/x y/seats.csv")))
    assert argv == ["sh", "-c", "exec ./srv --port 0", "--db", "/x y/seats.csv"]
