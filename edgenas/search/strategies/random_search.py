"""Random search: uniform architectures in batches of ``pop``, journaled like NSGA-II — the baseline."""
from __future__ import annotations

from ..contract import SearchOutcome, SearchRequest, Strategy
from ..run import run_journaled
from .nsga2 import NSGA2Config


class RandomStrategy(Strategy):
    name = "random"
    summary = "uniform random architectures (the baseline)"
    Config = NSGA2Config   # the same budget: pop architectures per generation, gens generations

    def run(self, request: SearchRequest) -> SearchOutcome:
        return run_journaled(request, "random", request.config.pop, request.config.gens)
