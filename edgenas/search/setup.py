"""From a strategy name and options to a finished search: everything strategies share is prepared here, once.

Tables are loaded once (cost models with their budgets), the budgets are
checked against what the space can reach, the accuracy estimator is built from
the registry, the run folder is opened with the settings that define the run,
and after the strategy returns, the one result file is written. Everything that
can be refused (an unknown strategy, table or estimator, an option of another
strategy, a budget no architecture meets, a run folder holding another run) is
refused before anything is written.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

import numpy as np

from ..errors import ConfigError
from ..fileio import PathLike
from ..ray_address import check_reachable
from ..runfolder import RunFolder
from ..tables.cost import CostModel
from ..train.data import check_source
from ..tables.table import LatencyTable
from .contract import SearchRequest, TableRef, config_from
from .estimators import EstimatorContext, make_estimator
from .problem import EXTRA_OBJECTIVES, ObjectiveSpec, Target, check_budgets
from .result import write_result
from .runners import make_runner
from .runstore import LOCATION_KEYS
from .strategies import get_strategy

__all__ = ["search", "prepare", "table_digest", "KIND"]

KIND = "search"


def table_digest(cost: CostModel) -> str:
    """Hash of what a table contributes to a search (its cost matrices and calibration), not of its file."""
    h = hashlib.sha256()
    for m in sorted(cost.matrix):
        h.update(np.ascontiguousarray(cost.matrix[m]).tobytes())
    h.update(repr(sorted(cost.fixed.items())).encode())
    h.update(repr(cost.calibration.coef if cost.calibration else None).encode())
    return h.hexdigest()[:16]


def _names(paths: Sequence[PathLike]) -> List[str]:
    names: List[str] = []
    for p in paths:
        base = Path(p).name.removesuffix(".json")
        name, i = base, 2
        while name in names:
            name, i = f"{base}.{i}", i + 1
        names.append(name)
    return names


def _spec(tables: Sequence[PathLike], max_latency_ms: Sequence[float], max_memory_bytes: Optional[float],
          objectives: Sequence[str], other_tables: str):
    """The space, the objective spec (each table loaded once, checked against the first's space) and the refs."""
    if not tables:
        raise ConfigError("give at least one latency table (tables=[...]; see 'edgenas profile')")
    budgets = [float(b) for b in max_latency_ms]
    if len(budgets) not in (0, 1, len(tables)):
        raise ConfigError(f"{len(budgets)} latency budgets for {len(tables)} tables: give one budget for every "
                          f"table, or one per table in table order")
    budgets = budgets * len(tables) if len(budgets) == 1 else budgets
    if any(not np.isfinite(b) or b <= 0 for b in budgets):
        raise ConfigError(f"max_latency_ms must be finite and positive, got {budgets}")
    if max_memory_bytes is not None and (not np.isfinite(max_memory_bytes) or max_memory_bytes <= 0):
        raise ConfigError(f"max_memory_bytes must be finite and positive, got {max_memory_bytes}")
    if other_tables not in ("objective", "constraint"):
        raise ConfigError(f"other_tables must be 'objective' or 'constraint', not {other_tables!r}")
    unknown = [o for o in objectives if o not in EXTRA_OBJECTIVES]
    if unknown:
        raise ConfigError(f"unknown objective {unknown[0]!r}; known extra objectives: {', '.join(EXTRA_OBJECTIVES)}")
    first = LatencyTable.load(tables[0])
    space = first.space()
    targets, refs = [], []
    for i, (path, name) in enumerate(zip(tables, _names(tables))):
        table = first if i == 0 else LatencyTable.load(path, space=space)
        cost = CostModel(space, table)
        targets.append(Target(name, cost, budgets[i] if budgets else None,
                              objective=(i == 0 or other_tables == "objective")))
        refs.append(TableRef(name, str(Path(path).resolve()), table_digest(cost)))
    spec = ObjectiveSpec(targets, tuple(dict.fromkeys(objectives)), max_memory_bytes)
    check_budgets(spec)
    return space, spec, tuple(refs)


def prepare(strategy: str, tables: Sequence[PathLike], out: PathLike, *, config: Optional[Mapping[str, Any]] = None,
            estimator: Optional[str] = None, estimator_options: Optional[Mapping[str, str]] = None,
            max_latency_ms: Sequence[float] = (), max_memory_bytes: Optional[float] = None,
            objectives: Sequence[str] = (), other_tables: str = "objective", dataset: Optional[str] = None,
            seed: int = 0, ray: Optional[str] = None, progress=None) -> SearchRequest:
    """Check everything and open the run folder ``out``; return the request the strategy will run."""
    cls = get_strategy(strategy)
    cfg = config_from(cls, config)
    if dataset is not None:
        check_source(dataset)
    space, spec, refs = _spec(tables, max_latency_ms, max_memory_bytes, objectives, other_tables)
    cls.check(cfg, space, spec)
    est = runner = None
    if cls.uses_estimator:
        if not estimator:
            raise ConfigError(f"strategy {strategy!r} needs an accuracy estimator: estimator='bench' (the "
                              f"benchmark of trained architectures), 'supernet:PATH' (a trained supernet) or "
                              f"'oracle' (synthetic, for benchmarking the search)")
        options = {k: v for k, v in (estimator_options or {}).items() if v is not None}
        est = make_estimator(estimator, EstimatorContext(space, spec, seed, dataset, options))
        runner = make_runner(ray)  # before the folder is opened: an unreachable cluster writes nothing
    elif estimator:
        raise ConfigError(f"strategy {strategy!r} estimates accuracy itself; it takes no estimator")
    elif ray is not None and not cls.trains_on_ray:
        raise ConfigError(f"strategy {strategy!r} has no Ray path; drop ray")
    elif ray is not None:  # it trains on Ray: an unreachable cluster is said before the folder is opened
        check_reachable(ray)
    neutral = set(getattr(cls.Config, "RESUME_NEUTRAL", ()))
    settings = {"strategy": strategy, "space": {"name": space.name, "fingerprint": space.fingerprint},
                "tables": [{"name": t.name, "digest": r.digest, "objective": t.objective,
                            "max_latency_ms": t.max_latency_ms} for t, r in zip(spec.targets, refs)],
                "objectives": list(spec.extra), "max_memory_bytes": max_memory_bytes,
                "estimator": est.describe() if est is not None else None, "dataset": dataset, "seed": seed,
                **{k: v for k, v in asdict(cfg).items() if k not in neutral}}  # the strategy's own options
    out = Path(out)
    folder = None
    if os.environ.get("RANK", "0") == "0":  # under torchrun the main process keeps (and locks) the folder
        try:
            folder = RunFolder.open(out, KIND, settings, ignore=LOCATION_KEYS)
        except BaseException:
            if runner is not None:
                runner.close()
            raise
    return SearchRequest(space=space, spec=spec, tables=refs, out=out, config=cfg, seed=seed, estimator=est,
                         dataset=dataset, runner=runner, ray=ray if cls.trains_on_ray else None, settings=settings,
                         folder=folder,
                         **({"progress": progress} if progress is not None else {}))


def search(strategy: str, tables: Sequence[PathLike], out: PathLike, *, plot: bool = True, **options) -> dict:
    """Run (or continue) the search ``strategy`` into the run folder ``out``; return its result document.

    ``options`` are :func:`prepare`'s: ``config`` (the strategy's own options), ``estimator``
    (``bench``, ``supernet:PATH``, ``oracle``), budgets, objectives, dataset, seed, ray, progress.
    Rerunning the same call continues the run; other settings are refused, naming them.
    """
    request = prepare(strategy, tables, out, **options)
    try:
        outcome = get_strategy(strategy)().run(request)
        if request.folder is None:  # a torchrun process other than the main one: the main one writes
            from .result import result_document

            return result_document(request, outcome, strategy)
        return write_result(request, outcome, strategy, plot=plot)
    finally:
        if request.runner is not None:
            request.runner.close()
        if request.folder is not None:
            request.folder.close()
