"""The exit code of ``python -m seatlab``, read back from the job.json files the jobs wrote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seatlab.runner.outcome import RECEIPT_ENV, exit_code, job_receipt, recorded_jobs, write_job


def test_every_job_json_written_under_a_receipt_is_read_back_once(tmp_path: Path) -> None:
    with job_receipt() as receipt:
        write_job(tmp_path / "a", "running", ["delay=5"], label="delay=5")
        write_job(tmp_path / "a", "ok", ["delay=5"], label="delay=5", points=2)
        write_job(tmp_path / "b", "partial", ["delay=9"], label="delay=9", reason="01-coro-c2: boom")
        jobs = recorded_jobs(receipt)
    assert [path.parent.name for path in jobs] == ["a", "b"]
    assert [job["status"] for job in jobs.values()] == ["ok", "partial"]
    assert not receipt.exists() and RECEIPT_ENV not in os.environ


def test_without_a_receipt_nothing_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RECEIPT_ENV, raising=False)
    write_job(tmp_path, "ok", [])
    assert (tmp_path / "job.json").is_file()


@pytest.mark.parametrize(
    ("statuses", "hydra_code", "expected"),
    [
        ([], 0, 0),  # --help, --cfg job: nothing to run
        ([], 1, 2),  # Hydra refused the config while composing
        ([], 2, 2),  # the config check refused it before the run folder
        (["ok"], 0, 0),
        (["ok", "ok"], 0, 0),
        (["ok", "partial"], 0, 1),
        (["failed"], 0, 1),
        (["running"], 1, 1),  # the job crashed: Hydra printed the traceback and exited 1
        (["failed"], 2, 2),  # a single run's config error recorded by the job
        (["failed"], 130, 130),  # Ctrl-C
        (["ok"], 1, 1),  # the jobs finished but the sweep's end failed
    ],
)
def test_exit_code(tmp_path: Path, statuses: list[str], hydra_code: int, expected: int) -> None:
    jobs = {tmp_path / str(i) / "job.json": {"status": status} for i, status in enumerate(statuses)}
    assert exit_code(jobs, hydra_code) == expected


def test_failed_jobs_are_named_with_their_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = {
        tmp_path / "0_delay=5" / "job.json": {"status": "ok"},
        tmp_path / "1_delay=-1" / "job.json": {
            "status": "failed",
            "label": "delay=-1",
            "reason": "config error: x",
        },
        tmp_path / "2_delay=9" / "job.json": {"status": "running"},
    }
    assert exit_code(jobs, 0) == 1
    err = capsys.readouterr().err
    assert "job delay=-1 failed: config error: x" in err
    assert (
        "job 2_delay=9 running: the job stopped before it finished" in err and "2 of 3 job(s) failed" in err
    )
