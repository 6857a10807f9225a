"""The benchmark build: stratified sample, journal and resume, determinism, workers, refusals."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgenas.bench import build as build_mod
from edgenas.bench.benchfile import BenchError, Benchmark
from edgenas.bench.build import build, pending
from edgenas.bench.recipe import Recipe
from edgenas.bench.sample import stratified_sample
from edgenas.arch.space import get_space

TABLES = Path(__file__).resolve().parents[2] / "latency_tables"
TINY = Recipe(dataset="digits", train_images=200, val_images=200, epochs=1, batch_size=50)


@pytest.fixture(scope="module")
def space():
    return get_space("fbnet-small")


def test_sample_is_distinct_stratified_and_starts_with_the_extremes(space):
    fastest = (8,) * space.num_layers
    sample = stratified_sample(space, fastest, 60, seed=0)
    archs = [a for a, _ in sample]
    assert len(set(archs)) == 60
    assert [s for _, s in sample[:9]] == ["extreme"] * 9
    assert archs[:9] == [(c,) * space.num_layers for c in range(9)]
    strata = [s for _, s in sample[9:]]
    assert strata.count("fast") == round(51 * 0.4)
    # any prefix is stratified: the first 20 after the extremes hold both strata
    assert {"uniform", "fast"} <= set(strata[:20])
    assert stratified_sample(space, fastest, 60, seed=0) == sample


def test_slow_stratum_is_appended_toward_the_slow_end_leaving_the_sample_before_it_unchanged(space):
    fastest, slowest = (8,) * space.num_layers, (7,) * space.num_layers
    base = stratified_sample(space, fastest, 60, seed=0)
    grown = stratified_sample(space, fastest, 60, seed=0, slowest=slowest, n_slow=20)
    assert grown[:60] == base
    slow = [a for a, s in grown[60:] if s == "slow"]
    assert len(slow) == 20 and len(set(a for a, _ in grown)) == 80
    share = lambda archs, c: sum(a.count(c) for a in archs) / (len(archs) * space.num_layers)  # noqa: E731
    uniform = [a for a, s in base if s == "uniform"]
    assert share(slow, 7) > share(uniform, 7) + 0.3   # the slowest candidate taken 30-95 % of the time


def test_an_existing_benchmark_grows_by_the_slow_stratum_keeping_its_runs(space, tmp_path):
    path = tmp_path / "b.json"
    build(path, space, TINY, archs=2, three_seed=0, tables_dir=TABLES, limit=1)
    trained = Benchmark.load(path).records[0]
    grown = build(path, space, TINY, archs=2, three_seed=0, tables_dir=TABLES, slow=2, limit=0)
    planned = build(tmp_path / "fresh.json", space, TINY, archs=2, three_seed=0, tables_dir=TABLES, slow=2, limit=0)
    assert [(r.arch, r.stratum, r.seeds) for r in grown.records] == \
        [(r.arch, r.stratum, r.seeds) for r in planned.records]
    assert [r.stratum for r in grown.records[2:]] == ["slow", "slow"]
    loaded = Benchmark.load(path)
    assert loaded.records[0].runs == trained.runs and loaded.header["sample"]["slow"] == 2
    assert loaded.records[3].features == planned.records[3].features
    before = path.read_bytes()
    with pytest.raises(BenchError, match="slow: 2 -> 1"):
        build(path, space, TINY, archs=2, three_seed=0, tables_dir=TABLES, slow=1)
    assert path.read_bytes() == before


def test_an_existing_benchmark_grows_by_seeds_keeping_its_runs(space, tmp_path):
    path = tmp_path / "b.json"
    build(path, space, TINY, archs=3, three_seed=1, tables_dir=TABLES, slow=1)     # 3 + 1 + 1 + 1 trainings
    before = Benchmark.load(path)
    grown = build(path, space, TINY, archs=3, three_seed=1, tables_dir=TABLES, slow=1, min_seeds=2, limit=0)
    planned = build(tmp_path / "fresh.json", space, TINY, archs=3, three_seed=1, tables_dir=TABLES, slow=1,
                    min_seeds=2, limit=0)
    assert [r.seeds for r in grown.records] == [r.seeds for r in planned.records] == [[0, 1, 2], [0, 1], [0, 1],
                                                                                       [0, 1]]
    loaded = Benchmark.load(path)
    assert [r.runs for r in loaded.records] == [r.runs for r in before.records]
    assert loaded.header["sample"]["min_seeds"] == 2
    assert pending(loaded) == [(r.arch, 1) for r in loaded.records[1:]]    # the new seed of each, in build order
    kept = path.read_bytes()
    with pytest.raises(BenchError, match="seeds: 2 -> 1"):
        build(path, space, TINY, archs=3, three_seed=1, tables_dir=TABLES, slow=1)
    assert path.read_bytes() == kept


def test_build_plans_trains_and_records_everything(space, tmp_path):
    path = tmp_path / "b.json"
    bench = build(path, space, TINY, archs=5, three_seed=2, tables_dir=TABLES)
    assert not pending(bench)
    loaded = Benchmark.load(path, space)
    assert [len(r.runs) for r in loaded.records] == [3, 3, 1, 1, 1]
    r = loaded.records[0]
    assert set(r.features["latency_ms"]) == {p.name for p in TABLES.glob("fbnet-small.*.json")}
    assert r.features["params"] > 0 and r.features["flops"] > 0 and r.features["memory_bytes"] > 0
    run = r.runs[0]
    assert 0 <= run["val_acc"] <= 1 and 0 <= run["test_acc"] <= 1 and run["train_s"] > 0
    assert loaded.header["split"] == {"train": 200, "val": 200, "test": 1797 - 400}
    assert loaded.header["recipe_fingerprint"] == TINY.fingerprint


def test_killed_build_resumes_without_training_twice_and_ends_identical(space, tmp_path, monkeypatch):
    whole = build(tmp_path / "whole.json", space, TINY, archs=4, three_seed=1, tables_dir=TABLES)
    calls = []
    real = build_mod.train_and_score
    monkeypatch.setattr(build_mod, "train_and_score", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    path = tmp_path / "part.json"
    build(path, space, TINY, archs=4, three_seed=1, tables_dir=TABLES, limit=2)  # "killed" after two trainings
    assert len(pending(Benchmark.load(path))) == 4
    build(path, space, TINY, archs=4, three_seed=1, tables_dir=TABLES)
    assert len(calls) == 6  # 2 + the 4 missing, none twice
    resumed = Benchmark.load(path)
    strip = lambda b: [{s: {k: v for k, v in run.items() if k != "train_s"} for s, run in r.runs.items()}  # noqa
                       for r in b.records]
    assert strip(resumed) == strip(whole)


def test_worker_processes_give_the_accuracies_of_one_process(space, tmp_path):
    one = build(tmp_path / "one.json", space, TINY, archs=2, three_seed=0, tables_dir=TABLES)
    two = build(tmp_path / "two.json", space, TINY, archs=2, three_seed=0, tables_dir=TABLES, workers=2)
    acc = lambda b: [(r.arch, r.runs[0]["val_acc"], r.runs[0]["test_acc"]) for r in b.records]  # noqa: E731
    assert acc(one) == acc(two)


def test_other_settings_are_refused_naming_them(space, tmp_path):
    path = tmp_path / "b.json"
    build(path, space, TINY, archs=3, three_seed=0, tables_dir=TABLES, limit=0)
    before = path.read_bytes()
    with pytest.raises(BenchError, match="archs: 3 -> 4"):
        build(path, space, TINY, archs=4, three_seed=0, tables_dir=TABLES)
    with pytest.raises(BenchError, match="epochs"):
        build(path, space, Recipe(**{**TINY.to_json(), "epochs": 2}), archs=3, three_seed=0, tables_dir=TABLES)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="something"), "not an edgenas benchmark"),
    (lambda d: d.update(schema_version=99), "upgrade edgenas"),
    (lambda d: d.update(schema_version="1"), "no integer schema_version"),
    (lambda d: d["records"][0].update(arch="k3_e1-nope"), "corrupt"),
    (lambda d: d["records"][0]["features"].update(params=float("nan")), "non-finite"),
    (lambda d: d.pop("records"), "corrupt"),
])
def test_a_bad_file_is_refused_with_one_line(space, tmp_path, mutate, message):
    path = tmp_path / "b.json"
    build(path, space, TINY, archs=2, three_seed=0, tables_dir=TABLES, limit=0)
    d = json.loads(path.read_text())
    mutate(d)
    path.write_text(json.dumps(d))
    with pytest.raises(BenchError, match=message):
        Benchmark.load(path)


def test_a_benchmark_of_another_space_is_refused(space, tmp_path):
    path = tmp_path / "b.json"
    build(path, space, TINY, archs=2, three_seed=0, tables_dir=TABLES, limit=0)
    with pytest.raises(BenchError, match="not of 'fbnet-cifar'"):
        Benchmark.load(path, get_space("fbnet-cifar"))


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "b.json"
    path.write_text('{"format": "edgenas-bench", "schema')
    with pytest.raises(BenchError, match="corrupt or truncated"):
        Benchmark.load(path)


@pytest.mark.slow
def test_ray_gives_the_accuracies_of_one_process(space, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install ray (the test extra installs it)")
    import ray

    one = build(tmp_path / "one.json", space, TINY, archs=2, three_seed=0, tables_dir=TABLES)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = build(tmp_path / "ray.json", space, TINY, archs=2, three_seed=0, tables_dir=TABLES, use_ray=True,
                       workers=2)
    finally:
        ray.shutdown()
    acc = lambda b: [(r.arch, r.runs[0]["val_acc"], r.runs[0]["test_acc"]) for r in b.records]  # noqa: E731
    assert acc(one) == acc(on_ray)
