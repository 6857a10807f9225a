"""Drive a pymoo algorithm over an :class:`ArchitectureProblem`, generation by generation, through the run store.

Resuming is replay: the algorithm restarts from its seed and every
architecture already in the journal is answered from it, never re-evaluated.
pymoo draws all randomness from the algorithm's seeded generator and stored
values are exact (float64), so the replay takes the same decisions and a
resumed search ends with the same evaluated set and Pareto set as an
uninterrupted one.

Hypervolume (pymoo's ``HV``) is recorded per generation over every feasible
architecture evaluated so far, on objectives scaled by fixed bounds from the
space (:func:`objective_bounds`) against the reference point 1.1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np
from pymoo.core.callback import Callback
from pymoo.indicators.hv import HV
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from .estimators import ErrorEstimator
from .runstore import EvalRecord, RunStore
from .algorithms import make_algorithm
from .problem import ArchitectureProblem, EvaluationService, ObjectiveSpec, check_budgets, objective_bounds

__all__ = ["FrontTracker", "SearchResult", "run_generations", "pareto_front", "least_violating", "feasible",
           "outcome_of",
           "REF_POINT", "run_journaled", "record_point"]

REF_POINT = 1.1
JOURNAL = "journal.sqlite"
GenerationProgress = Callable[[int, int, int, float], None]  # (generation, generations, evaluations, hypervolume)


def feasible(spec: ObjectiveSpec, values: Dict[str, np.ndarray]) -> np.ndarray:
    ok = np.ones(len(values["error"]), dtype=bool)
    for key, budget in spec.constraints:
        ok &= values[key] <= budget
    return ok


class FrontTracker:
    """The feasible non-dominated set of everything seen, in scaled objectives, with its hypervolume."""

    def __init__(self, spec: ObjectiveSpec):
        self.spec = spec
        bounds = objective_bounds(spec)
        self.lo = np.array([bounds[k][0] for k in spec.objectives])
        self.span = np.array([max(bounds[k][1] - bounds[k][0], 1e-12) for k in spec.objectives])
        self.front = np.empty((0, len(spec.objectives)))
        self.seen: set = set()
        self._hv = HV(ref_point=np.full(len(spec.objectives), REF_POINT))
        self._nds = NonDominatedSorting()

    def observe(self, keys: List[str], values: Dict[str, np.ndarray]) -> None:
        self.seen.update(keys)
        ok = feasible(self.spec, values)
        if not ok.any():
            return
        F = (np.column_stack([values[k][ok] for k in self.spec.objectives]) - self.lo) / self.span
        merged = np.unique(np.vstack([self.front, F]), axis=0)
        self.front = merged[self._nds.do(merged, only_non_dominated_front=True)]

    @property
    def hypervolume(self) -> float:
        return float(self._hv(self.front)) if len(self.front) else 0.0


class _Tracked(EvaluationService):
    def __init__(self, *args, tracker: FrontTracker, **kwargs):
        super().__init__(*args, **kwargs)
        self.tracker = tracker

    def evaluate(self, archs):
        values = super().evaluate(archs)
        self.tracker.observe([self.key(a) for a in np.asarray(archs, dtype=np.int64)], values)
        return values


class _GenerationLog(Callback):
    def __init__(self, service: _Tracked, gens: int, progress: Optional[GenerationProgress]):
        super().__init__()
        self.service, self.gens, self.progress = service, gens, progress

    def notify(self, algorithm):
        s = self.service
        hv, n = s.tracker.hypervolume, len(s.tracker.seen)
        s.store.set_generation(s.generation, {"evaluations": n, "hypervolume": hv,
                                              "front_size": int(len(s.tracker.front))})
        if self.progress:
            self.progress(s.generation, self.gens, n, hv)


@dataclass
class SearchResult:
    """The outcome: Pareto set (records), per-generation history, and what this process evaluated."""

    front: List[EvalRecord]
    history: List[dict]
    evaluated: int          # distinct architectures the search visited
    fresh: int              # of which this process evaluated (the rest came from the journal)
    least_violating: Optional[EvalRecord]
    hypervolume: float
    spec: ObjectiveSpec


def pareto_front(spec: ObjectiveSpec, records: List[EvalRecord]) -> List[EvalRecord]:
    """The feasible non-dominated records, sorted by the first cost objective then error."""
    if not records:
        return []
    values = {k: np.array([r.values[k] for r in records]) for k in records[0].values}
    ok = np.flatnonzero(feasible(spec, values))
    if not len(ok):
        return []
    F = np.column_stack([values[k][ok] for k in spec.objectives])
    front = [records[i] for i in ok[NonDominatedSorting().do(F, only_non_dominated_front=True)]]
    order = spec.objectives[1:] + ["error"]
    return sorted(front, key=lambda r: (*(r.values[k] for k in order), r.arch))


def least_violating(spec: ObjectiveSpec, records: List[EvalRecord]) -> Optional[EvalRecord]:
    if not records or not spec.constraints:
        return None
    cv = [sum(max(0.0, (r.values[k] - b) / b) for k, b in spec.constraints) for r in records]
    return records[int(np.argmin(cv))]


def run_generations(spec: ObjectiveSpec, estimator: ErrorEstimator, store: RunStore, runner, *, strategy: str,
               pop: int, gens: int, seed: int, progress: Optional[GenerationProgress] = None) -> SearchResult:
    """Run (or resume, when ``store`` holds evaluations) ``gens`` generations of ``strategy``."""
    check_budgets(spec)
    tracker = FrontTracker(spec)
    service = _Tracked(spec, estimator, store, runner, session=store.begin_session(), tracker=tracker)
    first = spec.targets[0].cost
    algorithm = make_algorithm(strategy, pop, seeds=[first.fastest()[0], first.slowest()[0]])
    algorithm.setup(ArchitectureProblem(service), termination=("n_gen", gens), seed=seed,
                    callback=_GenerationLog(service, gens, progress), verbose=False)
    while algorithm.has_next():
        service.generation += 1
        algorithm.next()
    visited = tracker.seen
    records = [r for r in store.records() if r.arch in visited]
    front = pareto_front(spec, records)
    history = [g for g in store.generations() if g["generation"] <= gens]
    return SearchResult(front, history, len(visited), service.fresh,
                        None if front else least_violating(spec, records), tracker.hypervolume, spec)


def record_point(r: EvalRecord):
    from .contract import Point

    return Point(r.arch, r.values["error"], {k: v for k, v in r.values.items() if k != "error"}, r.generation)


def outcome_of(spec: ObjectiveSpec, records: List[EvalRecord], *, evaluated: int, history: list, details: dict,
               select: Optional[Callable[[List[EvalRecord]], str]] = None):
    """The SearchOutcome of a strategy that journaled ``records`` (everything it evaluated): their Pareto set,
    the least-violating one when none meets the budgets, and ``select(front)``'s pick when given."""
    from .contract import SearchOutcome

    front = pareto_front(spec, records)
    lv = None if front else least_violating(spec, records)
    return SearchOutcome(front=[record_point(r) for r in front], evaluated=evaluated, history=history,
                         selected=select(front) if select and front else None,
                         points=[record_point(r) for r in records],
                         least_violating=record_point(lv) if lv else None, details=details)


def run_journaled(request, algorithm: str, pop: int, gens: int):
    """Run (or continue) a pymoo ``algorithm`` for ``request``: every evaluation journaled in the run folder's
    SQLite journal, estimates on the request's runner (in process, or Ray); returns a SearchOutcome."""
    from .contract import SearchOutcome
    from .runstore import open_store

    store = open_store(request.out / JOURNAL, request.settings)
    try:
        result = run_generations(request.spec, request.estimator, store, request.runner, strategy=algorithm, pop=pop,
                            gens=gens, seed=request.seed,
                            progress=lambda g, n, evaluations, hv: request.progress("generations", g, n,
                                                                                  evaluations=evaluations,
                                                                                  hypervolume=hv))
        points = [record_point(r) for r in store.records()]
    finally:
        store.close()
    return SearchOutcome(front=[record_point(r) for r in result.front], evaluated=result.evaluated,
                         history=result.history, points=points,
                         least_violating=record_point(result.least_violating) if result.least_violating else None,
                         details={"hypervolume": result.hypervolume, "fresh": result.fresh})
