"""Random-search baseline: uniform architectures, same budget (pop x gens), store and hypervolume log as NSGA-II."""
from __future__ import annotations

from typing import Optional

from ..search_run import GenerationProgress, SearchResult
from ..search_setup import SearchOptions, execute


def run(options: SearchOptions, progress: Optional[GenerationProgress] = None) -> SearchResult:
    """Run or resume a random search described by ``options``."""
    return execute("random", options, progress)
