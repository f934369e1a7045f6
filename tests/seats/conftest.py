"""Fixtures of the store tests: a real small file system for the full-disk cases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from small_fs import SmallDisk, mount_tmpfs, unmount


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 16 KiB tmpfs made for this test (skipped with the reason where it cannot mount), unmounted after."""
    target = tmp_path / "small-fs"
    target.mkdir()
    why_not = mount_tmpfs(target)
    if why_not is not None:
        pytest.skip(why_not)
    try:
        yield SmallDisk(target)
    finally:
        unmount(target)
