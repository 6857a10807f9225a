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
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..arch.model import build_network
from ..arch.space import SearchSpace
from ..errors import ConfigError, TableError
from ..fileio import PathLike, check_writable
from ..progress import Progress, quiet
from ..ray_address import check_reachable
from ..runfolder import config_changes
from ..tables.cost import CostModel
from ..tables.table import LatencyTable
from ..train.workers import TaskPool
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


def cost_models(space: SearchSpace, tables: Sequence[Tuple[str, LatencyTable]]) -> Dict[str, CostModel]:
    """One cost model per (name, table), in order. Building one reads its whole table (milliseconds): a caller
    that asks for features again and again (a search over the benchmark) builds them once."""
    return {name: CostModel(space, t) for name, t in tables}


def features(space: SearchSpace, archs: np.ndarray, tables: Sequence[Tuple[str, LatencyTable]],
             models: Optional[Dict[str, CostModel]] = None) -> List[dict]:
    """Cheap features of each architecture: per table its predicted latency; parameters, FLOPs and memory
    (parameter bytes + MCUNet peak activation) from the first table, or parameters counted on the network
    when the space has no table. ``models``: :func:`cost_models` of ``tables``, when the caller keeps them."""
    models = cost_models(space, tables) if models is None else models
    preds = {name: m.predict(archs) for name, m in models.items()}
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
         tables_dir: PathLike, slow: int = 0, min_seeds: int = 1) -> Benchmark:
    """A new benchmark: header, the sample and its features, no runs yet."""
    if archs < 1 or not 0 <= three_seed <= archs or slow < 0 or not 1 <= min_seeds <= len(SEEDS):
        raise ConfigError(f"archs must be >= 1, three_seed between 0 and archs, slow >= 0 and seeds between 1 and "
                          f"{len(SEEDS)} (got {archs}, {three_seed}, {slow}, {min_seeds})")
    tables = space_tables(space, tables_dir)
    if slow and not tables:
        raise ConfigError(f"a slow stratum needs a table of {space.name} in {tables_dir} (it names the slowest "
                          f"candidates); profile one, or pass --slow 0")
    first = CostModel(space, tables[0][1]) if tables else None
    fastest = (first.fastest()[0] if first
               else (space.candidate_names.index("skip"),) * space.num_layers if "skip" in space.candidate_names
               else (0,) * space.num_layers)
    slowest = first.slowest()[0] if first else None
    sample = stratified_sample(space, fastest, archs, sample_seed, slowest, slow)
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
    if slow:
        header["sample"].update(slow=slow, slowest=space.format(slowest))
    bench = Benchmark(header, _records(space, sample, three_seed, tables))
    _grow_seeds(bench, min_seeds)
    return bench


def _records(space: SearchSpace, sample, three_seed: int, tables) -> List[BenchRecord]:
    feats = features(space, np.array([a for a, _ in sample], dtype=np.int64), tables)
    return [BenchRecord(space.format(a), stratum, list(SEEDS if i < three_seed else SEEDS[:1]), f)
            for i, ((a, stratum), f) in enumerate(zip(sample, feats))]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def plan_or_resume(path: PathLike, space: SearchSpace, recipe: Recipe, archs: int, three_seed: int,
                   sample_seed: int, tables_dir: PathLike, slow: int = 0, min_seeds: int = 1) -> Benchmark:
    """The benchmark at ``path`` (resumed; grown by the slow stratum when ``slow`` asks for more of it than it
    holds, and by seeds when ``min_seeds`` asks for more of them), or a new plan written there. A file of other
    settings is refused."""
    path = Path(path)
    if path.exists():
        bench = Benchmark.load(path)
        sample = bench.header["sample"]
        want = {"space": space.fingerprint, "recipe": recipe.to_json(), "archs": archs, "three_seed": three_seed,
                "sample_seed": sample_seed}
        have = {"space": bench.header["space"]["fingerprint"], "recipe": bench.header["recipe"],
                "archs": sample["archs"], "three_seed": sample["three_seed"], "sample_seed": sample["seed"]}
        changes = config_changes(have, want)
        if slow < sample.get("slow", 0):
            changes.append(f"slow: {sample.get('slow', 0)} -> {slow} (a stratum is grown, never shrunk)")
        if min_seeds < sample.get("min_seeds", 1):
            changes.append(f"seeds: {sample.get('min_seeds', 1)} -> {min_seeds} (seeds are added, never dropped)")
        if changes:
            raise BenchError(f"{path} holds a benchmark of other settings ({'; '.join(changes)}); rerun with its "
                             f"settings to resume, or write to another file")
        if slow > sample.get("slow", 0) or min_seeds > sample.get("min_seeds", 1):
            if slow > sample.get("slow", 0):
                _grow_slow(bench, space, slow, tables_dir)
            _grow_seeds(bench, max(min_seeds, sample.get("min_seeds", 1)))
            bench.save(path)
        return bench
    check_writable(path)
    bench = plan(space, recipe, archs, three_seed, sample_seed, tables_dir, slow, min_seeds)
    bench.save(path)
    return bench


def _grow_slow(bench: Benchmark, space: SearchSpace, slow: int, tables_dir: PathLike) -> None:
    """Append the slow stratum's new architectures to ``bench``: the same sample a plan with ``slow`` would
    draw, with features from the tables the benchmark was planned with (a table missing since is refused)."""
    sample = bench.header["sample"]
    by_name = dict(space_tables(space, tables_dir))
    missing = [n for n in sample["tables"] if n not in by_name]
    if missing:
        raise ConfigError(f"growing the benchmark needs the tables it was planned with; {', '.join(missing)} not in "
                          f"{tables_dir}")
    tables = [(n, by_name[n]) for n in sample["tables"]]
    slowest = CostModel(space, tables[0][1]).slowest()[0]
    drawn = stratified_sample(space, space.parse(sample["fastest"]), sample["archs"], sample["seed"], slowest, slow)
    known = [r.arch for r in bench.records]
    if [space.format(a) for a, _ in drawn[:len(known)]] != known:
        raise BenchError("the benchmark's architectures are not the sample its settings draw; it cannot be grown")
    bench.extend(_records(space, drawn[len(known):], 0, tables))
    sample.update(slow=slow, slowest=space.format(slowest))


def _grow_seeds(bench: Benchmark, min_seeds: int) -> None:
    """Plan every architecture with at least ``min_seeds`` seeds (those it has, then the next of :data:`SEEDS`):
    fewer seeds per architecture leave the benchmark's truth too noisy to score a good estimator against."""
    if min_seeds > 1:
        for r in bench.records:
            r.seeds += [s for s in SEEDS[:min_seeds] if s not in r.seeds]
        bench.header["sample"]["min_seeds"] = min_seeds


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
          limit: Optional[int] = None, progress: Optional[Progress] = None, slow: int = 0,
          min_seeds: int = 1) -> Benchmark:
    """Plan or resume the benchmark at ``path`` and train what is missing (at most ``limit`` trainings);
    ``slow`` architectures spread toward the slow end are appended to the sample, and every architecture gets
    at least ``min_seeds`` seeds (an existing file grows by both)."""
    if use_ray:  # before the lock and the plan: a cluster that is not there leaves no file behind
        check_reachable(None)
    with bench_lock(path):
        return _build(path, space, recipe, archs, three_seed, sample_seed, tables_dir, workers, use_ray, limit,
                      progress, slow, min_seeds)


def _build(path, space, recipe, archs, three_seed, sample_seed, tables_dir, workers, use_ray, limit,
           progress, slow, min_seeds) -> Benchmark:
    bench = plan_or_resume(path, space, recipe, archs, three_seed, sample_seed, tables_dir, slow, min_seeds)
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

    init = (space.declaration, space.name, recipe.to_json())
    with TaskPool(workers, ray="local" if use_ray else None, threads=recipe.threads, initializer=_init_worker,
                  initargs=init) as pool:  # Ray's "local" joins the cluster at RAY_ADDRESS when it is set
        for i, run in pool.map(_train_in_worker, todo):
            record(todo[i][0], run)
    return bench
