"""Single-path one-shot (SPOS) supernet training: one uniformly sampled path per batch (Guo et al. 2020).

Uniform sampling trains every candidate equally often, so the inherited
weights rank subnets more fairly than a DNAS supernet whose training followed
its architecture distribution. Training goes through :func:`train.run_epoch`
with a path-sampling ``forward``; the run folder uses the layout of
:mod:`edgenas.supernet_io`. A checkpoint is written after every epoch, and a
rerun with the same config continues from it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, List, Optional

import torch

from .data import check_fits_space, load_images, make_splits
from .errors import RunError
from .fileio import PathLike, atomic_write_json, check_writable
from .runstore import config_changes
from .space import SearchSpace
from .supernet import Supernet
from .supernet_io import CHECKPOINT, CONFIG
from .train import TrainConfig, TrainingDivergedError, load_checkpoint, run_epoch, save_checkpoint, sgd_cosine

__all__ = ["train_spos", "uniform_sampler"]

EpochCallback = Callable[[int, int, dict], None]  # (epoch, epochs, history row)


def uniform_sampler(space: SearchSpace, generator: torch.Generator) -> Callable[[], List[int]]:
    """A function drawing one uniformly random path (a candidate per layer) per call."""
    def sample() -> List[int]:
        return torch.randint(0, space.num_candidates, (space.num_layers,), generator=generator).tolist()
    return sample


def train_spos(space: SearchSpace, dataset: str, out: PathLike, cfg: TrainConfig, *, split_seed: int = 0,
               max_batches: Optional[int] = None, on_epoch: Optional[EpochCallback] = None) -> List[dict]:
    """Train a SPOS supernet of ``space`` on ``dataset`` into the run folder ``out``; returns the history.

    An existing run with the same config is continued; one with another config
    is refused (:class:`RunError` naming what changed) and left untouched.
    """
    out = Path(out)
    config = {"kind": "supernet", "mode": "spos", "space": {"name": space.name, "declaration": space.declaration,
                                                            "fingerprint": space.fingerprint},
              "dataset": dataset, "split_seed": split_seed, "train": cfg.to_json(), "max_batches": max_batches}
    config = json.loads(json.dumps(config))
    ckpt_path, cfg_path = out / CHECKPOINT, out / CONFIG
    if cfg_path.is_file():
        try:
            old = json.loads(cfg_path.read_text())
        except ValueError as e:
            raise RunError(f"{cfg_path} is corrupt ({e}); it was left untouched") from None
        changes = config_changes(old, config)
        if changes:
            raise RunError(f"{out} holds a supernet run with another config; refusing to overwrite it. "
                           f"Changed: {'; '.join(changes[:5])}")
    check_writable(ckpt_path)
    splits = make_splits(load_images(dataset), seed=split_seed)
    check_fits_space(splits, space)

    torch.manual_seed(cfg.seed)
    supernet = Supernet(space)
    opt, sched = sgd_cosine(supernet.parameters(), cfg, cfg.epochs)
    history, start = [], 0
    if ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        try:
            supernet.load_state_dict(state["supernet"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            history, start = list(state["history"]), int(state["epoch"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise RunError(f"{ckpt_path} does not continue this run ({type(e).__name__}); it was left "
                           f"untouched") from None
    else:
        atomic_write_json(cfg_path, config)
    for epoch in range(start, cfg.epochs):
        sample = uniform_sampler(space, torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        loader = splits.loader("weight", cfg.batch_size, shuffle=True, seed=cfg.seed * 100_003 + epoch)
        res = run_epoch(supernet, loader, optimizer=opt, forward=lambda m, x: m(x, arch=sample()),
                        max_batches=max_batches)
        sched.step()
        row = {"epoch": epoch + 1, "train_loss": res.loss, "train_acc": res.accuracy, "samples": res.samples}
        history.append(row)
        save_checkpoint(ckpt_path, {"supernet": supernet.state_dict(), "optimizer": opt.state_dict(),
                                    "scheduler": sched.state_dict(), "history": history, "epoch": epoch + 1})
        if on_epoch:
            on_epoch(epoch + 1, cfg.epochs, row)
    if not history:
        raise TrainingDivergedError("no epoch was trained (epochs must be at least 1)")
    return history
