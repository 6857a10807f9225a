"""An ensemble of MLPs trained online: each fit continues from the last one's weights, for a number of Adam steps
proportional to the results added since.

A search refits its predictor after every round on everything evaluated so far.
Fitting an ensemble of MLPs from scratch each time (five L-BFGS fits, as the
benchmark's surrogate once did) cost 0.3-1.3 s per evaluation at a few hundred
evaluations. Here the
members' weights are kept between fits, and a fit on ``n`` rows of which ``k``
are new runs ``steps_per_result * k`` steps of Adam on mini-batches of at most
``batch`` rows drawn from all ``n``: the cost of a round no longer grows with the
data, and every row is still revisited many times over a search.

The members (deep ensembles: the same data, their own initialisation) are
stacked and trained together with batched matrix products, in float32. The
target is standardised on the current data; when that changes, the output layer
is rescaled so that the ensemble's predictions in the target's units are the
same before and after. With ``outputs`` > 1 the members predict several targets at once (Neural Architect's
error and training time: one network's steps instead of two networks'), each standardised on its own, the loss
their sum. Every random draw (initialisation, mini-batches) comes
from one generator seeded at construction, so the same sequence of fits gives
the same model: a resumed search that refits on its journaled values in the
same order takes the same decisions.
"""
from __future__ import annotations


import numpy as np

__all__ = ["OnlineEnsemble"]


class OnlineEnsemble:
    """``members`` MLPs (ReLU hidden layers of ``hidden`` units, ``outputs`` linear outputs) on ``width`` inputs."""

    def __init__(self, width: int, members: int = 5, hidden=(32, 32), seed: int = 0, steps_per_result: int = 10,
                 batch: int = 64, learning_rate: float = 1e-2, alpha: float = 1e-3, outputs: int = 1):
        self.members, self.steps_per_result, self.batch = members, steps_per_result, batch
        self.lr, self.alpha, self.outputs = learning_rate, alpha, outputs
        self.rng = np.random.default_rng(seed)
        sizes = [width, *hidden, outputs]
        shapes = [(members, i, o) for i, o in zip(sizes[:-1], sizes[1:])] + [(members, 1, o) for o in sizes[1:]]
        # every weight and bias is a view into one flat vector: Adam updates them all in a few operations
        self.theta = np.empty(sum(int(np.prod(s)) for s in shapes), dtype=np.float32)
        views, at = [], 0
        for s in shapes:
            views.append(self.theta[at:at + int(np.prod(s))].reshape(s))
            at += views[-1].size
        depth = len(sizes) - 1
        self.W, self.b = views[:depth], views[depth:]
        for w, b in zip(self.W, self.b):
            bound = np.sqrt(6.0 / (w.shape[1] + w.shape[2]))   # Glorot uniform, as scikit-learn's MLPs
            w[...] = self.rng.uniform(-bound, bound, w.shape)
            b[...] = self.rng.uniform(-bound, bound, b.shape)
        self._m, self._v = np.zeros_like(self.theta), np.zeros_like(self.theta)
        self._t = 0
        self.seen = 0                                   # rows of the data the last fit had
        self.y_mu, self.y_sd = np.zeros(outputs), np.ones(outputs)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "OnlineEnsemble":
        """Continue training on all data so far (``x``, ``y``: the rows of the previous fit first, then the new
        ones; ``y`` of shape (n,) or (n, outputs)): ``steps_per_result`` Adam steps per new row."""
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64).reshape(len(x), self.outputs)
        new = len(y) - self.seen
        if new <= 0:
            return self
        cols = [y[:, j] for j in range(self.outputs)]   # reduced one column at a time, as one target was
        self._restandardise(np.array([c.mean() for c in cols]), np.array([c.std() for c in cols]) + 1e-9)
        ys = ((y - self.y_mu) / self.y_sd).astype(np.float32)
        for step in range(self.steps_per_result * new):
            rows = self.rng.integers(len(y), size=self.batch) if len(y) > self.batch else slice(None)
            self._step(x[rows], ys[rows], len(y))
            if step % 16 == 15:
                self._flush_tiny()
        self.seen = len(y)
        return self

    def predict_members(self, x: np.ndarray) -> np.ndarray:
        """``(members, N)``: every member's prediction, in the target's units (``(members, N, outputs)`` when
        there are several)."""
        h = np.asarray(x, dtype=np.float32)
        for i, (w, b) in enumerate(zip(self.W, self.b)):
            h = h @ w + b
            if i < len(self.W) - 1:
                np.maximum(h, 0, out=h)
        out = h.astype(np.float64) * self.y_sd + self.y_mu
        return out[:, :, 0] if self.outputs == 1 else out

    def predict(self, x: np.ndarray):
        """(mean, std) over the members."""
        preds = self.predict_members(x)
        return preds.mean(0), preds.std(0)

    def _restandardise(self, mu: np.ndarray, sd: np.ndarray) -> None:
        """New target scaling; the output layer absorbs the change so that predictions stay where they were."""
        if self.seen:
            self.W[-1] *= (self.y_sd / sd).astype(np.float32)
            f32 = np.float32   # the output layer's own precision (as when the scales were Python floats)
            self.b[-1][...] = (self.b[-1] * self.y_sd.astype(f32) + self.y_mu.astype(f32) - mu.astype(f32)) / sd.astype(f32)
        self.y_mu, self.y_sd = mu, sd

    def _flush_tiny(self) -> None:
        """Zero the weights and Adam moments below 1e-30. Those of dead units decay geometrically into float32's
        subnormal range, where every operation on them is many times slower (the steps took twice as long after
        a few thousand); values that small change no prediction."""
        for a in (self.theta, self._m, self._v):
            a[np.abs(a) < 1e-30] = 0.0

    def _step(self, x: np.ndarray, y: np.ndarray, n_total: int) -> None:
        """One Adam step on the members' mean squared errors (halved) plus an L2 penalty alpha/(2n)·|W|²."""
        acts = [x]
        h = x
        for i, (w, b) in enumerate(zip(self.W, self.b)):
            h = h @ w + b                               # (members, B, units); x broadcasts over the members
            if i < len(self.W) - 1:
                np.maximum(h, 0, out=h)
                acts.append(h)
        g = (h - y[None]) / len(y)                      # d loss / d output; y: (B, outputs)
        grads_w, grads_b = [], []
        for i in range(len(self.W) - 1, -1, -1):
            a = acts[i]
            grads_w.append((a.T if a.ndim == 2 else a.transpose(0, 2, 1)) @ g + (self.alpha / n_total) * self.W[i])
            grads_b.append(g.sum(1, keepdims=True))
            if i:
                g = (g @ self.W[i].transpose(0, 2, 1)) * (acts[i] > 0)
        grad = np.concatenate([g.ravel() for g in grads_w[::-1] + grads_b[::-1]])   # the order of theta
        self._t += 1
        beta1, beta2 = 0.9, 0.999
        self._m *= beta1
        self._m += (1 - beta1) * grad
        self._v *= beta2
        self._v += (1 - beta2) * grad * grad
        lr = self.lr * np.sqrt(1 - beta2 ** self._t) / (1 - beta1 ** self._t)
        self.theta -= np.float32(lr) * self._m / (np.sqrt(self._v) + np.float32(1e-8))
