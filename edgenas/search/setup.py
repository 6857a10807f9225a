"""From user options to a running search: tables, budgets, estimator, config hash, store, runner, outputs.

Everything that can be refused (an unknown table, a budget no architecture
meets, a missing supernet, Ray unavailable, a journal from another config or a
corrupt one) is refused here before anything is written.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..tables.cost import CostModel
from ..train.data import load_images, make_splits
from ..errors import EdgeNASError, RunError
from .estimators import ErrorEstimator, SupernetEstimator, SyntheticOracle
from ..fileio import check_writable
from .runners import make_runner
from .runstore import open_store
from .problem import EXTRA_OBJECTIVES, ObjectiveSpec, Target, check_budgets
from .report import write_outputs
from .run import GenerationProgress, SearchResult, run_search
from ..arch.space import SearchSpace
from ..train.supernet_io import load_supernet_run
from ..tables.table import LatencyTable

__all__ = ["SearchOptions", "execute", "run_strategy", "build_spec", "table_digest"]

JOURNAL = "journal.sqlite"


@dataclass
class SearchOptions:
    """Options of ``edgenas search`` (see the CLI for their meaning)."""

    tables: Sequence[str]
    out: Optional[str] = None
    max_latency_ms: Sequence[float] = ()
    max_memory_bytes: Optional[float] = None
    objectives: Sequence[str] = ()            # extra objectives: memory, params, flops
    other_tables: str = "objective"           # latency of tables after the first: objective | constraint
    supernet: Optional[str] = None
    oracle: bool = False
    dataset: Optional[str] = None
    bn_batches: int = 4
    eval_batches: Optional[int] = None
    batch_size: int = 256
    threads: Optional[int] = None             # torch threads of the supernet estimator (default: torch's)
    pop: int = 64
    gens: int = 30
    seed: int = 0
    resume: bool = False
    ray: Optional[str] = None
    plot: bool = True
    extra_config: dict = field(default_factory=dict)


def table_digest(cost: CostModel) -> str:
    """Hash of what a table contributes to a search (its cost matrices and calibration), not of its file."""
    h = hashlib.sha256()
    for m in sorted(cost.matrix):
        h.update(np.ascontiguousarray(cost.matrix[m]).tobytes())
    h.update(repr(sorted(cost.fixed.items())).encode())
    h.update(repr(cost.calibration.coef if cost.calibration else None).encode())
    return h.hexdigest()[:16]


def _names(paths: Sequence[str]) -> List[str]:
    names: List[str] = []
    for p in paths:
        base = Path(p).name.removesuffix(".json")
        name, i = base, 2
        while name in names:
            name, i = f"{base}.{i}", i + 1
        names.append(name)
    return names


def build_spec(space: SearchSpace, opts: SearchOptions) -> ObjectiveSpec:
    """Targets from the tables (each checked against the space) with their budgets and roles."""
    if not opts.tables:
        raise EdgeNASError("give at least one latency table (--table)")
    budgets = list(opts.max_latency_ms)
    if len(budgets) not in (0, 1, len(opts.tables)):
        raise EdgeNASError(f"{len(budgets)} latency budgets for {len(opts.tables)} tables: give one budget for "
                           f"every table, or one per table in --table order")
    if len(budgets) == 1:
        budgets = budgets * len(opts.tables)
    if opts.other_tables not in ("objective", "constraint"):
        raise EdgeNASError(f"--other-tables must be objective or constraint, not {opts.other_tables!r}")
    unknown = [o for o in opts.objectives if o not in EXTRA_OBJECTIVES]
    if unknown:
        raise EdgeNASError(f"unknown objective {unknown[0]!r}; known extra objectives: {', '.join(EXTRA_OBJECTIVES)}")
    targets = []
    for i, (path, name) in enumerate(zip(opts.tables, _names(opts.tables))):
        cost = CostModel(space, LatencyTable.load(path, space=space))
        targets.append(Target(name, cost, budgets[i] if budgets else None,
                              objective=(i == 0 or opts.other_tables == "objective")))
    return ObjectiveSpec(targets, tuple(dict.fromkeys(opts.objectives)), opts.max_memory_bytes)


def _table_space(opts: SearchOptions) -> SearchSpace:
    if not opts.tables:
        raise EdgeNASError("give at least one latency table (--table)")
    first = LatencyTable.load(opts.tables[0])
    return SearchSpace.from_dict(first.space_name, first.header["space"]["declaration"])


def _estimator(run, space: SearchSpace, spec: ObjectiveSpec, opts: SearchOptions) -> ErrorEstimator:
    if opts.oracle:
        return SyntheticOracle(space, spec.targets[0].cost.matrix["flops"], seed=opts.seed)
    dataset = opts.dataset or run.dataset
    if not dataset:
        raise RunError(f"supernet run {run.path} does not say which dataset trained it; pass --dataset")
    splits = make_splits(load_images(dataset), seed=run.split_seed)
    identity = {"supernet": str(run.path), "checkpoint": run.digest, "dataset": dataset,
                "split_seed": run.split_seed, "mode": run.config.get("mode", run.config.get("strategy"))}
    return SupernetEstimator(run.supernet, splits, bn_batches=opts.bn_batches, batch_size=opts.batch_size,
                             eval_batches=opts.eval_batches, identity=identity,
                             threads=opts.threads)


def execute(strategy: str, opts: SearchOptions, progress: Optional[GenerationProgress] = None) -> SearchResult:
    """Check everything, open (or resume) the run at ``opts.out``, search, and write the outputs."""
    if opts.supernet is None and not opts.oracle:
        raise EdgeNASError("say how to estimate accuracy: --supernet runs/X (a trained supernet; make one with "
                           "'edgenas supernet train') or --oracle (synthetic, for benchmarking the search)")
    if opts.supernet and opts.oracle:
        raise EdgeNASError("give --supernet or --oracle, not both")
    if opts.pop < 2 or opts.gens < 1:
        raise EdgeNASError("--pop must be at least 2 and --gens at least 1")
    run = load_supernet_run(opts.supernet) if opts.supernet else None
    space = run.space if run else _table_space(opts)
    spec = build_spec(space, opts)
    check_budgets(spec)
    estimator = _estimator(run, space, spec, opts)
    config = {"strategy": strategy, "space": {"name": space.name, "fingerprint": space.fingerprint},
              "tables": [{"name": t.name, "digest": table_digest(t.cost), "objective": t.objective,
                          "max_latency_ms": t.max_latency_ms} for t in spec.targets],
              "objectives": spec.objectives, "max_memory_bytes": opts.max_memory_bytes,
              "estimator": estimator.describe(), "pop": opts.pop, "seed": opts.seed, **opts.extra_config}
    journal = None
    if opts.out is not None:
        out = Path(opts.out)
        check_writable(out / JOURNAL)
        journal = out / JOURNAL
        if not opts.resume and journal.exists():
            raise RunError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    runner = make_runner(opts.ray)
    try:
        store = open_store(journal, config, opts.resume)
        try:
            result = run_search(spec, estimator, store, runner, strategy=strategy, pop=opts.pop, gens=opts.gens,
                                seed=opts.seed, progress=progress)
            if opts.out is not None:
                sources = {"tables": [str(Path(t).resolve()) for t in opts.tables],
                           "supernet": str(Path(opts.supernet).resolve()) if opts.supernet else None,
                           "dataset": (opts.dataset or run.dataset) if run else opts.dataset,
                           "split_seed": run.split_seed if run else 0}
                write_outputs(Path(opts.out), spec, result, store.records(), config, plot=opts.plot,
                              sources=sources)
        finally:
            store.close()
    finally:
        runner.close()
    return result


def _from_request(request) -> SearchOptions:
    """Options from a generic strategy request (``strategy, out, table, dataset, seed, options``).

    The generic ``search`` command of the strategy registry passes one table and
    common fields; options only this strategy takes (``tables``, ``pop``,
    ``gens``, ``supernet``, budgets, ...) travel in ``request.options``.
    """
    extra = dict(getattr(request, "options", {}) or {})
    known = set(SearchOptions.__dataclass_fields__)
    unknown = sorted(k for k, v in extra.items() if k not in known and v is not None)
    if unknown:
        raise EdgeNASError(f"strategy {request.strategy!r} does not take option(s) {', '.join(unknown)}")
    tables = list(extra.pop("tables", None) or [])
    if getattr(request, "table", None):
        tables.insert(0, str(request.table))
    values = {k: v for k, v in extra.items() if v is not None}
    if "dataset" not in values and values.get("supernet") and getattr(request, "dataset", None):
        values["dataset"] = request.dataset
    return SearchOptions(tables=tables, out=str(request.out), seed=int(getattr(request, "seed", 0)), **values)


def run_strategy(strategy: str, request, progress=None):
    """Entry of the registered runners: ``request`` is a :class:`SearchOptions` (returns the
    :class:`SearchResult`) or a generic strategy request (returns the Pareto document as a dict;
    ``progress`` then receives ``(generation, generations, {"evaluations", "hypervolume"})``)."""
    if isinstance(request, SearchOptions):
        return execute(strategy, request, progress)
    opts = _from_request(request)
    report = progress if progress is not None else getattr(request, "progress", None)
    adapt = (lambda g, n, e, hv: report(g, n, {"evaluations": e, "hypervolume": hv})) if report else None
    result = execute(strategy, opts, adapt)
    from .report import front_json
    return front_json(result.spec, result, {"strategy": strategy})
