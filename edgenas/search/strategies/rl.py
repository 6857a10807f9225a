"""A REINFORCE-trained controller (NASNet, Zoph et al. 2018; ENAS, Pham et al. 2018), registered as ``rl``.

Each step the policy (:mod:`edgenas.search.controller`) samples ``batch``
architectures; each is scored through the run's journal
(:class:`~edgenas.search.problem.EvaluationService`) by the accuracy estimator,
its reward is MnasNet's ``ACC · Π (LAT/T)^w`` over the search's budgets
(:mod:`edgenas.search.reinforce`), and one REINFORCE step moves the policy toward
the better ones. The search stops after ``evaluations`` *distinct* architectures:
an architecture sampled again is answered by the journal, costs no evaluation,
and still counts as a sample in the policy's update. Once the budget is reached
the rest of that step's batch is dropped unscored, so a run evaluates exactly
``evaluations`` architectures (or stops at ``max_steps`` when the policy keeps
drawing known ones).

Resuming is replay, as for evolution and NSGA-II: the policy's initial weights
and every draw come from generators seeded by the request, rewards of journaled
architectures are read back exactly (float64), and the controller computes in
one torch thread (:func:`~edgenas.search.controller.one_thread`), so its
arithmetic does not depend on the machine's thread count; a rerun recomputes
the same updates, draws the same architectures and evaluates only those the
killed run had not journaled. The result is the Pareto set of everything
evaluated, and ``details`` names the policy's most likely architecture.
"""
from __future__ import annotations

import numpy as np
import torch

from ..contract import SearchOutcome, SearchRequest, Strategy
from ..controller import make_policy, one_thread
from ..problem import EvaluationService
from ..reinforce import Reinforce, budget_ratios, mnas_reward
from ..run import JOURNAL, feasible, outcome_of
from ..runstore import open_store
from .rl_config import RLConfig

__all__ = ["RLStrategy", "RLConfig"]

HISTORY_ROWS = 50   # about this many history rows, however many steps a run takes


def _new_within_budget(keys, seen: set, left: int) -> int:
    """How many of ``keys`` (in order) to keep so that at most ``left`` new architectures are among them."""
    new = set()
    for i, k in enumerate(keys):
        if k not in seen and k not in new:
            if len(new) == left:
                return i
            new.add(k)
    return len(keys)


class RLStrategy(Strategy):
    name = "rl"
    summary = "a REINFORCE-trained controller (NASNet/ENAS) with MnasNet's reward ACC·(LAT/T)^w"
    Config = RLConfig

    def run(self, request: SearchRequest) -> SearchOutcome:
        cfg, spec = request.config, request.spec
        policy = make_policy(cfg.policy, spec.space.num_layers, spec.space.num_candidates, hidden=cfg.hidden,
                             seed=request.seed)
        trainer = Reinforce(policy, cfg.learning_rate, cfg.entropy_weight, cfg.baseline_decay)
        store = open_store(request.out / JOURNAL, request.settings)
        try:
            service = EvaluationService(spec, request.estimator, store, request.runner, session=store.begin_session())
            with one_thread():
                seen, history, steps = _train(request, policy, trainer, service)
            records = [r for r in store.records() if r.arch in seen]
        finally:
            store.close()
        return outcome_of(spec, records, evaluated=len(seen), history=history,
                          details={"fresh": service.fresh, "steps": steps,
                                      "stopped_by": "evaluations" if len(seen) >= cfg.evaluations else "max_steps",
                                      "most_likely": spec.space.format(policy.most_likely()),
                                      "baseline": trainer.baseline})


def _train(request: SearchRequest, policy, trainer: Reinforce, service: EvaluationService):
    """The controller's steps until the budget of distinct evaluations; returns them, the history and the steps."""
    cfg, spec = request.config, request.spec
    draws = torch.Generator().manual_seed(request.seed + 1)
    seen, history, step = set(), [], 0
    best_reward, best_error = -np.inf, np.inf      # the best reward, and the best error within the budgets
    next_row = 0.0
    while len(seen) < cfg.evaluations and step < cfg.steps_limit:
        step += 1
        service.generation = step
        with one_thread():  # again: an estimator may set its own thread count (the supernet's threads option)
            archs, log_prob, entropy = policy.sample(cfg.batch, draws)
        archs = archs.numpy()
        keys = [service.key(a) for a in archs]
        keep = _new_within_budget(keys, seen, cfg.evaluations - len(seen))
        archs, keys, log_prob, entropy = archs[:keep], keys[:keep], log_prob[:keep], entropy[:keep]
        values = service.evaluate(archs)
        seen.update(keys)
        rewards = mnas_reward(1.0 - values["error"], budget_ratios(values, spec.constraints), cfg.reward, cfg.exponent)
        with one_thread():
            stats = trainer.update(log_prob, entropy, rewards)
        ok = feasible(spec, values)
        best_error = min(best_error, float(values["error"][ok].min())) if ok.any() else best_error
        best_reward = max(best_reward, stats["reward_max"])
        if len(seen) >= next_row or len(seen) >= cfg.evaluations:
            next_row = len(seen) + cfg.evaluations / HISTORY_ROWS
            history.append({"step": step, "evaluations": len(seen), **stats, "best_reward": best_reward,
                            "best_feasible_error": best_error if np.isfinite(best_error) else None})
        request.progress("evaluations", len(seen), cfg.evaluations, reward=stats["reward_mean"])
    return seen, history, step
