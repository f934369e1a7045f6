"""The backends, by name, as import strings (uvicorn ``config.py`` style).

Nothing is imported until a backend is chosen, so ``tpool`` never imports
uvloop. Each target is a ``serve(ctx: ServerContext) -> None`` function that
moves bytes and waits; everything else is ``seatlab.server.lifecycle``'s.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from seatlab.registry import BACKENDS as BACKEND_INFO
from seatlab.registry import PYTHON_BACKENDS

if TYPE_CHECKING:
    from seatlab.server.context import ServerContext

BACKENDS: dict[str, str] = {name: str(BACKEND_INFO[name].serve) for name in PYTHON_BACKENDS}
"""The Python backends' import strings, from the one registry (``seatlab.registry``)."""

Serve = Callable[["ServerContext"], None]


def load_backend(name: str) -> Serve:
    """Import and return the ``serve`` function of backend ``name``."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}") from None
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    serve: Serve = getattr(module, attr)
    return serve
