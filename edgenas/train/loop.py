"""The one training loop: supernet search and final training both run through :func:`run_epoch`.

Callers customise what differs (how the model is called, the loss, which
parameters step) through arguments, never by copying the loop.
"""
from __future__ import annotations

import io
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import EdgeNASError, RunError
from ..fileio import PathLike, atomic_write_bytes
from ..progress import Progress, quiet

Forward = Callable[[nn.Module, torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class TrainingDivergedError(EdgeNASError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class EpochResult:
    loss: float
    accuracy: float
    samples: int


def _default_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x)


def run_epoch(model: nn.Module, loader, *, optimizer: Optional[torch.optim.Optimizer] = None,
              forward: Forward = _default_forward, loss_fn: LossFn = F.cross_entropy,
              device: str | torch.device = "cpu", max_batches: Optional[int] = None) -> EpochResult:
    """One pass over ``loader``: trains when ``optimizer`` is given, else evaluates without gradients.

    Raises :class:`TrainingDivergedError` on a non-finite loss.
    """
    training = optimizer is not None
    model.train(training)
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for i, (x, y) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            x, y = x.to(device), y.to(device)
            logits = forward(model, x)
            loss = loss_fn(logits, y)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(f"loss became {loss.item()} at batch {i}; lower the learning rate (lr) "
                                            f"(the last good checkpoint is kept)")
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            n = y.numel()
            total_loss += loss.item() * n
            correct += (logits.argmax(1) == y).sum().item()
            seen += n
    return EpochResult(total_loss / max(seen, 1), correct / max(seen, 1), seen)


def epoch_batches(dataset, batch_size: int, *, seed: int, epoch: int, rank: int = 0, world: int = 1,
                  shuffle: bool = True) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Batches of an in-memory ``TensorDataset`` in an order fixed by ``(seed, epoch)``.

    With ``world`` processes each global batch is dealt out round-robin and
    this process yields share ``rank`` of it, so the processes together see
    exactly the batches a single process sees (a resumed or distributed run
    reads the same data as an uninterrupted single-process one). A last batch
    smaller than ``world`` is dropped so every process takes the same steps.
    """
    x, y = dataset.tensors
    n = len(y)
    order = (torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)) if shuffle
             else torch.arange(n))
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        if len(idx) < world:
            break
        idx = idx[rank::world]
        yield x[idx], y[idx]


def sgd_cosine(params, cfg: TrainConfig, steps: int):
    """SGD with momentum and a cosine schedule over ``steps`` scheduler steps (epochs)."""
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))


def save_checkpoint(path: PathLike, state: dict) -> None:
    """Atomically save a dict of state dicts, tensors and plain values."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: PathLike) -> dict:
    """Load a checkpoint without unpickling arbitrary objects (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise RunError(f"checkpoint {path} is corrupt or not an edgenas checkpoint: {type(e).__name__}") from None


def rng_state(train_loader) -> dict:
    """Every random state the next epoch draws from: torch's, numpy's, Python's, and the loader's generator
    (its shuffle order and worker seeds), as tensors and plain values a ``weights_only`` load accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss}}
    generator = getattr(train_loader, "generator", None)
    if isinstance(generator, torch.Generator):
        state["loader"] = generator.get_state()
    return state


def set_rng_state(state: dict, train_loader) -> None:
    """Restore what :func:`rng_state` saved, so that a resumed training draws what the uninterrupted one did."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    generator = getattr(train_loader, "generator", None)
    if "loader" in state and isinstance(generator, torch.Generator):
        generator.set_state(state["loader"])


def train_model(model: nn.Module, train_loader, test_loader, cfg: TrainConfig, *,
                checkpoint: Optional[PathLike] = None, device: str = "cpu",
                progress: Progress = quiet) -> list:
    """Train ``model`` from its current weights for ``cfg.epochs``; resume from ``checkpoint`` when it exists.

    The checkpoint also holds every random state (:func:`rng_state`), so a resumed training is the
    uninterrupted one, bit for bit. Returns the history: one dict per epoch with train and test
    loss/accuracy. ``progress`` hears ``("train", epochs done, cfg.epochs)`` first (all of them when the
    checkpoint is complete), then after each epoch with its ``loss``, ``acc`` and ``test_acc``.
    """
    torch.manual_seed(cfg.seed)
    model.to(device)
    opt, sched = sgd_cosine(model.parameters(), cfg, cfg.epochs)
    history, start = [], 0
    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, start = list(state["history"]), int(state["epoch"])
        if "rng" in state:  # checkpoints written before it resume with fresh random states
            set_rng_state(state["rng"], train_loader)
    progress("train", min(start, cfg.epochs), cfg.epochs)
    for epoch in range(start, cfg.epochs):
        tr = run_epoch(model, train_loader, optimizer=opt, device=device)
        sched.step()
        te = run_epoch(model, test_loader, device=device)
        history.append({"epoch": epoch + 1, "train_loss": tr.loss, "train_acc": tr.accuracy,
                        "test_loss": te.loss, "test_acc": te.accuracy})
        if checkpoint is not None:
            save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                         "scheduler": sched.state_dict(), "history": history, "epoch": epoch + 1,
                                         "rng": rng_state(train_loader)})
        progress("train", epoch + 1, cfg.epochs, loss=tr.loss, acc=tr.accuracy, test_acc=te.accuracy)
    if history and not math.isfinite(history[-1]["train_loss"]):
        raise TrainingDivergedError("training ended with a non-finite loss")
    return history
