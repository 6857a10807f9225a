"""Fidelity of a latency table: predicted against measured whole networks on held-out architectures."""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from ..tables.cost import CostModel, apply_calibration
from ..errors import EdgeNASError
from ..arch.model import build_network
from ..progress import Progress, quiet, steps
from .profile import fit_calibration
from .reference import attach_reference
from ..arch.space import SearchSpace
from ..tables.table import LatencyTable

# Validation architectures are drawn from a seed stream disjoint from the calibration's.
HELD_OUT_SEED_OFFSET = 1_000_003


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (no ties expected for continuous timings)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 1 else float("nan")


@dataclass
class ErrorStats:
    within_10pct: float
    within_5pct: float
    mape_pct: float
    bias_pct: float
    max_abs_pct: float
    rank_corr: float

    @classmethod
    def of(cls, predicted: np.ndarray, measured: np.ndarray) -> "ErrorStats":
        err = (predicted - measured) / measured * 100
        return cls(within_10pct=float(np.mean(np.abs(err) <= 10)), within_5pct=float(np.mean(np.abs(err) <= 5)),
                   mape_pct=float(np.mean(np.abs(err))), bias_pct=float(np.mean(err)),
                   max_abs_pct=float(np.max(np.abs(err))), rank_corr=rank_correlation(predicted, measured))


def split_half_predictions(op_sum_ms: np.ndarray, measured_ms: np.ndarray) -> np.ndarray:
    """Each network predicted by a calibration fitted on the other half of the validation networks.

    Networks alternate between two halves; each half's calibration (the same fit as a profile's) is
    fitted on the other half's op sums and measurements. Both halves are measured in the same session,
    so the score shows how well the per-op table ranks and sizes whole networks, apart from how far the
    machine moved since the profile (which ``calibrated`` carries).
    """
    half = np.arange(len(op_sum_ms)) % 2
    predicted = np.zeros(len(op_sum_ms))
    for h in (0, 1):
        fit_on = half != h
        cal = fit_calibration([{"op_sum_ms": float(a), "measured_ms": float(b)}
                               for a, b in zip(op_sum_ms[fit_on], measured_ms[fit_on])])
        predicted[~fit_on] = apply_calibration(cal, op_sum_ms[~fit_on], np)
    return predicted


@dataclass
class ValidationReport:
    """Predicted vs measured on ``n`` held-out networks; ``noise`` compares the two measuring passes.

    ``split_half`` scores each network against a calibration fitted on the other half of them
    (:func:`split_half_predictions`). With a paired protocol the measurements are scaled to the table's
    reference unit; ``noise_raw`` and ``calibrated_raw`` then show the same figures on the unscaled medians
    (the machine's drift).
    """

    n: int
    seed: int
    calibrated: ErrorStats
    uncalibrated: ErrorStats
    plain_sum: ErrorStats
    noise: ErrorStats
    archs: list
    measured_ms: list
    predicted_ms: list
    op_sum_ms: list
    plain_sum_ms: list
    split_half: Optional[ErrorStats] = None
    noise_raw: Optional[ErrorStats] = None
    calibrated_raw: Optional[ErrorStats] = None
    measured_raw_ms: Optional[list] = None

    def to_json(self) -> dict:
        return asdict(self)


def validate_table(space: SearchSpace, table: LatencyTable, profiler, n: int = 30, seed: int = 0,
                   progress: Optional[Progress] = None) -> ValidationReport:
    """Measure ``n`` seeded random networks end to end, twice in interleaved passes, and score the table.

    The networks are uniformly random (a seed stream disjoint from the calibration's). The
    calibration networks also span the fast end (:mod:`edgenas.arch.sampling`); how well the table
    holds there is checked on exported Pareto models (``benchmarks/rescore_deploy.py``).

    ``calibrated`` is the table's prediction, ``uncalibrated`` the overhead-corrected
    op sum, and ``plain_sum`` the sum of raw per-op medians with no correction.
    """
    progress = progress or quiet
    table.check_fits(space, profiler.name)
    model = CostModel(space, table, strict=True)
    archs = space.sample(n, seed=seed + HELD_OUT_SEED_OFFSET)
    runners = []
    passes, raw_passes = np.zeros((2, n)), np.zeros((2, n))
    try:
        for arch in steps(progress, "prepare", archs):
            runners.append(profiler.prepare(build_network(space, arch).eval(), space.input_shape))
        attach_reference(profiler, space, table)
        for p in range(2):
            for i, run in enumerate(steps(progress, f"measure pass {p + 1}/2", runners)):
                t = profiler.time(run)
                passes[p, i], raw_passes[p, i] = table.normalized(t), t.median_ms
    finally:  # a device keeps no validation networks, whether the validation finished or not
        for run in runners:
            with contextlib.suppress(EdgeNASError):  # best effort: a device that dropped is the error to show
                profiler.release(run)
    measured = passes.mean(0)
    paired = table.unit_ms is not None
    pred = model.predict(archs)
    raw = np.array([[table.normalized(table.entries[k].timing) for k in
                     [space.layer_key(l, c) for l, c in enumerate(a)]] for a in archs]).sum(1)
    raw += sum(table.normalized(table.entries[k].timing) for k in space.fixed_keys())
    return ValidationReport(
        n=n, seed=seed, calibrated=ErrorStats.of(pred.latency_ms, measured),
        uncalibrated=ErrorStats.of(pred.op_sum_ms, measured), plain_sum=ErrorStats.of(raw, measured),
        noise=ErrorStats.of(passes[1], passes[0]), archs=[space.format(a) for a in archs],
        measured_ms=measured.tolist(), predicted_ms=pred.latency_ms.tolist(), op_sum_ms=pred.op_sum_ms.tolist(),
        plain_sum_ms=raw.tolist(), split_half=ErrorStats.of(split_half_predictions(pred.op_sum_ms, measured), measured),
        noise_raw=ErrorStats.of(raw_passes[1], raw_passes[0]) if paired else None,
        calibrated_raw=ErrorStats.of(pred.latency_ms, raw_passes.mean(0)) if paired else None,
        measured_raw_ms=raw_passes.mean(0).tolist() if paired else None)
