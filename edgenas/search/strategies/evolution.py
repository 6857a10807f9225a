"""Regularized (aging) evolution (Real et al., AAAI 2019), registered as ``evolution``.

A population of ``population`` architectures, first uniform random; each cycle
samples ``sample`` of them, takes the best as parent, changes one layer of it to
another candidate, evaluates the child, appends it and removes the *oldest*
member (not the worst: aging keeps the search exploring). "Best" is the least
estimated error among the feasible (every budget met), an infeasible one ranking
after all feasible ones by how far it violates its budgets, so budgets act as
constraints. Every evaluation goes through the run's journal
(:class:`~edgenas.search.problem.EvaluationService`); all randomness comes from
one generator seeded by the request, so a rerun replays the same decisions and
answers the journaled architectures from the journal: a killed search resumes to
the result of an uninterrupted one. The result is the Pareto set of everything
evaluated (error against each table's latency), as for NSGA-II.

``--selection pareto`` is the multi-objective variant: the tournament's winner
is drawn from the sample's non-dominated members over all objectives (error and
each latency; the least-violating first when none is feasible), and an archive
of the feasible non-dominated set of everything evaluated is kept, whose
hypervolume the history records. Aging still removes the oldest member, so the
population keeps moving while the archive keeps the front.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from ..candidates import violation
from ..contract import SearchOutcome, SearchRequest, Strategy, option
from ..problem import EvaluationService
from ..run import JOURNAL, FrontTracker, outcome_of
from ..runstore import open_store


@dataclass
class EvolutionConfig:
    population: int = option(50, "Population size (Real et al.: 100 on NAS-Bench scale; smaller spaces need less).")
    sample: int = option(10, "Tournament size: members sampled each cycle, the best becomes the parent.")
    cycles: int = option(400, "Children evaluated after the random initial population.")
    selection: str = option("error", "Tournament winner: least error under the budgets ('error'), or a random "
                                     "non-dominated member over all objectives with a Pareto archive ('pareto').",
                            choices=("error", "pareto"))

    RESUME_NEUTRAL = ("cycles",)   # a rerun with more cycles continues the same run

    def validate(self) -> None:
        if self.population < 2 or not 1 <= self.sample <= self.population or self.cycles < 0:
            raise ConfigError(f"evolution needs population >= 2, 1 <= sample <= population and cycles >= 0 "
                              f"(got population={self.population}, sample={self.sample}, cycles={self.cycles})")


def _rank(spec, values) -> np.ndarray:
    """Sort keys: (total relative budget violation, then each objective, error first); the tournament of
    ``selection=error`` compares them in order, that of ``selection=pareto`` by dominance after violation."""
    return np.column_stack([violation(spec, values)] + [values[k] for k in spec.objectives])


def _pareto_winner(members, rng) -> tuple:
    """A random member among those of least violation that no other such member dominates."""
    least = min(m[1][0] for m in members)
    pool = [m for m in members if m[1][0] == least]
    objs = np.array([m[1][1:] for m in pool])
    dominated = [bool(np.any(np.all(objs <= o, axis=1) & np.any(objs < o, axis=1))) for o in objs]
    front = [m for m, d in zip(pool, dominated) if not d]
    return front[rng.integers(len(front))][0]


class RegularizedEvolution(Strategy):
    name = "evolution"
    summary = "regularized (aging) evolution: tournament, one-layer mutation, the oldest removed (Real et al.)"
    Config = EvolutionConfig

    def run(self, request: SearchRequest) -> SearchOutcome:
        cfg, spec = request.config, request.spec
        L, C = spec.space.num_layers, spec.space.num_candidates
        rng = np.random.default_rng(request.seed)
        store = open_store(request.out / JOURNAL, request.settings)
        try:
            service = EvaluationService(spec, request.estimator, store, request.runner, session=store.begin_session())
            tracker = FrontTracker(spec)   # the Pareto archive: feasible non-dominated set of everything evaluated
            archs = rng.integers(0, C, size=(cfg.population, L))
            values = service.evaluate(archs)
            tracker.observe([], values)
            keys = _rank(spec, values)
            population = deque(zip(map(tuple, archs), map(tuple, keys)))
            seen = {service.key(a) for a in archs}
            history = []
            for cycle in range(1, cfg.cycles + 1):
                service.generation = cycle
                members = [population[i] for i in rng.choice(len(population), cfg.sample, replace=False)]
                parent = (_pareto_winner(members, rng) if cfg.selection == "pareto"
                          else min(members, key=lambda m: m[1])[0])
                child = np.array(parent)
                layer = rng.integers(L)
                other = rng.integers(C - 1)  # another candidate than the parent's, uniformly
                child[layer] = other + (other >= child[layer])
                values = service.evaluate(child[None])
                tracker.observe([], values)
                key = tuple(_rank(spec, values)[0])
                population.append((tuple(child), key))
                population.popleft()
                seen.add(service.key(child))
                if cycle % max(1, cfg.cycles // 50) == 0 or cycle == cfg.cycles:
                    best = min(m[1] for m in population)
                    history.append({"cycle": cycle, "evaluations": len(seen), "best_violation": best[0],
                                    "best_error": best[1], "archive": len(tracker.front),
                                    "hypervolume": tracker.hypervolume})
                request.progress("cycles", cycle, cfg.cycles)
            records = [r for r in store.records() if r.arch in seen]
        finally:
            store.close()
        return outcome_of(spec, records, evaluated=len(seen), history=history, details={"fresh": service.fresh})
