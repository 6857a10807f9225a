"""The timing protocol shared by every profiler backend.

Warm-up (logged), then timed runs until a minimum count AND a minimum time,
capped in both; median and spread stored with the raw count. An entry whose
spread is too wide is measured again and, if it stays wide, flagged unstable
rather than silently kept (see the measurement protocol in DESIGN.md) — unless
its median is precise all the same (thousands of runs of a 10 µs op): what the
table uses is the median, and re-measuring such an op gives the same spread, so
it is not measured again; its ``stable`` flag still says the spread was wide
(``median_error`` says how precise the median is).

On a shared machine the speed of a core drifts by ±10–30 % over seconds
(other tenants, SMT siblings), far more than the spread within one timing
window. With ``reference`` set, the timed runs alternate in short chunks with
a fixed reference model, and the timing also stores the reference's median
from the same window: the ratio of the two cancels that drift
(:meth:`Timing.normalized`). See BENCHMARKS.md, "Drift of this machine".
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np

# A timer runs ``fn`` once and returns how long it took, in nanoseconds. The
# default is the host's monotonic clock around the call; a GPU backend passes
# one that reads device events instead (see profilers/torch_cuda.py).
Timer = Callable[[Callable[[], object]], float]


@dataclass(frozen=True)
class TimingProtocol:
    warmup_runs: int = 3
    warmup_s: float = 0.02
    min_runs: int = 10
    min_time_s: float = 0.3
    max_runs: int = 20000
    max_time_s: float = 3.0
    max_spread: float = 0.10  # (p75 - p25) / median, torch.utils.benchmark's rule
    # ... unless the median is precise all the same: its standard error, from the spread and the run count,
    # below this share of the median (a 10 µs op has a wide spread at any window, and thousands of runs).
    max_median_error: float = 0.01
    retries: int = 2
    # Pair every timing with a reference model in alternating chunks of ``chunk_s``; min/max time then bound
    # the whole paired window, so a paired timing costs what an unpaired one does.
    reference: bool = False
    chunk_s: float = 0.005

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TimingProtocol":
        return cls(**d)


# A machine's speed moves (a shared VM's by up to 2x, minutes apart). Pairing with the reference cancels a
# uniform change, but networks do not all change speed as the reference does. Of 48 exported models on such a
# VM, the 16 timed while the reference ran within 5 % of its speed during the profile all came within ±10 % of
# the table, the other 32 only 21 (BENCHMARKS.md, "the misses were measured in another machine state"). So
# a whole network's paired timing whose reference is more than STATE_TOLERANCE off the table's unit is
# retaken after a pause (edgenas.profiling.network.measure_network), and the one nearest kept.
STATE_TOLERANCE = 0.05
STATE_RETRIES = 4
STATE_PAUSE_S = 5.0


def in_profile_state(reference_ratio: float) -> bool:
    """Whether a paired timing's reference ran within :data:`STATE_TOLERANCE` of its speed during the profile
    (``reference_ratio``: its median now over the table's unit)."""
    return abs(math.log(reference_ratio)) <= math.log1p(STATE_TOLERANCE)


@dataclass(frozen=True)
class Timing:
    """Statistics of one measurement, in milliseconds."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    mean_ms: float
    cv: float
    spread: float
    runs: int
    timed_s: float
    warmup_runs: int
    warmup_s: float
    attempts: int
    stable: bool
    reference_ms: Optional[float] = None  # median of the reference model, timed in the same window
    median_error: Optional[float] = None  # standard error of the median / median (normal approximation)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Timing":
        return cls(**d)

    def normalized(self, unit_ms: Optional[float]) -> float:
        """The median in the machine state where the reference took ``unit_ms``: median · unit / reference.

        A timing taken without a reference (or no unit) is returned as measured.
        """
        if self.reference_ms is None or unit_ms is None:
            return self.median_ms
        return self.median_ms * unit_ms / self.reference_ms


def wall_clock(fn: Callable[[], object]) -> float:
    """The default :data:`Timer`: the host's monotonic clock around one call."""
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0


def _run_until(fn: Callable[[], object], min_runs: int, min_s: float, max_runs: int, max_s: float,
               timer: Timer = wall_clock):
    samples = []
    start = time.perf_counter()
    while True:
        samples.append(timer(fn))
        elapsed = time.perf_counter() - start
        if (len(samples) >= min_runs and elapsed >= min_s) or len(samples) >= max_runs or elapsed >= max_s:
            return np.asarray(samples, dtype=np.float64) / 1e6, elapsed


def median_error(spread: float, runs: int) -> float:
    """Relative standard error of a median of ``runs`` samples whose interquartile range is ``spread`` of it:
    σ ≈ IQR / 1.349 and SE(median) ≈ 1.2533 · σ / √n for a roughly normal core of the distribution."""
    return float(1.2533 * spread / 1.349 / np.sqrt(max(runs, 1)))


def _chunk(fn: Callable[[], object], seconds: float, timer: Timer) -> list:
    """Runs of ``fn`` for at least ``seconds`` after one unkept run (the first after a switch of model starts
    with the other model's data in the caches)."""
    timer(fn)
    out = []
    start = time.perf_counter()
    while True:
        out.append(timer(fn))
        if time.perf_counter() - start >= seconds:
            return out


def _run_paired(fn: Callable[[], object], reference: Callable[[], object], p: TimingProtocol, timer: Timer):
    """:func:`_run_until` with chunks of ``fn`` and of ``reference`` alternating.

    Returns ``fn``'s samples (ms), the window's length and the reference's median (ms)."""
    ours, theirs = [], []
    start = time.perf_counter()
    while True:
        ours += _chunk(fn, p.chunk_s, timer)
        theirs += _chunk(reference, p.chunk_s, timer)
        elapsed = time.perf_counter() - start
        if (len(ours) >= p.min_runs and elapsed >= p.min_time_s) or len(ours) >= p.max_runs or elapsed >= p.max_time_s:
            return np.asarray(ours, dtype=np.float64) / 1e6, elapsed, float(np.median(theirs)) / 1e6


def measure(fn: Callable[[], object], protocol: TimingProtocol = TimingProtocol(),
            timer: Optional[Timer] = None, reference: Optional[Callable[[], object]] = None) -> Timing:
    """Time ``fn`` (one inference, already synchronised) under ``protocol``.

    ``timer`` replaces the host clock around each call (GPU event timing); the
    stop rule, retries and statistics stay the same whatever the clock.
    ``reference`` (a fixed model, run the same way) is timed in alternating
    chunks with ``fn``; its median lands in :attr:`Timing.reference_ms`.
    """
    p = protocol
    timer = timer or wall_clock
    warm, warm_s = _run_until(fn, p.warmup_runs, p.warmup_s, max(p.warmup_runs, 1000), max(p.warmup_s, 0.5) * 4,
                              timer)
    best = None
    timed_total = 0.0
    ref_ms = None
    for attempt in range(1, p.retries + 2):
        if reference is None:
            ms, elapsed = _run_until(fn, p.min_runs, p.min_time_s, p.max_runs, p.max_time_s, timer)
        else:
            ms, elapsed, attempt_ref_ms = _run_paired(fn, reference, p, timer)
        timed_total += elapsed
        q10, q25, q50, q75, q90 = np.percentile(ms, [10, 25, 50, 75, 90])
        spread = float((q75 - q25) / q50) if q50 > 0 else 0.0
        error = median_error(spread, ms.size)
        stable = spread <= p.max_spread  # the raw samples' spread, whatever the pairing makes of the median
        if best is None or error < best[3]:
            best = (ms, spread, (q10, q50, q90), error, stable)
            ref_ms = None if reference is None else attempt_ref_ms
        if stable or error <= p.max_median_error:  # a precise median is not measured again: no retry narrows it
            break
    ms, spread, (q10, q50, q90), error, stable = best
    mean = float(ms.mean())
    return Timing(median_ms=float(q50), p10_ms=float(q10), p90_ms=float(q90), mean_ms=mean,
                  cv=float(ms.std() / mean) if mean > 0 else 0.0, spread=spread, runs=int(ms.size),
                  timed_s=timed_total, warmup_runs=int(warm.size), warmup_s=float(warm_s),
                  attempts=attempt, stable=stable,
                  reference_ms=ref_ms, median_error=error)
