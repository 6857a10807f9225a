"""pymoo algorithms for architecture search: NSGA-II with categorical operators, and the random baseline.

Both are ordinary pymoo :class:`~pymoo.core.algorithm.Algorithm` objects, seeded
through pymoo's own ``random_state``, so the same seed replays the same
decisions (what resuming from the journal relies on).
"""
from __future__ import annotations

from typing import Optional

from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.algorithm import Algorithm
from pymoo.core.population import Population
from pymoo.operators.crossover.ux import UniformCrossover
from pymoo.operators.sampling.rnd import IntegerRandomSampling
from pymoo.util.optimum import filter_optimum

from .search_problem import CategoricalMutation, GenomeDuplicateElimination

__all__ = ["make_nsga2", "RandomSearch", "make_algorithm"]


def make_nsga2(pop_size: int, crossover_prob: float = 0.9, mutation_prob_var: Optional[float] = None) -> NSGA2:
    """NSGA-II over categorical genes: uniform crossover, random-resetting mutation, exact duplicate elimination."""
    return NSGA2(pop_size=pop_size, sampling=IntegerRandomSampling(),
                 crossover=UniformCrossover(prob=crossover_prob),
                 mutation=CategoricalMutation(prob_var=mutation_prob_var),
                 eliminate_duplicates=GenomeDuplicateElimination())


class RandomSearch(Algorithm):
    """Uniform random architectures, ``batch_size`` per generation; keeps the non-dominated feasible set.

    Same problem, store, termination and callbacks as NSGA-II, so the two are
    compared at equal evaluation budgets.
    """

    def __init__(self, batch_size: int, **kwargs):
        super().__init__(**kwargs)
        self.batch_size = int(batch_size)
        self.sampling = IntegerRandomSampling()

    def _initialize_infill(self):
        return self._infill()

    def _infill(self):
        return self.sampling.do(self.problem, self.batch_size, random_state=self.random_state)

    def _initialize_advance(self, infills=None, **kwargs):
        self.pop = filter_optimum(infills, least_infeasible=True)

    def _advance(self, infills=None, **kwargs):
        self.pop = filter_optimum(Population.merge(self.pop, infills), least_infeasible=True)


def make_algorithm(strategy: str, pop_size: int) -> Algorithm:
    """``nsga2`` or ``random`` (batch of ``pop_size`` per generation)."""
    if strategy == "nsga2":
        return make_nsga2(pop_size)
    if strategy == "random":
        return RandomSearch(pop_size)
    raise ValueError(f"no pymoo algorithm for strategy {strategy!r}")
