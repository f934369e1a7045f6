"""Command-line rewriting that lets one run sweep client counts (and other keys) without --multirun.

Plain Hydra refuses ``clients=range(10,200,10)`` in a single run ("Ambiguous
value for argument ... requires --multirun"). In seatlab the swept values are
the points *inside* a run, so before Hydra sees the command line:

- ``clients=range(a,b,s)`` / ``clients=a,b,c`` become ``clients=[...]``, with
  or without ``-m`` (under ``-m`` every job runs the whole client list);
- without ``-m``, ``backend=a,b`` becomes ``backend=[a,b]`` (both backends in
  one run), and ``rate``, ``delay``, ``threads``, ``workers`` or ``capacity`` given
  as a range or a comma list become lists (one point per value); under ``-m`` they
  stay Hydra sweeps, one job per value;
- a command template (``server_command=...``, ``backend.NAME.command=...``)
  is quoted for Hydra, so ``server_command='./srv --port {port}'`` as a shell
  passes it (braces, spaces, quotes inside) is the string, not a dict.

Why argv, and Hydra's override parser, rather than a public hook: in a
single run Hydra rejects any sweep override while it composes, before any
resolver sees a value (a resolver only ever receives the composed value, and
``range(...)`` never becomes one) and without calling a sweeper (sweepers run
only under ``-m``). The parser is ``OverridesParser``, the object Hydra's own
sweepers and the sweeper plugins (optuna, ax, nevergrad) parse their
arguments with, so ranges mean exactly what they mean to Hydra; it is not
promised stable across minor versions, which is why hydra-core stays pinned
to 1.3.x.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

MULTIRUN_FLAGS = ("-m", "--multirun")
_LIST_KEYS = ("clients",)  # always a per-run list
_SINGLE_RUN_LIST_KEYS = (
    "backend",
    "rate",
    "delay",
    "threads",
    "workers",
    "capacity",
)  # a per-run list only without -m


class OverrideError(ValueError):
    """An override that cannot be turned into a list; the message names it."""


def is_multirun(argv: Sequence[str]) -> bool:
    return any(arg in MULTIRUN_FLAGS for arg in argv)


def rewrite_overrides(argv: Sequence[str]) -> list[str]:
    """Return argv with per-run sweeps turned into lists (see the module docstring)."""
    multirun = is_multirun(argv)
    keys = _LIST_KEYS if multirun else _LIST_KEYS + _SINGLE_RUN_LIST_KEYS
    parser = OverridesParser.create()
    out = []
    for arg in argv:
        key = arg.split("=", 1)[0]
        if "=" in arg and is_command_key(key):
            out.append(_quoted(arg))
        elif "=" in arg and not arg.startswith("-") and key in keys:
            out.append(_as_list(parser, arg, key))
        else:
            out.append(arg)
    return out


def is_command_key(key: str) -> bool:
    """``server_command`` or ``backend.NAME.command`` (``+`` / ``++`` prefixed too)."""
    parts = key.lstrip("+").split(".")
    return parts == ["server_command"] or (
        len(parts) == 3 and parts[0] == "backend" and parts[2] == "command"
    )


def _quoted(arg: str) -> str:
    key, value = arg.split("=", 1)
    if value[:1] in ("'", '"') or value == "null":  # already quoted for Hydra
        return arg
    return f"{key}='{value.replace(chr(39), chr(92) + chr(39))}'"


def _as_list(parser: OverridesParser, arg: str, key: str) -> str:
    try:
        override = parser.parse_override(arg)
    except HydraException as exc:
        raise OverrideError(f"{key}: cannot parse override {arg!r}: {exc}") from exc
    if not override.is_sweep_override():
        return arg  # clients=50, clients=[1,10,100], backend=tpool: Hydra takes these as they are
    try:
        values = list(override.sweep_iterator())
    except Exception as exc:  # interval sweeps and globs cannot be listed
        raise OverrideError(f"{key}: {arg!r} is not a list of values: {exc}") from exc
    return f"{key}=[{','.join(str(v) for v in values)}]"
