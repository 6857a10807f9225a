"""The settings of the RL strategies: the controller's (shared), ``rl``'s evaluation budget, ``enas``'s training.

Each field becomes an option of ``edgenas search rl`` / ``edgenas search enas``;
:meth:`validate` turns a bad value into a one-line :class:`ConfigError` naming the
option and what to pass instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from ...errors import ConfigError
from ..contract import option
from ..controller import POLICIES
from ..reinforce import DEFAULT_W, REWARDS

__all__ = ["ControllerConfig", "RLConfig", "ENASConfig"]

# Measured on the shipped fbnet-small table, oracle, 200 evaluations: the LSTM learns well at 0.05 (0.1 was no
# better); a factorised policy's logits are its parameters, so at 0.05 its entropy hardly moved in 25 steps.
DEFAULT_LR = {"lstm": 0.05, "factorised": 0.3}


def _raise_first(checks: List[Tuple[bool, str]]) -> None:
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)


@dataclass
class ControllerConfig:
    """The policy, its reward and its REINFORCE update."""

    policy: str = option("lstm", "lstm: ENAS's LSTM controller (a layer's choice sees the earlier ones); "
                                 "factorised: one independent softmax per layer.", choices=POLICIES)
    hidden: int = option(64, "LSTM controller's hidden units (ENAS: 64).")
    reward: str = option("hard", "MnasNet reward ACC·Π(LAT/T)^w: soft: w on both sides of each budget; hard: w = 0 "
                                 "within the budget, w above it.", choices=REWARDS)
    w: Optional[float] = option(None, "Reward exponent, <= 0 (default: MnasNet's, -0.07 soft, -1 hard).")
    controller_lr: Optional[float] = option(None, "Controller learning rate, Adam (default: 0.05 lstm, 0.3 "
                                                  "factorised, whose every step moves a logit by at most this).")
    entropy_weight: float = option(0.01, "Entropy bonus: weight of the policy's entropy in its loss (at 1e-3 a factorised "
                                               "policy collapsed and drew 2,500 steps of known architectures for 1,000 "
                                               "evaluations).")
    baseline_decay: float = option(0.9, "Decay of the reward's moving-average baseline, in [0, 1).")
    batch: int = option(8, "Architectures sampled per controller step.")

    @property
    def exponent(self) -> float:
        return DEFAULT_W[self.reward] if self.w is None else float(self.w)

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.policy] if self.controller_lr is None else float(self.controller_lr)

    def _controller_checks(self) -> List[Tuple[bool, str]]:
        return [
            (self.policy in POLICIES, f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}"),
            (self.reward in REWARDS, f"reward must be one of {', '.join(REWARDS)}, got {self.reward!r}"),
            (self.w is None or self.w <= 0,
             f"w must be <= 0, got {self.w}: a positive exponent rewards going over the budget; "
             f"pass --w {-abs(self.w or 0):g} (MnasNet: -0.07 soft, -1 hard)"),
            (self.hidden >= 1, f"hidden must be >= 1, got {self.hidden}: pass --hidden 64"),
            (self.controller_lr is None or self.controller_lr > 0,
             f"controller_lr must be > 0, got {self.controller_lr}: omit it for the policy's default"),
            (self.entropy_weight >= 0,
             f"entropy_weight must be >= 0, got {self.entropy_weight}: pass --entropy-weight 0.01"),
            (0 <= self.baseline_decay < 1,
             f"baseline_decay must be in [0, 1), got {self.baseline_decay}: pass --baseline-decay 0.9"),
            (self.batch >= 1, f"batch must be >= 1, got {self.batch}: pass --batch 8"),
        ]


@dataclass
class RLConfig(ControllerConfig):
    """``rl``: the controller against an accuracy estimator, for a budget of distinct evaluations."""

    # factorised by default: at 200 evaluations it found better architectures under the budget than the LSTM
    # (benchmarks/rl_vs_random.py: 6 seeds, median best feasible 0.858 against 0.833 at 0.05 ms, 0.944 against 0.930
    # at 0.08 ms); the LSTM stays ENAS's default
    policy: str = option("factorised", "factorised: one independent softmax per layer; lstm: ENAS's LSTM controller "
                                       "(a layer's choice sees the earlier ones).", choices=POLICIES)

    evaluations: int = option(200, "Distinct architectures to evaluate (repeats are answered by the journal).")
    max_steps: Optional[int] = option(None, "Stop after this many controller steps even if fewer architectures "
                                            "were new (default: 20 x evaluations / batch).")

    RESUME_NEUTRAL = ("evaluations", "max_steps")   # a rerun with a larger budget continues the same run

    @property
    def steps_limit(self) -> int:
        return self.max_steps if self.max_steps is not None else max(1, -(-20 * self.evaluations // self.batch))

    def validate(self) -> None:
        _raise_first(self._controller_checks() + [
            (self.evaluations >= 1, f"evaluations must be >= 1, got {self.evaluations}: pass --evaluations 200"),
            (self.max_steps is None or self.max_steps >= 1,
             f"max_steps must be >= 1, got {self.max_steps}: omit it for 20 x evaluations / batch"),
        ])


@dataclass
class ENASConfig(ControllerConfig):
    """``enas``: controller steps alternating with weight steps of the shared supernet."""

    steps: int = option(40, "Search steps; each trains the shared weights, then the controller.")
    warmup_steps: int = option(10, "Steps that train the shared weights only (the controller's rewards are noise "
                                   "before the weights have learned anything).")
    weight_batches: int = option(5, "Training batches per step, each on an architecture the controller samples.")
    batch_size: int = option(64, "Images per training and validation batch.")
    lr: float = option(0.05, "Learning rate of the shared weights (SGD, Nesterov momentum, cosine over the steps).")
    momentum: float = option(0.9, "Momentum of the shared weights.")
    weight_decay: float = option(5e-4, "Weight decay of the shared weights.")
    val_batches: int = option(1, "Validation batches each sampled architecture's reward is measured on (ENAS: 1).")
    samples: int = option(8, "Architectures drawn from the final controller and scored on the whole validation "
                             "split (with recalibrated BatchNorm); the result is their Pareto set.")
    checkpoint_every: int = option(1, "Write the checkpoint (supernet, controller, optimisers) every N steps.")
    threads: Optional[int] = option(None, "Torch threads.")

    RESUME_NEUTRAL = ("threads", "checkpoint_every")

    def validate(self) -> None:
        _raise_first(self._controller_checks() + [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}: pass --steps 40"),
            (0 <= self.warmup_steps < self.steps,
             f"warmup_steps must be in [0, steps), got {self.warmup_steps} with steps {self.steps}: "
             f"pass --warmup-steps {max(0, self.steps // 4)}"),
            (self.weight_batches >= 1, f"weight_batches must be >= 1, got {self.weight_batches}"),
            (self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}: pass --batch-size 64"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}: pass --lr 0.05"),
            (0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.val_batches >= 1, f"val_batches must be >= 1, got {self.val_batches}"),
            (self.samples >= 1, f"samples must be >= 1, got {self.samples}: pass --samples 8"),
            (self.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {self.checkpoint_every}"),
            (self.threads is None or self.threads >= 1, f"threads must be >= 1, got {self.threads}"),
        ])
