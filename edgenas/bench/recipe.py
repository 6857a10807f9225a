"""The one training recipe of the benchmark: fixed split, schedule, augmentation and seeds.

Every architecture of a benchmark is trained from scratch by :func:`train_and_score`
with the same :class:`Recipe`; the recipe's fingerprint is stored in the benchmark
file, and a benchmark never mixes results of two recipes.

Why this recipe (numbers in BENCHMARKS.md, "Benchmark recipe"): MNIST-5k is the
embedded dataset. Trained on 4,000 images and scored on 1,000, uniform
fbnet-small architectures all land within 95-98.6 %, inside the ±0.45-point noise
of a 1,000-image test set. Training on fewer images makes capacity and
inductive bias matter (the spread between architectures grows), and it leaves
more images to score on (the noise shrinks): a 1,000-image training part, a
1,000-image validation part (what searches read) and a 3,000-image test part.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from ..arch.model import build_network
from ..arch.space import SearchSpace
from ..errors import ConfigError
from ..train.data import load_images
from ..train.loop import TrainConfig, epoch_batches, run_epoch, sgd_cosine


@dataclass(frozen=True)
class Recipe:
    dataset: str = "mnist5k"
    split_seed: int = 0
    train_images: int = 1000
    val_images: int = 1000          # the rest of the dataset is the test part
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    shift: int = 2                  # augmentation: random translation by up to this many pixels
    threads: int = 1                # torch threads per training (results are bit-identical for one thread count)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, momentum=self.momentum,
                           weight_decay=self.weight_decay, seed=seed)


@dataclass
class BenchSplits:
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    background: float               # the normalised value of a black pixel, used to fill shifted borders


def make_bench_splits(recipe: Recipe) -> BenchSplits:
    """The recipe's seeded train/validation/test parts, normalised by the training part's statistics."""
    data = load_images(recipe.dataset)
    n = len(data.labels)
    if recipe.train_images + recipe.val_images >= n:
        raise ConfigError(f"recipe asks for {recipe.train_images} training and {recipe.val_images} validation "
                          f"images but {recipe.dataset} has {n}; leave some for the test part")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(recipe.split_seed))
    a, b = recipe.train_images, recipe.train_images + recipe.val_images
    train_x = data.images[order[:a]]
    mean, std = train_x.mean(), train_x.std().clamp_min(1e-6)
    x = (data.images - mean) / std
    part = lambda idx: TensorDataset(x[idx], data.labels[idx])  # noqa: E731
    return BenchSplits(part(order[:a]), part(order[a:b]), part(order[b:]), float(-mean / std))


def shifted(x: torch.Tensor, max_shift: int, background: float, generator: torch.Generator) -> torch.Tensor:
    """Each image translated by a random (dy, dx) in [-max_shift, max_shift], borders filled with background."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=background)
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


def _augmented_batches(splits: BenchSplits, recipe: Recipe, seed: int, epoch: int):
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    for x, y in epoch_batches(splits.train, recipe.batch_size, seed=seed, epoch=epoch):
        yield shifted(x, recipe.shift, splits.background, g), y


def train_and_score(space: SearchSpace, arch: Sequence[int], recipe: Recipe, seed: int,
                    splits: BenchSplits | None = None) -> dict:
    """Train ``arch`` from scratch with ``recipe`` and ``seed``; return validation and test accuracy.

    Deterministic for one machine, seed and thread count: initialisation from
    ``seed``, batch order and shifts from ``(seed, epoch)``. Another CPU model
    gives other floats (fbnet-small's first record: 95.00 % test on an AMD EPYC
    against 94.93 % on the Intel Xeon that built the shipped file), so the run
    records the CPU it trained on.
    """
    from profilers.base import cpu_model

    splits = splits or make_bench_splits(recipe)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        torch.manual_seed(seed)
        model = build_network(space, arch)
        cfg = recipe.train_config(seed)
        opt, sched = sgd_cosine(model.parameters(), cfg, cfg.epochs)
        t0 = time.perf_counter()
        for epoch in range(cfg.epochs):
            tr = run_epoch(model, _augmented_batches(splits, recipe, seed, epoch), optimizer=opt)
            sched.step()
        train_s = time.perf_counter() - t0
        val = run_epoch(model, _eval_batches(splits.val))
        test = run_epoch(model, _eval_batches(splits.test))
    finally:
        torch.set_num_threads(threads_before)
    return {"seed": seed, "val_acc": val.accuracy, "test_acc": test.accuracy, "train_loss": tr.loss,
            "train_acc": tr.accuracy, "train_s": round(train_s, 3), "cpu": cpu_model()}


def _eval_batches(ds: TensorDataset, batch_size: int = 500):
    return epoch_batches(ds, batch_size, seed=0, epoch=0, shuffle=False)
