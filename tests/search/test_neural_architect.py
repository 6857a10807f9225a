"""Neural Architect on the one search contract: predicted rewards, measured training time, resume, bad settings."""
import numpy as np
import pytest

import nsga_helpers as H
from cli_helpers import run_main
from edgenas.errors import ConfigError
from edgenas.search import setup as setup_mod
from edgenas.search.estimators import SyntheticOracle
from edgenas.search.setup import search

SMALL = {"members": 3, "width": 16, "steps_per_result": 3, "episodes": 8, "steps": 3, "evaluate_per_round": 5}
TABLE = H.TABLE.name.removesuffix(".json")


class TimedOracle(SyntheticOracle):
    """The oracle with a training time per architecture: seconds grow with the candidate indices chosen."""

    def train_seconds(self, archs):
        return 5.0 + np.asarray(archs, dtype=np.float64).sum(1)



def run(tmp_path, out="run", seed=0, budget=0.08, **config):
    return search("neural-architect", [H.TABLE], tmp_path / out, estimator="oracle", max_latency_ms=[budget],
                  seed=seed, config={**SMALL, "evaluations": 40, **config}, plot=False)


def best_feasible(doc):
    return max((r["accuracy"] for r in doc["front"]), default=0.0)


def test_it_meets_the_budget_with_flops_as_training_time_and_beats_random(tmp_path):
    wins = 0
    for seed in range(3):
        doc = run(tmp_path, f"na{seed}", seed=seed, budget=0.06)
        assert doc["evaluated"] == 40 and "FLOPs" in doc["details"]["train_time"]
        assert doc["front"] and all(r["latency_ms"][TABLE] <= 0.06 for r in doc["front"])
        assert doc["selected"] in {r["arch"] for r in doc["front"]}
        rnd = search("random", [H.TABLE], tmp_path / f"r{seed}", estimator="oracle", max_latency_ms=[0.06],
                     seed=seed, config={"pop": 10, "gens": 4}, plot=False)
        wins += best_feasible(doc) > best_feasible(rnd)
    assert wins >= 2


def test_a_measured_training_time_is_predicted_and_weighs_in_the_reward(tmp_path, monkeypatch):
    def timed(text, ctx):
        return TimedOracle(ctx.space, ctx.spec.targets[0].cost.matrix["flops"], seed=ctx.seed)

    monkeypatch.setattr(setup_mod, "make_estimator", timed)
    space = H.space()
    picked = {}
    for w in (0.0, -1.0):
        doc = run(tmp_path, f"w{w}", time_weight=w)
        assert "measured" in doc["details"]["train_time"]
        picked[w] = np.mean([5.0 + sum(space.parse(r["arch"])) for r in doc["front"]])  # seconds to train
    assert picked[-1.0] < picked[0.0]
    flops = run(tmp_path, "flops", time_weight=-1.0, train_time="flops")
    assert "FLOPs" in flops["details"]["train_time"]


def test_same_seed_same_result_and_a_killed_run_resumes_to_it(tmp_path, monkeypatch):
    whole = run(tmp_path, out="whole")
    monkeypatch.setattr(setup_mod, "make_runner", lambda ray: H.StopAfter(17))
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, out="cut")
    monkeypatch.undo()
    resumed = run(tmp_path, out="cut")
    assert resumed["front"] == whole["front"] and resumed["history"] == whole["history"]
    assert resumed["selected"] == whole["selected"] and resumed["details"]["fresh"] == 40 - 17


@pytest.mark.parametrize("config,message", [
    ({"time_weight": 0.5}, "must be <= 0"),
    ({"latency_weight": 0.07}, "must be <= 0"),
    ({"baseline_decay": 1.0}, "baseline_decay < 1"),
    ({"train_time": "wall"}, "train_time"),
])
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, config, message):
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, **config)
    assert not (tmp_path / "run").exists()


def test_the_command_line_shows_its_options(capsys):
    code, io = run_main(capsys, ["search", "neural-architect", "--help"])
    assert code == 0 and all(o in io.out for o in ("--time-weight", "--train-time", "--evaluate-per-round"))
