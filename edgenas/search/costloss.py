"""FBNet's hardware-aware loss: ``CE · α · log(LAT)^β``, differentiable through the latency table.

The expected cost of a mixture of candidates (the Gumbel-softmax sample of a
supernet step) is read from the :class:`~edgenas.tables.cost.CostModel`'s matrices:
``Σ_layers Σ_candidates weight · cost`` plus the fixed stem and head, then the
table's whole-network calibration ``a·sum + b``. For a one-hot mixture it
equals ``CostModel.predict(arch)`` exactly.

Units inside the logarithm: latency in microseconds and memory in KiB, so the
logarithm is positive for every network of the presets (FBNet's LAT was in
milliseconds of a phone, tens of ms).

How the knobs act (FBNet, Wu et al. 2019, eq. 5): α only scales the whole
loss ("controls the magnitude"), and Adam, which updates θ, is invariant to
a constant loss scale, so α does not move the accuracy/latency trade-off.
β ("modulates the magnitude of the latency term") does: the relative
gradient of the loss with respect to LAT is ``β / (LAT · log LAT)``. The
target mode therefore adapts β of a term until the most likely architecture
meets the term's budget.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from ..tables.cost import CostModel, apply_calibration
from ..errors import TableError

METRIC_UNITS = {"latency_ms": (1000.0, "µs"), "memory_bytes": (1.0 / 1024.0, "KiB")}
_LOG_FLOOR = 1e-3


class ExpectedCost:
    """Differentiable expected latency and memory of a ``(layers, candidates)`` mixture."""

    def __init__(self, model: CostModel, device: str | torch.device = "cpu"):
        self.model = model
        m = {k: torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=torch.float32, device=device)
             for k, v in model.matrix.items()}
        if any(torch.isnan(t).any() for t in m.values()):
            raise TableError("the table lacks entries of this space; a miss cannot be counted in the loss")
        self.latency, self.params, self.peak = m["latency_ms"], m["param_bytes"], m["peak_activation_bytes"]
        self.fixed_latency = float(model.fixed["latency_ms"])
        self.fixed_params = float(model.fixed["param_bytes"])
        self.fixed_peak = float(model.fixed_peak)
        self.calibration = model.calibration

    def latency_ms(self, weights: torch.Tensor) -> torch.Tensor:
        """Calibrated expected latency (ms) of the mixture ``weights`` (rows sum to one)."""
        op_sum = (weights * self.latency).sum() + self.fixed_latency
        if self.calibration is None:
            return op_sum
        return apply_calibration(self.calibration, op_sum, torch)

    def memory_bytes(self, weights: torch.Tensor) -> torch.Tensor:
        """Expected parameter bytes plus the largest expected peak activation of any layer."""
        params = (weights * self.params).sum() + self.fixed_params
        peak = torch.clamp_min((weights * self.peak).sum(1).max(), self.fixed_peak)
        return params + peak

    def __call__(self, metric: str, weights: torch.Tensor) -> torch.Tensor:
        return self.latency_ms(weights) if metric == "latency_ms" else self.memory_bytes(weights)

    def lower_bound(self, metric: str) -> tuple:
        """(least reachable value, an architecture reaching it or ``None`` when it is only a bound)."""
        if metric == "latency_ms":
            arch, value = self.model.fastest()
            return value, arch
        # Memory: every layer's least parameters plus the least possible peak is a bound, not always reachable.
        bound = self.model.matrix["param_bytes"].min(1).sum() + self.fixed_params
        bound += max(self.fixed_peak, float(self.model.matrix["peak_activation_bytes"].min(1).max()))
        return float(bound), None


@dataclass
class CostTerm:
    """One factor ``log(cost)^β`` of the loss; with ``target`` (in the metric's unit) β adapts to meet it."""

    metric: str
    beta: float
    target: Optional[float] = None

    def factor(self, value: torch.Tensor) -> torch.Tensor:
        scale, _ = METRIC_UNITS[self.metric]
        return torch.log(value * scale).clamp_min(_LOG_FLOOR) ** self.beta


def fbnet_loss(ce: torch.Tensor, costs: Dict[str, torch.Tensor], terms: Sequence[CostTerm], alpha: float) -> torch.Tensor:
    """``CE · α · Π_terms log(cost)^β`` (FBNet eq. 5, with an optional memory factor)."""
    loss = ce * alpha
    for t in terms:
        loss = loss * t.factor(costs[t.metric])
    return loss


class TargetController:
    """Integral control of each targeted term's β: ``β += gain · log(realised / target)``, clipped.

    ``realised`` is the expected cost under softmax(θ) (see
    ``DNASSearch.adapt_targets``). β rises while it is over the budget and
    falls (down to ``beta_min``, which may be negative and then rewards cost)
    while it is under.
    """

    def __init__(self, terms: Sequence[CostTerm], gain: float = 0.5, beta_min: float = -2.0, beta_max: float = 40.0):
        self.terms = [t for t in terms if t.target is not None]
        self.gain, self.beta_min, self.beta_max = gain, beta_min, beta_max

    def update(self, realised: Dict[str, float]) -> None:
        for t in self.terms:
            step = self.gain * math.log(max(realised[t.metric], 1e-12) / t.target)
            t.beta = float(min(self.beta_max, max(self.beta_min, t.beta + step)))
