"""Issue 19, the runner's side: ``workers`` (server processes) is swept like ``threads`` and bounds the
point; ``server_python`` runs the Python servers on another interpreter, probed once, refused by name."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from runner.composed import composed
from seatlab.runner.execute import point_params
from seatlab.runner.interpreter import probe_server_python
from seatlab.runner.overrides import rewrite_overrides
from seatlab.runner.points import sweep_points
from seatlab.runner.schema import ConfigError


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Python without seatlab: a fresh venv, no pip, nothing installed."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    return venv / "bin" / "python"


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        (["workers=0"], "must be >= 1"),
        (["workers=[1,0]"], "must be >= 1"),
        (["workers=two"], "expected an integer"),
        (["workers=1.5"], "expected an integer"),
        (["workers=65"], "must be <= 64"),
        (["backend=native_coro", "workers=2"], "native_coro runs from a command template without {workers}"),
        (["backend=[coro,cserver]", "workers=[1,2]"], "cserver runs from a command template"),
        (
            ["backend=external", "server_command='./srv --port {port}'", "workers=2"],
            "external runs from a command template without {workers}",
        ),
    ],
)
def test_bad_workers_are_config_errors_naming_the_key(overrides: list[str], why: str) -> None:
    with pytest.raises(ConfigError, match=r"^workers: ") as caught:
        composed(*overrides)
    assert why in str(caught.value)


def test_an_external_server_that_names_workers_in_its_template_may_run_several() -> None:
    config = composed("backend=external", "server_command='./srv --port {port} -w {workers}'", "workers=2")
    assert config.worker_counts == (2,)


def test_workers_sweep_like_threads_one_point_and_column_each() -> None:
    assert rewrite_overrides(["workers=1,2", "threads=1,2"]) == ["workers=[1,2]", "threads=[1,2]"]
    assert rewrite_overrides(["-m", "workers=1,2"]) == ["-m", "workers=1,2"]  # under -m: a Hydra sweep
    config = composed("backend=[tpool,coro]", "clients=8", "workers=[1,2]", "delay=50")
    assert config.swept == ["workers"]
    points = sweep_points(config)
    assert [p.name for p in points] == ["00-tpool-c8-p1", "01-tpool-c8-p2", "02-coro-c8-p1", "03-coro-c8-p2"]
    rows = [point_params(p, config, p.name) for p in points]
    assert [r.workers for r in rows] == [1, 2, 1, 2]
    # Little's law: the pool's threads in every worker (2 x 2 of 8 clients), the clients for coroutines
    assert [r.bound_rps for r in rows] == pytest.approx([40.0, 80.0, 160.0, 160.0])
    assert [r.bound_by for r in rows] == [
        "Little's law: 2 threads / 50 ms",
        "Little's law: 2 workers x 2 threads / 50 ms",
        "Little's law: 8 clients / 50 ms",
        "Little's law: 8 clients / 50 ms",
    ]
    # with threads swept too: workers comes after threads, one line per worker count
    both = composed("backend=coro", "clients=4", "threads=[1,2]", "workers=[1,3]")
    assert both.swept == ["threads", "workers"]
    assert [p.name for p in sweep_points(both)] == [
        "00-coro-c4-t1-p1", "01-coro-c4-t1-p3", "02-coro-c4-t2-p1", "03-coro-c4-t2-p3",
    ]  # fmt: skip


def test_a_python_servers_rows_name_its_interpreter_and_a_native_ones_do_not() -> None:
    config = composed("backend=[coro,native_coro]", "clients=1")
    coro, native = (point_params(p, config, p.name) for p in sweep_points(config))
    assert (coro.server_python, coro.server_python_version) == ("", platform.python_version())
    assert coro.server_gil == ("off" if not getattr(sys, "_is_gil_enabled", lambda: True)() else "on")
    assert (native.server_python, native.server_python_version, native.server_gil) == ("", "", "")


def test_the_probe_of_this_python_gives_its_version_and_gil() -> None:
    probed = probe_server_python(sys.executable)
    assert probed.path == os.path.abspath(sys.executable)  # as given, made absolute, never resolved
    assert probed.version == platform.python_version()
    assert probed.gil == ("on" if getattr(sys, "_is_gil_enabled", lambda: True)() else "off")
    config = composed("backend=coro", f"server_python={sys.executable}")
    assert config.interpreter == probed
    point = sweep_points(config)[0]
    row = point_params(point, config, point.name)
    assert (row.server_python, row.server_python_version) == (probed.path, probed.version)


def test_a_missing_server_python_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^server_python: .*does not exist"):
        composed(f"server_python={tmp_path / 'no' / 'python'}")
    with pytest.raises(ConfigError, match=r"^server_python: .*cannot run: Permission denied"):
        composed(f"server_python={tmp_path}")  # a directory


def test_a_python_without_seatlab_is_a_config_error_with_the_import_error(
    bare_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = Path(__file__).resolve().parents[2]
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the probe inherits it: a checkout on it is seatlab
    monkeypatch.chdir(tmp_path)  # the server would start here, where no seatlab/ is beside it
    with pytest.raises(ConfigError, match=r"^server_python: ") as caught:
        composed(f"server_python={bare_python}")
    assert "No module named 'seatlab'" in str(caught.value)
    # in a checkout it finds seatlab/ in the working directory, as `-m seatlab.server` would, and then
    # misses what the server imports (protobuf)
    monkeypatch.chdir(checkout)
    with pytest.raises(ConfigError, match=r"^server_python: .*No module named 'google'"):
        composed("backend=coro", f"server_python={bare_python}")


def test_server_python_is_refused_for_servers_that_are_not_seatlabs_python() -> None:
    with pytest.raises(ConfigError, match=r"^server_python: .*native_coro runs a program of its own"):
        composed("backend=[coro,native_coro]", f"server_python={sys.executable}")


def seatlab(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seatlab", *args, f"results_dir={tmp_path / 'results'}"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.parametrize("case", ["missing", "bare", "workers"])
def test_the_command_exits_2_naming_the_key_and_runs_nothing(
    tmp_path: Path, bare_python: Path, case: str
) -> None:
    args, said = {
        "missing": ([f"server_python={tmp_path / 'nope'}"], "server_python: "),
        "bare": ([f"server_python={bare_python}"], "No module named 'seatlab'"),
        "workers": (["workers=0"], "workers: must be >= 1"),
    }[case]
    done = seatlab(tmp_path, "backend=coro", "clients=1", *args)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert not list((tmp_path / "results").rglob("points.csv"))  # no point ran
