"""The Hydra configs: every preset composes, bad values fail naming the key, per-run sweeps become lists."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hydra import compose
from omegaconf import DictConfig

from seatlab.modes import Connect, Mode
from seatlab.runner.folders import override_slug
from seatlab.runner.overrides import OverrideError, rewrite_overrides
from seatlab.runner.points import bound_rps, sweep_points
from seatlab.runner.schema import Bound, ConfigError, SeatlabConfig, load_config

CONF = Path(__file__).resolve().parents[2] / "conf"
PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def settings(*overrides: str) -> SeatlabConfig:
    cfg: DictConfig = compose(config_name="config", overrides=list(overrides))
    return load_config(cfg)


def test_presets_exist() -> None:
    assert {"seed", "ceiling"} <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_and_validates(hydra_conf: None, preset: str) -> None:
    run = settings(f"+experiment={preset}")
    assert isinstance(run, SeatlabConfig) and run.backends and run.client_counts


def test_default_is_thread_pool_against_coroutines(hydra_conf: None) -> None:
    run = settings()
    assert [b.name for b in run.backends] == ["tpool", "coro"]
    assert run.delays_ms == (50,) and run.thread_counts == (2,) and run.mode is Mode.duration
    assert run.client_counts == (1, 2, 4, 16, 64) and run.rates == (None,) and run.swept == ["clients"]
    assert run.connect is Connect.persistent
    # about a minute: points x (window + warm-up) stays well under 90 s of measuring
    assert len(sweep_points(run)) * (run.duration + run.warmup) < 60


def test_seed_is_the_original_experiment(hydra_conf: None) -> None:
    run = settings("+experiment=seed")
    names = ["tpool", "coro", "event"]
    # the Python servers (with the dispatching pool beside the original's), then the original's in C++
    assert [b.name for b in run.backends] == ["tpool", "tpool_dispatch", "coro", "event"] + [
        f"native_{n}" for n in names
    ]
    assert (run.capacities, run.delays_ms, run.thread_counts, run.client_counts, run.mode) == (
        (5000,),
        (50,),
        (2,),
        (10,),
        Mode.sellout,
    )
    assert run.diversity == 10


def test_ceiling_runs_the_calibration_target_beside_every_backend(hydra_conf: None) -> None:
    run = settings("+experiment=ceiling")
    assert [b.name for b in run.backends] == ["calibrate", "tpool", "coro", "event"]
    assert run.backends[0].bound is Bound.none
    assert run.delays_ms == (0,) and run.client_counts == (1, 10, 100, 1000)


def test_backend_list_and_single_backend(hydra_conf: None) -> None:
    assert [b.name for b in settings("backend=tpool").backends] == ["tpool"]
    assert [b.name for b in settings("backend=[event,coro]").backends] == ["event", "coro"]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("delay=-5", "delay"),
        ("threads=0", "threads"),
        ("capacity=0", "capacity"),
        ("clients=[1,-2]", "clients"),
        ("clients=abc", "clients"),
        ("clients=[]", "clients"),
        ("duration=0", "duration"),
        ("rate=-1", "rate"),
        ("repeat=0", "repeat"),
        ("diversity=0", "diversity"),
        ("threads=[1,0]", "threads"),
        ("rate=[100,-5]", "rate"),
        ("delay=[5,nan]", "delay"),
        ("capacity=[10,5000000000]", "capacity"),
        ("connect=sometimes", "connect"),
    ],
)
def test_out_of_range_values_name_the_key(hydra_conf: None, override: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(override)
    assert caught.value.key == key and str(caught.value).startswith(f"{key}:")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("mode=bogus", "mode"),
        ("capacity=abc", "capacity"),
        ("delay=fast", "delay"),
        ("backend=foo", "backend"),
        ("sync=never", "sync"),
        ("no_such_key=1", "no_such_key"),
    ],
)
def test_wrong_types_and_unknown_names_fail_at_composition_naming_the_key(
    hydra_conf: None, override: str, key: str
) -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - Hydra and our schema raise different types
        settings(override)
    assert key in str(caught.value)


def test_range_becomes_the_runs_client_list() -> None:
    assert rewrite_overrides(["clients=range(10,200,10)"]) == [
        f"clients=[{','.join(map(str, range(10, 200, 10)))}]"
    ]
    assert rewrite_overrides(["clients=1,10,100"]) == ["clients=[1,10,100]"]


def test_plain_values_are_left_to_hydra() -> None:
    argv = ["clients=50", "clients=[1,10,100]", "backend=tpool", "delay=5", "hydra.run.dir=x", "--cfg", "job"]
    assert rewrite_overrides(argv) == argv


def test_backend_list_only_without_multirun() -> None:
    assert rewrite_overrides(["backend=tpool,coro"]) == ["backend=[tpool,coro]"]
    assert rewrite_overrides(["-m", "backend=tpool,coro", "clients=range(1,4)"]) == [
        "-m",
        "backend=tpool,coro",
        "clients=[1,2,3]",
    ]
    assert rewrite_overrides(["backend=tpool,coro", "--multirun"])[0] == "backend=tpool,coro"


def test_unlistable_sweep_names_the_key() -> None:
    with pytest.raises(OverrideError, match=r"^clients:"):
        rewrite_overrides(["clients=interval(1,5)"])


def test_littles_law_bound() -> None:
    assert bound_rps(Bound.threads, 10, 2, 50, None) == pytest.approx(40)
    assert bound_rps(Bound.threads, 1, 2, 50, None) == pytest.approx(20)
    assert bound_rps(Bound.clients, 10, 2, 50, None) == pytest.approx(200)
    assert bound_rps(Bound.clients, 10, 2, 50, 120.0) == pytest.approx(120)
    assert math.isnan(bound_rps(Bound.clients, 10, 2, 0, None))
    assert math.isnan(bound_rps(Bound.none, 10, 2, 50, None))
    # an open loop is capped by what it offers, also where no other bound applies
    assert bound_rps(Bound.none, 10, 2, 50, 300.0) == pytest.approx(300)
    assert bound_rps(Bound.clients, 10, 2, 0, 300.0) == pytest.approx(300)


def test_sweep_points_cover_backends_clients_and_repeats(hydra_conf: None) -> None:
    points = sweep_points(settings("backend=[tpool,coro]", "clients=[1,8]", "repeat=2"))
    assert [(p.backend.name, p.clients, p.repetition) for p in points] == [
        ("tpool", 1, 0),
        ("tpool", 1, 1),
        ("tpool", 8, 0),
        ("tpool", 8, 1),
        ("coro", 1, 0),
        ("coro", 1, 1),
        ("coro", 8, 0),
        ("coro", 8, 1),
    ]
    assert len({p.name for p in points}) == len(points)


def test_override_slug_is_short_and_path_safe() -> None:
    assert override_slug("") == ""
    assert override_slug("+experiment=seed,backend=[tpool,coro]") == "_experiment=seed_backend=tpool_coro"
    assert "/" not in override_slug("results_dir=/a/b,x=" + "y" * 200) and len(override_slug("x" * 300)) <= 61


def test_open_loop_schedule_needs_a_rate_and_calibration_cannot_sell_out(hydra_conf: None) -> None:
    with pytest.raises(ConfigError, match=r"^schedule:"):
        settings("schedule=poisson")
    assert settings("schedule=poisson", "rate=100").rates == (100,)
    with pytest.raises(ConfigError, match=r"^backend:.*never sells out"):
        settings("backend=calibrate", "mode=sellout")


def test_connect_takes_the_word_users_type(hydra_conf: None) -> None:
    assert settings("connect=per-request").connect is Connect.per_request


def test_a_list_of_any_swept_key_makes_the_product_of_points(hydra_conf: None) -> None:
    run = settings("backend=[tpool,coro]", "clients=64", "threads=[1,4]", "rate=[100,200]")
    assert run.swept == ["rate", "threads"]
    points = sweep_points(run)
    assert [(p.backend.name, p.rate, p.threads) for p in points] == [
        (backend, rate, threads) for backend in ("tpool", "coro") for rate in (100, 200) for threads in (1, 4)
    ]
    assert points[1].name == "01-tpool-c64-r100-t4" and points[7].name == "07-coro-c64-r200-t4"
    assert len({p.name for p in points}) == len(points)
    only_clients = sweep_points(settings("clients=[1,8]"))
    assert [p.name for p in only_clients][:2] == ["00-tpool-c1", "01-tpool-c8"]


def test_swept_lists_clients_first_then_the_other_keys(hydra_conf: None) -> None:
    assert settings("clients=[1,2]", "delay=[0,5]").swept == ["clients", "delay_ms"]
    assert settings("clients=[1,2]", "capacity=[10,20]").swept == ["clients", "capacity"]
    assert settings("clients=7", "delay=[0,5]").swept == ["delay_ms"]


def test_rate_delay_threads_and_capacity_lists_only_without_multirun() -> None:
    assert rewrite_overrides(["rate=range(100,500,200)", "threads=1,2", "delay=0,5", "capacity=10,20"]) == [
        "rate=[100,300]",
        "threads=[1,2]",
        "delay=[0,5]",
        "capacity=[10,20]",
    ]
    assert rewrite_overrides(["-m", "delay=5,10"]) == ["-m", "delay=5,10"]
