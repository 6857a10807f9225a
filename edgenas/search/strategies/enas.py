"""ENAS (Pham et al., ICML 2018): a REINFORCE controller and a shared supernet trained in turns, registered as ``enas``.

Each step first trains the shared weights of a single-path
:class:`~edgenas.arch.supernet.Supernet` on ``weight_batches`` training batches,
each through an architecture the controller samples (parameter sharing *during*
the search: the weights learn the paths the controller currently likes), then,
after ``warmup_steps``, takes one controller step: ``batch`` sampled
architectures are scored on ``val_batches`` validation batches with the shared
weights, and the MnasNet reward of that accuracy and the tables' costs
(:mod:`edgenas.search.reinforce`) updates the policy. A reward is measured with
each validation batch's own BatchNorm statistics (the running statistics of a
shared layer mix every path that ran through it), without changing the running
ones. At the end ``samples`` architectures drawn from the controller, and its
most likely one, are scored on the whole validation split by
:class:`~edgenas.search.estimators.SupernetEstimator` (BatchNorm recalibrated
per architecture); the result is their Pareto set, the best reward first.

Resume: ``checkpoint.pt`` in the run folder (written atomically every
``checkpoint_every`` steps) holds the supernet, the controller, both optimisers,
the schedule, the baseline and the history; every step draws its data and
architectures from generators seeded by (seed, step), so a rerun continues from
the checkpoint to the result of an uninterrupted run. The checkpoint keeps the
weights under ``"supernet"``, so ``edgenas export --init supernet`` can inherit them.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import List, Sequence

import numpy as np
import torch
import torch.nn as nn

from ...arch.supernet import Supernet
from ...errors import RunError
from ...runfolder import CHECKPOINT
from ...train.data import check_fits_space, load_images, make_splits
from ...train.loop import TrainConfig, TrainingDivergedError, load_checkpoint, run_epoch, save_checkpoint, \
    sgd_cosine
from ..contract import SearchOutcome, SearchRequest, Strategy
from ..controller import make_policy
from ..estimators import SupernetEstimator
from ..reinforce import Reinforce, budget_ratios, mnas_reward
from ..run import least_violating, pareto_front, record_point
from ..runstore import EvalRecord
from .rl_config import ENASConfig

__all__ = ["ENASStrategy", "ENASConfig", "batch_statistics"]

DEFAULT_DATASET = "mnist5k"


def _generator(seed: int, step: int, part: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step * 11 + part)


def _draw_batches(dataset, count: int, batch_size: int, generator: torch.Generator):
    """``count`` batches of distinct random items of an in-memory ``TensorDataset``."""
    x, y = dataset.tensors
    idx = torch.randperm(len(y), generator=generator)[:count * batch_size]
    return [(x[idx[i:i + batch_size]], y[idx[i:i + batch_size]]) for i in range(0, len(idx), batch_size)]


@contextmanager
def batch_statistics(model: nn.Module):
    """Evaluation mode, except that BatchNorm normalises with each batch's statistics and keeps its running ones
    (a momentum of 0 leaves them as they were)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [bn.momentum for bn in bns]
    was_training = model.training
    model.eval()
    for bn in bns:
        bn.train()
        bn.momentum = 0.0
    try:
        yield
    finally:
        for bn, m in zip(bns, saved):
            bn.momentum = m
        model.train(was_training)


class ENASSearch:
    """One ENAS run; everything the user can get wrong is checked in ``__init__``, before anything is written."""

    def __init__(self, request: SearchRequest):
        self.request, self.cfg, self.spec = request, request.config, request.spec
        self.space, self.seed, self.out = request.space, request.seed, Path(request.out)
        self.dataset = request.dataset or DEFAULT_DATASET
        self.splits = make_splits(load_images(self.dataset), seed=self.seed)
        check_fits_space(self.splits, self.space)
        cfg = self.cfg
        torch.manual_seed(self.seed)  # the supernet's initial weights
        self.supernet = Supernet(self.space)
        train_cfg = TrainConfig(epochs=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay, seed=self.seed)
        self.w_opt, self.w_sched = sgd_cosine(self.supernet.parameters(), train_cfg, cfg.steps)
        self.policy = make_policy(cfg.policy, self.space.num_layers, self.space.num_candidates, hidden=cfg.hidden,
                                  seed=self.seed)
        self.trainer = Reinforce(self.policy, cfg.learning_rate, cfg.entropy_weight, cfg.baseline_decay)
        self.history: List[dict] = []
        self.rewarded: set = set()      # distinct architectures whose reward was measured
        self.start = 0

    # ---- checkpoint ---------------------------------------------------------------
    def _state(self, step: int) -> dict:
        return {"supernet": self.supernet.state_dict(), "w_opt": self.w_opt.state_dict(),
                "w_sched": self.w_sched.state_dict(), "controller": self.trainer.state_dict(), "step": step,
                "history": self.history, "rewarded": sorted(self.rewarded),
                "space_fingerprint": self.space.fingerprint}

    def _restore(self, path: Path) -> None:
        state = load_checkpoint(path)
        try:
            if state["space_fingerprint"] != self.space.fingerprint:
                raise ValueError("another space")
            self.supernet.load_state_dict(state["supernet"])
            self.w_opt.load_state_dict(state["w_opt"])
            self.w_sched.load_state_dict(state["w_sched"])
            self.trainer.load_state_dict(state["controller"])
            self.history, self.rewarded = list(state["history"]), set(state["rewarded"])
            self.start = int(state["step"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise RunError(f"{path} does not continue this ENAS run ({type(e).__name__}); it was left untouched; "
                           f"use another output folder") from None

    # ---- one step -------------------------------------------------------------------
    def _weight_step(self, step: int):
        cfg = self.cfg
        batches = _draw_batches(self.splits.weight, cfg.weight_batches, cfg.batch_size, _generator(self.seed, step, 0))
        with torch.no_grad():
            paths = iter(self.policy.sample(len(batches), _generator(self.seed, step, 1))[0].tolist())
        result = run_epoch(self.supernet, batches, optimizer=self.w_opt, forward=lambda m, x: m(x, arch=next(paths)))
        self.w_sched.step()
        return result

    @torch.no_grad()
    def accuracy(self, arch: Sequence[int], batches) -> float:
        """Top-1 accuracy of ``arch`` with the shared weights on ``batches`` (batch BatchNorm statistics)."""
        correct = total = 0
        with batch_statistics(self.supernet):
            for x, y in batches:
                correct += int((self.supernet(x, arch=arch).argmax(1) == y).sum())
                total += len(y)
        return correct / max(total, 1)

    def rewards(self, archs: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
        values = {"error": 1.0 - accuracy, **self.spec.costs(archs)}
        return mnas_reward(accuracy, budget_ratios(values, self.spec.constraints), self.cfg.reward, self.cfg.exponent)

    def _controller_step(self, step: int) -> dict:
        cfg = self.cfg
        archs, log_prob, entropy = self.policy.sample(cfg.batch, _generator(self.seed, step, 2))
        archs = archs.numpy()
        val = _draw_batches(self.splits.arch, cfg.val_batches, cfg.batch_size, _generator(self.seed, step, 3))
        accuracy = np.array([self.accuracy(a, val) for a in archs])
        self.rewarded.update(self.space.format(a) for a in archs)
        return {**self.trainer.update(log_prob, entropy, self.rewards(archs, accuracy)),
                "val_acc_mean": float(accuracy.mean())}

    def _step(self, step: int) -> dict:
        t0 = time.perf_counter()
        try:
            w = self._weight_step(step)
        except TrainingDivergedError as e:
            raise TrainingDivergedError(f"ENAS diverged in the weight step of step {step + 1}: "
                                        f"{str(e).split(';')[0]}; the last checkpoint in {self.out / CHECKPOINT} "
                                        f"is kept; lower --lr") from None
        row = {"step": step + 1, "train_loss": w.loss, "train_acc": w.accuracy}
        if step >= self.cfg.warmup_steps:
            row.update(self._controller_step(step))
        row.update(most_likely=self.space.format(self.policy.most_likely()), step_s=time.perf_counter() - t0)
        return row

    # ---- the run ------------------------------------------------------------------------
    def run(self) -> SearchOutcome:
        cfg = self.cfg
        threads_before = torch.get_num_threads()
        torch.set_num_threads(cfg.threads or max(1, os.cpu_count() or 1))
        try:
            if (self.out / CHECKPOINT).is_file():
                self._restore(self.out / CHECKPOINT)
            self.request.progress("steps", self.start, cfg.steps)
            for step in range(self.start, cfg.steps):
                self.history.append(self._step(step))
                if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                    save_checkpoint(self.out / CHECKPOINT, self._state(step + 1))
                row = self.history[-1]
                self.request.progress("steps", step + 1, cfg.steps, loss=row["train_loss"],
                                      **({"reward": row["reward_mean"]} if "reward_mean" in row else {}))
            return self.outcome()
        finally:
            torch.set_num_threads(threads_before)

    def outcome(self) -> SearchOutcome:
        """Score the most likely and ``samples`` drawn architectures on the validation split; their Pareto set."""
        drawn = self.policy.sample(self.cfg.samples, _generator(self.seed, self.cfg.steps, 4))[0].tolist()
        archs = np.array(list(dict.fromkeys([self.policy.most_likely(), *map(tuple, drawn)])), dtype=np.int64)
        estimator = SupernetEstimator(self.supernet, self.splits, batch_size=self.cfg.batch_size, seed=self.seed)
        errors = estimator.evaluate(archs)
        costs = self.spec.costs(archs)
        records = [EvalRecord(self.space.format(a), tuple(int(c) for c in a),
                              {"error": float(e), **{k: float(v[i]) for k, v in costs.items()}}, self.cfg.steps, 1)
                   for i, (a, e) in enumerate(zip(archs, errors))]
        reward = dict(zip((r.arch for r in records), self.rewards(archs, 1.0 - errors)))
        front = sorted(pareto_front(self.spec, records), key=lambda r: -reward[r.arch])
        lv = None if front else least_violating(self.spec, records)
        return SearchOutcome(
            front=[record_point(r) for r in front], evaluated=len(self.rewarded | {r.arch for r in records}),
            history=self.history, selected=front[0].arch if front else None,
            least_violating=record_point(lv) if lv else None, points=[record_point(r) for r in records],
            details={"dataset": self.dataset, "steps": len(self.history), "baseline": self.trainer.baseline,
                     "most_likely": self.space.format(archs[0]),
                     "rewards": {a: float(v) for a, v in reward.items()}},
            # the run folder holds the trained supernet, and its data were split with the search's seed
            sources={"supernet": str(self.out.resolve()), "split_seed": self.seed, "dataset": self.dataset})


class ENASStrategy(Strategy):
    """ENAS: a controller trained by REINFORCE, its rewards measured with a supernet it trains at the same time."""

    name = "enas"
    summary = "ENAS: a REINFORCE controller and a shared supernet trained in turns, MnasNet's reward"
    Config = ENASConfig
    uses_estimator = False  # it trains its own supernet

    def run(self, request: SearchRequest) -> SearchOutcome:
        return ENASSearch(request).run()
