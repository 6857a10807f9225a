import sys

import numpy as np
import pytest

import nsga_helpers as H
from edgenas.errors import EdgeNASError, BackendUnavailableError, RunError, TableError, UnknownNameError, BudgetError
from edgenas.search.estimators import SyntheticOracle
from edgenas.search.runners import InProcessRunner, RayRunner
from edgenas.search.runstore import MemoryRunStore, SQLiteRunStore
from edgenas.search.problem import ObjectiveSpec, Target
from edgenas.search.run import FrontTracker, run_generations
from edgenas.search.setup import search
from edgenas.search.strategies import STRATEGIES, get_strategy


class SmallChunkOracle(SyntheticOracle):
    chunk_size = 5  # journal every 5 architectures, so an interruption lands inside a generation


class StopAfter(InProcessRunner):
    """Raises (as a killed evaluation would) after ``n`` chunks."""

    def __init__(self, n):
        self.left = n

    def map(self, estimator, archs, chunk_size):
        for item in super().map(estimator, archs, chunk_size):
            if self.left == 0:
                raise KeyboardInterrupt
            self.left -= 1
            yield item


def setup(budget=None):
    c = H.cost()
    spec = ObjectiveSpec([Target("cpu", c, max_latency_ms=budget)])
    return spec, SmallChunkOracle(H.space(), c.matrix["flops"], seed=0)


def front_of(result):
    return [(r.arch, r.values["error"], r.values["latency_ms:cpu"]) for r in result.front]


@pytest.mark.parametrize("strategy", ["nsga2", "random"])
def test_search_front_is_feasible_non_dominated_and_hv_grows(strategy):
    budget = 0.06
    spec, est = setup(budget)
    res = run_generations(spec, est, MemoryRunStore({}), InProcessRunner(), strategy=strategy, pop=16, gens=6, seed=3)
    assert res.front and all(r.values["latency_ms:cpu"] <= budget for r in res.front)
    F = np.array([[r.values["error"], r.values["latency_ms:cpu"]] for r in res.front])
    for i, f in enumerate(F):
        dominated = np.all(F <= f, axis=1) & np.any(F < f, axis=1)
        assert not dominated.any(), f"front point {i} is dominated"
    hv = [g["hypervolume"] for g in res.history]
    assert len(hv) == 6 and hv == sorted(hv) and hv[-1] > 0
    assert res.evaluated == res.fresh <= 16 * 6


def test_nsga2_first_generation_holds_the_fastest_and_slowest_architectures():
    spec, est = setup()
    store = MemoryRunStore({})
    run_generations(spec, est, store, InProcessRunner(), strategy="nsga2", pop=8, gens=1, seed=0)
    first = {r.arch for r in store.records()}
    c = spec.targets[0].cost
    assert len(first) == 8
    assert {H.space().format(c.fastest()[0]), H.space().format(c.slowest()[0])} <= first


def test_seeded_sampling_keeps_its_seeds_and_draws_the_rest_within_bounds():
    from edgenas.search.algorithms import SeededSampling

    class Problem:
        n_var = 4

        def bounds(self):
            return np.zeros(4), np.full(4, 2)

    x = SeededSampling([[2, 2, 2, 2], [0, 0, 0, 0]]).do(Problem(), 50, random_state=np.random.default_rng(0)).get("X")
    assert x.shape == (50, 4) and (x[0] == 2).all() and (x[1] == 0).all()
    assert x.min() >= 0 and x.max() <= 2 and len({tuple(r) for r in x[2:]}) > 10


def test_nsga2_beats_random_on_the_reduced_space():
    spec, est = setup()
    kw = dict(pop=32, gens=15)
    nsga = run_generations(spec, est, MemoryRunStore({}), InProcessRunner(), strategy="nsga2", seed=1, **kw)
    rnd = run_generations(spec, est, MemoryRunStore({}), InProcessRunner(), strategy="random", seed=1, **kw)
    assert nsga.hypervolume > rnd.hypervolume


def test_interrupted_search_resumes_to_the_same_front(tmp_path):
    spec, est = setup(0.08)
    kw = dict(strategy="nsga2", pop=12, gens=5, seed=7)
    whole = run_generations(spec, est, MemoryRunStore({}), InProcessRunner(), **kw)
    path = tmp_path / "j.sqlite"
    store = SQLiteRunStore.create(path, {"test": 1})
    with pytest.raises(KeyboardInterrupt):
        run_generations(spec, est, store, StopAfter(7), **kw)  # 35 of ~60 architectures, mid-generation
    store.close()
    store = SQLiteRunStore.open(path, {"test": 1})
    stored = len(store)
    assert 0 < stored < whole.evaluated
    resumed = run_generations(spec, est, store, InProcessRunner(), **kw)
    assert front_of(resumed) == front_of(whole)
    assert resumed.history == whole.history
    assert resumed.fresh == whole.evaluated - stored  # nothing stored was evaluated again
    assert {r.session for r in store.records()} == {1, 2}


def test_same_seed_same_front_different_seed_differs():
    spec, est = setup()
    runs = [run_generations(spec, est, MemoryRunStore({}), InProcessRunner(), strategy="nsga2", pop=10, gens=3, seed=s)
            for s in (0, 0, 1)]
    assert front_of(runs[0]) == front_of(runs[1]) != front_of(runs[2])


def test_front_tracker_hypervolume_is_fixed_reference():
    spec, _ = setup()
    t = FrontTracker(spec)
    lo = t.lo
    t.observe(["a"], {"error": np.array([lo[0]]), "latency_ms:cpu": np.array([lo[1]])})
    assert t.hypervolume == pytest.approx(1.1 * 1.1)


def run(tmp_path, tables=None, out="run", config=None, **kw):
    """An oracle search of the 6-layer test space; returns its result document."""
    kw.setdefault("estimator", "oracle")
    return search("nsga2", tables or [H.TABLE], tmp_path / out, config={"pop": 8, "gens": 2, **(config or {})},
                  plot=False, **kw)


def test_search_writes_the_result_and_resumes_or_refuses_changed_settings(tmp_path):
    doc = run(tmp_path)
    out = tmp_path / "run"
    assert (out / "result.json").is_file() and (out / "journal.sqlite").is_file()
    assert doc["format"] == "edgenas-search-result" and doc["front"] and doc["strategy"] == "nsga2"
    assert doc["sources"]["tables"][0]["path"] == str(H.TABLE.resolve())
    before = (out / "result.json").read_bytes()
    with pytest.raises(RunError, match="pop: 8 -> 10"):
        run(tmp_path, config={"pop": 10})
    with pytest.raises(RunError, match="seed: 0 -> 1"):
        run(tmp_path, seed=1)
    assert (out / "result.json").read_bytes() == before
    again = run(tmp_path, config={"gens": 3})  # rerun = resume; more generations extend the run
    assert again["evaluated"] > doc["evaluated"]
    assert again["details"]["fresh"] == again["evaluated"] - doc["evaluated"]


def test_two_tables_one_search(tmp_path):
    phone = H.scaled_table(tmp_path / "phone.json", 4.0)
    doc = run(tmp_path, tables=[H.TABLE, phone], max_latency_ms=[0.08, 0.25])
    assert doc["objectives"] == ["error", "latency_ms:fbnet-small6.ort-cpu", "latency_ms:phone"]
    for r in doc["front"]:
        assert r["latency_ms"]["phone"] <= 0.25 and r["latency_ms"]["fbnet-small6.ort-cpu"] <= 0.08
    doc2 = run(tmp_path, out="r2", tables=[H.TABLE, phone], max_latency_ms=[0.08, 0.25], other_tables="constraint")
    assert doc2["objectives"] == ["error", "latency_ms:fbnet-small6.ort-cpu"]


def test_bad_inputs(tmp_path):
    with pytest.raises(TableError, match="does not exist"):
        run(tmp_path, tables=[tmp_path / "nope.json"])
    with pytest.raises(BudgetError, match="fastest reachable"):
        run(tmp_path, max_latency_ms=[1e-6])
    with pytest.raises(EdgeNASError, match="finite and positive"):
        run(tmp_path, max_latency_ms=[float("inf")])
    with pytest.raises(UnknownNameError, match="known: "):
        get_strategy("simulated-annealing")
    with pytest.raises(UnknownNameError, match="estimator 'magic'"):
        run(tmp_path, estimator="magic")
    with pytest.raises(EdgeNASError, match="does not take tau0"):
        run(tmp_path, config={"tau0": 5.0})
    with pytest.raises(EdgeNASError, match="needs an accuracy estimator"):
        run(tmp_path, estimator=None)
    assert not (tmp_path / "run").exists()  # refusals write nothing
    assert set(STRATEGIES) >= {"nsga2", "random", "dnas"}


def test_every_strategy_follows_the_contract():
    from edgenas.search.contract import Strategy
    from edgenas.search.strategies import names

    for name in names():
        cls = get_strategy(name)
        assert issubclass(cls, Strategy) and cls.name == name and cls.summary
        cls.Config()  # every option has a default


def test_ray_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(BackendUnavailableError, match="not installed"):
        RayRunner()


def test_ray_unreachable_address():
    with pytest.raises(BackendUnavailableError, match="not reachable"):
        RayRunner(address="127.0.0.1:1")
    with pytest.raises(BackendUnavailableError, match="HOST:PORT"):
        RayRunner(address="nowhere")


@pytest.mark.slow
def test_search_with_ray_matches_in_process(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install ray (the test extra installs it)")
    spec, _ = setup(0.08)
    est = SyntheticOracle(H.space(), spec.targets[0].cost.matrix["flops"])  # workers import it from edgenas
    kw = dict(strategy="nsga2", pop=12, gens=3, seed=5)
    local = run_generations(spec, est, MemoryRunStore({}), InProcessRunner(), **kw)
    runner = RayRunner(num_cpus=2)
    try:
        store = SQLiteRunStore.create(tmp_path / "j.sqlite", {"ray": 1})
        with_ray = run_generations(spec, est, store, runner, **kw)
    finally:
        runner.close()
    assert front_of(with_ray) == front_of(local)
    assert with_ray.fresh == local.evaluated == len(store)
    assert runner.tasks_per_batch >= 2  # each generation was split across workers
