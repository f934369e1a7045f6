"""Issue 13.1 without root: the same short write, made by a file size limit instead of a full disk.

Under ``RLIMIT_FSIZE`` the kernel writes the part of a line that fits below
the limit and fails the rest with EFBIG (Python ignores SIGXFSZ), the same
short write a full disk makes. A child process journals bookings under the
limit, lifts it, and books on; the db must hold exactly what was
acknowledged. This runs where the tmpfs tests cannot mount.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seatlab.modes import Sync
from seatlab.seats.journal import Journal

CAPACITY = 5000
LIMIT_BYTES = 1000  # about two dozen lines

CHILD = """
import errno, json, resource, sys, uuid
from seatlab.seats.journal import DbWriteError, Journal
from seatlab.seats.store import SeatStore

path, sync, limit, capacity = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
journal, seats = Journal.open(path, capacity, sync)
store = SeatStore(capacity, journal, seats)
held, refusals = {}, []

def book(i):
    u = str(uuid.UUID(int=i))
    try:
        held[u] = store.book(u)
        store.commit()
    except DbWriteError as exc:
        refusals.append([exc.errno == errno.EFBIG, str(exc)])

resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
i = 0
while len(refusals) < 3 and i < 1000:
    i += 1
    book(i)
at_limit = len(held)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
for j in range(1, 11):
    book(i + j)
store.close()
print(json.dumps({"held": held, "at_limit": at_limit, "refusals": refusals, "seats": store.seats()}))
"""


@pytest.mark.parametrize("sync", list(Sync))
def test_a_short_write_at_the_file_size_limit_is_undone_and_cut(tmp_path: Path, sync: Sync) -> None:
    path = tmp_path / "db.csv"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), sync, str(LIMIT_BYTES), str(CAPACITY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    held = {number: uuid for uuid, number in report["held"].items()}

    assert len(report["refusals"]) == 3, "the file size limit never refused a write"
    assert path.read_bytes().endswith(b"\n"), f"a torn line is left in the db: {path.read_bytes()[-60:]!r}"
    journal, replayed = Journal.open(path, CAPACITY)
    journal.close()
    assert replayed == held
    assert {int(n): u for n, u in report["seats"].items()} == held, "memory holds a refused booking"
    assert 10 < report["at_limit"] < LIMIT_BYTES // 38
    assert len(held) == report["at_limit"] + 10, "service did not resume once the limit was lifted"
    assert all(is_efbig and str(path) in message for is_efbig, message in report["refusals"])
