"""Every conformance check on every Python backend: the project's backends meet its own contract.

The suite runs once per backend (the first test of that backend runs it,
about 20 s; the rest read its outcome), and each check is its own test,
so a failure names the backend and the check, with what was sent and what
came back.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from seatlab.conformance import Status, SuiteResult, all_checks, run_suite
from seatlab.conformance.output import failure_text
from seatlab.conformance.suite import Verdict
from seatlab.conformance.target import Template
from seatlab.registry import FIXED_ANSWER

PYTHON_BACKENDS = ["tpool", "tpool_dispatch", "coro", "event", "calibrate"]
BACKENDS = [*PYTHON_BACKENDS, *(f"{name}/workers=2" for name in PYTHON_BACKENDS)]
"""Each one process, then as two worker processes sharing one seat store (``--workers 2``)."""

_results: dict[str, SuiteResult] = {}

Results = Callable[[str], SuiteResult]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """The suite's result for a backend (run on first use, then kept)."""

    def get(backend: str) -> SuiteResult:
        if backend not in _results:
            name, _, workers = backend.partition("/workers=")
            work = tmp_path_factory.mktemp(f"conformance-{name}")
            _results[backend] = run_suite(
                Template.for_backend(name, workers=int(workers or 1)), work_dir=work
            )
        return _results[backend]

    return get


@pytest.mark.timeout(600)  # the first test of a backend runs its whole suite
@pytest.mark.parametrize("check", [c.name for c in all_checks()])
@pytest.mark.parametrize("backend", BACKENDS)
def test_check_passes(results: Results, backend: str, check: str) -> None:
    result = results(backend)
    if backend.partition("/")[0] in FIXED_ANSWER and check in {c.name for c in result.not_applicable}:
        pytest.skip("a check of the seat store: not run on a declared fixed-answer server")
    outcome = {o.check.name: o for o in result.outcomes}[check]
    assert outcome.status == Status.passed, failure_text(outcome)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_check_ran_and_passed(results: Results, backend: str) -> None:
    """Nothing skipped: the verdict is a pass, not an incomplete run."""
    assert results(backend).verdict == Verdict.passed


@pytest.mark.timeout(600)
def test_calibrate_is_declared_fixed_answer_and_gets_the_framing_and_lifecycle_checks(
    results: Results,
) -> None:
    """``--backend calibrate`` declares it (never inferred from the wire); it still gets what applies."""
    result = results("calibrate")
    ran = {o.check.name for o in result.outcomes if o.status == Status.passed}
    assert {"bad-input.frame-too-large", "pipelining.half-close", "lifecycle.sigterm-exits-0"} <= ran
    left_out = {c.name for c in result.not_applicable}
    assert "semantics.rebook-idempotent" in left_out and left_out.isdisjoint(ran)
    assert all(c.store for c in result.not_applicable)
