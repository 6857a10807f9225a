"""``edgenas quickstart``: the whole job in one run folder on the embedded default (fbnet-small, MNIST-5k).

Stages, each in its own subfolder and each skipped or resumed when its output
is already there (so Ctrl-C and a rerun lose at most the item in flight). A
rerun with another configuration is refused (``quickstart.json`` holds the
one that made the folder), so stages of two configurations never mix:

1. ``table.json``  — profile this CPU for the space (onnxruntime, 1 thread, a short protocol);
2. the accuracy estimator: the benchmark of trained architectures that edgenas ships for the space, when
   it was trained on the run's dataset (:mod:`edgenas.bench`; nothing to train), else ``supernet/``, a
   SPOS supernet trained here (:mod:`edgenas.train.spos`);
3. ``search/``     — NSGA-II under a latency budget placed between the fastest and slowest
   architecture of the table (:mod:`edgenas.search.setup`);
4. ``deploy/``     — final training, export and measurement of the Pareto set and of MobileNetV2
   baselines, and the deployment report (:mod:`edgenas.deploy.pipeline`).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

from .progress import Progress, prefixed, quiet
from .runfolder import RunFolder

__all__ = ["QuickstartConfig", "fast_config", "run_quickstart", "latency_budget"]

KIND = "quickstart"
CONFIG = "quickstart.json"

# settings a rerun may change without changing what the stages compute (formats_used is derived, not set)
RESUME_NEUTRAL = ("out", "threads", "train_jobs", "formats_used")


def default_train_jobs() -> int:
    """Trainings at a time in the export stage: one per core of this process's affinity, at most 2."""
    from .profiling.prefetch import spare_cores

    return max(1, min(2, spare_cores(busy=0)))


@dataclass(frozen=True)
class QuickstartConfig:
    """Sizes of every stage. The defaults fit in about 15 minutes on two CPU cores."""

    out: str = "runs/quickstart"
    space: str = "fbnet-small"
    dataset: str = "mnist5k"
    table: Optional[str] = None          # an existing table of the space: skip profiling
    profile_min_time_s: float = 0.1
    profile_min_runs: int = 10
    calibration_networks: int = 12
    supernet_epochs: int = 10
    supernet_batch_size: int = 32        # many small steps: each candidate gets ~1/9 of them
    supernet_lr: float = 0.1
    supernet_anchor_warmup: float = 0.2  # edgenas.train.spos: anchor warm-up in shape-changing layers (1 = plain SPOS)
    supernet_sandwich: str = "distill"   # edgenas.train.spos: also train the largest path, the sampled one learns from it
    supernet_max_batches: Optional[int] = None
    estimator: str = "auto"              # "bench", "supernet", or "auto": bench where one ships for space + dataset
    pop: Optional[int] = None            # NSGA-II; None: 24 x 10 over a supernet, NSGA-II's defaults over the bench
    gens: Optional[int] = None
    bn_batches: int = 4
    eval_batches: Optional[int] = None
    budget_fraction: float = 0.5         # budget = fastest + fraction · (slowest − fastest)
    models: int = 4
    epochs: int = 8
    baselines: Tuple[float, ...] = (0.25, 0.5)
    formats: Tuple[str, ...] = field(default_factory=lambda: ("onnx", "executorch"))
    threads: Optional[int] = 1          # torch threads for training; 1 is robust on a shared 2-core machine
    train_jobs: int = field(default_factory=default_train_jobs)  # export stage: trainings at a time (train_ahead)
    seed: int = 0

    def to_json(self) -> dict:
        return asdict(self)


def fast_config(out: str, **overrides) -> QuickstartConfig:
    """A configuration that runs every stage in well under a minute (for tests and a first look)."""
    base = QuickstartConfig(out=out, dataset="digits", profile_min_time_s=0.0, profile_min_runs=3,
                            calibration_networks=4, supernet_epochs=1, supernet_max_batches=4, pop=6, gens=2,
                            bn_batches=1, eval_batches=1, models=2, epochs=1, baselines=(0.25,),
                            formats=("onnx",), train_jobs=1)
    return replace(base, **overrides)


def latency_budget(cost, fraction: float) -> Tuple[float, float, float]:
    """``(budget, fastest, slowest)`` predicted latencies of the table; budget between the two."""
    fastest, slowest = cost.fastest()[1], cost.slowest()[1]
    return fastest + fraction * (slowest - fastest), fastest, slowest


def _usable_formats(formats: Sequence[str]) -> list:
    from .errors import BackendUnavailableError
    from .deploy.formats.executorch import executorch_available

    out = []
    for f in formats:
        if f == "executorch":
            try:
                executorch_available()
            except BackendUnavailableError:
                continue  # optional on a fresh machine: pip install executorch adds it
        out.append(f)
    return out


def _profile(cfg: QuickstartConfig, out: Path, progress: Progress, log):
    from .profiling.measure import TimingProtocol
    from .profiling.profile import profile_space
    from .arch.space import get_space
    from .tables.table import LatencyTable
    from profilers import get_profiler

    space = get_space(cfg.space)
    if cfg.table:
        log(f"1/4 table: using {cfg.table}")
        return Path(cfg.table), space
    path = out / "table.json"
    if path.is_file():
        t = LatencyTable.load(path, space=space)
        if not t.missing(space) and t.calibration and t.calibration.coef:
            log(f"1/4 profile: {path} is complete, skipped")
            return path, space
    log(f"1/4 profile: measuring every op of {space.name} on this CPU into {path}")
    prof = get_profiler("onnxruntime", threads=1,
                        protocol=TimingProtocol(min_runs=cfg.profile_min_runs, min_time_s=cfg.profile_min_time_s,
                                                reference=True))
    profile_space(space, prof, path, calibration_networks=cfg.calibration_networks,
                  progress=prefixed(progress, "profile"))
    return path, space


def shipped_benchmark(space, dataset: str) -> Optional[Path]:
    """The benchmark edgenas ships for ``space`` if its architectures were trained on ``dataset``, else None."""
    from .bench.benchfile import Benchmark, BenchError
    from .bench.query import shipped

    try:
        path = shipped(space)
    except BenchError:
        return None
    return path if Benchmark.load(path, space).header["recipe"]["dataset"] == dataset else None


def _choose_benchmark(cfg: QuickstartConfig, space) -> Optional[Path]:
    """The shipped benchmark the search will read, or None for a supernet; checked before any stage runs, so a
    wrong choice costs nothing."""
    from .errors import ConfigError

    if cfg.estimator not in ("auto", "bench", "supernet"):
        raise ConfigError(f"quickstart estimator must be auto, bench or supernet, got {cfg.estimator!r}")
    bench = None if cfg.estimator == "supernet" else shipped_benchmark(space, cfg.dataset)
    if bench is None and cfg.estimator == "bench":
        raise ConfigError(f"edgenas ships no benchmark of space {space.name!r} trained on {cfg.dataset!r}; "
                          f"use --estimator supernet")
    return bench


def _estimator(cfg: QuickstartConfig, bench: Optional[Path], space, out: Path, progress: Progress, log) -> str:
    """Stage 2: the ``--estimator`` text of the search."""
    if bench is not None:
        log(f"2/4 estimator: {bench.name}, architectures of {space.name} trained from scratch on {cfg.dataset} "
            f"(tabular where trained, its surrogate elsewhere); no supernet to train")
        return "bench"
    from .train.spos import train_spos
    from .train.loop import TrainConfig

    path = out / "supernet"
    log(f"2/4 supernet: SPOS training, {cfg.supernet_epochs} epochs, into {path} (resumes)")
    train_spos(space, cfg.dataset, path, TrainConfig(epochs=cfg.supernet_epochs, batch_size=cfg.supernet_batch_size,
                                                     lr=cfg.supernet_lr, seed=cfg.seed),
               max_batches=cfg.supernet_max_batches, anchor_warmup=cfg.supernet_anchor_warmup,
               sandwich=cfg.supernet_sandwich, progress=progress)
    return f"supernet:{path}"


def _search(cfg: QuickstartConfig, table: Path, space, estimator: str, out: Path, progress: Progress,
            log) -> Path:
    from .search.result import RESULT
    from .search.setup import search
    from .tables.cost import CostModel
    from .tables.table import LatencyTable

    path = out / "search"
    if (path / RESULT).is_file():
        log(f"3/4 search: {path}/{RESULT} exists, skipped")
        return path
    budget, fastest, slowest = latency_budget(CostModel(space, LatencyTable.load(table, space=space)),
                                              cfg.budget_fraction)
    # a supernet scores an architecture in about a second: a small search; the benchmark in about a millisecond
    sizes = {"pop": 24, "gens": 10} if estimator.startswith("supernet") else {}
    sizes.update({k: v for k, v in (("pop", cfg.pop), ("gens", cfg.gens)) if v is not None})
    options = ({"bn_batches": cfg.bn_batches, "eval_batches": cfg.eval_batches, "threads": cfg.threads}
               if estimator.startswith("supernet") else {})
    shape = f"{sizes['pop']} x {sizes['gens']} generations" if sizes else "its default population and generations"
    log(f"3/4 search: NSGA-II, {shape}, budget {budget:.4g} ms (table: fastest {fastest:.4g} ms, "
        f"slowest {slowest:.4g} ms)")
    search("nsga2", [table], path, config=sizes, max_latency_ms=[budget], estimator=estimator, seed=cfg.seed,
           dataset=cfg.dataset, estimator_options=options,
           progress=lambda phase, g, n, **metrics: progress("search generations", g, n, **metrics))
    return path


def run_quickstart(cfg: QuickstartConfig, progress: Optional[Progress] = None,
                   log: Optional[Callable[[str], None]] = None) -> dict:
    """Run (or resume) every stage into ``cfg.out``; return the deployment document.

    The folder is locked while the stages run; one holding a quickstart run of another configuration is
    refused (:class:`RunError` naming the settings that changed)."""
    from .arch.space import get_space

    progress = progress or quiet
    log = log or (lambda line: None)
    out = Path(cfg.out)
    started = time.perf_counter()
    formats = _usable_formats(cfg.formats)
    bench = _choose_benchmark(cfg, get_space(cfg.space))   # before the folder is made: a wrong choice writes nothing
    # quickstart.json holds the configuration itself; a rerun with another one is refused
    with RunFolder.open(out, KIND, {**cfg.to_json(), "formats_used": formats}, config_file=CONFIG, flat=True,
                        ignore=RESUME_NEUTRAL):
        doc = _run_stages(cfg, bench, out, formats, progress, log)
    doc["quickstart_wall_s_this_session"] = time.perf_counter() - started
    return doc


def _run_stages(cfg: QuickstartConfig, bench: Optional[Path], out: Path, formats: list, progress: Progress, log) -> dict:
    from .deploy.pipeline import ExportOptions, deploy_models
    import torch

    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        table, space = _profile(cfg, out, progress, log)
        estimator = _estimator(cfg, bench, space, out, progress, log)
        search = _search(cfg, table, space, estimator, out, progress, log)
        log(f"4/4 export: train {cfg.models} Pareto models and {len(cfg.baselines)} MobileNetV2 baselines for "
            f"{cfg.epochs} epochs each, export to {', '.join(formats)}, measure, report")
        doc = deploy_models(ExportOptions(run=str(search), out=str(out / "deploy"), formats=formats,
                                          epochs=cfg.epochs, max_models=cfg.models, baselines=cfg.baselines,
                                          threads=cfg.threads, seed=cfg.seed, dataset=cfg.dataset,
                                          jobs=cfg.train_jobs),
                            progress=progress)
    finally:
        torch.set_num_threads(threads_before)
    return doc
