"""``python -m seatlab.conformance`` against every native seat server: the whole protocol contract."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import SEAT_SERVERS, TEMPLATE

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("seatlab.conformance") is None,
    reason="seatlab.conformance is not in this tree yet (issue 10, item 2)",
)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", SEAT_SERVERS)
def test_native_server_passes_conformance(tmp_path: Path, native_build: Path, name: str) -> None:
    binary = native_build / f"native_{name}"
    command = TEMPLATE.format(name=name).replace(f"native:{name}", str(binary), 1)
    junit = tmp_path / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "seatlab.conformance", "--command", command, "--junit", str(junit), "-q"],
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    suite = ET.parse(junit).getroot()
    cases = suite.iter("testcase")
    assert sum(1 for _ in cases) >= 40  # the whole contract ran, not a subset
