"""A surrogate of the benchmark: accuracy with an uncertainty for architectures that were not trained.

The model is five gradient-boosted tree models (scikit-learn's GradientBoostingRegressor, depth 3, 80 %
subsamples per tree), each fitted on the trained architectures but one fifth; its prediction is their mean.
Its uncertainty is the error of each member on the fifth it left out, measured at the fit (held out, so it
says how far trained results fall from a prediction: 0.15 on the logit scale at 600 architectures, about 0.7
points at 95 %; the members' spread would say 0.02). Its inputs: each layer's candidate as numbers (kernel,
expansion, groups, whether it is a block: :func:`edgenas.bench.encoding.layer_args`), log FLOPs, log
parameters and the depth (layers that are not ``skip``); accuracies are fitted as logits. Chosen by 5-fold
held-out Kendall τ on the shipped benchmark (``benchmarks/surrogate_models.py``, BENCHMARKS.md): 0.692 against
0.663 for the forest of extremely randomized trees on one-hot choices it replaced (2026-12-01, 600
architectures, 1,089 trainings), which had replaced an ensemble of five MLPs (0.45 at 134 architectures).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..arch.space import SearchSpace
from .encoding import layer_args

# Names the model in a search's settings: a run folder made with another surrogate is another run, not resumed.
SURROGATE_MODEL = "boosted-trees-x5/layer-args"


@dataclass
class BoostedTrees:
    """``members`` gradient-boosted models of ``trees`` trees each, member ``m`` fitted on all rows but the
    ``m``-th of ``members`` folds (:meth:`member_rows`): predict -> one row per member. :attr:`error_sd` is the
    standard deviation of each member's error on its own left-out fold (out of fold, on y's scale).

    Fitted by scikit-learn; predicted by :meth:`predict_members`, which walks every tree of every member at
    once on the trees' own arrays (the same comparisons as scikit-learn's, milliseconds for a batch), so that
    a fit can be stored as plain arrays.
    """

    trees: int = 400
    members: int = 5
    depth: int = 3
    learning_rate: float = 0.03
    subsample: float = 0.8
    seed: int = 0

    def member_rows(self, n: int) -> List[Tuple[np.ndarray, np.ndarray]]:
        """(rows fitted, rows left out) of each member for ``n`` rows: folds of a permutation seeded by ``seed``."""
        folds = np.array_split(np.random.default_rng(self.seed).permutation(n), self.members)
        return [(np.setdiff1d(np.arange(n), held), np.sort(held)) for held in folds]

    def fit(self, x: np.ndarray, y: np.ndarray) -> "BoostedTrees":
        from sklearn.ensemble import GradientBoostingRegressor

        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        models, out_of_fold = [], np.empty(len(y))
        for m, (rows, held) in enumerate(self.member_rows(len(y))):
            models.append(GradientBoostingRegressor(n_estimators=self.trees, max_depth=self.depth,
                                                    learning_rate=self.learning_rate, subsample=self.subsample,
                                                    random_state=self.seed + m).fit(x[rows], y[rows]))
            out_of_fold[held] = models[-1].predict(x[held])
        self.error_sd = float(np.std(y - out_of_fold))
        trees = [e.tree_ for m in models for e in m.estimators_[:, 0]]
        width = max(t.node_count for t in trees)

        def stack(arrays, fill):  # one row per tree, padded to the largest
            return np.stack([np.pad(a, (0, width - len(a)), constant_values=fill) for a in arrays])

        self._left = stack([t.children_left for t in trees], -1)
        self._right = stack([t.children_right for t in trees], -1)
        self._feature = stack([np.maximum(t.feature, 0) for t in trees], 0)   # a leaf's feature (-2) is unused
        self._threshold = stack([t.threshold for t in trees], 0.0)
        self._value = stack([t.value.reshape(-1) for t in trees], 0.0)
        self._depth = max(t.max_depth for t in trees)
        # each member starts from the mean of its rows' y (its least-squares init)
        self._start = np.array([float(m.init_.constant_.reshape(-1)[0]) for m in models])
        return self

    def predict_members(self, x: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """``(members, N)``: every member's prediction, ``chunk`` rows at a time (the walk's arrays stay in
        cache)."""
        x = np.asarray(x, dtype=np.float32).astype(np.float64)   # scikit-learn compares float32 inputs
        leaves = np.concatenate([self._walk(x[i:i + chunk]) for i in range(0, max(len(x), 1), chunk)], axis=1)
        steps = leaves.reshape(len(self._start), -1, leaves.shape[1]).sum(1)
        return self._start[:, None] + self.learning_rate * steps

    def _walk(self, x: np.ndarray) -> np.ndarray:
        tree = np.arange(len(self._left))[:, None]
        row = np.arange(len(x))[None, :]
        node = np.zeros((len(self._left), len(x)), dtype=np.int64)
        for _ in range(self._depth):
            left = x[row, self._feature[tree, node]] <= self._threshold[tree, node]
            child = np.where(left, self._left[tree, node], self._right[tree, node])
            node = np.where(child >= 0, child, node)            # a leaf stays where it is
        return self._value[tree, node]

    def state(self) -> Dict[str, np.ndarray]:
        """Everything predict needs, as plain arrays (stored without pickle)."""
        return {"left": self._left, "right": self._right, "feature": self._feature, "threshold": self._threshold,
                "value": self._value, "depth": np.array(self._depth), "start": self._start,
                "error_sd": np.array(self.error_sd)}

    def load_state(self, state) -> "BoostedTrees":
        self._left, self._right, self._feature = state["left"], state["right"], state["feature"]
        self._threshold, self._value, self._depth = state["threshold"], state["value"], int(state["depth"])
        self._start, self.error_sd = state["start"], float(state["error_sd"])
        return self


def design_matrix(space: SearchSpace, archs: np.ndarray, feats: Sequence[dict]) -> np.ndarray:
    """The surrogate's inputs from the stored features of each architecture (:func:`design_arrays`)."""
    return design_arrays(space, archs, np.array([f["flops"] for f in feats], dtype=np.float64),
                         np.array([f["params"] for f in feats], dtype=np.float64))


def design_arrays(space: SearchSpace, archs: np.ndarray, flops: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Each layer's candidate as numbers (:func:`~edgenas.bench.encoding.layer_args`), log FLOPs, log parameters
    (both analytical: the same from every table of a space) and the depth: how many layers are not ``skip``."""
    archs = np.asarray(archs, dtype=np.int64).reshape(-1, space.num_layers)
    is_block = np.array([c.op != "skip" for c in space.candidates], dtype=np.float32)
    extra = np.log(np.maximum(np.column_stack([flops, params]), 1)).astype(np.float32).reshape(-1, 2)
    return np.hstack([layer_args(space, archs), extra, is_block[archs].sum(1, keepdims=True)])


def link(metric: str):
    """(forward, inverse): accuracies are fitted as logits, other metrics (seconds) as logarithms."""
    if metric.endswith("_acc"):
        return (lambda p: np.log(np.clip(p, 1e-4, 1 - 1e-4) / (1 - np.clip(p, 1e-4, 1 - 1e-4))),
                lambda z: 1.0 / (1.0 + np.exp(-z)))
    return (lambda v: np.log(np.maximum(v, 1e-9)), np.exp)


class Surrogate:
    """Fitted on a benchmark's trained architectures (mean accuracy over their seeds). Trees predict sums of
    means of training values, so the surrogate barely extrapolates past the trained range (an MLP predicted
    99.8 % where the best trained network had 96.8 %, and searches over the benchmark chased it)."""

    def __init__(self, bench, metric: str = "val_acc", trees: int = 400, seed: int = 0,
                 exclude: Sequence[str] = ()):
        self.space = bench.space
        self.metric = metric
        self._forward, self._inverse = link(metric)
        trained = [r for r in bench.trained() if r.arch not in set(exclude)]
        if len(trained) < 10:
            from .benchfile import BenchError

            raise BenchError(f"the benchmark holds {len(trained)} trained architectures; a surrogate needs at "
                             f"least 10 (keep `edgenas bench build` running)")
        archs = np.array([self.space.parse(r.arch) for r in trained])
        y = np.array([r.mean(metric) for r in trained])
        self.n_train = len(trained)
        x = design_matrix(self.space, archs, [r.features for r in trained])
        self.model = _cached_fit(BoostedTrees(trees=trees, seed=seed), x, self._forward(y))

    def predict(self, archs: np.ndarray, feats: List[dict]) -> Tuple[np.ndarray, np.ndarray]:
        """(mean, uncertainty) in the metric's own units: the members' mean, and the held-out error
        (:attr:`BoostedTrees.error_sd`) carried through the link at that mean."""
        return self.predict_matrix(design_matrix(self.space, archs, feats))

    def predict_matrix(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """:meth:`predict` on inputs made by :func:`design_matrix` or :func:`design_arrays`."""
        z, sd = self.model.predict_members(x).mean(0), self.model.error_sd
        return self._inverse(z), (self._inverse(z + sd) - self._inverse(z - sd)) / 2


def cache_dir() -> Path:
    """Where fitted surrogates are kept: ``$EDGENAS_CACHE``, else ``~/.cache/edgenas``."""
    return Path(os.environ.get("EDGENAS_CACHE") or Path.home() / ".cache" / "edgenas")


def _cached_fit(model: BoostedTrees, x: np.ndarray, y: np.ndarray) -> BoostedTrees:
    """``model`` fitted on (x, y), or loaded from the cache when it was fitted on exactly these data before.

    Every search over the benchmark needs the fit (a few seconds at 600 architectures); the key is a digest of
    the data and the settings, so a benchmark that grows gets a new fit. The cache holds plain arrays (``.npz``
    read without pickle) and is only an optimisation: a cache that cannot be read or written is ignored.
    """
    from importlib.metadata import version   # not `import sklearn`: seconds, and a cache hit needs none of it

    h = hashlib.sha256()
    for part in (x.astype(np.float64), y.astype(np.float64)):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(repr((model, version("scikit-learn"))).encode())
    path = cache_dir() / f"surrogate-{h.hexdigest()[:24]}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            return model.load_state(dict(f))
    except (OSError, KeyError, ValueError):
        pass
    model.fit(x, y)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **model.state())
        os.replace(tmp, path)
    except OSError:
        pass
    return model
