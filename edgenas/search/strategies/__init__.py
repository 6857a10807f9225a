"""Search strategies, looked up by name.

A strategy is a function ``run(request: SearchRequest) -> dict`` living in its
own module, registered here as ``"module:function"`` and imported only when
asked for, so a strategy's heavy imports cost nothing to the others. The
``search`` command builds one :class:`SearchRequest` and hands it over; options
that only one strategy understands travel in ``request.options`` and that
strategy validates them (an option it does not take is a :class:`ConfigError`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

from ...errors import UnknownNameError

__all__ = ["STRATEGIES", "SearchRequest", "EpochReport", "get_strategy", "names"]

STRATEGIES: Dict[str, str] = {
    "dnas": "edgenas.search.strategies.dnas:run",
    "nsga2": "edgenas.search.strategies.nsga2:run",
    "random": "edgenas.search.strategies.random_search:run",
}

# (epoch done, epochs total, metrics of that epoch); drives a progress display.
EpochReport = Callable[[int, int, Mapping[str, float]], None]


@dataclass(frozen=True)
class SearchRequest:
    """What every strategy receives. ``None`` means "the strategy's default"."""

    strategy: str
    out: Path
    space: str = "fbnet-small"
    table: Optional[str] = None
    dataset: Optional[str] = None
    seed: int = 0
    epochs: Optional[int] = None
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: Optional[EpochReport] = field(default=None, compare=False, repr=False)


def names():
    """The registered strategy names, sorted."""
    return sorted(STRATEGIES)


def get_strategy(name: str) -> Callable[[SearchRequest], dict]:
    """The runner registered as ``name``; an unknown name raises :class:`UnknownNameError`."""
    try:
        target = STRATEGIES[name]
    except KeyError:
        raise UnknownNameError("strategy", name, STRATEGIES) from None
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)
