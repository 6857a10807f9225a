"""The MnasNet reward and the REINFORCE update of a policy (moving-average baseline, entropy bonus).

Reward (Tan et al., MnasNet, CVPR 2019): ``ACC · Π_i (LAT_i / T_i)^w`` over every
budget of the search (each table's latency budget, and the memory budget when
one is given). ``soft``: the same ``w`` (MnasNet: −0.07) on both sides of the
budget, so an architecture a little over it can still win on accuracy;
``hard``: ``w = 0`` within the budget and ``w`` (MnasNet: −1) above it, so
accuracy alone counts under the budget and going over it is paid in proportion.

Update (Williams 1992, as ENAS trains its controller): the loss
``−mean((R − b) · log π(a)) − λ · mean(H)`` over a batch of sampled architectures,
with ``b`` an exponential moving average of the batch-mean reward (started at the
first batch's mean, not at 0, so the first steps do not reward every sample) and
``H`` the summed entropy of the per-layer distributions each sample was drawn
from (the bonus keeps the policy exploring); Adam.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from .controller import Policy

__all__ = ["REWARDS", "DEFAULT_W", "mnas_reward", "budget_ratios", "Reinforce"]

REWARDS = ("soft", "hard")
DEFAULT_W = {"soft": -0.07, "hard": -1.0}   # MnasNet's exponents


def budget_ratios(values: Dict[str, np.ndarray], constraints: Sequence[Tuple[str, float]]) -> np.ndarray:
    """``(n, budgets)``: each architecture's cost over each budget (``LAT / T``); no budgets gives ``(n, 0)``."""
    n = len(values["error"])
    return np.column_stack([np.asarray(values[k], dtype=np.float64) / b for k, b in constraints]) \
        if constraints else np.empty((n, 0))


def mnas_reward(accuracy: np.ndarray, ratios: np.ndarray, variant: str = "soft", w: Optional[float] = None) -> np.ndarray:
    """``ACC · Π (LAT/T)^w`` per architecture; ``ratios`` is ``(n, budgets)`` of ``LAT / T``."""
    if variant not in REWARDS:
        raise ValueError(f"unknown reward {variant!r}; known: {', '.join(REWARDS)}")
    w = DEFAULT_W[variant] if w is None else float(w)
    ratios = np.asarray(ratios, dtype=np.float64).reshape(len(accuracy), -1)
    exponent = np.full(ratios.shape, w) if variant == "soft" else np.where(ratios <= 1.0, 0.0, w)
    return np.asarray(accuracy, dtype=np.float64) * np.prod(ratios ** exponent, axis=1)


class Reinforce:
    """REINFORCE on ``policy`` with Adam, an exponential moving-average baseline and an entropy bonus."""

    def __init__(self, policy: Policy, lr: float, entropy_weight: float, baseline_decay: float):
        self.policy = policy
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        self.entropy_weight, self.baseline_decay = entropy_weight, baseline_decay
        self.baseline: Optional[float] = None

    def update(self, log_prob: torch.Tensor, entropy: torch.Tensor, rewards: np.ndarray) -> dict:
        """One policy-gradient step on a batch (``log_prob`` and ``entropy`` from :meth:`Policy.sample`)."""
        rewards = np.asarray(rewards, dtype=np.float64)
        mean = float(rewards.mean())
        d = self.baseline_decay
        self.baseline = mean if self.baseline is None else d * self.baseline + (1.0 - d) * mean
        advantage = torch.as_tensor(rewards - self.baseline, dtype=log_prob.dtype)
        loss = -(advantage * log_prob).mean() - self.entropy_weight * entropy.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"reward_mean": mean, "reward_max": float(rewards.max()), "baseline": self.baseline,
                "entropy": float(entropy.detach().mean())}

    def state_dict(self) -> dict:
        return {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict(),
                "baseline": self.baseline}

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = None if state["baseline"] is None else float(state["baseline"])
