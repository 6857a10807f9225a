"""pymoo algorithms for architecture search: NSGA-II with categorical operators, and the random baseline.

Both are ordinary pymoo :class:`~pymoo.core.algorithm.Algorithm` objects, seeded
through pymoo's own ``random_state``, so the same seed replays the same
decisions (what resuming from the journal relies on).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.algorithm import Algorithm
from pymoo.core.population import Population
from pymoo.operators.crossover.ux import UniformCrossover
from pymoo.operators.sampling.rnd import IntegerRandomSampling
from pymoo.util.optimum import filter_optimum

from .problem import CategoricalMutation, GenomeDuplicateElimination

__all__ = ["make_nsga2", "RandomSearch", "make_algorithm", "SeededSampling"]


class SeededSampling(IntegerRandomSampling):
    """Random genomes whose first rows are given architectures.

    Seeded with the table's fastest and slowest architectures, the first
    generation spans the whole latency range: in a space of 9^8 architectures
    random genomes never come near either corner, and on fbnet-small the most
    accurate architecture is the slowest one (all largest candidates).
    """

    def __init__(self, seeds: Sequence[Sequence[int]] = ()):
        super().__init__()
        self.seeds = np.asarray(seeds, dtype=np.int64).reshape(len(seeds), -1)

    def _do(self, problem, n_samples: int, *args, random_state=None, **kwargs) -> np.ndarray:
        x = super()._do(problem, n_samples, *args, random_state=random_state, **kwargs)
        k = min(len(self.seeds), n_samples)
        x[:k] = self.seeds[:k]
        return x


def make_nsga2(pop_size: int, crossover_prob: float = 0.9, mutation_prob_var: Optional[float] = None,
               seeds: Sequence[Sequence[int]] = ()) -> NSGA2:
    """NSGA-II over categorical genes: uniform crossover, random-resetting mutation, exact duplicate elimination.

    ``seeds`` (architectures) open the first generation (:class:`SeededSampling`).
    """
    return NSGA2(pop_size=pop_size, sampling=SeededSampling(seeds),
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


def make_algorithm(strategy: str, pop_size: int, seeds: Sequence[Sequence[int]] = ()) -> Algorithm:
    """``nsga2`` (its first generation opened by ``seeds``) or ``random`` (batch of ``pop_size`` per generation;
    ``seeds`` unused, it stays the unguided baseline)."""
    if strategy == "nsga2":
        return make_nsga2(pop_size, seeds=seeds)
    if strategy == "random":
        return RandomSearch(pop_size)
    raise ValueError(f"no pymoo algorithm for strategy {strategy!r}")
