"""The timing protocol shared by every profiler backend.

Warm-up (logged), then timed runs until a minimum count AND a minimum time,
capped in both; median and spread stored with the raw count. An entry whose
spread is too wide is measured again and, if it stays wide, flagged unstable
rather than silently kept (see the measurement protocol in DESIGN.md).
"""
from __future__ import annotations

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
    retries: int = 2

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TimingProtocol":
        return cls(**d)


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

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Timing":
        return cls(**d)


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


def measure(fn: Callable[[], object], protocol: TimingProtocol = TimingProtocol(),
            timer: Optional[Timer] = None) -> Timing:
    """Time ``fn`` (one inference, already synchronised) under ``protocol``.

    ``timer`` replaces the host clock around each call (GPU event timing); the
    stop rule, retries and statistics stay the same whatever the clock.
    """
    p = protocol
    timer = timer or wall_clock
    warm, warm_s = _run_until(fn, p.warmup_runs, p.warmup_s, max(p.warmup_runs, 1000), max(p.warmup_s, 0.5) * 4,
                              timer)
    best = None
    timed_total = 0.0
    for attempt in range(1, p.retries + 2):
        ms, elapsed = _run_until(fn, p.min_runs, p.min_time_s, p.max_runs, p.max_time_s, timer)
        timed_total += elapsed
        q10, q25, q50, q75, q90 = np.percentile(ms, [10, 25, 50, 75, 90])
        spread = float((q75 - q25) / q50) if q50 > 0 else 0.0
        if best is None or spread < best[1]:
            best = (ms, spread, (q10, q50, q90))
        if spread <= p.max_spread:
            break
    ms, spread, (q10, q50, q90) = best
    mean = float(ms.mean())
    return Timing(median_ms=float(q50), p10_ms=float(q10), p90_ms=float(q90), mean_ms=mean,
                  cv=float(ms.std() / mean) if mean > 0 else 0.0, spread=spread, runs=int(ms.size),
                  timed_s=timed_total, warmup_runs=int(warm.size), warmup_s=float(warm_s),
                  attempts=attempt, stable=spread <= p.max_spread)
