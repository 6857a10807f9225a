"""The search's performance predictor: an ensemble of MLPs on the space's encoding, with Thompson draws.

BANANAS fits it on (architecture -> error) of everything evaluated and scores
candidates by independent Thompson sampling; Neural Architect fits one with two
outputs, the errors and the training times, and rewards its controller with
its predictions. The ensemble is trained online (:mod:`edgenas.search.online_ensemble`):
each fit continues from the last with a few steps per new result, so a round
costs the same at 1,000 evaluations as at 20. Its draws come from a generator
seeded with ``seed``, so refitting on the journaled values of a resumed run, in
the same order, gives the same model, and the same decisions, as the run that
was killed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..arch.space import SearchSpace
from ..bench.encoding import encoder_for
from ..errors import ConfigError
from .contract import option
from .online_ensemble import OnlineEnsemble

__all__ = ["PredictorOptions", "PerformancePredictor", "THOMPSON"]

THOMPSON = ("normal", "member")


@dataclass
class PredictorOptions:
    """The predictor's options, shared by the strategies that use it (BANANAS, Neural Architect)."""

    members: int = option(5, "MLPs in the predictor's ensemble (BANANAS: 5).")
    width: int = option(32, "Units per hidden layer of each MLP.")
    depth: int = option(2, "Hidden layers of each MLP.")
    steps_per_result: int = option(3, "Adam steps of the ensemble per new result (mini-batches of 64; each fit "
                                      "continues from the last one's weights).")

    def validate_predictor(self, strategy: str) -> None:
        if self.members < 2 or self.width < 1 or self.depth < 1 or self.steps_per_result < 1:
            raise ConfigError(f"{strategy} needs members >= 2 (an ensemble's spread is its uncertainty), width, "
                              f"depth and steps_per_result >= 1 (got members={self.members}, width={self.width}, "
                              f"depth={self.depth}, steps_per_result={self.steps_per_result})")


class PerformancePredictor:
    """An :class:`OnlineEnsemble` on the space's encoding: ``fit(archs, y)`` (all data so far, the previous fit's
    rows first; ``y`` of shape (n, outputs) when there are several), ``predict``, ``thompson``."""

    def __init__(self, space: SearchSpace, options: PredictorOptions, seed: int = 0, outputs: int = 1):
        self.encoding = encoder_for(space)
        self.model = OnlineEnsemble(self.encoding.width, members=options.members,
                                    hidden=(options.width,) * options.depth, seed=seed,
                                    steps_per_result=options.steps_per_result, outputs=outputs)

    def fit(self, archs: np.ndarray, y: np.ndarray) -> "PerformancePredictor":
        self.model.fit(self.encoding.encode(archs), y)
        return self

    def predict(self, archs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(mean, std) over the ensemble's members (each (N, outputs) when there are several)."""
        return self.model.predict(self.encoding.encode(archs))

    def thompson(self, archs: np.ndarray, rng: np.random.Generator, mode: str = "normal") -> np.ndarray:
        """One independent posterior draw per architecture: from a normal with the ensemble's mean and standard
        deviation (``normal``, BANANAS's "ITS"), or one member's prediction picked at random (``member``)."""
        preds = self.model.predict_members(self.encoding.encode(archs))
        if mode == "member":
            return preds[rng.integers(len(preds), size=preds.shape[1]), np.arange(preds.shape[1])]
        return rng.normal(preds.mean(0), preds.std(0))
