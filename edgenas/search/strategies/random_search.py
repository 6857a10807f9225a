"""Random-search baseline: uniform architectures, same budget (pop x gens), store and hypervolume log as NSGA-II."""
from __future__ import annotations

from typing import Optional

from ..run import GenerationProgress
from ..setup import run_strategy


def run(options, progress: Optional[GenerationProgress] = None):
    """Run or resume a random search.

    ``options`` is a :class:`SearchOptions` (returns a :class:`SearchResult`) or a generic
    strategy request (returns the Pareto document); see :func:`edgenas.search.setup.run_strategy`.
    """
    return run_strategy("random", options, progress)
