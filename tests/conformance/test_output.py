"""The failure report's pieces, without servers: how sent bytes read, and the JUnit file's shape."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from seatlab.conformance import Outcome, Status, SuiteResult, all_checks
from seatlab.conformance.output import text_report, write_junit
from seatlab.conformance.wire import describe_sent, stats_request
from seatlab.protocol.codec import encode_varint, frame
from seatlab.protocol.messages import book_request

U = "00000000-0000-4000-8000-000000000001"


def test_sent_requests_read_as_protobuf_text() -> None:
    assert describe_sent(book_request(3, U)) == f'Request{{id: 3 book {{ uuid: "{U}" }}}}'
    assert describe_sent(stats_request(9)) == "Request{id: 9 stats { }}"


def test_sent_bad_framing_and_garbage_read_as_hex() -> None:
    text = describe_sent(book_request(3, U) + encode_varint(65537))
    assert text.startswith("Request{id: 3") and "not a valid frame" in text and text.endswith("81 80 04")
    assert describe_sent(frame(b"\xff\xff\xff")) == "frame of 3 bytes that is not a Request: ff ff ff"
    assert describe_sent(book_request(1, U)[:10]).startswith("10 bytes of an unfinished frame: ")


def test_many_frames_are_summarised() -> None:
    text = describe_sent(b"".join(book_request(i + 1, U) for i in range(50)))
    assert text.count("Request{") == 3 and "50 frames in all" in text


def _result(tmp_path: Path) -> SuiteResult:
    checks = {c.name: c for c in all_checks()}
    outcomes = [
        Outcome(checks["semantics.book"], Status.passed, 0.01),
        Outcome(
            checks["semantics.rebook-idempotent"], Status.failed, 0.02, "got seat 5, the first got 4",
            ["c1 sent     Request{id: 2 book {}}", "c1 received \x00odd"], "/logs",
        ),
        Outcome(checks["lifecycle.kill-9-keeps-acknowledged"], Status.skipped, 0.0, "--address reaches one"),
    ]  # fmt: skip
    return SuiteResult("a server", "seat store", outcomes, 1.5, tmp_path)


def test_junit_names_each_check_with_its_status(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "junit.xml"
    write_junit(_result(tmp_path), path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["skipped"]) == ("3", "1", "1")
    cases = {c.attrib["name"]: c for c in suite.iter("testcase")}
    assert cases["semantics.rebook-idempotent"].attrib["classname"] == "seatlab.conformance.semantics"
    failure = cases["semantics.rebook-idempotent"].find("failure")
    assert failure is not None and failure.attrib["message"] == "got seat 5, the first got 4"
    assert failure.text is not None and "c1 received ?odd" in failure.text  # no control characters in XML
    skipped = cases["lifecycle.kill-9-keeps-acknowledged"].find("skipped")
    assert skipped is not None and skipped.attrib["message"] == "--address reaches one"
    assert len(cases["semantics.book"]) == 0


def test_text_report_shows_the_failure_with_its_exchange(tmp_path: Path) -> None:
    text = text_report(_result(tmp_path))
    assert "FAILED semantics.rebook-idempotent: " in text and "c1 sent     Request{id: 2" in text
    assert "server logs: /logs" in text
    counts, *_, verdict = text.splitlines()[-4:]
    assert counts.startswith("1 passed, 1 failed, 1 skipped, of 3 checks")
    assert verdict == "FAILED: 1 of 3 checks failed"
