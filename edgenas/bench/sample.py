"""The fixed, stratified sample of architectures a benchmark trains.

Three strata, so that the benchmark covers where searches go, not only the middle
of the space: every *uniform* architecture of one candidate in every layer
(the extremes: all-skip, all-k5_e6, ...), *uniform* random architectures, and
architectures spread toward the table's *fast* end (each layer takes its fastest
candidate with a probability that rises from 0 to 0.95 along the stratum,
otherwise a uniform one): budgeted searches end among those.
The order interleaves the strata, so any prefix of the sample is itself
stratified, and the first architectures are the ones trained with several seeds.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from ..arch.space import SearchSpace

FAST_SHARE = 0.4   # of the non-extreme architectures


def stratified_sample(space: SearchSpace, fastest: Sequence[int], n: int, seed: int) -> List[Tuple[tuple, str]]:
    """``n`` distinct architectures with their stratum (``extreme``, ``uniform``, ``fast``), in build order."""
    rng = np.random.default_rng(seed)
    extremes = [tuple([c] * space.num_layers) for c in range(space.num_candidates)][:n]
    seen = set(extremes)
    n_fast = int(round((n - len(extremes)) * FAST_SHARE))
    n_uniform = n - len(extremes) - n_fast

    def draw(count: int, p_fast: np.ndarray) -> List[tuple]:
        out = []
        while len(out) < count:
            i = len(out)
            take_fast = rng.random(space.num_layers) < p_fast[i]
            arch = tuple(int(v) for v in np.where(take_fast, fastest, rng.integers(0, space.num_candidates,
                                                                                     space.num_layers)))
            if arch not in seen:
                seen.add(arch)
                out.append(arch)
        return out

    uniform = draw(n_uniform, np.zeros(n_uniform))
    fast = draw(n_fast, rng.permutation(np.linspace(0.0, 0.95, n_fast)) if n_fast else np.zeros(0))
    order = [(a, "extreme") for a in extremes]
    # interleave by position in each stratum: architecture k of a stratum of size m sits at k / m
    keyed = [(k / len(uniform), a, "uniform") for k, a in enumerate(uniform)]
    keyed += [(k / len(fast), a, "fast") for k, a in enumerate(fast)]
    order += [(a, s) for _, a, s in sorted(keyed, key=lambda t: (t[0], t[2]))]
    return order
