"""External servers: any program that speaks the wire protocol, started from a command template.

A backend whose config has a ``command`` (``conf/backend/external.yaml``
takes the ``server_command`` key; ``conf/backend/cserver.yaml`` is a second
entry with its own) is started from that template instead of ``python -m
seatlab.server``. The template is split like a shell line (``shlex``, no shell
runs: wrap it in ``sh -c 'exec ...'`` yourself if you need one) and each word
filled in from the point's ``ServerConfig``: ``{port} {capacity} {delay}
{threads} {workers} {db_path} {max_backlog} {address} {sync} {work} {work_kind}``. A template
without ``{workers}`` runs one process: the runner refuses ``workers`` other than 1 for it. The template is
checked while the config is validated, before any server starts: an unknown
placeholder names itself (exit 2). The program must print ``READY <host>
<port>`` as its first stdout line (``/work/shared/spec/protocol.md``) and
exit 0 on SIGTERM; from then on it is a backend like the others
(``ServerProcess``: logs, sampling, SIGTERM, kill, reap; the audit).

A template whose program is ``native:NAME`` (``conf/backend/native_*.yaml``)
names one of seatlab's own C++ servers (``seatlab.native``): the check makes
sure it exists, and warns once on stderr when it is not built and cannot be
(what is missing and the apt-get line), so a run that has Python backends too
(``+experiment=seed``) still measures them; filling it in builds it on first
use (once, cached outside the source tree) and puts the binary's path in its
place, or fails that point with the same message.
"""

from __future__ import annotations

import shlex
import string
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config check runs without importing the server package
    from seatlab.server.config import ServerConfig

PLACEHOLDERS: dict[str, Callable[[ServerConfig], str]] = {
    "port": lambda c: str(c.port),
    "capacity": lambda c: str(c.capacity),
    "delay": lambda c: f"{c.delay_ms:g}",  # ms, as the built-in servers' --delay
    "work": lambda c: f"{c.work_ms:g}",  # ms of CPU per request, as their --work
    "work_kind": lambda c: str(c.work_kind),
    "threads": lambda c: str(c.threads),
    "workers": lambda c: str(c.workers),  # processes of the server, as the built-in servers' --workers
    "db_path": lambda c: "" if c.db_path is None else str(c.db_path),
    "max_backlog": lambda c: str(c.max_backlog),
    "address": lambda c: c.address,
    "sync": lambda c: str(c.sync),
}
"""Every placeholder a command template may use, and how a point's ``ServerConfig`` fills it in."""


class TemplateError(ValueError):
    """A command template that cannot run: unknown placeholder, bad braces or quotes, no program."""


def check_template(template: str) -> list[str]:
    """The template's words, unfilled; raises ``TemplateError`` saying what is wrong with it."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise TemplateError(f"cannot split {template!r} into words: {exc}") from None
    if not words:
        raise TemplateError("the command template is empty")
    for word in words:
        try:
            parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(word) if f is not None]
        except ValueError as exc:
            raise TemplateError(
                f"bad braces in {word!r} ({exc}); write {{{{ and }}}} for literal braces"
            ) from None
        for field, spec, conversion in parsed:
            if spec or conversion:
                raise TemplateError(
                    f"placeholder {{{field}}} in {word!r}: no format spec or conversion, plain {{name}}"
                )
            if field not in PLACEHOLDERS:
                raise TemplateError(
                    f"unknown placeholder {{{field}}} in {template!r}; known: "
                    + ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
                )
    if words[0].startswith(NATIVE_PREFIX):
        _check_native(words[0].removeprefix(NATIVE_PREFIX))
    return words


def placeholders(template: str) -> set[str]:
    """The placeholders a valid template names (``{"port", "workers"}``)."""
    return {
        field
        for word in check_template(template)
        for _, field, _, _ in string.Formatter().parse(word)
        if field is not None
    }


NATIVE_PREFIX = "native:"
"""A template's program ``native:NAME``: seatlab's C++ server ``native_NAME`` (``seatlab.native``)."""


def _check_native(name: str) -> None:
    from seatlab import native

    if name not in native.SERVERS:
        raise TemplateError(f"no native server {name!r} (native:{name}); known: {', '.join(native.SERVERS)}")
    try:
        native.check_toolchain()
    except native.NativeBuildError as exc:
        if name not in _warned:
            _warned.add(name)
            print(f"seatlab: warning: native:{name}: {exc}; its points will fail", file=sys.stderr)


_warned: set[str] = set()


def command_argv(template: str, config: ServerConfig) -> list[str]:
    """The argv that starts the external server for one point (the template checked and filled in)."""
    values = {name: fill(config) for name, fill in PLACEHOLDERS.items()}
    argv = [word.format(**values) for word in check_template(template)]
    if argv[0].startswith(NATIVE_PREFIX):  # built here, on first use, not when the config is checked
        from seatlab import native

        argv[0] = str(native.binary(argv[0].removeprefix(NATIVE_PREFIX)))
    return argv
