"""How a point's outcome is judged from the load generator's summary and the server's exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seatlab.runner.execute import judge_point

SUMMARY = json.loads((Path(__file__).parent / "fixtures" / "summary.json").read_text())


def summary(**changes: Any) -> dict[str, Any]:
    return {**SUMMARY, **changes}


def test_a_clean_point_is_ok() -> None:
    assert judge_point(summary(), 0) == ("ok", "")


def test_a_calibration_point_that_nothing_audits_is_ok() -> None:
    audit = {"ok": None, "message": "calibration target: nothing was audited"}
    assert judge_point(summary(audit=audit), 0) == ("ok", "")


@pytest.mark.parametrize(
    ("changes", "exit_code", "reason"),
    [
        ({}, 1, "server exited 1 after SIGTERM"),
        ({}, -9, "server exited -9 after SIGTERM"),
        (
            {"audit": {"ok": False, "message": "seat 7 confirmed to two uuids"}},
            0,
            "audit failed: seat 7 confirmed",
        ),
        (
            {"completed": False, "warnings": ["the measured window never opened"]},
            0,
            "incomplete: the measured window",
        ),
        (
            {"answers": 0, "warnings": ["4 of 4 clients got no answer"]},
            0,
            "no answers in the measured window: 4 of 4",
        ),
    ],
)
def test_failures_name_their_reason(changes: dict[str, Any], exit_code: int, reason: str) -> None:
    status, text = judge_point(summary(**changes), exit_code)
    assert status == "failed" and reason in text
