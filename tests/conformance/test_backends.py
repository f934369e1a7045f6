"""Every conformance check on every Python backend: the project's backends meet its own contract.

The suite runs once per backend (the first test of that backend runs it,
about 20 s; the rest read its outcome), and each check is its own test,
so a failure names the backend and the check, with what was sent and what
came back.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from seatlab.conformance import Outcome, Status, all_checks, run_suite
from seatlab.conformance.report import failure_text
from seatlab.conformance.target import Template

BACKENDS = ["tpool", "coro", "event", "calibrate"]
FIXED_ANSWER = {"calibrate"}

_results: dict[str, dict[str, Outcome]] = {}

Outcomes = Callable[[str], dict[str, Outcome]]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    """The suite's outcomes for a backend, by check name (run on first use, then kept)."""

    def get(backend: str) -> dict[str, Outcome]:
        if backend not in _results:
            work = tmp_path_factory.mktemp(f"conformance-{backend}")
            result = run_suite(Template.for_backend(backend), work_dir=work)
            _results[backend] = {o.check.name: o for o in result.outcomes}
        return _results[backend]

    return get


@pytest.mark.timeout(600)  # the first test of a backend runs its whole suite
@pytest.mark.parametrize("check", [c.name for c in all_checks()])
@pytest.mark.parametrize("backend", BACKENDS)
def test_check_passes(outcomes: Outcomes, backend: str, check: str) -> None:
    outcome = outcomes(backend)[check]
    if outcome.status == Status.skipped:
        # only a fixed-answer server skips, and only the checks of the seat store
        assert backend in FIXED_ANSWER and outcome.check.store, f"{check} skipped: {outcome.reason}"
        assert "fixed-answer" in outcome.reason
        pytest.skip(outcome.reason)
    assert outcome.status == Status.passed, failure_text(outcome)


@pytest.mark.timeout(600)
def test_calibrate_gets_the_framing_and_lifecycle_checks(outcomes: Outcomes) -> None:
    """A fixed-answer server is told apart by its answer to Stats, and still gets what applies to it."""
    by_name = outcomes("calibrate")
    ran = {name for name, o in by_name.items() if o.status == Status.passed}
    assert {"bad-input.frame-too-large", "pipelining.half-close", "lifecycle.sigterm-exits-0"} <= ran
    assert by_name["semantics.rebook-idempotent"].status == Status.skipped
