"""The one search contract: every strategy takes a :class:`SearchRequest` and returns a :class:`SearchOutcome`.

A strategy is a :class:`Strategy` subclass registered by name in
:mod:`edgenas.search.strategies`; its options are the fields of its ``Config``
dataclass (the CLI subcommand ``edgenas search NAME`` is built from them, so a new
strategy gets its command line for free). Everything the strategies share is
prepared once by :mod:`edgenas.search.setup` before a strategy runs: the tables
(loaded once, as cost models with their budgets), the accuracy estimator, the
run folder, the seed and the progress callback; and everything they return is
written by :mod:`edgenas.search.result` into the one result file.
"""
from __future__ import annotations

import abc
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..arch.space import SearchSpace
from ..errors import ConfigError
from ..progress import Progress, quiet
from .problem import ObjectiveSpec

__all__ = ["SearchRequest", "SearchOutcome", "Point", "Strategy", "TableRef", "points_of", "config_from", "option"]



@dataclass(frozen=True)
class TableRef:
    """Where a table came from: its name in the search, its file, and a digest of what it contributes."""

    name: str
    path: str
    digest: str


@dataclass(frozen=True)
class SearchRequest:
    """What every strategy receives. ``estimator`` is None for strategies that train their own (DNAS)."""

    space: SearchSpace
    spec: ObjectiveSpec                   # one target per table (a cost model and its budget), extra objectives
    tables: Tuple[TableRef, ...]
    out: Path                             # the run folder, opened and checked by the setup
    config: Any                           # the strategy's own Config
    seed: int = 0
    estimator: Any = None                 # an ErrorEstimator
    dataset: Optional[str] = None
    runner: Any = None                    # where estimates run: in process, or on Ray (edgenas.search.runners)
    ray: Optional[str] = None             # where a strategy that trains in workers trains: a Ray cluster ("local")
    settings: Dict[str, Any] = field(default_factory=dict)  # what the run folder keeps: a rerun must match it
    folder: Any = None                    # the open, locked RunFolder (None in torchrun's other processes)
    progress: Progress = field(default=quiet, compare=False, repr=False)


@dataclass
class Point:
    """One architecture with its (estimated) error and its costs from every table."""

    arch: str
    error: Optional[float]
    costs: Dict[str, float]               # "latency_ms:<table>", memory_bytes, param_bytes, flops
    generation: Optional[int] = None

    def to_json(self, spec: ObjectiveSpec) -> dict:
        return {"arch": self.arch, "error": self.error,
                "accuracy": None if self.error is None else 1.0 - self.error,
                "latency_ms": {t.name: self.costs[t.key] for t in spec.targets},
                **{k: self.costs[k] for k in ("memory_bytes", "param_bytes", "flops")},
                "generation": self.generation}


def points_of(spec: ObjectiveSpec, archs: Sequence[Sequence[int]], errors: Sequence[Optional[float]]) -> List[Point]:
    """Points for ``archs`` (with their estimated errors, or None), costs predicted by every table of ``spec``."""
    a = np.asarray(archs, dtype=np.int64).reshape(-1, spec.space.num_layers)
    costs = spec.costs(a)
    return [Point(spec.space.format(a[i]), None if errors[i] is None else float(errors[i]),
                  {k: float(v[i]) for k, v in costs.items()}) for i in range(len(a))]


@dataclass
class SearchOutcome:
    """What a strategy found: the Pareto set (one point for a strategy that returns one architecture)."""

    front: List[Point]
    evaluated: int                        # distinct architectures the search estimated
    history: List[dict] = field(default_factory=list)    # one row per generation / epoch / iteration
    selected: Optional[str] = None        # the strategy's own pick among ``front``, deployed first
    least_violating: Optional[Point] = None               # when nothing met the budgets
    points: List[Point] = field(default_factory=list)     # everything evaluated, for the plot
    details: Dict[str, Any] = field(default_factory=dict)  # strategy-specific figures for the result file
    sources: Dict[str, Any] = field(default_factory=dict)  # what the strategy made that export may read


class Strategy(abc.ABC):
    """A search strategy. Subclasses set ``name``, ``summary``, ``Config`` and implement :meth:`run`.

    Resume is the same for all: the setup keeps the run folder's settings, a rerun
    of the same command continues from what the strategy journaled there, and a
    rerun with other settings is refused naming them. Settings that do not change
    what a run computes are listed in ``Config.RESUME_NEUTRAL``.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    Config: ClassVar[type]
    uses_estimator: ClassVar[bool] = True   # False: the strategy estimates accuracy itself (DNAS trains a supernet)
    trains_on_ray: ClassVar[bool] = False   # True: it trains networks as Ray tasks with --ray (request.ray)

    @classmethod
    def check(cls, config: Any, space: SearchSpace, spec: ObjectiveSpec) -> None:
        """Refuse settings that need the space or the tables to judge (e.g. a start architecture), before the
        run folder is opened, so that a corrected rerun is not refused as another run. Checks nothing here."""

    @abc.abstractmethod
    def run(self, request: SearchRequest) -> SearchOutcome:
        """Search (or continue the search journaled in ``request.out``) and return what was found."""


def option(default, help: str, choices: Optional[Sequence[str]] = None):
    """A field of a strategy's Config with its help text (and allowed values): what ``edgenas search NAME --help``
    shows for it."""
    meta = {"help": help, **({"choices": tuple(choices)} if choices else {})}
    return field(default=default, metadata=meta)


def config_from(strategy: type, values: Optional[Dict[str, Any]]) -> Any:
    """The strategy's Config from a dict of options (None values mean "default"); an option the strategy does not
    take, or a value out of range, is a :class:`ConfigError` naming it."""
    cfg_type = strategy.Config
    names = [f.name for f in fields(cfg_type)]
    given = {k: v for k, v in (values or {}).items() if v is not None}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ConfigError(f"strategy {strategy.name!r} does not take {', '.join(unknown)}; it takes "
                          f"{', '.join(names) or 'no options'}")
    missing = [f.name for f in fields(cfg_type) if f.default is MISSING and f.default_factory is MISSING
               and f.name not in given]
    if missing:
        raise ConfigError(f"strategy {strategy.name!r} needs {', '.join(missing)}")
    cfg = cfg_type(**given)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg
