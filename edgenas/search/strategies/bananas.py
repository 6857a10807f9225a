"""BANANAS (White, Neiswanger and Savani, AAAI 2021), registered as ``bananas``: Bayesian optimisation with an
ensemble of MLPs as the predictor.

``initial`` random architectures (drawn among those that meet the budgets)
are evaluated first; then each round fits the ensemble
(:class:`~edgenas.search.predictor.PerformancePredictor`) on the encoding ->
error of everything evaluated, makes ``candidates`` new architectures — one-
or two-layer mutations of the ``parents`` best found, plus a ``random_share``
of random ones —, drops those that break a budget (the tables' cost models are
exact and cheap) or were evaluated already, scores the rest by independent
Thompson sampling (one posterior draw each) and evaluates the best
``per_round``. The naszilla defaults: 10 initial, 10 per round, 5 members.

``variant=pareto`` returns a front: each of a round's ``per_round`` picks
minimises its own random augmented Chebyshev scalarisation (ParEGO, Knowles
2006) of the objectives scaled by the space's bounds — the error as drawn,
latency and the other costs exact. Scalarising keeps the acquisition one
Thompson draw per candidate (only the error is uncertain), and a weight per
pick spreads every round's batch along the front; parents are the first
non-dominated ranks. Both variants return the Pareto set of everything
evaluated; the single-objective one selects its least-error feasible point.

Every evaluation goes through the journal and all randomness comes from one
generator seeded by the request; the predictor's fits are seeded and see the
journaled values, so a killed search replays its decisions on rerun and ends
where an uninterrupted one would.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from ...errors import ConfigError
from ..candidates import feasible_random, mutate, unseen, violation
from ..contract import SearchOutcome, SearchRequest, Strategy, option
from ..predictor import THOMPSON, PerformancePredictor, PredictorOptions
from ..problem import EvaluationService, objective_bounds
from ..evaluated import Evaluated
from ..run import JOURNAL, outcome_of
from ..runstore import open_store

VARIANTS = ("single", "pareto")


@dataclass
class BananasConfig(PredictorOptions):
    evaluations: int = option(150, "Distinct architectures to evaluate in all, the initial ones included.")
    initial: int = option(10, "Random architectures (among those meeting the budgets) evaluated first.")
    per_round: int = option(10, "Architectures evaluated per round: the best by the acquisition.")
    candidates: int = option(100, "Candidates scored per round.")
    parents: int = option(10, "Best architectures found that the candidates mutate.")
    random_share: float = option(0.1, "Share of the candidates drawn at random rather than by mutation.")
    thompson: str = option("normal", "Thompson draw per candidate: a normal with the ensemble's mean and std, or "
                                     "one member's prediction.", THOMPSON)
    variant: str = option("single", "single: the least error under the budgets; pareto: a front of error against "
                                    "the costs (a random scalarisation per pick).", VARIANTS)

    RESUME_NEUTRAL = ("evaluations",)   # a rerun with more evaluations continues the same run

    def validate(self) -> None:
        self.validate_predictor("bananas")
        if self.variant not in VARIANTS or self.thompson not in THOMPSON:
            raise ConfigError(f"bananas's variant is one of {', '.join(VARIANTS)} and thompson one of "
                              f"{', '.join(THOMPSON)} (got {self.variant!r} and {self.thompson!r})")
        if not (self.initial >= 2 and self.per_round >= 1 and self.candidates >= self.per_round
                and self.parents >= 1 and 0.0 <= self.random_share <= 1.0 and self.evaluations >= self.initial):
            raise ConfigError(f"bananas needs initial >= 2, per_round >= 1, candidates >= per_round, parents >= 1, "
                              f"0 <= random_share <= 1 and evaluations >= initial (got initial={self.initial}, "
                              f"per_round={self.per_round}, candidates={self.candidates}, parents={self.parents}, "
                              f"random_share={self.random_share}, evaluations={self.evaluations})")


def _parent_order(spec, values, pareto: bool) -> np.ndarray:
    """Evaluated architectures, best first: meeting the budgets, then by error (or by non-dominated rank)."""
    excess = violation(spec, values)
    if not pareto:
        return np.lexsort((values["error"], excess))
    F = np.column_stack([values[k] for k in spec.objectives])
    rank = np.empty(len(F), dtype=np.int64)
    for r, members in enumerate(NonDominatedSorting().do(F)):
        rank[members] = r
    return np.lexsort((values["error"], rank, excess))


def _scale(spec):
    """(low, span) of every objective, from the space's bounds: scalarisations weigh comparable numbers."""
    bounds = objective_bounds(spec)
    lo = np.array([bounds[key][0] for key in spec.objectives])
    span = np.array([max(bounds[key][1] - bounds[key][0], 1e-12) for key in spec.objectives])
    return lo, span


def _chebyshev_picks(spec, scale, cand_values, draws, k, rng) -> np.ndarray:
    """``k`` distinct candidates, each minimising a random augmented Chebyshev scalarisation (weights uniform on
    the simplex) of the scaled objectives; candidates meeting the budgets first."""
    F = np.column_stack([draws if key == "error" else cand_values[key] for key in spec.objectives])
    F = (F - scale[0]) / scale[1]
    excess = violation(spec, cand_values)
    free = np.ones(len(F), dtype=bool)
    picks = []
    for w in rng.dirichlet(np.ones(F.shape[1]), size=min(k, len(F))):
        score = (F * w).max(1) + 0.05 * (F * w).sum(1)
        order = np.lexsort((score, excess))
        i = int(order[free[order]][0])
        free[i] = False
        picks.append(i)
    return np.asarray(picks, dtype=np.int64)


class Bananas(Strategy):
    name = "bananas"
    summary = "BANANAS: an ensemble of MLPs as predictor, Thompson sampling, candidates by mutating the best"
    Config = BananasConfig

    def run(self, request: SearchRequest) -> SearchOutcome:
        cfg, spec = request.config, request.spec
        C = spec.space.num_candidates
        pareto = cfg.variant == "pareto"
        scale = _scale(spec) if pareto else None
        rng = np.random.default_rng(request.seed)
        predictor = PerformancePredictor(spec.space, cfg, seed=request.seed)
        store = open_store(request.out / JOURNAL, request.settings)
        fit_s = other_s = 0.0
        try:
            service = EvaluationService(spec, request.estimator, store, request.runner, session=store.begin_session())
            done = Evaluated(service)
            t0 = time.perf_counter()
            first = unseen(feasible_random(spec, 4 * cfg.initial, rng), set(), service.key)[:cfg.initial]
            other_s += time.perf_counter() - t0
            done.add(first)
            history = [done.row(0)]
            request.progress("evaluations", len(done.seen), cfg.evaluations)
            rnd = 0
            while len(done.seen) < cfg.evaluations:
                rnd += 1
                service.generation = rnd
                t0 = time.perf_counter()
                predictor.fit(done.array(), done.values["error"])
                t1 = time.perf_counter()
                cands = self._candidates(cfg, spec, done, pareto, C, rng)
                if not len(cands):
                    break   # the space holds nothing more to evaluate
                k = min(cfg.per_round, cfg.evaluations - len(done.seen), len(cands))
                cand_values = spec.costs(cands)
                draws = predictor.thompson(cands, rng, cfg.thompson)
                if pareto:
                    picks = _chebyshev_picks(spec, scale, cand_values, draws, k, rng)
                else:
                    picks = np.lexsort((draws, violation(spec, cand_values)))[:k]
                fit_s, other_s = fit_s + t1 - t0, other_s + time.perf_counter() - t1
                done.add(cands[picks])
                history.append(done.row(rnd))
                request.progress("evaluations", len(done.seen), cfg.evaluations)
            records = [r for r in store.records() if r.arch in done.seen]
        finally:
            store.close()
        n = len(done.seen)
        least_error = None if pareto else (lambda front: min(front, key=lambda r: (r.values["error"], r.arch)).arch)
        return outcome_of(spec, records, evaluated=n, history=history, select=least_error,
                          details={"fresh": service.fresh, "rounds": rnd, "fit_s": fit_s,
                                      "overhead_ms_per_evaluation": 1e3 * (fit_s + other_s) / max(n, 1)})

    @staticmethod
    def _candidates(cfg, spec, done: Evaluated, pareto: bool, C: int, rng) -> np.ndarray:
        """This round's candidates: mutations of the best parents plus random ones, new and within the budgets
        where any such are found (the acquisition ranks the rest after them)."""
        order = _parent_order(spec, done.values, pareto)
        parents = done.array()[order[:cfg.parents]]
        n_random = int(round(cfg.random_share * cfg.candidates))
        cands = np.empty((0, parents.shape[1]), dtype=np.int64)
        for attempt in range(4):   # parents at the edge of a budget have few mutants within it: draw more then
            raw = np.vstack([cands, mutate(parents, cfg.candidates - n_random, C, rng),
                             feasible_random(spec, n_random, rng)])
            cands = unseen(raw, done.seen, done.service.key)
            if (violation(spec, spec.costs(cands)) == 0).sum() >= cfg.per_round:
                break
        return cands
