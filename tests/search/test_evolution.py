"""Regularized evolution on the one search contract: budgets as constraints, determinism, exact resume."""
import json

import pytest

import nsga_helpers as H
from edgenas.errors import ConfigError
from edgenas.search import setup as setup_mod
from edgenas.search.setup import search



def run(tmp_path, out="run", **config):
    return search("evolution", [H.TABLE], tmp_path / out, estimator="oracle", max_latency_ms=[0.08],
                  config={"population": 20, "sample": 5, "cycles": 60, **config}, plot=False)


def test_front_meets_the_budget_and_the_search_beats_its_own_start(tmp_path):
    doc = run(tmp_path)
    assert doc["front"] and all(r["latency_ms"]["fbnet-small6.ort-cpu"] <= 0.08 for r in doc["front"])
    hist = doc["history"]
    assert hist[-1]["best_violation"] == 0 and hist[-1]["best_error"] <= hist[0]["best_error"]
    assert doc["evaluated"] <= 20 + 60


def test_same_seed_same_result_and_a_killed_run_resumes_to_it(tmp_path, monkeypatch):
    whole = run(tmp_path, out="whole")
    assert run(tmp_path, out="again")["front"] == whole["front"]
    monkeypatch.setattr(setup_mod, "make_runner", lambda ray: H.StopAfter(45))  # killed mid-run
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, out="cut")
    monkeypatch.undo()
    resumed = run(tmp_path, out="cut")
    assert resumed["front"] == whole["front"] and resumed["history"] == whole["history"]
    assert resumed["details"]["fresh"] < resumed["evaluated"]  # the first 45 came from the journal
    assert json.loads((tmp_path / "cut" / "result.json").read_text())["front"] == whole["front"]


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="sample <= population"):
        run(tmp_path, sample=30)
    assert not (tmp_path / "run").exists()


def test_pareto_selection_keeps_an_archive_whose_hypervolume_only_grows(tmp_path):
    doc = run(tmp_path, selection="pareto", cycles=120)
    hv = [h["hypervolume"] for h in doc["history"]]
    assert all(b >= a for a, b in zip(hv, hv[1:])) and hv[-1] > hv[0]
    assert doc["history"][-1]["archive"] == len(doc["front"])
    lat = lambda d: [r["latency_ms"]["fbnet-small6.ort-cpu"] for r in d["front"]]  # noqa: E731
    single = run(tmp_path, out="error", cycles=120)
    # the multi-objective tournament spreads the front along latency; the error tournament heads for the budget
    assert max(lat(doc)) - min(lat(doc)) > max(lat(single)) - min(lat(single))
    assert doc["history"][-1]["hypervolume"] > single["history"][-1]["hypervolume"]
