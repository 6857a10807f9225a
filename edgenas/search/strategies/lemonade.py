"""LEMONADE: Lamarckian evolution of a Pareto population with network morphisms (Elsken et al., ICLR 2019),
registered as ``lemonade``.

The population is the Pareto set of every network trained so far over the search's objectives (error
and the latency of each objective table, plus ``--objective`` extras such as params or memory), as in the
paper. With ``tolerance`` > 0 it is read with the validation's noise: a network leaves it only when another
one, costlier on no cheap objective, is more accurate by more than ``tolerance`` standard errors of its
validation accuracy. With a few hundred validation images the accurate end of a strict front is the
luckiest network and larger children as accurate within the noise drop out: on fbnet-small the strict
front stopped near half the latency budget, a tolerance of 1 reached it, and the exported networks were
no more accurate (BENCHMARKS.md, issue 16), so the default stays the paper's. It starts from the start
network (see :mod:`edgenas.search.morph_run`). Each generation

1. fits a kernel density estimate over the population's *cheap* objectives (every objective but the
   error, predicted by the tables: no training needed) in log space, a Gaussian kernel per dimension
   with Scott's bandwidth (at least ``MIN_BANDWIDTH``, so that a population of one still has a width);
2. draws ``proposals`` children: a parent drawn with probability proportional to 1 / density at its
   cheap objectives, changed by ``morphisms`` random moves (growing, exact, and shrinking, approximate;
   :mod:`edgenas.arch.morphisms`), kept if it is a new architecture within every budget;
3. accepts ``accepted`` of them, drawn without replacement with probability proportional to 1 / density
   at *their* cheap objectives: children in sparse regions of the front are the ones worth training;
4. trains each accepted child from its parent's weights (Lamarckism) for ``epochs`` in one cosine
   cycle, and recomputes the Pareto population.

It stops after ``generations``, before a generation once ``max_minutes`` of training is spent, or when
no new child can be drawn. Journal, seeds and resume are NASH's: every network is a checkpoint in
``members/``, all decisions come from generators seeded by ``(seed, generation)``, so a rerun loads what
was trained and ends as an uninterrupted run. The result is the (strict) Pareto set of every trained network.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from ...arch.morphisms import apply_moves, random_moves
from ...errors import ConfigError
from ..contract import SearchOutcome, SearchRequest, option
from ..members import Member
from ..morph_run import RESUME_NEUTRAL, MorphRun, MorphStrategy, MorphTrainingConfig, network_seed

__all__ = ["LemonadeConfig", "Lemonade", "inverse_density", "tolerant_front"]

DRAWS_PER_CHILD = 50
MIN_BANDWIDTH = 0.05   # in log units: cheap objectives 5 % apart still count as neighbours


@dataclass
class LemonadeConfig(MorphTrainingConfig):
    generations: int = option(5, "Generations.")
    proposals: int = option(8, "Children proposed per generation (cheap: no training).")
    accepted: int = option(4, "Children trained per generation, picked where the population is sparse (a "
                              "multiple of --workers keeps every worker busy).")
    morphisms: int = option(1, "Random morphisms per child.")
    tolerance: float = option(0.0, "A network stays in the population unless another, costlier on no cheap "
                                   "objective, is more accurate by more than this many standard errors of its "
                                   "validation accuracy (0: the strict Pareto set, as the paper).")

    RESUME_NEUTRAL = ("generations",) + RESUME_NEUTRAL

    def validate(self) -> None:
        for ok, msg in [(self.generations >= 0, f"generations must be >= 0, got {self.generations}"),
                        (self.proposals >= 1, f"proposals must be >= 1, got {self.proposals}"),
                        (1 <= self.accepted <= self.proposals,
                         f"accepted must be in [1, proposals], got {self.accepted} with proposals {self.proposals}"),
                        (self.morphisms >= 1, f"morphisms must be >= 1, got {self.morphisms}"),
                        (self.tolerance >= 0, f"tolerance must be >= 0, got {self.tolerance}")] + self.checks():
            if not ok:
                raise ConfigError(msg)


def inverse_density(population: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Probabilities proportional to 1 / KDE density (fitted on ``population``) at ``points``; rows are points
    in log cheap-objective space."""
    n, d = population.shape
    spread = population.std(axis=0) if n > 1 else np.zeros(d)
    h = np.maximum(spread * n ** (-1.0 / (d + 4)), MIN_BANDWIDTH)
    z = (points[:, None, :] - population[None, :, :]) / h
    density = np.exp(-0.5 * (z ** 2).sum(-1)).mean(1)
    weights = 1.0 / np.maximum(density, 1e-300)
    return weights / weights.sum()


def tolerant_front(cheap: np.ndarray, error: np.ndarray, tolerance: float, n_val: int) -> List[int]:
    """Indices of the points no other point dominates by more than ``tolerance`` standard errors of the
    dominated point's validation error (measured on ``n_val`` images): costlier on no cheap objective, and
    lower in error by more than that margin (or by anything and cheaper somewhere, when the margin is 0: then
    this is the strict Pareto set)."""
    margin = tolerance * np.sqrt(error * (1 - error) / n_val)
    keep = []
    for i in range(len(error)):
        no_costlier = np.all(cheap <= cheap[i], axis=1)
        at_least_as = error <= error[i] - margin[i]
        better_somewhere = (error < error[i] - margin[i]) | np.any(cheap < cheap[i], axis=1)
        beaten = no_costlier & at_least_as & better_somewhere
        beaten[i] = False
        if not beaten.any():
            keep.append(i)
    return keep


class _Evolution(MorphRun):
    """One LEMONADE run."""

    def cheap(self, arch) -> np.ndarray:
        costs = self.predicted(arch)
        return np.log(np.array([max(costs[k], 1e-12) for k in self.spec.objectives if k != "error"]))

    def population(self) -> List[Member]:
        """The members no other member beats (by more than ``tolerance`` standard errors of the validation, see
        the module's docstring), in the strict Pareto set's order: cheap objectives, then error."""
        front = [self.members[i] for i in tolerant_front(np.array([self.cheap(m.arch) for m in self.members]),
                                                         np.array([m.error for m in self.members]),
                                                         self.cfg.tolerance, len(self.splits.arch))]
        return sorted(front, key=lambda m: (*self.cheap(m.arch), m.error, m.arch))

    def propose(self, population: List[Member], rng) -> List[Tuple[Member, tuple, list]]:
        """Up to ``proposals`` new feasible children (parent, architecture, moves), parents drawn by 1 / density."""
        pop_x = np.array([self.cheap(m.arch) for m in population])
        parent_p = inverse_density(pop_x, pop_x)
        trained = {m.arch for m in self.members}
        out: List[Tuple[Member, tuple, list]] = []
        for _ in range(self.cfg.proposals):
            for _ in range(DRAWS_PER_CHILD):
                parent = population[int(rng.choice(len(population), p=parent_p))]
                arch, moves = random_moves(self.space, self.space.parse(parent.arch), self.cfg.morphisms, rng)
                text = self.space.format(arch)
                if text not in trained and all(text != self.space.format(a) for _, a, _ in out) \
                        and self.feasible(arch):
                    out.append((parent, arch, moves))
                    break
        return out

    def evolve(self) -> Tuple[List[dict], str]:
        cfg, space, progress = self.cfg, self.space, self.request.progress
        progress("start", 0, 1)
        self.start()
        progress("start", 1, 1)
        history: List[dict] = [self.row(0, [])]
        progress("generations", 0, cfg.generations)
        stop = "generations"
        for gen in range(1, cfg.generations + 1):
            if self.out_of_time():
                stop = "time"
                break
            rng = np.random.default_rng([self.request.seed, gen])
            population = self.population()
            proposed = self.propose(population, rng)
            if not proposed:
                stop = "no new child within the budgets"
                break
            pop_x = np.array([self.cheap(m.arch) for m in population])
            accept_p = inverse_density(pop_x, np.array([self.cheap(a) for _, a, _ in proposed]))
            picks = rng.choice(len(proposed), size=min(cfg.accepted, len(proposed)), replace=False, p=accept_p)
            nets = {}   # each parent's trained network, loaded once
            planned = []
            for c, i in enumerate(sorted(int(i) for i in picks)):
                parent, arch, moves = proposed[i]
                if parent.id not in nets:
                    nets[parent.id] = self.store.load(parent.id, parent.arch)[1]
                planned.append((Member(f"s{gen:03d}c{c:02d}", space.format(arch), 0.0, 0.0, 0.0, gen, parent.id,
                                       [str(m) for m in moves], all(m.exact for m in moves)),
                                functools.partial(apply_moves, nets[parent.id], space, moves),
                                network_seed(self.request.seed, gen, c), cfg.epochs))
            trained = [child for child, _ in self.train_members(planned)]
            history.append(self.row(gen, trained, proposed=len(proposed)))
            progress("generations", gen, cfg.generations, population=len(self.population()))
        return history, stop

    def row(self, generation: int, trained: List[Member], proposed: int = 0) -> dict:
        population = self.population()
        return {"generation": generation, "proposed": proposed,
                "trained": [{"id": m.id, "arch": m.arch, "val_acc": m.val_acc, "parent": m.parent, "exact": m.exact}
                            for m in trained],
                "population": [{"arch": m.arch, "val_acc": m.val_acc,
                                **{k: self.predicted(m.arch)[k] for k in self.spec.objectives if k != "error"}}
                               for m in population],
                "train_s_total": self.spent}


class Lemonade(MorphStrategy):
    """Multi-objective evolution of trained networks: children made by morphisms inherit their parents' weights,
    and a density estimate over the cheap objectives picks which children are trained. Rerunning the same
    command resumes from the networks already trained (members/)."""

    name = "lemonade"
    summary = "LEMONADE: Lamarckian multi-objective evolution with network morphisms and a KDE over cheap objectives"
    Config = LemonadeConfig

    def run(self, request: SearchRequest) -> SearchOutcome:
        evolution = _Evolution(request)
        with evolution.session():
            history, stop = evolution.evolve()
        from ..plot import SEARCH_PLOT, plot_front_over_time  # matplotlib only when writing

        t = request.spec.targets[0]
        plot_front_over_time(history, request.out / SEARCH_PLOT, t.key, t.name, t.max_latency_ms,
                             title=f"LEMONADE on {request.space.name} / {evolution.dataset}: "
                                   f"{len(evolution.members)} networks trained")
        return evolution.outcome(None, history, {"stopped_by": stop})
