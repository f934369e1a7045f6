"""The run's choices that every part names (load generator, runner, server, db file), defined once.

They are ``StrEnum``s: a member compares equal to its text (``Sync.os == "os"``),
so command lines, JSON files and Hydra configs carry the plain words.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How a load run ends: when the seats are sold out, or after a fixed window."""

    sellout = "sellout"
    duration = "duration"


class Schedule(StrEnum):
    """When an open loop sends: evenly spaced, or as a Poisson process."""

    fixed = "fixed"
    poisson = "poisson"


class Connect(StrEnum):
    """One connection per client for the whole run, or a new one per booking."""

    persistent = "persistent"
    per_request = "per-request"


class Sync(StrEnum):
    """When a db write counts as done: written to the OS, or also fsynced (group-committed)."""

    os = "os"
    fsync = "fsync"


def words(choice: type[StrEnum]) -> tuple[str, ...]:
    """The accepted texts of ``choice``, in definition order (for messages and argparse)."""
    return tuple(member.value for member in choice)


class WorkKind(StrEnum):
    """What a request's CPU work is: pure Python that holds the GIL, or C code that releases it."""

    python = "python"
    released = "released"


class Offload(StrEnum):
    """Where a loop backend does a request's CPU work: on its loop, or in a thread (``to_thread``)."""

    none = "none"
    thread = "thread"
