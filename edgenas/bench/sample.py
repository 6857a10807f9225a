"""The fixed, stratified sample of architectures a benchmark trains.

Three strata, so that the benchmark covers where searches go, not only the middle
of the space: every *uniform* architecture of one candidate in every layer
(the extremes: all-skip, all-k5_e6, ...), *uniform* random architectures, and
architectures spread toward the table's *fast* end (each layer takes its fastest
candidate with a probability that rises from 0 to 0.95 along the stratum,
otherwise a uniform one): budgeted searches end among those.
The order interleaves the strata, so any prefix of the sample is itself
stratified, and the first architectures are the ones trained with several seeds.

A fourth stratum, *slow*, is appended after them when asked for: architectures
spread toward the table's slow end the same way (probability 0.3 to 0.95).
Uniform random architectures seldom reach it (10 of the first 500 of fbnet-small
lie above 0.11 ms), so without it a surrogate has nothing to learn there, and a
search under a generous budget stops where the sample thins out. Appending, with
a random stream of its own, leaves the first ``n`` architectures as they were:
an existing benchmark grows by the slow stratum without retraining anything.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..arch.space import SearchSpace

FAST_SHARE = 0.4   # of the non-extreme architectures
SLOW_TOWARD = (0.3, 0.95)   # the slow stratum's range of "take the slowest candidate" probabilities


def stratified_sample(space: SearchSpace, fastest: Sequence[int], n: int, seed: int,
                      slowest: Optional[Sequence[int]] = None, n_slow: int = 0) -> List[Tuple[tuple, str]]:
    """``n`` distinct architectures with their stratum (``extreme``, ``uniform``, ``fast``), in build order,
    then ``n_slow`` more of stratum ``slow`` spread toward ``slowest``."""
    rng = np.random.default_rng(seed)
    extremes = [tuple([c] * space.num_layers) for c in range(space.num_candidates)][:n]
    seen = set(extremes)
    n_fast = int(round((n - len(extremes)) * FAST_SHARE))
    n_uniform = n - len(extremes) - n_fast

    def draw(count: int, toward: Sequence[int], p_toward: np.ndarray, rng: np.random.Generator) -> List[tuple]:
        out = []
        while len(out) < count:
            i = len(out)
            take = rng.random(space.num_layers) < p_toward[i]
            arch = tuple(int(v) for v in np.where(take, toward, rng.integers(0, space.num_candidates,
                                                                               space.num_layers)))
            if arch not in seen:
                seen.add(arch)
                out.append(arch)
        return out

    uniform = draw(n_uniform, fastest, np.zeros(n_uniform), rng)
    fast = draw(n_fast, fastest, rng.permutation(np.linspace(0.0, 0.95, n_fast)) if n_fast else np.zeros(0), rng)
    order = [(a, "extreme") for a in extremes]
    # interleave by position in each stratum: architecture k of a stratum of size m sits at k / m
    keyed = [(k / len(uniform), a, "uniform") for k, a in enumerate(uniform)]
    keyed += [(k / len(fast), a, "fast") for k, a in enumerate(fast)]
    order += [(a, s) for _, a, s in sorted(keyed, key=lambda t: (t[0], t[2]))]
    if n_slow:
        slow_rng = np.random.default_rng([seed, 1])   # its own stream: the strata above do not move
        order += [(a, "slow") for a in draw(n_slow, slowest, slow_rng.permutation(np.linspace(*SLOW_TOWARD, n_slow)),
                                            slow_rng)]
    return order
