"""Driver for the cross-host audit test, run on host 0: a lying server here, one load process on each of
two other hosts, through ``run_load`` and ``RemoteLoad``. Prints the outcome as one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from seatlab.client import AuditError, LoadSpec, run_load
from seatlab.cluster.remote import remote_load

address, ray_address = sys.argv[1], sys.argv[2]
server = subprocess.Popen(
    [sys.executable, str(Path(__file__).with_name("one_seat_server.py")), address],
    stdout=subprocess.PIPE,
    text=True,
)
try:
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[2])
    out = Path(tempfile.mkdtemp())
    spec = LoadSpec(address=address, port=port, clients=2, diversity=2, mode="duration", warmup_s=0.2,
                    duration_s=0.5, out_dir=out, timeout_s=10)  # fmt: skip
    try:
        run_load(spec, remote_load(ray_address, 2))
        print(json.dumps({"audit": "passed"}))
    except AuditError as exc:
        summary = json.loads((out / "summary.json").read_text())
        print(json.dumps({"audit": "failed", "message": str(exc), "load_hosts": summary["load_hosts"]}))
finally:
    server.kill()
    server.wait()
