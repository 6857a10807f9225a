"""A surrogate of the benchmark: accuracy with an uncertainty for architectures that were not trained.

The model is an ensemble of small MLPs (scikit-learn), each fitted from its own
initialisation on the trained architectures; its prediction is the members' mean and
its uncertainty their standard deviation. The same ensemble is the search's
performance predictor (BANANAS, Neural Architect: :mod:`edgenas.search.predictor`).
The surrogate's inputs: one-hot choices per layer (:mod:`edgenas.bench.encoding`) plus log
FLOPs and log parameters, standardised.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from ..arch.space import SearchSpace
from .encoding import one_hot


@dataclass
class EnsembleRegressor:
    """``members`` MLP regressors from different initialisations: predict -> (mean, std) over the members.

    ``max_iter`` bounds each member's L-BFGS iterations: the surrogate fits once and runs to convergence; a search
    refits every round and stops early (200 iterations of (32, 32) members rank as well as 2,000 of (64, 64) on
    the oracle at 100-300 points, for 1/15 of the time).
    """

    members: int = 5
    hidden: Tuple[int, ...] = (64, 64)
    seed: int = 0
    max_iter: int = 2000

    def fit(self, x: np.ndarray, y: np.ndarray) -> "EnsembleRegressor":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        # a column constant in the data (a choice never taken) is left unscaled: dividing by ~0 would blow it
        # up wherever an architecture does take that choice
        sd = x.std(0)
        self._mu, self._sd = x.mean(0), np.where(sd > 1e-6, sd, 1.0)
        self._y_mu, self._y_sd = y.mean(), y.std() + 1e-9
        xs, ys = (x - self._mu) / self._sd, (y - self._y_mu) / self._y_sd
        self._models = []
        for m in range(self.members):
            # members differ by their initialisation only (deep ensembles; bootstraps of a few hundred points
            # cost more accuracy than they add diversity); L-BFGS: small data, full batch
            model = MLPRegressor(hidden_layer_sizes=self.hidden, alpha=1e-3, solver="lbfgs", max_iter=self.max_iter,
                                 tol=1e-7, random_state=self.seed * 1000 + m)
            with warnings.catch_warnings():   # stopping at max_iter is the point of a small max_iter
                warnings.simplefilter("ignore", ConvergenceWarning)
                self._models.append(model.fit(xs, ys))
        return self

    def predict_members(self, x: np.ndarray) -> np.ndarray:
        """``(members, N)``: every member's prediction (Thompson sampling draws one member per row)."""
        xs = (np.asarray(x, dtype=np.float64) - self._mu) / self._sd
        preds = np.stack([m.predict(xs).reshape(-1) for m in self._models])
        return preds * self._y_sd + self._y_mu

    def predict(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        preds = self.predict_members(x)
        return preds.mean(0), preds.std(0)


def design_matrix(space: SearchSpace, archs: np.ndarray, feats: Sequence[dict]) -> np.ndarray:
    """One-hot choices plus log FLOPs and log parameters (both analytical: the same from every table of a space)."""
    extra = [[np.log(max(f["flops"], 1)), np.log(max(f["params"], 1))] for f in feats]
    return np.hstack([one_hot(space, archs), np.asarray(extra, dtype=np.float32)])


class Surrogate:
    """Fitted on a benchmark's trained architectures (mean accuracy over their seeds)."""

    def __init__(self, bench, metric: str = "val_acc", members: int = 5, seed: int = 0,
                 exclude: Sequence[str] = ()):
        self.space = bench.space
        self.metric = metric
        trained = [r for r in bench.trained() if r.arch not in set(exclude)]
        if len(trained) < 10:
            from .benchfile import BenchError

            raise BenchError(f"the benchmark holds {len(trained)} trained architectures; a surrogate needs at "
                             f"least 10 (keep `edgenas bench build` running)")
        archs = np.array([self.space.parse(r.arch) for r in trained])
        y = np.array([r.mean(metric) for r in trained])
        self.n_train = len(trained)
        self.model = EnsembleRegressor(members=members, seed=seed).fit(
            design_matrix(self.space, archs, [r.features for r in trained]), y)

    def predict(self, archs: np.ndarray, feats: List[dict]) -> Tuple[np.ndarray, np.ndarray]:
        mean, std = self.model.predict(design_matrix(self.space, archs, feats))
        upper = 1.0 if self.metric.endswith("_acc") else None   # an accuracy is at most 1, a time is not
        return np.clip(mean, 0.0, upper), std
