"""The settings of a DNAS run (:class:`DNASConfig`): defaults, validation, what a rerun may change.

Built from a :class:`~edgenas.search.strategies.SearchRequest` by the ``dnas`` strategy
(:mod:`edgenas.search.strategies.dnas`), which runs the search.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import List, Optional

from ...errors import ConfigError
from ..costloss import CostTerm
from . import SearchRequest

__all__ = ["DNASConfig"]


@dataclass
class DNASConfig:
    """Every setting of a DNAS run; defaults follow FBNet where it states one (τ0, decay, α, β, K)."""

    out: str
    table: Optional[str] = None
    space: str = "fbnet-small"
    dataset: str = "mnist5k"
    seed: int = 0
    epochs: int = 6                      # in total, warm-up included
    warmup_epochs: int = 2               # weight-only epochs before θ starts to learn
    batch_size: int = 128
    lr: float = 0.05                     # weights: SGD + Nesterov momentum, cosine over all epochs
    momentum: float = 0.9
    weight_decay: float = 5e-4
    theta_lr: float = 0.05               # θ: Adam (FBNet: 0.01 over 90 ImageNet epochs; ours are short)
    theta_weight_decay: float = 5e-4
    tau0: float = 5.0
    tau_decay: float = 0.045             # τ ← τ · e^-0.045 per search epoch
    alpha: float = 0.2
    beta: float = 0.6
    target_ms: Optional[float] = None    # latency budget: β adapts toward it, the result is decoded within it
    memory_beta: Optional[float] = None  # adds a log(memory KiB)^memory_beta factor
    memory_target_bytes: Optional[float] = None
    target_gain: float = 0.5
    budget_band: float = 0.9             # with target_ms: return the most likely arch within [band·target, target]
    samples: int = 6                     # architectures sampled from the learned distribution
    weight_sampling: str = "soft"        # soft: FBNet's mixture; hard: one sampled path per step (see module doc)
    max_batches: Optional[int] = None    # per epoch and split (tests, smoke runs)
    threads: Optional[int] = None
    device: str = "auto"

    # Settings that do not change what a run computes: a resume may change them.
    RESUME_NEUTRAL = ("out", "threads", "device", "budget_band", "samples")  # the last two only decode θ
    _FROM_REQUEST = ("out", "table", "space", "dataset", "seed", "epochs")

    @classmethod
    def option_names(cls) -> List[str]:
        return [f.name for f in fields(cls) if f.name not in cls._FROM_REQUEST]

    @classmethod
    def from_request(cls, request: SearchRequest) -> "DNASConfig":
        opts = {k: v for k, v in dict(request.options).items() if v is not None}
        unknown = sorted(set(opts) - set(cls.option_names()))
        if unknown:
            raise ConfigError(f"strategy 'dnas' does not take {', '.join(unknown)}; it takes "
                              f"{', '.join(cls.option_names())}")
        base = {"out": str(request.out), "table": request.table, "space": request.space,
                "dataset": request.dataset or "mnist5k", "seed": request.seed}
        if request.epochs is not None:
            base["epochs"] = request.epochs
        cfg = cls(**base, **opts)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a setting out of range."""
        if not self.table:
            raise ConfigError("strategy 'dnas' needs --table (a latency table of the space, see 'edgenas profile')")
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

    def to_json(self) -> dict:
        return asdict(self)

    def resume_key(self) -> dict:
        return {k: v for k, v in self.to_json().items() if k not in self.RESUME_NEUTRAL}

    def terms(self) -> List[CostTerm]:
        terms = [CostTerm("latency_ms", self.beta, self.target_ms)]
        if self.memory_beta is not None or self.memory_target_bytes is not None:
            terms.append(CostTerm("memory_bytes", self.memory_beta or 0.0, self.memory_target_bytes))
        return terms
