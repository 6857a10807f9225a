"""The settings of a DNAS run (:class:`DNASConfig`): defaults, validation, what a rerun may change.

The options of the ``dnas`` strategy (:mod:`edgenas.search.strategies.dnas`); the space, table, budgets,
dataset and seed come with the search request, as for every strategy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from ...errors import ConfigError
from ..contract import option
from ..costloss import CostTerm

__all__ = ["DNASConfig"]


@dataclass
class DNASConfig:
    """Every setting of a DNAS run; defaults follow FBNet where it states one (τ0, decay, α, β, K)."""

    epochs: int = option(6, "Epochs in total, warm-up included.")
    warmup_epochs: int = option(2, "Weight-only epochs before θ starts to learn.")
    batch_size: int = option(128, "Batch size.")
    lr: float = option(0.05, "Weight learning rate (SGD + Nesterov momentum, cosine over all epochs).")
    momentum: float = option(0.9, "Weight momentum.")
    weight_decay: float = option(5e-4, "Weight decay of the weights.")
    theta_lr: float = option(0.05, "Architecture learning rate (Adam; FBNet 0.01 over 90 ImageNet epochs).")
    theta_weight_decay: float = option(5e-4, "Weight decay of θ.")
    tau0: float = option(5.0, "Initial Gumbel-softmax temperature (FBNet 5).")
    tau_decay: float = option(0.045, "τ is multiplied by e^-decay per search epoch (FBNet 0.045).")
    alpha: float = option(0.2, "Loss scale α of CE·α·log(LAT)^β (FBNet 0.2).")
    beta: float = option(0.6, "Latency exponent β (FBNet 0.6); with a latency budget it adapts toward it.")
    memory_beta: Optional[float] = option(None, "Add a log(memory KiB)^β factor to the loss.")
    target_gain: float = option(0.5, "How fast β follows the budget.")
    budget_band: float = option(0.9, "With a latency budget: return the most likely architecture predicted "
                                     "within [band·budget, budget].")
    samples: int = option(6, "Architectures sampled from the learned distribution.")
    weight_sampling: str = option("soft", "soft: FBNet's mixture of every candidate; hard: one sampled path per "
                                          "weight step.", choices=("soft", "hard"))
    max_batches: Optional[int] = option(None, "Batches per epoch and split (smoke runs).")
    threads: Optional[int] = option(None, "Torch threads per process.")
    device: str = option("auto", "auto, cpu or cuda.")

    # Settings that do not change what a run computes: a resume may change them.
    RESUME_NEUTRAL = ("threads", "device", "budget_band", "samples")  # the last two only decode θ

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a setting out of range."""
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (0 <= self.warmup_epochs < self.epochs,
             f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs} with epochs {self.epochs}"),
            (self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}"),
            (self.lr > 0 and self.theta_lr > 0, "learning rates must be positive"),
            (self.tau0 > 0 and self.tau_decay >= 0, "tau0 must be positive and tau_decay >= 0"),
            (self.alpha > 0, f"alpha must be positive, got {self.alpha}"),
            (self.samples >= 0, f"samples must be >= 0, got {self.samples}"),
            (self.weight_sampling in ("soft", "hard"), f"weight_sampling is 'soft' or 'hard', not "
                                                       f"{self.weight_sampling!r}"),
            (self.max_batches is None or self.max_batches >= 1, "max_batches must be >= 1"),
            (self.target_gain > 0, "target_gain must be positive"),
            (0 < self.budget_band <= 1, f"budget_band must be in (0, 1], got {self.budget_band}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)

    def terms(self, target_ms: Optional[float], memory_target_bytes: Optional[float]) -> List[CostTerm]:
        """The loss's cost factors; the budgets (the search's latency and memory budgets) steer their β."""
        terms = [CostTerm("latency_ms", self.beta, target_ms)]
        if self.memory_beta is not None or memory_target_bytes is not None:
            terms.append(CostTerm("memory_bytes", self.memory_beta or 0.0, memory_target_bytes))
        return terms
