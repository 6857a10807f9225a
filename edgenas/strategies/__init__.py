"""Search strategies by name. Each maps to a lazily imported runner ``"module:function"``.

Importing a strategy module pulls in its dependencies (pymoo, Ray, ...), so the
registry holds strings and :func:`get_strategy` imports on first use.
"""
from __future__ import annotations

import importlib
from typing import Callable

from ..errors import UnknownNameError

STRATEGIES = {
    "nsga2": "edgenas.strategies.nsga2:run",
    "random": "edgenas.strategies.random_search:run",
}


def get_strategy(name: str) -> Callable:
    """The runner registered as ``name``; :class:`UnknownNameError` lists the known names."""
    if name not in STRATEGIES:
        raise UnknownNameError("strategy", name, STRATEGIES)
    module, func = STRATEGIES[name].split(":")
    return getattr(importlib.import_module(module), func)
