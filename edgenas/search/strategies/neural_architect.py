"""Resource-aware RL with predicted rewards (Neural Architect, Zhou and Diamos 2018), registered as
``neural-architect``.

A controller (:class:`~edgenas.search.transform_policy.TransformPolicy`)
proposes transformations of a network — change one layer to another candidate
— in episodes of ``steps`` changes, each episode starting from one of the
``parents`` best networks evaluated so far. Its reward is multi-objective,

    R = accuracy · Π_tables (latency / T)^w · (training time / t_ref)^v

with w = ``latency_weight`` at or below a table's budget T and −1 above it (MnasNet's soft and hard
constraint; T is the initial networks' median latency for a table without a budget), v = ``time_weight``
and t_ref the initial networks' median training time. Latency comes from the tables (exact); accuracy and
training time come from *performance networks* — the shared ensemble predictor, one ensemble with an
output for each (one fit instead of two per round) — refitted every round on the networks really evaluated. A network already evaluated is rewarded with its real values. Only the
``evaluate_per_round`` best proposals of a round by predicted reward (those within the budgets first) are
really evaluated; the controller learns from all of them (REINFORCE on each change's reward improvement,
a moving-average baseline, an entropy bonus).

Training time (``train_time``): ``auto`` uses the seconds the estimator measured when it knows them —
the benchmark (``bench``) trained its architectures and kept ``train_s`` per run (its surrogate predicts
the rest) — and then the performance networks' second output predicts them (on a log scale) for the proposals.
Other estimators (the oracle, a supernet) train nothing, so the proxy is the architecture's FLOPs from
the table (one image's forward pass; training time of a fixed recipe grows with it); it is exact, so it
is computed rather than predicted. ``flops`` forces the proxy.

Determinism and resume as for BANANAS: one seeded generator, seeded fits on the journaled values.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from ...errors import ConfigError
from ..candidates import feasible_random, mutate, unseen, violation
from ..contract import SearchOutcome, SearchRequest, Strategy, option
from ..evaluated import Evaluated
from ..predictor import PerformancePredictor, PredictorOptions
from ..problem import EvaluationService
from ..run import JOURNAL, outcome_of
from ..runstore import open_store
from ..transform_policy import TransformPolicy

TRAIN_TIME = ("auto", "flops")


@dataclass
class NeuralArchitectConfig(PredictorOptions):
    evaluations: int = option(150, "Distinct architectures to evaluate in all, the initial ones included.")
    initial: int = option(10, "Random architectures (among those meeting the budgets) evaluated first.")
    episodes: int = option(16, "Controller episodes per round.")
    steps: int = option(4, "Transformations (one layer changed) per episode.")
    evaluate_per_round: int = option(5, "Proposals really evaluated per round: the best by predicted reward.")
    parents: int = option(5, "Episodes start from one of this many best networks evaluated (by reward).")
    learning_rate: float = option(1.0, "The controller's policy-gradient step (at 0.1 its entropy barely moves in 80 "
                                           "evaluations; at 3 it collapses early).")
    entropy_weight: float = option(1e-3, "Entropy bonus of the controller's objective.")
    baseline_decay: float = option(0.9, "Decay of the moving-average reward baseline.")
    latency_weight: float = option(-0.07, "Reward exponent of latency / budget at or below the budget (MnasNet: "
                                          "-0.07; above a budget the exponent is -1).")
    time_weight: float = option(-0.07, "Reward exponent of training time / the initial networks' median.")
    train_time: str = option("auto", "Training time: auto (the estimator's measured seconds, predicted by a "
                                     "performance network; FLOPs when it has none) or flops.", TRAIN_TIME)

    RESUME_NEUTRAL = ("evaluations",)

    def validate(self) -> None:
        self.validate_predictor("neural-architect")
        if self.train_time not in TRAIN_TIME:
            raise ConfigError(f"neural-architect's train_time is one of {', '.join(TRAIN_TIME)}, "
                              f"not {self.train_time!r}")
        if not (self.initial >= 2 and self.episodes >= 1 and self.steps >= 1 and self.evaluate_per_round >= 1
                and self.parents >= 1 and self.evaluations >= self.initial):
            raise ConfigError(f"neural-architect needs initial >= 2, episodes, steps, evaluate_per_round and "
                              f"parents >= 1, evaluations >= initial (got initial={self.initial}, episodes="
                              f"{self.episodes}, steps={self.steps}, evaluate_per_round={self.evaluate_per_round}, "
                              f"parents={self.parents}, evaluations={self.evaluations})")
        if self.latency_weight > 0 or self.time_weight > 0:
            raise ConfigError(f"neural-architect's latency_weight and time_weight are exponents of a cost and must "
                              f"be <= 0 (got {self.latency_weight:g} and {self.time_weight:g})")
        if self.learning_rate <= 0 or self.entropy_weight < 0 or not 0 <= self.baseline_decay < 1:
            raise ConfigError(f"neural-architect needs learning_rate > 0, entropy_weight >= 0 and "
                              f"0 <= baseline_decay < 1 (got {self.learning_rate:g}, {self.entropy_weight:g}, "
                              f"{self.baseline_decay:g})")


class _Reward:
    """R = accuracy · Π (latency / T)^w · (time / t_ref)^v, references fixed from the initial networks."""

    def __init__(self, cfg, spec, initial_values: Dict[str, np.ndarray], initial_time: np.ndarray):
        self.cfg, self.spec = cfg, spec
        self.refs = {t.key: (t.max_latency_ms, t.max_latency_ms or float(np.median(initial_values[t.key])))
                     for t in spec.targets}
        self.time_ref = float(np.median(initial_time))

    def __call__(self, error: np.ndarray, train_time: np.ndarray, costs: Dict[str, np.ndarray]) -> np.ndarray:
        r = 1.0 - np.asarray(error, dtype=np.float64)
        for key, (budget, ref) in self.refs.items():
            ratio = costs[key] / ref
            w = np.where(ratio <= 1.0, self.cfg.latency_weight, -1.0) if budget else self.cfg.latency_weight
            r = r * ratio ** w
        if self.spec.max_memory_bytes is not None:
            ratio = costs["memory_bytes"] / self.spec.max_memory_bytes
            r = r * np.where(ratio <= 1.0, 1.0, 1.0 / ratio)
        return r * (np.asarray(train_time) / self.time_ref) ** self.cfg.time_weight


class _PerformanceNetworks:
    """Accuracy (and, when measured, training time) of networks: one ensemble, an output per measured target
    (error; log training time). Two ensembles cost twice the steps for the same rankings (BENCHMARKS.md)."""

    def __init__(self, space, cfg, seed: int, measured_time: bool):
        self.measured_time = measured_time
        self.model = PerformancePredictor(space, cfg, seed=seed, outputs=2 if measured_time else 1)
        self.encoding = self.model.encoding

    def fit(self, done: Evaluated, times: np.ndarray) -> None:
        y = done.values["error"]
        if self.measured_time:
            y = np.column_stack([y, np.log(np.maximum(times, 1e-9))])
        self.model.fit(done.array(), y)

    def predict(self, archs: np.ndarray, costs: Dict[str, np.ndarray]):
        """(error, training time) predicted; the FLOPs proxy when no time is measured."""
        mean = self.model.predict(archs)[0]
        if self.measured_time:
            return mean[:, 0], np.exp(mean[:, 1])
        return mean, costs["flops"]


def _controller_round(policy: TransformPolicy, starts: np.ndarray, predicted_reward, cfg, baseline: Optional[float],
                      rng: np.random.Generator):
    """One round of episodes from ``starts``: ``steps`` changes each, every change credited with the reward it
    added minus a moving-average baseline, then one REINFORCE step. Returns (the networks visited, the policy's
    entropy, the new baseline)."""
    states, value = starts, predicted_reward(starts)
    visited, taken, gains = [], [], []
    for _ in range(cfg.steps):
        actions, changed = policy.sample(states, rng)
        changed_value = predicted_reward(changed)
        taken.append((states, actions))
        gains.append(changed_value - value)
        visited.append(changed)
        states, value = changed, changed_value
    gains = np.concatenate(gains)
    baseline = float(gains.mean()) if baseline is None else \
        cfg.baseline_decay * baseline + (1 - cfg.baseline_decay) * float(gains.mean())
    advantages = gains - baseline
    advantages = advantages / advantages.std() if advantages.std() > 1e-12 else advantages * 0.0
    entropy = policy.update(np.vstack([s for s, _ in taken]), np.concatenate([a for _, a in taken]), advantages)
    return np.vstack(visited), entropy, baseline


class NeuralArchitect(Strategy):
    name = "neural-architect"
    summary = ("Neural Architect: an RL controller of one-layer transformations rewarded by performance networks "
               "(accuracy, training time) and the table's latency")
    Config = NeuralArchitectConfig

    def run(self, request: SearchRequest) -> SearchOutcome:
        cfg, spec = request.config, request.spec
        rng = np.random.default_rng(request.seed)
        store = open_store(request.out / JOURNAL, request.settings)
        overhead_s = 0.0
        try:
            service = EvaluationService(spec, request.estimator, store, request.runner, session=store.begin_session())
            done = Evaluated(service)
            first = unseen(feasible_random(spec, 4 * cfg.initial, rng), set(), service.key)[:cfg.initial]
            done.add(first)
            measured = cfg.train_time == "auto" and request.estimator.train_seconds(first) is not None
            time_of = (lambda a: np.asarray(request.estimator.train_seconds(a), dtype=np.float64)) \
                if measured else (lambda a: spec.costs(a)["flops"])
            times = time_of(first)
            reward = _Reward(cfg, spec, done.values, times)
            nets = _PerformanceNetworks(spec.space, cfg, request.seed, measured)
            policy = TransformPolicy(nets.encoding, cfg.learning_rate, cfg.entropy_weight)
            baseline: Optional[float] = None
            history = [done.row(0, best_reward=float(reward(done.values["error"], times, done.values).max()))]
            request.progress("evaluations", len(done), cfg.evaluations)
            rnd = 0
            while len(done) < cfg.evaluations:
                rnd += 1
                service.generation = rnd
                t0 = time.perf_counter()
                nets.fit(done, times)
                real = reward(done.values["error"], times, done.values)
                known = dict(zip(done.keys, real))

                def predicted_reward(archs):   # the real reward of a network evaluated already
                    costs = spec.costs(archs)
                    r = reward(*nets.predict(archs, costs), costs)
                    return np.array([known.get(service.key(a), p) for a, p in zip(archs, r)])

                order = np.lexsort((-real, violation(spec, done.values)))
                states = done.array()[order[:cfg.parents]][rng.integers(min(cfg.parents, len(order)),
                                                                        size=cfg.episodes)]
                visited, entropy, baseline = _controller_round(policy, states, predicted_reward, cfg, baseline, rng)
                picks = self._pick(cfg, spec, done, visited, order, rng, predicted_reward)
                overhead_s += time.perf_counter() - t0
                if not len(picks):
                    break   # the space holds nothing more to evaluate
                done.add(picks)
                times = np.concatenate([times, time_of(picks)])
                real = reward(done.values["error"], times, done.values)
                history.append(done.row(rnd, best_reward=float(real[violation(spec, done.values) == 0].max(initial=0)),
                                        entropy=entropy))
                request.progress("evaluations", len(done), cfg.evaluations)
            reward_of = dict(zip(done.keys, reward(done.values["error"], times, done.values)))
            records = [r for r in store.records() if r.arch in done.seen]
        finally:
            store.close()
        n = len(done)
        # the pick: the best reward on the front (the reward also weighs training time, which the front does not)
        return outcome_of(spec, records, evaluated=n, history=history,
                          select=lambda front: max(front, key=lambda r: (reward_of[r.arch], r.arch)).arch,
                          details={"fresh": service.fresh, "rounds": rnd,
                                      "train_time": "measured by the estimator (train_s), predicted" if measured
                                      else "FLOPs from the table (proxy, exact)",
                                      "overhead_ms_per_evaluation": 1e3 * overhead_s / max(n, 1)})

    @staticmethod
    def _pick(cfg, spec, done: Evaluated, proposals, order, rng, predicted_reward) -> np.ndarray:
        """The round's evaluations: new proposals within the budgets first, best predicted reward first; when the
        controller proposed too few new networks, mutants of the parents fill in."""
        k = min(cfg.evaluate_per_round, cfg.evaluations - len(done))
        pool = unseen(proposals, done.seen, done.service.key)
        if len(pool) < k:
            parents = done.array()[order[:cfg.parents]]
            pool = unseen(np.vstack([pool, mutate(parents, 8 * k, spec.space.num_candidates, rng)]),
                          done.seen, done.service.key)
        if not len(pool):
            return pool
        rank = np.lexsort((-predicted_reward(pool), violation(spec, spec.costs(pool))))
        return pool[rank[:k]]
