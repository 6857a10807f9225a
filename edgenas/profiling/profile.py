"""Profile every op of a search space on one backend into a latency table, resumably.

The table file is the journal: it is rewritten atomically after every
measured entry, so a killed profile loses at most the entry in flight and a
rerun measures only what is missing. After the ops come a few whole networks, which
fit the whole-network calibration the cost model applies, then each layer's candidates
measured inside a network (:mod:`edgenas.tables.in_network`), unless the table reads ops
alone; ``auto`` first times the base a few times and reads the ops alone where the
probes would be noise.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np

from ..arch.analysis import analyse
from ..tables.cost import CostModel, apply_calibration
from ..errors import TableError, TableMismatchError
from ..fileio import PathLike, check_writable
from ..tables.in_network import (BASE_READINGS, PROBE_NOISE_MARGIN, InNetwork, probe_arch, probe_noise_pct,
                                 typical_network_ms)
from ..arch.model import build_network, build_op
from .prefetch import Prefetcher
from .reference import attach_reference, reference_arch
from ..arch.sampling import spread_sample
from ..arch.space import SearchSpace
from ..tables.table import Calibration, LatencyTable, TableEntry
from ..progress import Progress, quiet, steps


# Window of each timing, as a share of the protocol's (``min_time_s``), by what the timing is for.
# Unless the table reads ops alone, the ops only choose the base network and give the latency of its own op at each
# layer, a constant in every sum the calibration absorbs, and every other cell is read from a probe; an ``auto``
# profile that then reads the ops alone (fbnet-224 here) needs them no more precise than that either: a fifth of the
# window held 30 of 30 held-out fbnet-224 networks within ±10 % read alone (MAPE 2.7 %; BENCHMARKS.md, issue 18).
# The probes and calibration networks keep the whole window: the probes' precision is what an in-network table
# stands on, and a probe share of 0.4 was not shown to keep it.
OP_SHARE_IN_NETWORK = 0.2
PROBE_SHARE = 1.0
OP_LATENCY_CHOICES = ("auto", "in_network", "alone")


@contextmanager
def _window(profiler, share: float):
    """Time with ``profiler`` in ``share`` of its protocol's minimum time (caps and run counts unchanged)."""
    protocol = profiler.protocol
    profiler.protocol = replace(protocol, min_time_s=protocol.min_time_s * share)
    try:
        yield
    finally:
        profiler.protocol = protocol


def open_table(space: SearchSpace, profiler, out: PathLike, restart: bool = False,
               op_latency: str = "auto") -> LatencyTable:
    """A new table for ``space``/``profiler``, or the partial one at ``out`` when its settings match (``auto``
    matches either way of reading the ops)."""
    if op_latency not in OP_LATENCY_CHOICES:
        raise TableError(f"op latency {op_latency!r} is not one of {', '.join(OP_LATENCY_CHOICES)}")
    fresh = LatencyTable.new(space, profiler.name, profiler.runtime_info(), profiler.device_info(),
                             profiler.protocol.to_json(), "in_network" if op_latency == "auto" else op_latency)
    path = Path(out)
    if restart or not path.exists():
        return fresh
    old = LatencyTable.load(path)
    ignored = {"op_latency"} if op_latency == "auto" else set()
    changed = sorted(k for k, v in fresh.settings().items() if old.settings().get(k) != v and k not in ignored)
    if changed:
        raise TableMismatchError(f"{path} was measured with other settings ({', '.join(changed)} differ); "
                                 f"choose another output file or pass --restart to overwrite it")
    return old


def fit_calibration(points: list) -> Calibration:
    """The power law measured ≈ k · sum^α, fitted by least squares on logarithms (i.e. in relative error).

    Whole networks do not run at a fixed ratio of their ops' sum: small ones pay fixed costs the
    overhead subtraction does not see, large ones share caches between ops. A line fitted on
    mid-sized networks over-predicted the small ones that searches end with by 14 %; the power law
    bends with the data. A network whose measurement was hit by a spike of the machine would bend it
    too, so after a first fit the points further than 3 robust standard deviations (and 5 %) from it
    are left out and the fit is repeated; they stay in the table, marked ``"outlier": true``. A fit
    whose exponent is not positive (too few or too noisy networks) would rank architectures
    backwards, so it falls back to the pure ratio ``measured ≈ a · sum``.
    """
    points = [{k: v for k, v in p.items() if k != "outlier"} for p in points]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log([p["op_sum_ms"] for p in points])
        y = np.log([p["measured_ms"] for p in points])
    # A network whose op sum rounds to zero (tiny ops, all at the overhead's level) has no logarithm.
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() >= 2 and np.ptp(x[keep]) > 0:
        finite = keep.copy()
        alpha, log_k = np.polyfit(x[finite], y[finite], 1)
        resid = np.where(finite, y - (alpha * x + log_k), np.inf)
        mad = 1.4826 * np.median(np.abs(resid[finite] - np.median(resid[finite])))
        keep = np.abs(resid) <= max(3 * mad, np.log(1.05))
        if keep.sum() >= 2 and np.ptp(x[keep]) > 0:
            alpha, log_k = np.polyfit(x[keep], y[keep], 1)
        else:
            keep = finite
        for p, k in zip(points, keep):
            if not k:
                p["outlier"] = True
        if alpha > 0:
            return Calibration(["log_sum", "const"], [float(alpha), float(log_k)], points, link="log")
    ratio = float(np.exp(y[keep] - x[keep]).mean()) if keep.any() else 1.0
    return Calibration(["sum"], [ratio], points)


def with_op_sums(space: SearchSpace, uncalibrated: CostModel, points: list) -> list:
    """Calibration ``points`` with their op sums as ``uncalibrated`` reads them."""
    return [{**p, "op_sum_ms": float(uncalibrated.predict(space.parse(p["arch"])).op_sum_ms[0])} for p in points]


def fit_error_pct(points: list) -> float:
    """Root mean square of the relative error (%) of :func:`fit_calibration`, each point left out of its own fit;
    infinite below three points (no error to estimate: ``auto`` then keeps the probes)."""
    if len(points) < 3:
        return float("inf")
    errors = []
    for i, point in enumerate(points):
        cal = fit_calibration(points[:i] + points[i + 1:])
        predicted = float(apply_calibration(cal, np.asarray([point["op_sum_ms"]]), np)[0])
        errors.append(predicted / point["measured_ms"] - 1.0)
    return float(100.0 * np.sqrt(np.mean(np.square(errors))))


def _prepare_op(job) -> tuple:
    """Worker side of one entry: the backend's artifact (an exported op) and the op's costs (fvcore)."""
    profiler, key = job
    module = build_op(key)
    return profiler.artifact(module, key.input_shape), analyse(module, key.input_shape)


def _prepare_network(job) -> object:
    profiler, space, arch = job
    return profiler.artifact(build_network(space, arch).eval(), space.input_shape)


def _choose_op_latency(space: SearchSpace, profiler, table: LatencyTable, out: PathLike, pool) -> float:
    """``auto``: read the ops in a network unless the probes would be clearly less precise than the ops alone.

    The base network is timed :data:`BASE_READINGS` times: their scatter is the error the probes would add
    (:func:`probe_noise_pct`); the ops alone err by their calibration's fit error on the calibration networks
    (:func:`fit_error_pct`, leave-one-out), which the probes could at best remove. The probes are dropped when
    their noise exceeds that by more than :data:`PROBE_NOISE_MARGIN`. The readings, both errors and the choice
    go into the table's header (``op_latency_choice``); kept, the readings are the base's first. Returns the
    seconds timed."""
    alone = CostModel(space, table, calibrated=False, in_network=False)
    base = alone.fastest()[0]
    (_, artifact), = pool.map(_prepare_network, [(profiler, space, base)])
    readings, timed = [], 0.0
    with _window(profiler, PROBE_SHARE):
        for _ in range(BASE_READINGS):
            t = profiler.measure_artifact(artifact, space.input_shape)
            timed += t.timed_s
            readings.append(table.normalized(t))
    op_sum_ms = float(alone.predict(reference_arch(space)).op_sum_ms[0])  # a seeded uniform network
    typical_ms = typical_network_ms(op_sum_ms, readings)
    noise = probe_noise_pct(readings, space.num_layers, typical_ms)
    alone_error = fit_error_pct(with_op_sums(space, alone, table.calibration.points))
    chosen = "in_network" if noise <= PROBE_NOISE_MARGIN * alone_error else "alone"
    table.header["op_latency_choice"] = {
        "requested": "auto", "chosen": chosen, "base": space.format(base), "base_readings_ms": readings,
        "typical_ms": typical_ms, "probe_noise_pct": noise,
        "alone_fit_error_pct": alone_error if np.isfinite(alone_error) else None,  # a table holds finite numbers
        "margin": PROBE_NOISE_MARGIN}
    table.set_op_latency(chosen)
    if chosen == "in_network":
        table.in_network = InNetwork(space.format(base), base_ms=list(readings))
    table.save(out)
    return timed


def _measure_in_network(space: SearchSpace, profiler, table: LatencyTable, out: PathLike, pool,
                        progress: Progress) -> float:
    """Measure the base network and the probes the table lacks (see :mod:`edgenas.tables.in_network`); seconds timed."""
    if table.in_network is None:
        alone = CostModel(space, table, calibrated=False, in_network=False)
        table.in_network = InNetwork(space.format(alone.fastest()[0]))
    probes = table.in_network
    base = space.parse(probes.base)
    todo, total = probes.missing(space), len(probes.cells(space))  # todo in layer order
    timed = 0.0

    def measure(artifact) -> float:
        nonlocal timed
        t = profiler.measure_artifact(artifact, space.input_shape)
        timed += t.timed_s
        return table.normalized(t)

    if todo:
        networks = pool.map(_prepare_network, [(profiler, space, arch)
                                               for arch in [base] + [probe_arch(base, *cell) for cell in todo]])
        _, base_artifact = next(networks)  # exported once, timed before each layer's probes
        layer = None
        with _window(profiler, PROBE_SHARE):
            for i, (cell, (_, artifact)) in enumerate(zip(todo, networks)):
                progress("in-network", total - len(todo) + i, total)
                if cell[0] != layer:  # the base again: its median enters every cell, so one reading must not
                    layer = cell[0]
                    probes.base_ms.append(measure(base_artifact))
                probes.probes[cell] = measure(artifact)
                table.save(out)
    progress("in-network", total, total)
    return timed


def profile_space(space: SearchSpace, profiler, out: PathLike, *, restart: bool = False,
                  calibration_networks: int = 20, seed: int = 0, op_latency: str = "auto",
                  progress: Optional[Progress] = None, workers: Optional[int] = None) -> LatencyTable:
    """Measure every op of ``space`` missing from the table at ``out``, then calibrate; return the table.

    ``op_latency`` ``in_network`` also measures each layer's candidates inside a network, which the cost
    model then reads (:mod:`edgenas.tables.in_network`); ``alone`` reads every op as timed on its own; ``auto``
    (the default) decides after the ops, from a few readings of the base network (:func:`_choose_op_latency`).

    For backends that allow it (``profiler.prefetch``), exports and FLOP counts run a few entries ahead in
    a worker process (``workers``: default one when a core is spare beside the profiler's threads, see
    :mod:`edgenas.profiling.prefetch`; the table's stats record it); timing stays sequential in this process.
    """
    if not profiler.prefetch:
        workers = 0
    progress = progress or quiet
    check_writable(out)
    table = open_table(space, profiler, out, restart, op_latency)
    todo = table.missing(space)
    shapes = sorted({k.input_shape for k in space.op_keys()} - set(table.overheads))
    cal = table.calibration or Calibration([], [], [])
    probes_done = table.op_latency == "alone" or bool(table.in_network and not table.in_network.missing(space))
    if not todo and not shapes and probes_done and len(cal.points) >= calibration_networks and cal.coef:
        return table  # a finished profile: nothing to measure, and its readings stay as they were
    started = time.perf_counter()
    attach_reference(profiler, space, table)
    timed = 0.0
    phases = {}  # wall seconds of each phase, for the table's stats

    def phase(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - since, 3)
        return now

    op_share = 1.0 if table.op_latency == "alone" else OP_SHARE_IN_NETWORK
    with Prefetcher(workers, timing_threads=profiler.threads) as pool:
        # Submitted now, so the worker exports the first ops while the overheads are timed.
        ops = pool.map(_prepare_op, [(profiler, key) for key in todo])

        for shape in steps(progress, "overhead", shapes):
            t = profiler.overhead(shape)
            timed += t.timed_s
            table.overheads[shape] = t
            table.save(out)

        since = phase("reference and overheads", started)
        progress("ops", 0, len(todo))
        with _window(profiler, op_share):
            for i, ((_, key), (artifact, cost)) in enumerate(ops):
                t = profiler.measure_artifact(artifact, key.input_shape)
                timed += t.timed_s
                overhead = table.normalized(table.overheads[key.input_shape])
                peak = profiler.peak_memory_bytes(artifact, key.input_shape)
                table.entries[key] = TableEntry(t, max(0.0, table.normalized(t) - overhead), cost, peak)
                table.save(out)
                progress("ops", i + 1, len(todo))
        since = phase("ops", since)

        # The calibration networks come before any probe: with the ops alone, their fit error is what the probes
        # have to beat (auto); the fit itself waits for the final reading of the ops.
        if len(cal.points) < calibration_networks:
            alone = CostModel(space, table, strict=True, calibrated=False, in_network=False)
            archs = spread_sample(space, alone.fastest()[0], calibration_networks, seed)
            networks = pool.map(_prepare_network, [(profiler, space, arch) for arch in archs[len(cal.points):]])
            for i, ((_, _, arch), artifact) in enumerate(networks, start=len(cal.points)):
                progress("calibration", i, len(archs))
                t = profiler.measure_artifact(artifact, space.input_shape)
                timed += t.timed_s
                cal.points.append({"arch": space.format(arch), "op_sum_ms": float(alone.predict(arch).op_sum_ms[0]),
                                   "measured_ms": table.normalized(t), "spread": t.spread})
                table.calibration = cal
                table.save(out)
            progress("calibration", len(archs), len(archs))
        since = phase("calibration", since)

        if op_latency == "auto" and table.op_latency == "in_network" and table.in_network is None:
            timed += _choose_op_latency(space, profiler, table, out, pool)
        if table.op_latency == "in_network":
            timed += _measure_in_network(space, profiler, table, out, pool, progress)
        phase("in-network", since)
        cal = fit_calibration(with_op_sums(space, CostModel(space, table, strict=True, calibrated=False), cal.points))
        export_workers = pool.workers

    wall = time.perf_counter() - started
    table.stats = {"last_run_wall_s": round(wall, 3), "last_run_timed_s": round(timed, 3),
                   "last_run_phases_s": phases,
                   "window_shares": {"ops": op_share, "in_network": PROBE_SHARE, "calibration": 1.0},
                   "entries": len(table.entries),
                   "unstable_entries": sum(not e.timing.stable for e in table.entries.values()),
                   "export_workers": export_workers, **profiler.run_stats()}
    table.calibration = cal
    table.save(out)
    return table
