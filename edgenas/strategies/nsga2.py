"""NSGA-II strategy: multi-objective evolutionary search with pymoo over the run store."""
from __future__ import annotations

from typing import Optional

from ..search_run import GenerationProgress, SearchResult
from ..search_setup import SearchOptions, execute


def run(options: SearchOptions, progress: Optional[GenerationProgress] = None) -> SearchResult:
    """Run or resume an NSGA-II search described by ``options``."""
    return execute("nsga2", options, progress)
