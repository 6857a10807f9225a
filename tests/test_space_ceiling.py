"""benchmarks/space_ceiling.py without training: which networks it picks from the search summaries, and the
paired statistics it writes from the trainings' result files (each network against ×0.5 on the seeds both have)."""
from __future__ import annotations

import importlib.util
import json
from argparse import Namespace
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def ceiling():
    spec = importlib.util.spec_from_file_location("space_ceiling", BENCHMARKS / "space_ceiling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(arch, acc, ms):
    return {"arch": arch, "accuracy": acc, "predicted_ms": ms, "latency_ms": ms}


def test_candidates_within_each_arms_budget(ceiling, tmp_path):
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"settings": {"max_latency": 0.2}, "arms": {}}))
    later = tmp_path / "later.json"
    later.write_text(json.dumps({
        "settings": {"max_latency": 0.1}, "nsga2_from": str(earlier),
        "arms": {"nsga2": {"models": [_model("a", 0.99, 0.15), _model("b", 0.97, 0.05)]},   # under 0.2: both
                 "lemonade": {"models": [_model("c", 0.99, 0.15), _model("d", 0.96, 0.09), _model("e", 0.95, 0.01)]},
                 "lemonade-inherited": {"models": [_model("f", 0.999, 0.01)]}}}))   # not a scratch training
    picked = ceiling.candidates([str(later)], per_arm=1)
    assert list(picked) == ["a", "d"]          # c is over its arm's budget of 0.1 ms
    assert picked["a"]["arm"] == "nsga2" and picked["d"]["share_of_budget"] == pytest.approx(0.9)


def test_summary_pairs_by_seed(ceiling, tmp_path):
    acc = {"net0": {0: 0.98, 1: 0.97, 2: 0.99}, "mbv2-0.5": {0: 0.97, 1: 0.97, 2: 0.975},
           "mbv2-0.25": {0: 0.96, 1: 0.96}}       # seed 2 unfinished for one network
    for name, seeds in acc.items():
        for s, a in seeds.items():
            folder = tmp_path / "e8" / f"s{s}" / name
            folder.mkdir(parents=True)
            (folder / "result.json").write_text(json.dumps({"test_acc": a}))
    names = {"net0": {"arch": "x", "arm": "nash", "accuracy": 0.98, "summary": "s.json"},
             "mbv2-0.5": {"width": 0.5, "note": "baseline"}, "mbv2-0.25": {"width": 0.25, "note": "baseline"}}
    s = ceiling.summarize(tmp_path, names, [8], [0, 1, 2], Namespace(out=str(tmp_path)))
    r = s["recipes"]["8"]
    assert r["seeds"] == [0, 1, 2]
    diff = r["networks"]["net0"]["minus_mbv2_0.5"]   # paired on the three seeds both have
    assert diff["seeds"] == 3 and diff["seeds_at_or_above"] == 3
    assert diff["mean"] == pytest.approx(0.025 / 3) and diff["se"] == pytest.approx(0.0044096, abs=1e-6)
    short = r["networks"]["mbv2-0.25"]                # seed 2 unfinished: mean and pairing over seeds 0 and 1
    assert short["mean"] == pytest.approx(0.96) and short["minus_mbv2_0.5"]["seeds"] == 2
    assert (tmp_path / "summary.md").read_text().count("| net0 |") == 1
    assert (tmp_path / "summary.png").stat().st_size > 0
