"""What a model-based search evaluated, in its order: architectures, their values, and the front so far.

The order matters: the predictors are refitted on these rows each round, and
a resumed search must refit on the same rows in the same order to take the
same decisions.
"""
from __future__ import annotations

from typing import Dict, List, Set, Tuple

import numpy as np

from .candidates import violation
from .problem import EvaluationService
from .run import FrontTracker

__all__ = ["Evaluated"]


class Evaluated:
    def __init__(self, service: EvaluationService):
        self.service, self.spec = service, service.spec
        self.tracker = FrontTracker(service.spec)
        self.archs: List[Tuple[int, ...]] = []
        self.keys: List[str] = []                 # the journal's key of each of ``archs``
        self.values: Dict[str, np.ndarray] = {}
        self.seen: Set[str] = set()

    def add(self, archs: np.ndarray) -> Dict[str, np.ndarray]:
        """Evaluate ``archs`` (new ones; the journal answers those it holds) and keep their values."""
        archs = np.asarray(archs, dtype=np.int64)
        values = self.service.evaluate(archs)
        keys = [self.service.key(a) for a in archs]
        self.tracker.observe(keys, values)
        self.seen.update(keys)
        self.keys.extend(keys)
        self.archs.extend(map(tuple, archs))
        for k, v in values.items():
            self.values[k] = np.concatenate([self.values.get(k, np.empty(0)), v])
        return values

    def __len__(self) -> int:
        return len(self.seen)

    def array(self) -> np.ndarray:
        return np.asarray(self.archs, dtype=np.int64)

    def row(self, step: int, **extra) -> dict:
        """A history row: evaluations so far, the best error among those meeting the budgets (the least violating
        when none does), the front's hypervolume and size."""
        excess = violation(self.spec, self.values)
        i = int(np.lexsort((self.values["error"], excess))[0])
        return {"round": step, "evaluations": len(self.seen), "best_violation": float(excess[i]),
                "best_error": float(self.values["error"][i]), "hypervolume": self.tracker.hypervolume,
                "front_size": int(len(self.tracker.front)), **extra}
