"""The pymoo side of a search: objectives, the journaled batch evaluation, the Problem, categorical operators.

An architecture is one categorical gene per searchable layer (the candidate
index; the order of candidates means nothing). The :class:`ArchitectureProblem`
only evaluates, as pymoo intends; its batch goes through an
:class:`EvaluationService` that answers stored architectures from the run
store, hands the rest to an injected runner (in-process or Ray) and journals
every result as it arrives. Costs come from one or more latency tables
(:class:`Target`), each an objective, a constraint, or both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.problem import Problem

from ..tables.cost import CostModel
from ..errors import BudgetError
from .estimators import ErrorEstimator
from .runstore import EvalRecord, RunStore
from ..arch.space import SearchSpace

__all__ = ["Target", "ObjectiveSpec", "EvaluationService", "ArchitectureProblem", "CategoricalMutation",
           "GenomeDuplicateElimination", "EXTRA_OBJECTIVES", "min_memory", "objective_bounds", "check_budgets"]

# user-facing name -> value key
EXTRA_OBJECTIVES = {"memory": "memory_bytes", "params": "param_bytes", "flops": "flops"}


@dataclass
class Target:
    """One latency table: its latency is an objective when ``objective``, bounded when ``max_latency_ms``."""

    name: str
    cost: CostModel
    max_latency_ms: Optional[float] = None
    objective: bool = True

    @property
    def key(self) -> str:
        return f"latency_ms:{self.name}"


@dataclass
class ObjectiveSpec:
    """What is minimised (error, the objective targets' latencies, ``extra``) and what is bounded."""

    targets: List[Target]
    extra: Tuple[str, ...] = ()
    max_memory_bytes: Optional[float] = None
    objectives: List[str] = field(init=False)
    constraints: List[Tuple[str, float]] = field(init=False)

    def __post_init__(self):
        if not self.targets:
            raise ValueError("a search needs at least one latency table")
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"table names must be unique, got {names}")
        unknown = [e for e in self.extra if e not in EXTRA_OBJECTIVES]
        if unknown:
            raise ValueError(f"unknown extra objective(s) {unknown}; known: {sorted(EXTRA_OBJECTIVES)}")
        self.objectives = ["error"] + [t.key for t in self.targets if t.objective] + \
                          [EXTRA_OBJECTIVES[e] for e in self.extra]
        self.constraints = [(t.key, float(t.max_latency_ms)) for t in self.targets if t.max_latency_ms is not None]
        if self.max_memory_bytes is not None:
            self.constraints.append(("memory_bytes", float(self.max_memory_bytes)))

    @property
    def space(self) -> SearchSpace:
        return self.targets[0].cost.space

    def costs(self, archs: np.ndarray) -> Dict[str, np.ndarray]:
        """Every table value of ``archs``: latency per target, and memory, params, FLOPs (analytical)."""
        out: Dict[str, np.ndarray] = {}
        for i, t in enumerate(self.targets):
            p = t.cost.predict(archs)
            out[t.key] = p.latency_ms
            if i == 0:
                out["memory_bytes"], out["param_bytes"], out["flops"] = p.memory_bytes, p.param_bytes, p.flops
        return out

    def to_json(self) -> dict:
        return {"objectives": self.objectives, "constraints": [list(c) for c in self.constraints],
                "tables": [{"name": t.name, "objective": t.objective, "max_latency_ms": t.max_latency_ms,
                            "table": t.cost.table.header.get("device"), "backend": t.cost.table.backend}
                           for t in self.targets]}


def min_memory(cost: CostModel) -> Tuple[float, Tuple[int, ...]]:
    """The exact least ``memory_bytes`` (params sum + peak activation max) over the space, and an arch reaching it.

    For every candidate threshold T on the peak, each layer takes its smallest
    parameter count among candidates whose activation fits under T.
    """
    P, A = cost.matrix["param_bytes"], cost.matrix["peak_activation_bytes"]
    best, best_arch = np.inf, None
    for T in np.unique(A[np.isfinite(A)]):
        if T < A.min(1).max():
            continue
        masked = np.where(A <= T, P, np.inf)
        arch = masked.argmin(1)
        total = masked.min(1).sum() + cost.fixed["param_bytes"] + max(T, cost.fixed_peak)
        if total < best:
            best, best_arch = float(total), tuple(int(c) for c in arch)
    return best, best_arch


def _separable_range(cost: CostModel, metric: str) -> Tuple[float, float]:
    m = cost.matrix[metric]
    return float(np.nanmin(m, 1).sum() + cost.fixed[metric]), float(np.nanmax(m, 1).sum() + cost.fixed[metric])


def objective_bounds(spec: ObjectiveSpec) -> Dict[str, Tuple[float, float]]:
    """Fixed per-objective bounds from the space (not from what was found): error in [0, 1], costs from the tables.

    Hypervolume is computed on objectives scaled by these bounds, against the
    reference point 1.1 in every coordinate, so it is comparable across
    generations, runs and strategies of one config.
    """
    cost = spec.targets[0].cost
    bounds: Dict[str, Tuple[float, float]] = {"error": (0.0, 1.0)}
    for t in spec.targets:
        slow = tuple(int(c) for c in np.nanargmax(t.cost.matrix["latency_ms"], 1))
        bounds[t.key] = (t.cost.fastest()[1], float(t.cost.predict(slow).latency_ms[0]))
    bounds["param_bytes"] = _separable_range(cost, "param_bytes")
    bounds["flops"] = _separable_range(cost, "flops")
    peak_max = max(float(np.nanmax(cost.matrix["peak_activation_bytes"])), cost.fixed_peak)
    bounds["memory_bytes"] = (min_memory(cost)[0], bounds["param_bytes"][1] + peak_max)
    return bounds


def check_budgets(spec: ObjectiveSpec) -> None:
    """Raise :class:`BudgetError` for a budget no architecture can meet, naming the best reachable."""
    space = spec.space
    for t in spec.targets:
        if t.max_latency_ms is not None:
            arch, fastest = t.cost.fastest()
            if t.max_latency_ms < fastest:
                raise BudgetError(f"no architecture of space {space.name!r} meets {t.max_latency_ms:g} ms on table "
                                  f"{t.name!r}: the fastest reachable is {fastest:.4g} ms ({space.format(arch)})")
    if spec.max_memory_bytes is not None:
        least, arch = min_memory(spec.targets[0].cost)
        if spec.max_memory_bytes < least:
            raise BudgetError(f"no architecture of space {space.name!r} meets {spec.max_memory_bytes:.0f} bytes of "
                              f"memory: the least reachable is {least:.0f} bytes ({space.format(arch)})")


class EvaluationService:
    """Batch evaluation through the run store: stored architectures are answered, new ones run and journaled.

    ``generation`` is set by the driver before each pymoo step and written with
    every new record; ``fresh`` counts architectures this process evaluated.
    """

    def __init__(self, spec: ObjectiveSpec, estimator: ErrorEstimator, store: RunStore, runner,
                 session: int = 1):
        self.spec, self.estimator, self.store, self.runner = spec, estimator, store, runner
        self.session, self.generation, self.fresh, self.calls = session, 0, 0, 0
        self._names = spec.space.candidate_names

    def key(self, genes: Sequence[int]) -> str:
        return "-".join(self._names[int(c)] for c in genes)

    def evaluate(self, archs: np.ndarray) -> Dict[str, np.ndarray]:
        """Every value (error and table costs) of each row of ``archs``."""
        archs = np.asarray(archs, dtype=np.int64)
        self.calls += len(archs)
        values = self.spec.costs(archs)
        keys = [self.key(a) for a in archs]
        stored = self.store.lookup(keys)
        first: Dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in stored:
                first.setdefault(k, i)
        todo = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        error_of = {k: r.values["error"] for k, r in stored.items()}
        if len(todo):
            for rows, errors in self.runner.map(self.estimator, archs[todo], self.estimator.chunk_size):
                idx = todo[rows]
                records = []
                for i, e in zip(idx, np.asarray(errors, dtype=np.float64)):
                    vals = {"error": float(e), **{k: float(v[i]) for k, v in values.items()}}
                    records.append(EvalRecord(keys[i], tuple(int(c) for c in archs[i]), vals,
                                              self.generation, self.session))
                    error_of[keys[i]] = float(e)
                self.store.add(records)
                self.fresh += len(records)
        values["error"] = np.array([error_of[k] for k in keys], dtype=np.float64)
        return values


class ArchitectureProblem(Problem):
    """pymoo problem: categorical genes in ``[0, candidates)``; F = objectives; G = (value - budget) / budget."""

    def __init__(self, service: EvaluationService):
        spec = service.spec
        L, C = spec.space.num_layers, spec.space.num_candidates
        super().__init__(n_var=L, n_obj=len(spec.objectives), n_ieq_constr=len(spec.constraints),
                         xl=0, xu=C - 1, vtype=int)
        self.service = service

    def _evaluate(self, X, out, *args, **kwargs):
        archs = np.rint(np.asarray(X, dtype=np.float64)).astype(np.int64)
        v = self.service.evaluate(archs)
        spec = self.service.spec
        out["F"] = np.column_stack([v[k] for k in spec.objectives])
        if spec.constraints:
            out["G"] = np.column_stack([(v[k] - b) / b for k, b in spec.constraints])


class CategoricalMutation(Mutation):
    """Random resetting: each gene, with probability ``prob_var`` (default 1/layers), takes another candidate.

    The new candidate is drawn uniformly among the *other* candidates, since
    candidate indices have no order (no polynomial or Gaussian steps).
    """

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        X = np.asarray(X).astype(np.int64, copy=True)
        n_cat = (np.asarray(problem.xu) - np.asarray(problem.xl) + 1).astype(np.int64)
        prob = self.get_prob_var(problem, size=len(X))
        mask = random_state.random(X.shape) < np.reshape(prob, (-1, 1))
        draw = np.floor(random_state.random(X.shape) * (n_cat - 1)).astype(np.int64)
        other = draw + (draw >= X)  # skip the current candidate
        X[mask] = other[mask]
        return X


class GenomeDuplicateElimination(DuplicateElimination):
    """Exact duplicate elimination on integer genomes by hashing rows (O(n), not pairwise distances)."""

    @staticmethod
    def _keys(pop) -> List[bytes]:
        X = np.rint(np.asarray(pop.get("X"), dtype=np.float64)).astype(np.int64)
        return [row.tobytes() for row in X]

    def _seen(self, other) -> set:
        """The genomes a new one must differ from: those of ``other`` (a subclass may remember more)."""
        return set(self._keys(other)) if other is not None else set()

    def _do(self, pop, other, is_duplicate):
        seen = self._seen(other)
        for i, k in enumerate(self._keys(pop)):
            if k in seen:
                is_duplicate[i] = True
            else:
                seen.add(k)
        return is_duplicate
