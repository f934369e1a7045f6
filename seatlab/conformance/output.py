"""The suite's results for people (a table, and for each failure what was sent and what came back) and CI (JUnit XML).

The JUnit file follows the schema CI systems read (Jenkins, GitLab,
GitHub's test reporters): one ``<testsuite>`` named ``seatlab.conformance``,
one ``<testcase>`` per check with ``classname`` its group and ``name`` the
check's full name; a failed check holds ``<failure>`` with the reason and
the transcript, a skipped one ``<skipped>`` with why.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from seatlab.conformance.suite import Outcome, Status, SuiteResult, Verdict

_NAME_WIDTH = 48
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_text(text: str) -> str:
    """``text`` without the control characters XML 1.0 cannot hold (they show as ``?``)."""
    return _XML_UNSAFE.sub("?", text)


def outcome_line(outcome: Outcome) -> str:
    """One table row: name, status, seconds, and for a skip its reason."""
    row = f"{outcome.check.name:<{_NAME_WIDTH}} {outcome.status.value:<8} {outcome.seconds:6.2f} s"
    if outcome.status == Status.skipped:
        row += f"  ({outcome.reason})"
    return row


def failure_text(outcome: Outcome) -> str:
    """Why a check failed, and the exchange that shows it."""
    lines = [f"FAILED {outcome.check.name}: {outcome.check.doc}", f"  {outcome.reason}"]
    if outcome.transcript:
        lines.append("  what was sent and what came back:")
        lines += [f"    {line}" for line in outcome.transcript]
    if outcome.logs:
        lines.append(f"  server logs: {outcome.logs}")
    return "\n".join(lines)


def summary_line(result: SuiteResult) -> str:
    """The counts, then the verdict: a result with checks that did not run is incomplete, not a pass."""
    total = len(result.outcomes)
    skipped = result.count(Status.skipped)
    lines = [
        f"{result.count(Status.passed)} passed, {result.count(Status.failed)} failed, "
        f"{skipped} skipped, of {total} checks in {result.seconds:.1f} s"
    ]
    if result.not_applicable:
        lines.append(
            f"({len(result.not_applicable)} checks of the seat store not run: they do not apply to a server "
            "declared fixed-answer with --fixed-answer)"
        )
    if skipped:
        lines.append("checks that did not run, and why:")
        lines += [f"  {n} x {reason}" for reason, n in result.skip_reasons().items()]
    verdict = result.verdict
    if verdict == Verdict.passed:
        lines.append(f"PASSED: every one of the {total} checks ran and passed")
    elif verdict == Verdict.failed:
        lines.append(f"FAILED: {result.count(Status.failed)} of {total} checks failed")
    else:
        lines.append(f"INCOMPLETE: {skipped} of {total} checks did not run, so this is not a pass")
    return "\n".join(lines)


def text_report(result: SuiteResult) -> str:
    """The whole report: header, the table, each failure in full, the counts."""
    lines = [f"seatlab conformance: {result.target}", f"server kind: {result.kind}", ""]
    lines.append(f"{'check':<{_NAME_WIDTH}} {'result':<8} {'time':>8}")
    lines += [outcome_line(o) for o in result.outcomes]
    failed = [o for o in result.outcomes if o.status == Status.failed]
    if failed:
        lines.append("")
        lines += [failure_text(o) + "\n" for o in failed]
    lines.append(summary_line(result))
    return "\n".join(lines)


def junit_xml(result: SuiteResult) -> ET.ElementTree[ET.Element]:
    """The results as a JUnit XML tree."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="seatlab.conformance",
        tests=str(len(result.outcomes)),
        failures=str(result.count(Status.failed)),
        errors="0",
        skipped=str(result.count(Status.skipped)),
        time=f"{result.seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="target", value=result.target)
    ET.SubElement(properties, "property", name="server_kind", value=result.kind)
    ET.SubElement(properties, "property", name="verdict", value=result.verdict.value)
    for outcome in result.outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"seatlab.conformance.{outcome.check.group}",
            name=outcome.check.name,
            time=f"{outcome.seconds:.3f}",
        )
        if outcome.status == Status.failed:
            failure = ET.SubElement(
                case,
                "failure",
                message=_xml_text((outcome.reason.splitlines() or [""])[0][:500]),
                type="CheckFailed",
            )
            failure.text = _xml_text(failure_text(outcome))
        elif outcome.status == Status.skipped:
            ET.SubElement(case, "skipped", message=_xml_text(outcome.reason))
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(result: SuiteResult, path: Path) -> None:
    """Write the JUnit XML file (its folder created if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(result).write(path, encoding="utf-8", xml_declaration=True)
