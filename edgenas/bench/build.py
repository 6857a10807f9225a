"""``edgenas bench build``: train the benchmark's sample from scratch, journaled, over cores or a Ray cluster.

The first call plans the benchmark (the stratified sample, each architecture's
seeds and cheap features: parameters, FLOPs, memory and the predicted latency of
every table of the space) and writes the file; every call then trains what is
missing, ``workers`` trainings at a time in worker processes of one thread each,
and rewrites the file after each finished training. Same recipe, seed and
machine: the same accuracies, in a worker or not.
"""
from __future__ import annotations

import datetime
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import nullcontext
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..arch.model import build_network
from ..arch.space import SearchSpace
from ..errors import ConfigError, TableError
from ..fileio import PathLike, check_writable
from ..lifeline import Sweeper, pool_initializer
from ..progress import Progress, quiet
from ..runfolder import config_changes
from ..tables.cost import CostModel
from ..tables.table import LatencyTable
from ..version import __version__
from .benchfile import BenchError, Benchmark, BenchRecord, bench_lock
from .recipe import Recipe, make_bench_splits, train_and_score
from .sample import stratified_sample

SEEDS = (0, 1, 2)


def space_tables(space: SearchSpace, folder: PathLike) -> List[Tuple[str, LatencyTable]]:
    """The tables of ``space`` in ``folder`` (by file name), skipping tables of other spaces."""
    out = []
    for p in sorted(Path(folder).glob("*.json")):
        try:
            t = LatencyTable.load(p)
        except TableError:  # not a table, or one this edgenas cannot read: not a table of this space
            continue
        if t.header["space"]["fingerprint"] == space.fingerprint:
            out.append((p.name, t))
    return out


def features(space: SearchSpace, archs: np.ndarray, tables: Sequence[Tuple[str, LatencyTable]]) -> List[dict]:
    """Cheap features of each architecture: per table its predicted latency; parameters, FLOPs and memory
    (parameter bytes + MCUNet peak activation) from the first table, or parameters counted on the network
    when the space has no table."""
    preds = {name: CostModel(space, t).predict(archs) for name, t in tables}
    first = next(iter(preds.values()), None)
    out = []
    for i, arch in enumerate(archs):
        f = {"latency_ms": {name: round(float(p.latency_ms[i]), 6) for name, p in preds.items()}}
        if first is not None:
            f.update(params=int(first.param_bytes[i]) // 4, flops=int(first.flops[i]),
                     memory_bytes=int(first.memory_bytes[i]), peak_activation_bytes=int(first.peak_activation_bytes[i]))
        else:
            f["params"] = sum(p.numel() for p in build_network(space, arch).parameters())
        out.append(f)
    return out


def plan(space: SearchSpace, recipe: Recipe, archs: int, three_seed: int, sample_seed: int,
         tables_dir: PathLike) -> Benchmark:
    """A new benchmark: header, the sample and its features, no runs yet."""
    if archs < 1 or not 0 <= three_seed <= archs:
        raise ConfigError(f"archs must be >= 1 and three_seed between 0 and archs (got {archs}, {three_seed})")
    tables = space_tables(space, tables_dir)
    fastest = (CostModel(space, tables[0][1]).fastest()[0] if tables
               else (space.candidate_names.index("skip"),) * space.num_layers if "skip" in space.candidate_names
               else (0,) * space.num_layers)
    sample = stratified_sample(space, fastest, archs, sample_seed)
    feats = features(space, np.array([a for a, _ in sample], dtype=np.int64), tables)
    records = [BenchRecord(space.format(a), stratum, list(SEEDS if i < three_seed else SEEDS[:1]), f)
               for i, ((a, stratum), f) in enumerate(zip(sample, feats))]
    from profilers.base import host_device_info

    splits = make_bench_splits(recipe)
    header = {
        "space": {"name": space.name, "fingerprint": space.fingerprint, "declaration": space.declaration},
        "recipe": recipe.to_json(), "recipe_fingerprint": recipe.fingerprint,
        "split": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)},
        "sample": {"archs": archs, "three_seed": three_seed, "seed": sample_seed,
                   "fastest": space.format(fastest), "tables": [n for n, _ in tables]},
        "machine": host_device_info(recipe.threads),
        "versions": {"edgenas": __version__, "torch": torch.__version__, "numpy": np.__version__},
        "created": _now(), "updated": _now(),
    }
    return Benchmark(header, records)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def plan_or_resume(path: PathLike, space: SearchSpace, recipe: Recipe, archs: int, three_seed: int,
                   sample_seed: int, tables_dir: PathLike) -> Benchmark:
    """The benchmark at ``path`` (resumed), or a new plan written there. A file of other settings is refused."""
    path = Path(path)
    if path.exists():
        bench = Benchmark.load(path)
        want = {"space": space.fingerprint, "recipe": recipe.to_json(), "archs": archs, "three_seed": three_seed,
                "sample_seed": sample_seed}
        have = {"space": bench.header["space"]["fingerprint"], "recipe": bench.header["recipe"],
                "archs": bench.header["sample"]["archs"], "three_seed": bench.header["sample"]["three_seed"],
                "sample_seed": bench.header["sample"]["seed"]}
        changes = config_changes(have, want)
        if changes:
            raise BenchError(f"{path} holds a benchmark of other settings ({'; '.join(changes)}); rerun with its "
                             f"settings to resume, or write to another file")
        return bench
    check_writable(path)
    bench = plan(space, recipe, archs, three_seed, sample_seed, tables_dir)
    bench.save(path)
    return bench


def pending(bench: Benchmark) -> List[Tuple[str, int]]:
    """The (architecture, seed) trainings still missing, in build order."""
    return [(r.arch, s) for r in bench.records for s in r.seeds if s not in r.runs]


# ---- workers -------------------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(declaration: dict, name: str, recipe: dict) -> None:
    r = Recipe(**recipe)
    _WORKER.update(space=SearchSpace.from_dict(name, declaration), recipe=r, splits=make_bench_splits(r))


def _train_in_worker(arch: str, seed: int) -> dict:
    w = _WORKER
    return train_and_score(w["space"], w["space"].parse(arch), w["recipe"], seed, w["splits"])


def build(path: PathLike, space: SearchSpace, recipe: Recipe = Recipe(), *, archs: int = 500, three_seed: int = 100,
          sample_seed: int = 0, tables_dir: PathLike = "latency_tables", workers: int = 1, use_ray: bool = False,
          limit: Optional[int] = None, progress: Optional[Progress] = None) -> Benchmark:
    """Plan or resume the benchmark at ``path`` and train what is missing (at most ``limit`` trainings)."""
    with bench_lock(path):
        return _build(path, space, recipe, archs, three_seed, sample_seed, tables_dir, workers, use_ray, limit,
                      progress)


def _build(path, space, recipe, archs, three_seed, sample_seed, tables_dir, workers, use_ray, limit,
           progress) -> Benchmark:
    bench = plan_or_resume(path, space, recipe, archs, three_seed, sample_seed, tables_dir)
    todo = pending(bench)[:limit] if limit is not None else pending(bench)
    total = sum(len(r.seeds) for r in bench.records)
    done = total - len(pending(bench))
    report = progress or quiet
    report("train", done, total)
    if not todo:
        return bench

    def record(arch: str, run: dict) -> None:
        nonlocal done
        bench.get(arch).runs[run["seed"]] = run
        bench.header["updated"] = _now()
        bench.save(path)
        done += 1
        report("train", done, total)

    if use_ray:
        _run_ray(todo, space, recipe, workers, record)
    elif workers <= 1:
        splits = make_bench_splits(recipe)
        for arch, seed in todo:
            record(arch, train_and_score(space, space.parse(arch), recipe, seed, splits))
    else:
        _run_pool(todo, space, recipe, workers, record)
    return bench


def _run_pool(todo, space: SearchSpace, recipe: Recipe, workers: int, record) -> None:
    ctx = multiprocessing.get_context("spawn")  # no torch state is forked
    init, args = pool_initializer(_init_worker, space.declaration, space.name, recipe.to_json())
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init, initargs=args) as pool:
        queue = list(todo)
        running: Dict = {}
        while queue or running:
            while queue and len(running) < workers:  # keep only `workers` in flight: a kill loses no more
                arch, seed = queue.pop(0)
                running[pool.submit(_train_in_worker, arch, seed)] = arch
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                record(running.pop(f), f.result())


def _run_ray(todo, space: SearchSpace, recipe: Recipe, workers: int, record) -> None:
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed: pip install 'edgenas[ray]'") from None
    if ray.is_initialized():
        return _train_on_ray(ray, todo, space, recipe, workers, record)
    address = os.environ.get("RAY_ADDRESS")
    with Sweeper() if not address else nullcontext():  # a local cluster dies with this process
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        try:
            _train_on_ray(ray, todo, space, recipe, workers, record)
        finally:
            ray.shutdown()


def _train_on_ray(ray, todo, space: SearchSpace, recipe: Recipe, workers: int, record) -> None:
    recipe_json, name, declaration = recipe.to_json(), space.name, space.declaration

    @ray.remote(num_cpus=recipe.threads)
    def train(arch: str, seed: int) -> dict:  # rebuilt from plain data on the worker
        sp = SearchSpace.from_dict(name, declaration)
        return train_and_score(sp, sp.parse(arch), Recipe(**recipe_json), seed)

    queue = list(todo)
    running: Dict = {}
    while queue or running:
        while queue and len(running) < max(workers, 1):
            arch, seed = queue.pop(0)
            running[train.remote(arch, seed)] = arch
        finished, _ = ray.wait(list(running), num_returns=1)
        for ref in finished:
            record(running.pop(ref), ray.get(ref))
