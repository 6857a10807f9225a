"""Neural Architect's controller: a policy over one-layer transformations of a network, trained by REINFORCE.

An action is (layer, new candidate) — one of the ``layers * (candidates - 1)``
changes of the current network; keeping a layer's choice is not an action.
The logits are linear in the network's encoding (so what a change is worth
may depend on the network it changes), start at zero (uniform), and are
trained by policy gradient on the advantage each change earned, with an
entropy bonus that keeps it exploring. Numpy only: the gradient of a softmax
policy with linear logits is two outer products.
"""
from __future__ import annotations

import numpy as np

from ..bench.encoding import Encoding

__all__ = ["TransformPolicy"]


class TransformPolicy:
    def __init__(self, encoding: Encoding, learning_rate: float = 1.0, entropy_weight: float = 1e-3):
        space = encoding.space
        self.encoding, self.L, self.C = encoding, space.num_layers, space.num_candidates
        self.lr, self.entropy_weight = learning_rate, entropy_weight
        self.W = np.zeros((self.L * self.C, encoding.width))
        self.b = np.zeros(self.L * self.C)

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """``(N, layers * candidates)``: each change's probability; a layer's current choice has 0."""
        states = np.asarray(states, dtype=np.int64)
        logits = self.encoding.encode(states) @ self.W.T + self.b
        current = states + np.arange(self.L)[None, :] * self.C
        np.put_along_axis(logits, current, -np.inf, axis=1)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def sample(self, states: np.ndarray, rng: np.random.Generator):
        """One change per state: (actions, the changed networks)."""
        p = self.probabilities(states)
        actions = (p.cumsum(1) > rng.random(len(p))[:, None]).argmax(1)
        changed = np.array(states, dtype=np.int64, copy=True)
        changed[np.arange(len(changed)), actions // self.C] = actions % self.C
        return actions, changed

    def update(self, states: np.ndarray, actions: np.ndarray, advantages: np.ndarray) -> float:
        """One gradient-ascent step on mean(advantage * log pi(action | state)) + entropy_weight * entropy;
        returns the policy's mean entropy before the step."""
        x = self.encoding.encode(states).astype(np.float64)
        p = self.probabilities(states)
        logp = np.log(np.where(p > 0, p, 1.0))
        entropy = -(p * logp).sum(1)
        taken = np.zeros_like(p)
        taken[np.arange(len(p)), actions] = 1.0
        # d log pi(a) / d logits = onehot(a) - p;  d H / d logits = -p * (log p + H)
        grad = advantages[:, None] * (taken - p) - self.entropy_weight * p * (logp + entropy[:, None])
        self.W += self.lr * grad.T @ x / len(x)
        self.b += self.lr * grad.mean(0)
        return float(entropy.mean())
