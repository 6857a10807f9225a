"""Querying a benchmark: tabular answers, the surrogate, the noise statistics, the search estimator, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from cli_helpers import run_main
from edgenas.arch.space import get_space
from edgenas.bench.benchfile import BenchError, Benchmark
from edgenas.bench.build import plan, space_tables
from edgenas.bench.query import BenchmarkOracle
from edgenas.bench.recipe import Recipe
from edgenas.bench.stats import noise_ceiling, perfect_estimator_ceiling, signal_to_noise, surrogate_cv

TABLES = Path(__file__).resolve().parents[2] / "latency_tables"
TINY = Recipe(dataset="digits", train_images=200, val_images=200, epochs=1, batch_size=50)
SPACE = get_space("fbnet-small")


def true_accuracy(arch):
    """A learnable ground truth: accuracy grows with the number of non-skip layers and of 5x5 kernels."""
    names = [SPACE.candidate_names[c] for c in arch]
    return 0.80 + 0.02 * sum(n != "skip" for n in names) + 0.005 * sum(n.startswith("k5") for n in names)


@pytest.fixture(scope="module")
def bench_file(tmp_path_factory):
    """A planned benchmark whose runs are filled with the ground truth plus seeded noise (no training)."""
    b = plan(SPACE, TINY, archs=120, three_seed=20, sample_seed=0, tables_dir=TABLES)
    rng = np.random.default_rng(0)
    for r in b.records:
        acc = true_accuracy(SPACE.parse(r.arch))
        for s in r.seeds:
            r.runs[s] = {"seed": s, "val_acc": acc + rng.normal(0, 0.002), "test_acc": acc + rng.normal(0, 0.002),
                         "train_s": 1.0}
    path = tmp_path_factory.mktemp("bench") / "b.json"
    b.save(path)
    return path


def test_noise_statistics(bench_file):
    b = Benchmark.load(bench_file)
    s = signal_to_noise(b)
    assert s["architectures"] == 120 and s["multi_seed"] == 20
    assert s["seed_noise"] == pytest.approx(0.002, rel=0.35)  # the test accuracy noise drawn above
    assert s["spread"] > 0.02 and s["ratio"] < 0.2
    assert noise_ceiling(b) > 0.8   # the noise is small against the differences between the 20


@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_the_perfect_estimator_ceiling_matches_the_tau_of_the_truth(noise):
    """Recorded accuracies = a known truth plus logit-scale seed noise: the simulated ceiling must come close to
    the τ between that truth and the recorded means (it is an upper bound, so a little above)."""
    b = plan(SPACE, TINY, archs=300, three_seed=60, sample_seed=1, tables_dir=TABLES)
    rng = np.random.default_rng(1)
    truth = rng.uniform(1.0, 4.0, len(b.records))      # logits: 73-98 % accuracy
    for r, t in zip(b.records, truth):
        for s in r.seeds:
            r.runs[s] = {"seed": s, "test_acc": float(1 / (1 + np.exp(-(t + rng.normal(0, noise))))),
                         "val_acc": 0.9, "train_s": 1.0}
    recorded = [r.mean("test_acc") for r in b.records]
    actual = kendalltau(truth, recorded)[0]
    ceiling = perfect_estimator_ceiling(b, draws=50)
    assert actual - 0.02 < ceiling < actual + 0.06
    assert (ceiling > 0.9) == (noise == 0.05)


def test_the_surrogate_ranks_held_out_architectures(bench_file):
    cv = surrogate_cv(Benchmark.load(bench_file), "test_acc")
    assert cv["n"] == 120 and cv["kendall_tau"] > 0.8 and cv["mae"] < 0.01


def test_the_surrogates_uncertainty_is_its_held_out_error():
    """Seed noise as large as the real benchmark's (0.1 on the logit scale) on a learnable truth: fitted without a
    fifth of the architectures, the surrogate's uncertainty covers their recorded means as a standard deviation
    should. The spread of its members alone covered 25 % within ±1 and 41 % within ±2 of it."""
    from edgenas.bench.surrogate import Surrogate

    b = plan(SPACE, TINY, archs=400, three_seed=0, sample_seed=2, tables_dir=TABLES)
    rng = np.random.default_rng(2)
    for r in b.records:
        logit = 20 * (true_accuracy(SPACE.parse(r.arch)) - 0.85)     # -1 .. 3: 27-95 %
        for seed in r.seeds:
            r.runs[seed] = {"seed": seed, "test_acc": float(1 / (1 + np.exp(-(logit + rng.normal(0, 0.1))))),
                            "val_acc": 0.9, "train_s": 1.0}
    held = b.records[::5]
    surrogate = Surrogate(b, "test_acc", exclude=[r.arch for r in held])
    mean, sd = surrogate.predict(np.array([SPACE.parse(r.arch) for r in held]), [r.features for r in held])
    z = np.abs(np.array([r.mean("test_acc") for r in held]) - mean) / sd
    assert 0.55 < np.mean(z < 1) < 0.9 and np.mean(z < 2) > 0.85     # 76 % and 98 % here


def test_tabular_where_trained_surrogate_elsewhere(bench_file):
    oracle = BenchmarkOracle(bench_file, space_tables(SPACE, TABLES), trees=50)
    b = oracle.bench
    trained = SPACE.parse(b.records[0].arch)
    untrained = next(a for a in SPACE.sample(500, seed=3) if b.get(SPACE.format(a)) is None)
    acc, std, source = oracle.accuracy(np.array([trained, untrained]), "val_acc")
    assert acc[0] == pytest.approx(b.records[0].mean("val_acc")) and source[0] == "trained, 3 seeds"
    assert source[1] == "surrogate" and abs(acc[1] - true_accuracy(untrained)) < 0.03 and std[1] > 0
    q = oracle.query(SPACE.format(untrained))
    assert q["val_acc"]["source"] == "surrogate" and q["runs"] == []
    assert set(q["features"]["latency_ms"]) == {p.name for p in TABLES.glob("fbnet-small.*.json")}


def test_untrained_queries_build_the_cost_models_once(bench_file, monkeypatch):
    import edgenas.bench.build as build

    built = []
    real = build.CostModel
    monkeypatch.setattr(build, "CostModel", lambda *a, **k: built.append(1) or real(*a, **k))
    tables = space_tables(SPACE, TABLES)
    oracle = BenchmarkOracle(bench_file, tables, trees=50)
    untrained = [a for a in SPACE.sample(50, seed=4) if oracle.bench.get(SPACE.format(a)) is None][:5]
    for a in untrained:                       # one at a time, as a search asks
        oracle.accuracy(np.array([a]))
        oracle.train_seconds(np.array([a]))
    assert len(built) == len(tables)
    fresh = build.features(SPACE, np.array(untrained), tables)   # the same features as built per query
    assert oracle.features(np.array(untrained)) == fresh and len(built) == 2 * len(tables)


def test_a_search_reads_the_benchmark_as_its_estimator(bench_file, tmp_path):
    from edgenas.search.setup import search

    table = TABLES / "fbnet-small.onnxruntime.cpu1.json"
    doc = search("random", [table], tmp_path / "s", estimator=f"bench:{bench_file}", config={"pop": 20, "gens": 2},
                 estimator_options={"trees": 50}, plot=False)
    assert doc["sources"]["estimator"]["kind"] == "benchmark" and doc["front"]
    oracle = BenchmarkOracle(bench_file, space_tables(SPACE, TABLES), trees=50)
    for row in doc["front"]:
        assert row["accuracy"] == pytest.approx(oracle.accuracy(np.array([SPACE.parse(row["arch"])]))[0][0])
    with pytest.raises(BenchError, match="not of 'fbnet-cifar'"):
        BenchmarkOracle(bench_file, space=get_space("fbnet-cifar"))


def test_cli_query_and_show(bench_file, capsys, tmp_path):
    b = Benchmark.load(bench_file)
    arch = b.records[0].arch
    small = tmp_path / "small.json"  # 25 trained architectures: enough for the surrogate line, quick to fit
    Benchmark(b.header, b.records[:25]).save(small)
    code, io = run_main(capsys, ["bench", "query", arch, "--bench", str(bench_file), "--tables", str(TABLES)])
    assert code == 0 and "trained, 3 seeds" in io.out and "fbnet-small.onnxruntime.cpu1.json" in io.out
    code, io = run_main(capsys, ["bench", "show", str(small), "--plot", str(tmp_path / "b.png"), "--trees", "20"])
    assert code == 0 and "ratio" in io.out and "surrogate (5 × 20 boosted trees), 5-fold" in io.out
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_show_says_where_each_training_ran_when_cpus_differ(bench_file):
    from edgenas.bench.report import summary

    b = Benchmark.load(bench_file)
    assert not any(line.startswith("trained on") for line in summary(b, with_surrogate=False))
    for r in b.records[:5]:
        r.runs[0]["cpu"] = "Another CPU"
    own = b.header["machine"]["cpu"]
    assert f"trained on: {own} (155), Another CPU (5)" in summary(b, with_surrogate=False)


@pytest.mark.parametrize("make, args, message", [
    (lambda p: p.write_text("{nope"), ["show"], "corrupt or truncated"),
    (lambda p: p.write_text(json.dumps({"format": "edgenas-latency-table"})), ["show"], "not an edgenas benchmark"),
    (None, ["query", "k3_e1-k3_e1"], "has 2 layers"),
    (None, ["query", "k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k7_e9"], "k7_e9"),
])
def test_cli_bad_input_is_one_line(bench_file, tmp_path, capsys, make, args, message):
    path = bench_file
    if make is not None:
        path = tmp_path / "bad.json"
        make(path)
    before = path.read_bytes()
    cmd = ["bench", args[0], *args[1:]] + (["--bench", str(path)] if args[0] == "query" else [str(path)])
    code, io = run_main(capsys, cmd)
    assert code == 2 and message in io.err and io.err.count("\n") == 1 and "Traceback" not in io.err
    assert path.read_bytes() == before


def test_the_surrogate_fit_is_cached_and_predicts_as_scikit_learn(bench_file, tmp_path, monkeypatch):
    from sklearn.ensemble import GradientBoostingRegressor

    from edgenas.bench import surrogate as surrogate_mod

    monkeypatch.setenv("EDGENAS_CACHE", str(tmp_path))
    bench = Benchmark.load(bench_file)
    fits = []
    real_fit = surrogate_mod.BoostedTrees.fit
    monkeypatch.setattr(surrogate_mod.BoostedTrees, "fit", lambda self, x, y: fits.append(1) or real_fit(self, x, y))
    archs = SPACE.sample(20, seed=3)
    feats = BenchmarkOracle(bench_file, space_tables(SPACE, TABLES)).features(archs)
    first = surrogate_mod.Surrogate(bench, "val_acc", trees=50).predict(archs, feats)
    again = surrogate_mod.Surrogate(bench, "val_acc", trees=50).predict(archs, feats)
    assert fits == [1] and len(list(tmp_path.glob("surrogate-*.npz"))) == 1
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    # the stored arrays predict what scikit-learn's own boosted models predict, member by member
    x, y = np.random.default_rng(0).random((60, 5)), np.random.default_rng(1).random(60)
    probe = np.random.default_rng(2).random((40, 5))
    ours = surrogate_mod.BoostedTrees(trees=7, members=3, seed=3).fit(x, y)
    rows = ours.member_rows(len(y))
    assert sorted(np.concatenate([held for _, held in rows]).tolist()) == list(range(60))   # each row left out once
    theirs = [GradientBoostingRegressor(n_estimators=7, max_depth=3, learning_rate=0.03, subsample=0.8,
                                        random_state=3 + m).fit(x[fit], y[fit]) for m, (fit, _) in enumerate(rows)]
    expected = np.stack([m.predict(probe.astype(np.float32)) for m in theirs])
    assert np.allclose(ours.predict_members(probe), expected, rtol=0, atol=1e-12)
    out_of_fold = np.empty(60)
    for m, (_, held) in zip(theirs, rows):
        out_of_fold[held] = m.predict(x[held])
    assert ours.error_sd == pytest.approx(np.std(y - out_of_fold))

def test_a_shipped_benchmark_is_named_not_located(bench_file):
    from edgenas.bench.query import shipped

    # a run folder records its estimator's description and resumes only when it matches: a shipped benchmark's
    # must not depend on where this clone of edgenas lives
    assert BenchmarkOracle(shipped(SPACE), trees=5).describe()["path"] == f"shipped:{shipped(SPACE).name}"
    assert BenchmarkOracle(bench_file, trees=5).describe()["path"] == str(Path(bench_file).resolve())
