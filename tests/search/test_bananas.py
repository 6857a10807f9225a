"""BANANAS on the one search contract: the predictor, better than random, the multi-objective front, resume."""
import json

import numpy as np
import pytest

import nsga_helpers as H
from cli_helpers import run_main
from edgenas.errors import ConfigError
from edgenas.search import setup as setup_mod
from edgenas.search.estimators import SyntheticOracle
from edgenas.search.candidates import mutate
from edgenas.search.predictor import PerformancePredictor, PredictorOptions
from edgenas.search.setup import search
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

SMALL = {"members": 3, "width": 16, "steps_per_result": 3}   # a cheap predictor: the tests check behaviour
TABLE = H.TABLE.name.removesuffix(".json")



def run(tmp_path, out="run", seed=0, budget=0.08, **config):
    return search("bananas", [H.TABLE], tmp_path / out, estimator="oracle", max_latency_ms=[budget], seed=seed,
                  config={**SMALL, "evaluations": 40, "initial": 10, "per_round": 5, "candidates": 40, **config},
                  plot=False)


def best_feasible(doc):
    return max((r["accuracy"] for r in doc["front"]), default=0.0)


def test_the_predictor_is_less_sure_away_from_its_data():
    """Trained on one- and two-layer mutants of an architecture (what BANANAS feeds it), the ensemble's spread is
    larger on uniform random architectures, several layers away."""
    space, cost = H.space(), H.cost()
    oracle = SyntheticOracle(space, cost.matrix["flops"])
    for seed in range(3):
        rng = np.random.default_rng(seed)
        center = rng.integers(0, space.num_candidates, size=(1, space.num_layers))
        near = mutate(center, 120, space.num_candidates, rng, max_changes=2)
        far = rng.integers(0, space.num_candidates, size=(200, space.num_layers))
        model = PerformancePredictor(space, PredictorOptions(members=5, width=32), seed=seed)
        model.fit(near[:80], oracle.evaluate(near[:80]))
        _, std_near = model.predict(near[80:])
        mean_far, std_far = model.predict(far)
        assert np.median(std_far) > 2 * np.median(std_near)
    draws = model.thompson(far, np.random.default_rng(1))
    assert draws.shape == (200,) and not np.allclose(draws, mean_far)
    picks = model.thompson(far, np.random.default_rng(1), mode="member")
    members = model.model.predict_members(model.encoding.encode(far))
    assert all(np.isclose(members[:, i], p).any() for i, p in enumerate(picks))


def test_one_ensemble_learns_two_targets_each_in_its_own_units():
    """Neural Architect's performance networks: error and log training time from one ensemble with two outputs,
    fitted online in rounds; each output ranks held-out architectures on its own target, whatever the scales."""
    space, cost = H.space(), H.cost()
    error = SyntheticOracle(space, cost.matrix["flops"]).evaluate
    rng = np.random.default_rng(0)
    archs = rng.integers(0, space.num_candidates, size=(400, space.num_layers))
    y = np.column_stack([error(archs), 1e3 * np.log(cost.predict(archs).flops)])   # scales three decades apart
    model = PerformancePredictor(space, PredictorOptions(members=3, width=32, steps_per_result=10), seed=0,
                                 outputs=2)
    for n in range(50, 301, 50):                  # rounds, the earlier rows first
        model.fit(archs[:n], y[:n])
    mean, std = model.predict(archs[300:])
    assert mean.shape == std.shape == (100, 2) and (std > 0).all()
    for j in range(2):
        assert np.corrcoef(mean[:, j], y[300:, j])[0, 1] > 0.8
        assert abs(np.median(mean[:, j]) - np.median(y[300:, j])) < 0.5 * np.std(y[300:, j])


def test_bananas_beats_random_search_at_equal_evaluations(tmp_path):
    wins, ours, theirs = 0, [], []
    for seed in range(3):
        b = best_feasible(run(tmp_path, f"b{seed}", seed=seed, budget=0.06))
        r = search("random", [H.TABLE], tmp_path / f"r{seed}", estimator="oracle", max_latency_ms=[0.06],
                   seed=seed, config={"pop": 10, "gens": 4}, plot=False)
        assert r["evaluated"] == 40
        ours.append(b)
        theirs.append(best_feasible(r))
        wins += b > theirs[-1]
    assert wins >= 2 and np.median(ours) > np.median(theirs)


def test_the_front_meets_the_budget_and_the_best_is_selected(tmp_path):
    doc = run(tmp_path)
    assert doc["evaluated"] == 40
    assert doc["front"] and all(r["latency_ms"][TABLE] <= 0.08 for r in doc["front"])
    assert doc["selected"] == max(doc["front"], key=lambda r: r["accuracy"])["arch"]
    hist = doc["history"]
    assert [h["evaluations"] for h in hist] == [10, 15, 20, 25, 30, 35, 40]
    assert hist[-1]["best_violation"] == 0 and hist[-1]["best_error"] <= hist[0]["best_error"]


def test_the_pareto_variant_returns_a_non_dominated_front_spread_over_latency(tmp_path):
    doc = run(tmp_path, variant="pareto", evaluations=50)
    front = doc["front"]
    F = np.array([[r["error"], r["latency_ms"][TABLE]] for r in front])
    assert len(front) >= 4 and all(r["latency_ms"][TABLE] <= 0.08 for r in front)
    assert len(NonDominatedSorting().do(F, only_non_dominated_front=True)) == len(front)
    single = run(tmp_path, "single", evaluations=50)
    assert doc["history"][-1]["hypervolume"] > single["history"][-1]["hypervolume"]


def test_same_seed_same_result_and_a_killed_run_resumes_to_it(tmp_path, monkeypatch):
    whole = run(tmp_path, out="whole")
    monkeypatch.setattr(setup_mod, "make_runner", lambda ray: H.StopAfter(23))  # killed mid-round
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, out="cut")
    monkeypatch.undo()
    resumed = run(tmp_path, out="cut")
    assert resumed["front"] == whole["front"] and resumed["history"] == whole["history"]
    assert resumed["details"]["fresh"] == 40 - 23   # the first 23 came from the journal
    assert json.loads((tmp_path / "cut" / "result.json").read_text())["front"] == whole["front"]
    more = run(tmp_path, out="cut", evaluations=45)  # a rerun with more evaluations continues
    assert more["evaluated"] == 45 and more["details"]["fresh"] == 5


@pytest.mark.parametrize("config,message", [
    ({"candidates": 3}, "candidates >= per_round"),
    ({"members": 1}, "members >= 2"),
    ({"evaluations": 5}, "evaluations >= initial"),
    ({"variant": "hypervolume"}, "variant"),
])
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, config, message):
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, **config)
    assert not (tmp_path / "run").exists()


def test_the_command_line_shows_the_options_and_refuses_bad_ones(capsys, tmp_path):
    code, io = run_main(capsys, ["search", "bananas", "--help"])
    assert code == 0 and all(o in io.out for o in ("--per-round", "--thompson", "--variant", "--steps-per-result"))
    code, io = run_main(capsys, ["search", "bananas", "--table", str(H.TABLE), "--estimator", "oracle",
                                 "--per-round", "0", "--out", str(tmp_path / "x"), "--quiet"])
    assert code == 2 and io.err.count("\n") == 1 and "per_round >= 1" in io.err
    assert not (tmp_path / "x").exists()
