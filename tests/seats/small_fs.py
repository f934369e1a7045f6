"""A real small file system for the full-disk tests: a tmpfs mounted by the test, filled on demand.

A module of its own (not conftest) so the tests can import ``SmallDisk`` by a unique name.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

SMALL_FS_BYTES = 16 * 1024  # four pages: the db file's first page, and ballast for the rest


class SmallDisk:
    """A mounted tmpfs of ``SMALL_FS_BYTES`` and a ballast file that fills what is left of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ballast = root / "ballast"

    def fill(self) -> int:
        """Write ballast until the file system says ENOSPC; the bytes written."""
        written = 0
        chunk = b"\0" * 4096
        fd = os.open(self.ballast, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while chunk:
                try:
                    written += os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    chunk = chunk[: len(chunk) // 2]  # down to single bytes: no space at all is left
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        """Give the ballast's space back."""
        self.ballast.unlink(missing_ok=True)


def mount_tmpfs(target: Path) -> str | None:
    """Mount a small tmpfs at ``target``; None, or why it cannot be mounted here."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    mount = shutil.which("mount")
    if mount is None:
        return "no mount command on this machine"
    result = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={SMALL_FS_BYTES},mode=0700", "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return f"cannot mount a tmpfs (no CAP_SYS_ADMIN?): {result.stderr.strip()}"
    return None


def unmount(target: Path) -> None:
    """Unmount ``target``; lazily if a server child still holds a file there, so it is never left mounted."""
    done = subprocess.run(["umount", str(target)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
