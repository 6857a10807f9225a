"""LEMONADE on a small space and the digits data: a Pareto population of trained networks within the budget,
children picked where the population is sparse, exact resume."""
import numpy as np
import pytest

from edgenas.errors import ConfigError
from edgenas.search import morph_run
from edgenas.search.setup import search
from edgenas.search.strategies.lemonade import inverse_density, tolerant_front


pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = {"generations": 3, "proposals": 4, "accepted": 2, "morphisms": 1, "epochs": 1, "start_epochs": 3,
        "batch_size": 64, "max_batches": 12, "threads": 1}


def run(out, table, budget, **config):
    return search("lemonade", [table], out, dataset="digits", max_latency_ms=[budget], objectives=["params"],
                  config={**FAST, **config}, plot=False)


def test_inverse_density_favours_the_sparse_region():
    population = np.log(np.array([[1.0, 10.0], [1.05, 10.5], [1.1, 10.0], [4.0, 40.0]]))
    p = inverse_density(population, population)
    assert p.argmax() == 3 and p.sum() == pytest.approx(1.0)
    one = inverse_density(population[:1], np.log(np.array([[1.0, 10.0], [2.0, 20.0]])))
    assert one[1] > one[0]   # a population of one still has a width


def test_the_population_keeps_what_the_validation_noise_cannot_tell_from_the_front():
    cheap = np.log(np.array([[1.0], [2.0], [3.0], [4.0]]))
    error = np.array([0.10, 0.03, 0.036, 0.06])   # on 800 images one standard error at 3-4 % is ~0.65 points
    assert tolerant_front(cheap, error, 0.0, 800) == [0, 1]             # strict: the slower, less accurate go
    assert tolerant_front(cheap, error, 1.0, 800) == [0, 1, 2]          # 0.6 points behind: kept
    assert tolerant_front(cheap, error, 1.0, 20) == [0, 1, 2, 3]        # on 20 images 3 points are noise too


def test_the_population_is_the_pareto_set_of_trained_children_within_the_budget(tmp_path, tiny28_table, tiny28_budget):
    doc = run(tmp_path / "run", tiny28_table, tiny28_budget)
    hist = doc["history"]
    assert len(hist) == 1 + FAST["generations"] and doc["details"]["stopped_by"] == "generations"
    members = doc["details"]["members"]
    ids = {m["id"] for m in members}
    for h in hist[1:]:
        assert 1 <= len(h["trained"]) <= FAST["accepted"] <= h["proposed"]
        assert all(t["parent"] in ids for t in h["trained"])   # every child starts from a trained network
    assert all(r["latency_ms"]["tiny28"] <= tiny28_budget for r in doc["front"])
    assert {r["arch"] for r in doc["front"]} == {p["arch"] for p in hist[-1]["population"]}
    assert len(doc["front"]) >= 2 and doc["evaluated"] == len(members)
    assert (tmp_path / "run" / "search.png").stat().st_size > 10_000   # the front over the generations


def test_a_tolerance_keeps_networks_off_the_strict_front_in_the_population(tmp_path, tiny28_table, tiny28_budget):
    doc = run(tmp_path / "run", tiny28_table, tiny28_budget, tolerance=100.0)   # nothing is beaten by 100 s.e.
    assert len(doc["history"][-1]["population"]) == doc["evaluated"] > len(doc["front"])


def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path, tiny28_table, tiny28_budget, monkeypatch):
    whole = run(tmp_path / "whole", tiny28_table, tiny28_budget)
    calls = {"n": 0}
    real = morph_run.train_briefly

    def dies_after_three(*args, **kwargs):
        if calls["n"] == 3:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(morph_run, "train_briefly", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", tiny28_table, tiny28_budget)
    calls["n"] = -100
    resumed = run(tmp_path / "cut", tiny28_table, tiny28_budget)
    assert calls["n"] == -100 + whole["evaluated"] - 3
    assert resumed["front"] == whole["front"] and resumed["evaluated"] == whole["evaluated"]
    strip = lambda h: [{k: v for k, v in r.items() if k != "train_s_total"} for r in h]  # noqa: E731
    assert strip(resumed["history"]) == strip(whole["history"])


def test_bad_settings_are_refused(tmp_path, tiny28_table, tiny28_budget):
    with pytest.raises(ConfigError, match="accepted must be in"):
        run(tmp_path / "a", tiny28_table, tiny28_budget, accepted=9)
    assert not (tmp_path / "a").exists()
    with pytest.raises(ConfigError, match="tolerance must be >= 0"):
        run(tmp_path / "a", tiny28_table, tiny28_budget, tolerance=-1)
    assert not (tmp_path / "a").exists()
