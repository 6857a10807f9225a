"""The reference network that paired timings are measured against (``TimingProtocol.reference``).

This machine's cores drift by ±10–30 % over seconds while one timing window
lasts a fraction of a second, so two measurements of the same network taken a
minute apart disagree by more than the table's target error. A profile with a
paired protocol times every op and network in alternating chunks with one
fixed network of the space, and stores the latency of that network when the
profile began (``unit_ms``). ``table.normalized(timing)`` then reads every
timing in that one machine state, and so do validation and deployment
measurements that load the same reference through :func:`attach_reference`.
"""
from __future__ import annotations

from dataclasses import replace

from ..arch.model import build_network
from ..arch.space import SearchSpace
from ..tables.table import LatencyTable

# A seed of its own: the reference is neither a calibration nor a validation network.
REFERENCE_SEED = 424_242


def reference_arch(space: SearchSpace) -> tuple:
    """The space's reference architecture: one seeded uniform sample, the same on every machine."""
    return tuple(space.sample(1, seed=REFERENCE_SEED)[0])


def attach_reference(profiler, space: SearchSpace, table: LatencyTable) -> None:
    """Load the table's reference network on ``profiler`` when its protocol pairs timings.

    A table without a reference yet gets one: the network of :func:`reference_arch`, timed alone
    for a longer window than one entry (``unit_ms``).
    """
    if not profiler.protocol.reference:
        return
    arch = space.parse(table.reference["arch"]) if table.reference else reference_arch(space)
    profiler.use_reference(build_network(space, arch), space.input_shape)
    if table.reference is None:
        p = profiler.protocol
        unit = profiler.time(profiler.reference, replace(p, reference=False, min_time_s=5 * p.min_time_s,
                                                         max_time_s=5 * p.max_time_s))
        table.reference = {"arch": space.format(arch), "unit_ms": unit.median_ms, "timing": unit.to_json()}
