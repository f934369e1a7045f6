"""The CSV db file: an append-only journal of seat changes.

How this works: the file starts with the header ``number,uuid``; a booking
appends ``N,uuid`` and a cancellation ``N,`` (empty uuid), so replaying the
lines in order gives the current seats. ``Journal.open`` replays the file,
drops a torn last line (no newline: the process died mid-write) with a
warning and cuts it from the file, and refuses any other malformed line
with a ``DbFileError`` naming the file and line.

Each change is one line written on an ``O_APPEND`` descriptor while the
store holds its lock, so the file order is the order of the changes and the
bytes are in the operating system before the answer is sent (``--sync
os``). With ``--sync fsync``, ``commit()`` makes everything written so far
durable; callers that arrive while an fsync runs wait for the next one and
share it (group commit), so N concurrent bookings cost far fewer than N
fsyncs.

A full disk (or any failing write) must never leave an acknowledged change
out of the file, nor a torn line in its middle (Redis truncates a short AOF
write back the same way). A short ``os.write`` is continued; if the rest
fails, the file is cut back to the end of its last whole line and
``DbWriteError`` is raised, so the store undoes the change and the service
answers ``INTERNAL``. The journal knows where that end is (``_size``: it is
the only writer, under the store's lock); if even the cut fails, every later
write first tries it again, so nothing is ever appended to a torn line.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
from pathlib import Path

from seatlab.modes import Sync
from seatlab.protocol.messages import canonical_uuid

log = logging.getLogger(__name__)

HEADER = "number,uuid"
_LINE = re.compile(rb"([0-9]{1,10}),([^,\r\n]*)\r?")  # what record_book and record_cancel write


class DbFileError(Exception):
    """The db file cannot be used; the message names the file and line."""


class DbWriteError(OSError):
    """A change could not be written whole (a full disk): it is not in the file, so it must be undone.

    An ``OSError`` with the failing call's errno; the message names the file.
    """


class Journal:
    """Append-only CSV record of seat changes; see the module docstring."""

    def __init__(self, path: Path, fd: int, sync: Sync | str) -> None:
        self.path = path
        self.sync = Sync(sync)
        self._fd = fd
        self._size = os.fstat(fd).st_size  # the end of the last whole line
        self._torn = False  # bytes past _size that a failed cut left behind
        self._written = 0  # changes written to the OS
        self._durable = 0  # changes known fsynced
        self._syncing = False
        self._cond = threading.Condition(threading.Lock())
        self.fsyncs = 0

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], capacity: int, sync: Sync | str = Sync.os
    ) -> tuple[Journal, dict[int, str]]:
        """Open or create the db file; return the journal and the seats it holds."""
        sync = Sync(sync)  # a wrong word is a ValueError naming it, before the file is touched
        path = Path(path)
        seats: dict[int, str] = {}
        try:
            if path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and path.stat().st_size > 0:
                seats = _replay(path, capacity)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DbFileError(f"{path}: cannot use db file: {exc.strerror or exc}") from exc
        journal = cls(path, fd, sync)
        if journal._size == 0:
            try:
                journal._append((HEADER + "\n").encode())
            except DbWriteError as exc:  # cut back to empty: the next start writes the header again
                journal.close()
                raise DbFileError(f"{path}: cannot write the db file's header: {exc.strerror}") from exc
        return journal, seats

    def record_book(self, number: int, uuid: str) -> None:
        """Append a booking; the caller holds the store's lock. ``DbWriteError``: it is not in the file."""
        self._append(f"{number},{uuid}\n".encode("ascii"))
        self._written += 1

    def record_cancel(self, number: int) -> None:
        """Append a cancellation; the caller holds the store's lock. ``DbWriteError``: it is not in the file."""
        self._append(f"{number},\n".encode("ascii"))
        self._written += 1

    def _append(self, line: bytes) -> None:
        """Write ``line`` whole, or leave the file as it was and raise ``DbWriteError``."""
        if self._torn:
            self._cut_back()
        done = 0
        try:
            while done < len(line):  # a short write is continued; on a full disk the rest fails
                written = os.write(self._fd, line[done:] if done else line)
                if written == 0:
                    raise OSError(errno.EIO, "the write made no progress")
                done += written
        except OSError as exc:
            if done:
                self._torn = True
                self._cut_back()
            raise DbWriteError(
                exc.errno, f"{self.path}: cannot write to the db file: {exc.strerror or exc}"
            ) from exc
        self._size += done

    def _cut_back(self) -> None:
        """Truncate the file to its last whole line; ``DbWriteError`` if even that fails."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as exc:
            log.error("%s: cannot cut a torn line off the db file: %s", self.path, exc)
            raise DbWriteError(
                exc.errno, f"{self.path}: a torn line could not be cut off the db file: {exc.strerror}"
            ) from exc
        self._torn = False
        log.warning("%s: a write failed part way; cut the db file back to its last whole line", self.path)

    def commit(self) -> None:
        """With ``sync='fsync'``, return once every change written so far is fsynced."""
        if self.sync is not Sync.fsync:
            return
        with self._cond:
            target = self._written
            while self._durable < target:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                upto = self._written
                self._cond.release()
                try:
                    os.fsync(self._fd)
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self._durable = max(self._durable, upto)
                self.fsyncs += 1

    def close(self) -> None:
        """Flush to disk and close the file."""
        if self._fd < 0:
            return
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1


def _replay(path: Path, capacity: int) -> dict[int, str]:
    """Read the journal into {number: uuid}; cut a torn last line from the file."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" unless the last write was torn
    if tail:
        log.warning(
            "%s: line %d has no newline (a torn write); dropping it: %r",
            path,
            len(lines) + 1,
            tail[:80],
        )
        with open(path, "r+b") as f:
            f.truncate(len(data) - len(tail))
            f.flush()
            os.fsync(f.fileno())
    if not lines:
        return {}
    if lines[0].strip() != HEADER.encode():
        raise DbFileError(f"{path}: line 1: expected the header {HEADER!r}, found {lines[0][:80]!r}")
    seats: dict[int, str] = {}
    holders: dict[str, int] = {}
    for lineno, raw in enumerate(lines[1:], start=2):
        match = _LINE.fullmatch(raw)
        if match is None:
            raise DbFileError(f"{path}: line {lineno}: not 'number,uuid': {raw[:80]!r}")
        number = int(match[1])
        uuid_text = match[2].decode("ascii")
        if not 1 <= number <= capacity:
            raise DbFileError(
                f"{path}: line {lineno}: seat number {number} is outside 1..{capacity} (--capacity {capacity})"
            )
        if uuid_text == "":
            old = seats.pop(number, None)
            if old is not None:
                del holders[old]
            continue
        uuid = canonical_uuid(uuid_text)
        if uuid is None:
            raise DbFileError(f"{path}: line {lineno}: {uuid_text[:80]!r} is not a canonical uuid")
        if number in seats or uuid in holders:
            raise DbFileError(
                f"{path}: line {lineno}: seat {number} / uuid {uuid} is already booked (double booking)"
            )
        seats[number] = uuid
        holders[uuid] = number
    return seats
