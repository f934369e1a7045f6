"""``python -m seatlab.conformance`` as a user runs it: a real subprocess, real servers, real files.

It must fail deliberately broken servers (``flawed_server.py``), naming the
check in its table and its JUnit file; pass the same server without the
flaw; fail a fixed-answer server not declared one; call a run with checks that could
not run (``--address``, a placeholder missing) incomplete, exit 3, saying why; and exit
2 on bad usage.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from seatlab.harness.process import ServerProcess

FLAWED = Path(__file__).with_name("flawed_server.py")


def conformance(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seatlab.conformance", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def flawed(flaw: str) -> str:
    """The command template of the flawed server."""
    program = shlex.join([sys.executable, str(FLAWED)])
    return f"{program} --address {{address}} --port {{port}} --capacity {{capacity}} --flaw {flaw}"


def junit_cases(path: Path) -> dict[str, ET.Element]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return {case.attrib["name"]: case for case in suite.iter("testcase")}


def row(stdout: str, check: str) -> str:
    """The table row of ``check`` (its status is the second column)."""
    rows = [line for line in stdout.splitlines() if line.split()[:1] == [check]]
    assert len(rows) == 1, f"no table row for {check} in:\n{stdout}"
    return rows[0].split()[1]


_SUBSET = [
    "--check",
    "semantics.*",
    "--check",
    "bad-input.frame-too-large*",
    "--check",
    "bad-input.bad-frame",
]
_SUBSET += ["--check", "concurrency.one-uuid-many-connections", "--check", "bad-input.garbage"]


@pytest.mark.parametrize(
    ("flaw", "failing", "says"),
    [
        (
            "double-book",
            {"semantics.rebook-idempotent", "semantics.sold-out", "concurrency.one-uuid-many-connections"},
            "the second Book of",
        ),
        (
            "oversized-close",
            {"bad-input.frame-too-large", "bad-input.frame-too-large-huge"},
            "the server closed the connection",
        ),
        (
            "oversized-crash",
            {"bad-input.frame-too-large", "bad-input.frame-too-large-huge"},
            "the server exited with code 3 during this check",
        ),
        ("none", set(), ""),
    ],
)
def test_broken_server_fails_naming_the_check(
    tmp_path: Path, flaw: str, failing: set[str], says: str
) -> None:
    junit = tmp_path / "out" / "conformance.xml"
    done = conformance("--command", flawed(flaw), *_SUBSET, "--junit", str(junit), "--timeout", "3")
    cases = junit_cases(junit)
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == failing, done.stdout[-3000:]
    for name in cases:  # the table and the JUnit file agree, check by check
        assert row(done.stdout, name) == ("failed" if name in failing else "passed"), name
    if failing:
        assert done.returncode == 1, done.stderr[-2000:]
        assert says in done.stdout
        for name in failing:
            assert f"FAILED {name}:" in done.stdout
            failure = cases[name].find("failure")
            assert failure is not None and failure.text and "what was sent and what came back" in failure.text
        assert "server logs and db files kept in" in done.stdout
    else:
        assert done.returncode == 0, done.stdout[-3000:]
    assert "semantics.book" in cases and "semantics.book" not in failed  # the flaw is all that is wrong


def test_address_skips_what_needs_a_server_of_its_own(tmp_path: Path) -> None:
    junit = tmp_path / "address.xml"
    with ServerProcess("event", log_dir=tmp_path / "server") as server:
        done = conformance(
            "--address", f"{server.host}:{server.port}", "--check", "semantics.*",
            "--check", "lifecycle.sigterm-exits-0", "--junit", str(junit),
        )  # fmt: skip
        assert server.running  # nothing signalled it
    assert done.returncode == 3, done.stdout[-3000:]  # incomplete: not a pass
    assert "INCOMPLETE: 2 of 10 checks did not run" in done.stdout
    assert "2 x needs a server of its own" in done.stdout
    cases = junit_cases(junit)
    for name in ("semantics.sold-out", "lifecycle.sigterm-exits-0"):
        skipped = cases[name].find("skipped")
        assert skipped is not None and "--address" in skipped.attrib["message"]
        assert row(done.stdout, name) == "skipped"
    assert row(done.stdout, "semantics.rebook-idempotent") == "passed"
    assert "0 failed, 2 skipped" in done.stdout


def test_backend_subset_passes_with_junit(tmp_path: Path) -> None:
    junit = tmp_path / "event.xml"
    done = conformance(
        "--backend", "event", "--check", "semantics.*", "--check", "lifecycle.kill-9*", "--junit", str(junit)
    )
    assert done.returncode == 0, done.stdout[-3000:]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.attrib["failures"] == "0" and suite.attrib["skipped"] == "0"
    assert int(suite.attrib["tests"]) == len(junit_cases(junit)) >= 10
    assert "lifecycle.kill-9-keeps-acknowledged" in junit_cases(junit)


def test_nothing_listening_at_the_address_fails_saying_so() -> None:
    with socket.socket() as free:  # a port nothing listens on: bound, never listening
        free.bind(("127.0.0.1", 0))
        done = conformance("--address", f"127.0.0.1:{free.getsockname()[1]}", "--check", "semantics.book")
    assert done.returncode == 1
    assert "Connection refused" in done.stdout and "0 passed, 1 failed" in done.stdout


def test_a_server_that_never_gets_ready_fails_every_check(tmp_path: Path) -> None:
    program = shlex.join([sys.executable, "-c", "import time; time.sleep(30)"])
    done = conformance("--command", f"{program} {{port}}", "--check", "semantics.*", "--ready-timeout", "1")
    assert done.returncode == 1
    assert "not READY within 1 s" in done.stdout
    assert "0 passed" in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give the server"),
        (["--command", "./server --port {nope}"], "unknown placeholder {nope}"),
        (["--command", "./server 'unclosed"], "cannot split"),
        (["--command", "./s", "--address", "127.0.0.1:1"], "not allowed with argument"),
        (["--address", "localhost"], "is not host:port"),
        (["--address", "127.0.0.1:99999"], "not between 1 and 65535"),
        (["--backend", "nginx"], "invalid choice: 'nginx'"),
        (["--backend", "event", "--check", "no-such.*"], "--check 'no-such.*' matches no check"),
        (["--backend", "event", "--timeout", "0"], "must be more than 0 seconds"),
    ],
)
def test_bad_usage_exits_2_naming_it(argv: list[str], message: str) -> None:
    done = conformance(*argv, timeout=60)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr


def test_list_names_every_check() -> None:
    done = conformance("--list", timeout=60)
    assert done.returncode == 0
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert len(names) == len(set(names)) >= 50
    assert {"semantics.rebook-idempotent", "lifecycle.kill-9-keeps-acknowledged"} <= set(names)


def server_template(backend: str, *, db_path: bool = True) -> str:
    """One of seatlab's servers as a plain command template (``--backend`` would declare calibrate)."""
    flags = "--address {address} --port {port} --capacity {capacity} --delay {delay}"
    return f"{shlex.quote(sys.executable)} -m seatlab.server --backend {backend} {flags}" + (
        " --db-path {db_path}" if db_path else ""
    )


def test_a_fixed_answer_server_not_declared_one_fails_the_seat_checks() -> None:
    """Issue 17.2: a server that answers Stats, Cancel and a second Book with a Seat is not a seat
    server. It used to be taken for a calibration target from its answer to Stats and skipped every
    check of the semantics (18 passed, 37 skipped: exit 0)."""
    done = conformance("--command", server_template("calibrate"), "--check", "semantics.*", "-q")
    assert done.returncode == 1, done.stdout[-3000:]
    for name in ("semantics.stats", "semantics.cancel", "semantics.rebook-idempotent"):
        assert row(done.stdout, name) == "failed", name
    assert "FAILED semantics.stats" in done.stdout and "Stats was answered with seat" in done.stdout
    assert "--fixed-answer" in done.stdout  # the report says how to declare one


def test_a_declared_fixed_answer_server_passes_what_applies_and_says_what_it_left_out() -> None:
    done = conformance(
        "--command", server_template("calibrate"), "--fixed-answer", "--check", "semantics.*",
        "--check", "bad-input.frame-too-large", "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert row(done.stdout, "bad-input.frame-too-large") == "passed"
    assert not [line for line in done.stdout.splitlines() if line.startswith("semantics.")]
    assert "9 checks of the seat store not run" in done.stdout
    assert "PASSED: every one of the 1 checks ran and passed" in done.stdout


def test_a_template_without_db_path_is_incomplete_not_a_pass(tmp_path: Path) -> None:
    """The checks that need ``{db_path}`` cannot run: exit 3, the summary counts them and says why."""
    junit = tmp_path / "junit.xml"
    done = conformance(
        "--command", server_template("event", db_path=False), "--check", "semantics.stats",
        "--check", "lifecycle.restart-keeps-bookings-os", "--check", "lifecycle.kill-9-keeps-acknowledged",
        "--junit", str(junit), "-q",
    )  # fmt: skip
    assert done.returncode == 3, done.stdout[-3000:]
    assert "INCOMPLETE: 2 of 3 checks did not run, so this is not a pass" in done.stdout
    assert "2 x the command template has no {db_path}" in done.stdout
    root = ET.parse(junit).getroot()
    verdict = [p.attrib["value"] for p in root.iter("property") if p.attrib["name"] == "verdict"]
    assert verdict == ["incomplete"]
