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

Compaction (Redis' AOF rewrite, ``auto-aof-rewrite-percentage 100``): once the
file has grown past twice its size after the last compaction (or after it was
opened), and past ``compact_min_bytes``, the store asks for it with its live
seats (``due``, then ``compact``, under its lock): they are written to
``<db>.compact`` (header, one line per seat held), that file is fsynced,
renamed over the db file, the directory fsynced, and the journal appends to
the new file from then on. Restart time and memory then follow the seats
held, not the history. Service waits while it runs (the store's lock): the
pause is logged and counted (``compactions``, ``compaction_pause_s``); it
grows with the seats held, about a millisecond per thousand. At every moment
the db file is a whole journal of every change written: the old one until
the rename, the new one after it (a kill -9 inside a compaction leaves at
most a stray ``.compact`` file, which ``open`` deletes and never reads). A
compaction that fails (a full disk) leaves the old file in charge, deletes
its partial file, logs why and is tried again once the file has doubled
again; service goes on.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import threading
import time
from pathlib import Path

from seatlab.modes import Sync
from seatlab.protocol.messages import canonical_uuid

log = logging.getLogger(__name__)

HEADER = "number,uuid"
COMPACT_SUFFIX = ".compact"
"""A compaction writes ``<db>.compact`` next to the db file, then renames it over the db file."""
COMPACT_MIN_BYTES = 4 << 20
"""By default no compaction below 4 MiB of journal (about 90,000 lines): the live state of a small
run is not worth a rewrite; Redis' ``auto-aof-rewrite-min-size`` is 64 MB for the same reason."""
_LINE = re.compile(rb"([0-9]{1,10}),([^,\r\n]*)\r?")  # what record_book and record_cancel write


class DbFileError(Exception):
    """The db file cannot be used; the message names the file and line."""


class DbWriteError(OSError):
    """A change could not be written whole (a full disk): it is not in the file, so it must be undone.

    An ``OSError`` with the failing call's errno; the message names the file.
    """


class Journal:
    """Append-only CSV record of seat changes; see the module docstring."""

    def __init__(
        self, path: Path, fd: int, sync: Sync | str, compact_min_bytes: int = COMPACT_MIN_BYTES
    ) -> None:
        self.path = path
        self.sync = Sync(sync)
        self._fd = fd
        self._size = os.fstat(fd).st_size  # the end of the last whole line
        self.compact_min_bytes = compact_min_bytes
        self._compact_at = max(compact_min_bytes, 2 * self._size)
        self.due = False
        """The file has grown past ``_compact_at``: the store should ``compact`` with its live seats."""
        self.compactions = 0
        self.compaction_pause_s = 0.0  # the total time compactions held the store (and so service)
        self.compaction_pause_max_s = 0.0
        self._torn = False  # bytes past _size that a failed cut left behind
        self._written = 0  # changes written to the OS
        self._durable = 0  # changes known fsynced
        self._syncing = False
        self._cond = threading.Condition(threading.Lock())
        self.fsyncs = 0

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        capacity: int,
        sync: Sync | str = Sync.os,
        compact_min_bytes: int = COMPACT_MIN_BYTES,
    ) -> tuple[Journal, dict[int, str]]:
        """Open or create the db file; return the journal and the seats it holds."""
        sync = Sync(sync)  # a wrong word is a ValueError naming it, before the file is touched
        path = Path(path)
        seats: dict[int, str] = {}
        try:
            if path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            stray = compaction_path(path)
            if stray.exists():  # a compaction that did not finish: the db file is still the whole journal
                log.warning("%s: deleting %s, left by a compaction that did not finish", path, stray.name)
                stray.unlink()
            if path.exists() and path.stat().st_size > 0:
                seats = _replay(path, capacity)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DbFileError(f"{path}: cannot use db file: {exc.strerror or exc}") from exc
        journal = cls(path, fd, sync, compact_min_bytes)
        # against the seats held, not the file: a long journal (one from before compaction, or one
        # whose compaction a crash interrupted) is compacted now, before anything is served
        live = len(HEADER) + 1 + sum(len(str(n)) + len(u) + 2 for n, u in seats.items())
        journal._compact_at = max(compact_min_bytes, 2 * live)
        if journal._size > journal._compact_at:
            journal.compact(seats)
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
        if self._size > self._compact_at:
            self.due = True

    def compact(self, seats: dict[int, str]) -> bool:
        """Rewrite the db file as ``seats`` (the live bookings: every change written so far, applied);
        the caller holds the store's lock. True when the new file is in charge; False when it failed
        and the old file still is (logged; tried again once the file has doubled again)."""
        started = time.perf_counter()
        self.due = False
        before = self._size
        tmp = compaction_path(self.path)
        lines = [HEADER, *(f"{number},{uuid}" for number, uuid in sorted(seats.items()))]
        data = ("\n".join(lines) + "\n").encode("ascii")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        except OSError as exc:
            return self._compaction_failed(f"cannot create {tmp.name}: {exc.strerror or exc}", None)
        try:
            view = memoryview(data)
            while view:  # a short write is continued; a full disk raises
                written = os.write(fd, view)
                if written == 0:
                    raise OSError(errno.EIO, "the write made no progress")
                view = view[written:]
            os.fsync(fd)  # the new file on disk before it takes the old one's name
            os.rename(tmp, self.path)
        except OSError as exc:
            return self._compaction_failed(f"cannot write {tmp.name}: {exc.strerror or exc}", fd)
        try:
            _fsync_directory(self.path.parent)  # the rename itself durable (the old file is gone for good)
        except OSError as exc:
            log.error("%s: compacted, but the directory could not be fsynced: %s", self.path, exc)
        with self._cond:  # no fsync of the old file in flight while the descriptor changes
            while self._syncing:
                self._cond.wait()
            old, self._fd = self._fd, fd
            self._durable = self._written  # the new file holds every change written, fsynced
            self._cond.notify_all()
        os.close(old)
        self._size = len(data)
        self._torn = False
        self._compact_at = max(self.compact_min_bytes, 2 * self._size)
        pause = time.perf_counter() - started
        self.compactions += 1
        self.compaction_pause_s += pause
        self.compaction_pause_max_s = max(self.compaction_pause_max_s, pause)
        log.info(
            "%s: compacted %d bytes of journal to %d (%d seats held) in %.1f ms",
            self.path, before, self._size, len(seats), pause * 1000,
        )  # fmt: skip
        return True

    def _compaction_failed(self, why: str, fd: int | None) -> bool:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(OSError):
            compaction_path(self.path).unlink()
        self._compact_at = 2 * self._size  # not again on every write: once the file has doubled again
        log.warning("%s: compaction failed (%s); the db file stays as it is, service goes on", self.path, why)
        return False

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
        if self.compactions:
            log.info(
                "%s: %d compactions paused service %.1f ms in all, %.1f ms at most",
                self.path, self.compactions, self.compaction_pause_s * 1000, self.compaction_pause_max_s * 1000,
            )  # fmt: skip
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1


def compaction_path(path: Path) -> Path:
    """Where a compaction of the db file ``path`` writes before it renames: ``<db>.compact``."""
    return path.with_name(path.name + COMPACT_SUFFIX)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
