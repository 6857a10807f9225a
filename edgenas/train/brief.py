"""Brief training of a network that already has weights: one cosine cycle, then its validation score.

Morphism searches (NASH, LEMONADE) train every child this way (Elsken et al.: a few epochs with
SGDR, the learning rate annealed from its maximum to zero within the cycle), and the recovery
training after an approximate morphism is the same call. The schedule steps after every batch,
so even a one-epoch cycle anneals. Data order comes from :func:`~edgenas.train.loop.epoch_batches`
with ``cfg.seed``, so a brief training is reproducible.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from .loop import EpochResult, TrainConfig, epoch_batches, run_epoch, sgd_cosine

__all__ = ["BriefResult", "train_briefly", "evaluate"]


@dataclass
class BriefResult:
    val_acc: float
    val_loss: float
    train_loss: Optional[float]   # of the last epoch; None when no epoch ran
    seconds: float                # wall time of training and validation


def evaluate(model: nn.Module, data: TensorDataset, batch_size: int = 512) -> EpochResult:
    """Loss and accuracy of ``model`` (eval mode) on ``data``."""
    return run_epoch(model, epoch_batches(data, batch_size, seed=0, epoch=0, shuffle=False))


def _stepping(batches: Iterable, scheduler) -> Iterator:
    """``batches``, advancing ``scheduler`` after each: run_epoch asks for the next batch only after its
    optimizer step, so the learning rate moves once per trained batch."""
    for batch in batches:
        yield batch
        scheduler.step()


def train_briefly(model: nn.Module, train: TensorDataset, val: TensorDataset, cfg: TrainConfig, *,
                  max_batches: Optional[int] = None) -> BriefResult:
    """Train ``model`` from its current weights for ``cfg.epochs`` (one cosine cycle), then score it on ``val``."""
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    per_epoch = math.ceil(len(train) / cfg.batch_size)
    if max_batches is not None:
        per_epoch = min(per_epoch, max_batches)
    opt, sched = sgd_cosine(model.parameters(), cfg, cfg.epochs * per_epoch)
    train_loss = None
    for epoch in range(cfg.epochs):
        batches = epoch_batches(train, cfg.batch_size, seed=cfg.seed, epoch=epoch)
        train_loss = run_epoch(model, _stepping(batches, sched), optimizer=opt, max_batches=max_batches).loss
    val_result = evaluate(model, val)
    return BriefResult(val_result.accuracy, val_result.loss, train_loss, time.perf_counter() - t0)
