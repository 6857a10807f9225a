"""A surrogate of the benchmark: accuracy with an uncertainty for architectures that were not trained.

The model is an ensemble of small MLPs (scikit-learn), each fitted from its own
initialisation on the trained architectures; its prediction is the members' mean and
its uncertainty their standard deviation. The same ensemble is the search's
performance predictor (BANANAS, Neural Architect: :mod:`edgenas.search.predictor`).
The surrogate's inputs: one-hot choices per layer (:mod:`edgenas.bench.encoding`) plus log
FLOPs and log parameters, standardised.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

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
        self._layers = []
        for m in range(self.members):
            # members differ by their initialisation only (deep ensembles; bootstraps of a few hundred points
            # cost more accuracy than they add diversity); L-BFGS: small data, full batch
            model = MLPRegressor(hidden_layer_sizes=self.hidden, alpha=1e-3, solver="lbfgs", max_iter=self.max_iter,
                                 tol=1e-7, random_state=self.seed * 1000 + m)
            with warnings.catch_warnings():   # stopping at max_iter is the point of a small max_iter
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(xs, ys)
            self._layers.append(list(zip(model.coefs_, model.intercepts_)))
        return self

    def predict_members(self, x: np.ndarray) -> np.ndarray:
        """``(members, N)``: every member's prediction (Thompson sampling draws one member per row)."""
        xs = (np.asarray(x, dtype=np.float64) - self._mu) / self._sd
        preds = np.stack([self._forward(layers, xs) for layers in self._layers])
        return preds * self._y_sd + self._y_mu

    @staticmethod
    def _forward(layers, xs: np.ndarray) -> np.ndarray:
        """A member's MLP (ReLU hidden layers, linear output): the operations of scikit-learn's own predict."""
        h = xs
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i < len(layers) - 1:
                np.maximum(h, 0, out=h)
        return h.reshape(-1)

    def state(self) -> Dict[str, np.ndarray]:
        """Everything predict needs, as plain arrays (stored without pickle)."""
        out = {"mu": self._mu, "sd": self._sd, "y": np.array([self._y_mu, self._y_sd])}
        for m, layers in enumerate(self._layers):
            for i, (w, b) in enumerate(layers):
                out[f"w{m}_{i}"], out[f"b{m}_{i}"] = w, b
        return out

    def load_state(self, state) -> "EnsembleRegressor":
        self._mu, self._sd = state["mu"], state["sd"]
        self._y_mu, self._y_sd = (float(v) for v in state["y"])
        depth = len(self.hidden) + 1
        self._layers = [[(state[f"w{m}_{i}"], state[f"b{m}_{i}"]) for i in range(depth)] for m in range(self.members)]
        return self

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
        x = design_matrix(self.space, archs, [r.features for r in trained])
        self.model = _cached_fit(EnsembleRegressor(members=members, seed=seed), x, y)
        # an MLP extrapolates past anything it was shown (it predicted 99.8 % where the best trained network
        # had 96.8 %), and a search over the benchmark then chases the over-prediction: the estimate stays
        # within the range of the trained values
        self.range = (float(y.min()), float(y.max()))

    def predict(self, archs: np.ndarray, feats: List[dict]) -> Tuple[np.ndarray, np.ndarray]:
        mean, std = self.model.predict(design_matrix(self.space, archs, feats))
        return np.clip(mean, *self.range), std


def cache_dir() -> Path:
    """Where fitted surrogates are kept: ``$EDGENAS_CACHE``, else ``~/.cache/edgenas``."""
    return Path(os.environ.get("EDGENAS_CACHE") or Path.home() / ".cache" / "edgenas")


def _cached_fit(model: EnsembleRegressor, x: np.ndarray, y: np.ndarray) -> EnsembleRegressor:
    """``model`` fitted on (x, y), or loaded from the cache when it was fitted on exactly these data before.

    The fit takes seconds to a minute (five MLPs to convergence) and every search over the benchmark needs
    it; the key is a digest of the data and the settings, so a benchmark that grows gets a new fit. The
    cache holds plain arrays (``.npz`` read without pickle) and is only an optimisation: a cache that
    cannot be read or written is ignored.
    """
    import sklearn

    h = hashlib.sha256()
    for part in (x.astype(np.float64), y.astype(np.float64)):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(repr((model.members, model.hidden, model.seed, model.max_iter, sklearn.__version__)).encode())
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
