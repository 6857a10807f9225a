"""Accuracy estimators: architecture batch -> top-1 error, behind one small interface, looked up by name.

:class:`SupernetEstimator` is the one-shot estimate of single-path NAS (SPOS,
Guo et al. 2020): every architecture inherits its ops' weights from a trained
supernet, its BatchNorm statistics are recomputed on a few training batches
(shared statistics from other paths would be wrong for this one), and it is
scored on the validation split. :class:`BenchmarkEstimator` reads the benchmark
of trained architectures (:mod:`edgenas.bench`). :class:`SyntheticOracle` is a
deterministic, closed-form stand-in used to benchmark the search itself against
an exactly enumerable ground truth; it never pretends to be a trained network.
:data:`ESTIMATORS` registers them under the names a search takes
(``supernet:PATH``, ``bench[:PATH]``, ``oracle``).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError, RunError, UnknownNameError
from ..train.data import Splits, check_fits_space
from ..arch.space import SearchSpace
from ..arch.supernet import Supernet
from ..train.loop import run_epoch

__all__ = ["ErrorEstimator", "SupernetEstimator", "SyntheticOracle", "BenchmarkEstimator", "ESTIMATORS",
           "EstimatorContext", "make_estimator"]

Batch = Tuple[torch.Tensor, torch.Tensor]


class ErrorEstimator(abc.ABC):
    """Maps an ``(N, layers)`` int array of architectures to ``N`` top-1 errors in [0, 1].

    ``chunk_size`` is how many architectures a runner should hand over (and the
    journal commit) at a time: small for slow estimators, large for fast ones.
    ``describe()`` is everything that changes the values: it enters the run's
    config hash, so a resumed search never mixes two estimators.
    """

    chunk_size: int = 1

    @abc.abstractmethod
    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        """Errors of ``archs`` (deterministic: the same architecture always gets the same value)."""

    @abc.abstractmethod
    def describe(self) -> dict:
        """A JSON-able description of the estimator and its inputs."""

    def train_seconds(self, archs: np.ndarray) -> Optional[np.ndarray]:
        """Seconds to train each architecture with the estimator's recipe, where the estimator knows them (the
        benchmark measured them); None where it does not (a supernet, the oracle)."""
        return None


def _batches(ds, idx: torch.Tensor, batch_size: int) -> List[Batch]:
    x, y = ds.tensors
    return [(x[idx[i:i + batch_size]], y[idx[i:i + batch_size]]) for i in range(0, len(idx), batch_size)]


class SupernetEstimator(ErrorEstimator):
    """Inherited weights + BatchNorm recalibration + validation accuracy, one architecture at a time.

    ``bn_batches`` batches of the weight-training split (a fixed seeded draw)
    recompute the running statistics of the BatchNorm layers on the path; the
    error is measured on the validation (``arch``) split, at most
    ``eval_batches`` batches of it when given. The estimator keeps its own copy
    of the supernet, so the caller's weights and statistics are never changed.
    """

    chunk_size = 1

    def __init__(self, supernet: Supernet, splits: Splits, *, bn_batches: int = 4, batch_size: int = 256,
                 eval_batches: Optional[int] = None, seed: int = 0, identity: Optional[dict] = None,
                 threads: Optional[int] = None):
        check_fits_space(splits, supernet.space)
        if bn_batches < 1:
            raise ValueError("bn_batches must be at least 1")
        self.supernet = Supernet(supernet.space)
        self.supernet.load_state_dict(supernet.state_dict())
        self.space: SearchSpace = supernet.space
        g = torch.Generator().manual_seed(seed)
        n_weight = len(splits.weight)
        draw = torch.randperm(n_weight, generator=g)[:bn_batches * batch_size]
        self.calib = _batches(splits.weight, draw, batch_size)
        self.val = _batches(splits.arch, torch.arange(len(splits.arch)), batch_size)
        if eval_batches is not None:
            self.val = self.val[:eval_batches]
        self.threads = threads
        self._desc = {"kind": "supernet", "bn_batches": len(self.calib), "batch_size": batch_size,
                      "eval_batches": len(self.val), "eval_images": sum(len(y) for _, y in self.val),
                      "seed": seed, **(identity or {})}

    def describe(self) -> dict:
        return dict(self._desc)

    def _path_modules(self, arch: Sequence[int]) -> List[nn.Module]:
        net = self.supernet
        return [net.stem, *(net.layers[l].candidates[int(c)] for l, c in enumerate(arch)), net.head]

    @torch.no_grad()
    def recalibrate(self, arch: Sequence[int]) -> None:
        """Reset and recompute (cumulative average) the BatchNorm statistics on ``arch``'s path."""
        bns = [m for mod in self._path_modules(arch) for m in mod.modules()
               if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        self.supernet.train()
        for x, _ in self.calib:
            self.supernet(x, arch=arch)
        for bn, m in zip(bns, saved):
            bn.momentum = m
        self.supernet.eval()

    def error(self, arch: Sequence[int]) -> float:
        """Top-1 validation error of one architecture with inherited weights."""
        arch = self.space.check(arch)
        self.recalibrate(arch)
        res = run_epoch(self.supernet, self.val, forward=lambda m, x: m(x, arch=arch))
        return 1.0 - res.accuracy

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        return np.array([self.error(a) for a in np.asarray(archs, dtype=np.int64)], dtype=np.float64)


class SyntheticOracle(ErrorEstimator):
    """A deterministic closed-form error for benchmarking search against enumeration.

    Error falls with capacity (log FLOPs of each chosen op, from the cost
    model's analytical FLOPs), with a seeded per-op quality factor and a
    seeded interaction between neighbouring layers, so the trade-off with
    latency is real but not a simple sum. Vectorised: millions of
    architectures per second.
    """

    chunk_size = 1 << 16

    def __init__(self, space: SearchSpace, flops: np.ndarray, seed: int = 0):
        flops = np.asarray(flops, dtype=np.float64)
        L, C = space.num_layers, space.num_candidates
        if flops.shape != (L, C):
            raise ValueError(f"flops matrix is {flops.shape}, space {space.name!r} is {(L, C)}")
        rng = np.random.default_rng(seed)
        ref = np.median(flops[flops > 0]) if np.any(flops > 0) else 1.0
        capacity = np.log2(1.0 + flops / ref)
        self.gain = capacity * rng.uniform(0.6, 1.4, size=(L, C))
        self.pair = rng.normal(0.0, 0.15 * self.gain.mean(), size=(max(L - 1, 0), C, C))
        self.scale = max(self.gain.mean() * L / 2.0, 1e-9)
        self.space, self.seed = space, seed
        self._rows = np.arange(L)

    def describe(self) -> dict:
        return {"kind": "synthetic-oracle", "seed": self.seed, "space": self.space.fingerprint}

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        a = np.asarray(archs, dtype=np.int64)
        score = self.gain[self._rows, a].sum(1)
        if a.shape[1] > 1:
            score = score + self.pair[self._rows[:-1], a[:, :-1], a[:, 1:]].sum(1)
        return 0.02 + 0.6 * np.exp(-np.maximum(score, 0.0) / self.scale)


class BenchmarkEstimator(ErrorEstimator):
    """The benchmark of trained architectures (:mod:`edgenas.bench`): one minus the validation accuracy, tabular
    where the architecture was trained, the surrogate's mean elsewhere. Milliseconds per batch."""

    chunk_size = 1 << 12

    def __init__(self, path, tables, space: SearchSpace, trees: int = 400):
        from ..bench.query import BenchmarkOracle

        self.oracle = BenchmarkOracle(path, tables, space, trees=trees)

    def evaluate(self, archs: np.ndarray) -> np.ndarray:
        return 1.0 - self.oracle.accuracy(archs, "val_acc")[0]

    def train_seconds(self, archs: np.ndarray) -> np.ndarray:
        return self.oracle.train_seconds(archs)

    def describe(self) -> dict:
        return self.oracle.describe()


# ---- the registry: ``--estimator NAME[:ARG]`` ---------------------------------------------------------------
@dataclass
class EstimatorContext:
    """What a search offers an estimator: the space, the objective spec (tables), the seed and the dataset."""

    space: SearchSpace
    spec: object                         # ObjectiveSpec
    seed: int = 0
    dataset: Optional[str] = None
    options: Dict[str, str] = field(default_factory=dict)   # KEY=VALUE options of the estimator


def _int_options(ctx: EstimatorContext, name: str, allowed: Sequence[str]) -> Dict[str, int]:
    unknown = sorted(set(ctx.options) - set(allowed))
    if unknown:
        raise ConfigError(f"estimator {name!r} does not take option(s) {', '.join(unknown)}; it takes "
                          f"{', '.join(allowed) or 'none'}")
    try:
        values = {k: int(v) for k, v in ctx.options.items()}
    except ValueError:
        raise ConfigError(f"estimator {name!r} options are whole numbers, got {ctx.options}") from None
    if any(v < 1 for v in values.values()):
        raise ConfigError(f"estimator {name!r} options must be at least 1, got {values}")
    return values


def _supernet(arg: str, ctx: EstimatorContext) -> ErrorEstimator:
    from ..train.data import load_images, make_splits
    from ..train.supernet_io import load_supernet_run

    if not arg:
        raise ConfigError("estimator 'supernet' needs the supernet's run folder: supernet:PATH "
                          "(make one with 'edgenas supernet train')")
    opts = _int_options(ctx, "supernet", ("bn_batches", "eval_batches", "batch_size", "threads"))
    run = load_supernet_run(arg)
    if run.space.fingerprint != ctx.space.fingerprint:
        raise RunError(f"supernet {arg} was trained for space {run.space.name!r}, but the tables are of "
                       f"{ctx.space.name!r}")
    dataset = ctx.dataset or run.dataset
    if not dataset:
        raise RunError(f"supernet run {run.path} does not say which dataset trained it; give the dataset")
    splits = make_splits(load_images(dataset), seed=run.split_seed)
    identity = {"supernet": str(Path(run.path).resolve()), "checkpoint": run.digest, "dataset": dataset,
                "split_seed": run.split_seed, "mode": run.config.get("mode", run.config.get("strategy"))}
    return SupernetEstimator(run.supernet, splits, identity=identity, bn_batches=opts.get("bn_batches", 4),
                             batch_size=opts.get("batch_size", 256), eval_batches=opts.get("eval_batches"),
                             threads=opts.get("threads"))


def _bench(arg: str, ctx: EstimatorContext) -> ErrorEstimator:
    from ..bench.query import shipped

    opts = _int_options(ctx, "bench", ("trees",))
    tables = [(t.name, t.cost.table) for t in ctx.spec.targets]
    return BenchmarkEstimator(arg or shipped(ctx.space), tables, ctx.space, **opts)


def _oracle(arg: str, ctx: EstimatorContext) -> ErrorEstimator:
    _int_options(ctx, "oracle", ())
    if arg:
        raise ConfigError(f"estimator 'oracle' takes no argument, got {arg!r}")
    return SyntheticOracle(ctx.space, ctx.spec.targets[0].cost.matrix["flops"], seed=ctx.seed)


# name -> (builder, usage, one-line description)
ESTIMATORS: Dict[str, Tuple[Callable[[str, EstimatorContext], ErrorEstimator], str, str]] = {
    "supernet": (_supernet, "supernet:PATH", "a SPOS supernet (inherited weights, BatchNorm recalibrated, "
                                             "validation accuracy); options bn_batches, eval_batches, batch_size, "
                                             "threads"),
    "bench": (_bench, "bench[:PATH]", "the benchmark of trained architectures (tabular where trained, surrogate "
                                      "elsewhere); without PATH the one edgenas ships for the space; option "
                                      "trees (of each of the surrogate's 5 boosted models, 400)"),
    "oracle": (_oracle, "oracle", "a synthetic closed-form accuracy, for benchmarking the search itself"),
}


def make_estimator(text: str, ctx: EstimatorContext) -> ErrorEstimator:
    """Build the estimator ``NAME[:ARG]`` (``supernet:runs/spos``, ``bench``, ``oracle``)."""
    name, _, arg = str(text).partition(":")
    if name not in ESTIMATORS:
        raise UnknownNameError("estimator", name, ESTIMATORS)
    return ESTIMATORS[name][0](arg, ctx)
