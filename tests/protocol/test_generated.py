"""The committed seat_pb2.py must be what protoc generates from seat.proto today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import seatlab.protocol

PROTO_DIR = Path(seatlab.protocol.__file__).parent


def test_generated_module_is_fresh(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools is a dev extra: pip install -e '.[dev]'")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            str(PROTO_DIR / "seat.proto"),
        ],
        check=True,
    )
    for name in ("seat_pb2.py", "seat_pb2.pyi"):
        fresh = (tmp_path / name).read_text()
        committed = (PROTO_DIR / name).read_text()
        assert committed == fresh, f"{name} is stale: regenerate it (README, 'Regenerating the protocol')"


def test_protobuf_runs_on_upb() -> None:
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() == "upb", "pure-Python protobuf is ~10x slower and distorts measurements"
