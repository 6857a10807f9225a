"""The RL controller strategy on the one search contract: MnasNet's reward, learning, exact resume, bad settings."""
import numpy as np
import pytest
import torch

import nsga_helpers as H
from cli_helpers import run_main
from edgenas.errors import ConfigError
from edgenas.search import setup as setup_mod
from edgenas.search.controller import FactorisedPolicy, LSTMController, one_thread
from edgenas.search.reinforce import Reinforce, mnas_reward
from edgenas.search.setup import search

BUDGET = 0.08



def run(tmp_path, out="run", seed=0, **config):
    return search("rl", [H.TABLE], tmp_path / out, estimator="oracle", max_latency_ms=[BUDGET], seed=seed,
                  config={"evaluations": 60, **config}, plot=False)


def best_feasible(doc) -> float:
    return max((r["accuracy"] for r in doc["front"]), default=0.0)


# ---- reward ------------------------------------------------------------------------------------------
def test_soft_reward_is_accuracy_times_the_cost_ratio_to_the_power_w():
    acc = np.array([0.8, 0.8, 0.8])
    ratios = np.array([[2.0], [0.5], [1.0]])
    got = mnas_reward(acc, ratios, "soft")
    assert got == pytest.approx([0.8 * 2 ** -0.07, 0.8 * 0.5 ** -0.07, 0.8])
    assert mnas_reward(acc, ratios, "soft", w=-0.5) == pytest.approx([0.8 / 2 ** 0.5, 0.8 * 2 ** 0.5, 0.8])


def test_hard_reward_is_accuracy_within_the_budget_and_divided_by_the_overshoot_above():
    acc = np.array([0.9, 0.9, 0.9])
    got = mnas_reward(acc, np.array([[0.5], [1.0], [1.5]]), "hard")
    assert got == pytest.approx([0.9, 0.9, 0.9 / 1.5])


def test_several_budgets_multiply():
    acc, ratios = np.array([0.8]), np.array([[2.0, 0.5]])
    assert mnas_reward(acc, ratios, "hard") == pytest.approx([0.8 / 2])            # only the one over its budget
    assert mnas_reward(acc, ratios, "soft") == pytest.approx([0.8 * (2 * 0.5) ** -0.07])
    assert mnas_reward(acc, np.empty((1, 0)), "hard") == pytest.approx([0.8])       # no budget: accuracy


# ---- policy and update ---------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", [LSTMController(4, 5, hidden=16, seed=3), FactorisedPolicy(4, 5)])
def test_policy_scores_its_own_draws_and_reinforce_moves_toward_the_rewarded_candidate(policy):
    archs, log_prob, entropy = policy.sample(6, torch.Generator().manual_seed(0))
    again, log_prob2, _ = policy.score(archs)
    assert torch.equal(again, archs) and torch.allclose(log_prob, log_prob2)
    assert float(entropy.detach().mean()) == pytest.approx(4 * np.log(5), rel=0.02)   # starts close to uniform
    trainer = Reinforce(policy, lr=0.1, entropy_weight=0.0, baseline_decay=0.9)
    g = torch.Generator().manual_seed(1)
    with one_thread():
        for _ in range(40):   # reward: how many layers chose candidate 2
            archs, log_prob, entropy = policy.sample(8, g)
            trainer.update(log_prob, entropy, (archs == 2).sum(1).numpy().astype(float))
    assert policy.most_likely() == (2, 2, 2, 2)


# ---- the strategy --------------------------------------------------------------------------------------
def test_evaluates_exactly_the_budget_of_distinct_architectures_and_its_front_meets_the_budget(tmp_path):
    doc = run(tmp_path)
    assert doc["evaluated"] == 60 and doc["details"]["stopped_by"] == "evaluations"
    assert doc["front"] and all(r["latency_ms"]["fbnet-small6.ort-cpu"] <= BUDGET for r in doc["front"])
    assert doc["details"]["fresh"] == 60


@pytest.mark.parametrize("policy", ["lstm", "factorised"])
def test_the_policy_learns_on_the_oracle(tmp_path, policy):
    hist = run(tmp_path, evaluations=200, policy=policy)["history"]
    first = np.mean([h["reward_mean"] for h in hist[:5]])
    last = np.mean([h["reward_mean"] for h in hist[-5:]])
    assert last > first + 0.01
    assert hist[-1]["entropy"] < hist[0]["entropy"]


def test_beats_random_search_at_equal_distinct_evaluations(tmp_path):
    rl, rnd = [], []
    for seed in range(3):
        rl.append(best_feasible(run(tmp_path, f"rl{seed}", seed=seed, evaluations=100)))
        rnd.append(best_feasible(search("random", [H.TABLE], tmp_path / f"rnd{seed}", estimator="oracle",
                                        max_latency_ms=[BUDGET], seed=seed, config={"pop": 10, "gens": 10},
                                        plot=False)))
    assert np.median(rl) > np.median(rnd) and sum(a > b for a, b in zip(rl, rnd)) >= 2


def test_same_seed_same_result_and_a_killed_run_resumes_to_it(tmp_path, monkeypatch):
    whole = run(tmp_path, out="whole")
    assert run(tmp_path, out="again")["front"] == whole["front"]
    assert run(tmp_path, out="other", seed=1)["history"] != whole["history"]
    monkeypatch.setattr(setup_mod, "make_runner", lambda ray: H.StopAfter(37))  # killed mid-step
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, out="cut")
    monkeypatch.undo()
    resumed = run(tmp_path, out="cut")
    assert resumed["front"] == whole["front"] and resumed["history"] == whole["history"]
    assert resumed["details"]["fresh"] == 60 - 37    # the first 37 came from the journal
    assert resumed["details"]["most_likely"] == whole["details"]["most_likely"]


def test_a_larger_budget_continues_the_run(tmp_path):
    run(tmp_path, out="grow", evaluations=30)
    grown = run(tmp_path, out="grow", evaluations=60)
    assert grown["front"] == run(tmp_path, out="straight")["front"] and grown["details"]["fresh"] == 30


def test_max_steps_stops_a_policy_that_keeps_drawing_known_architectures(tmp_path):
    doc = run(tmp_path, evaluations=10_000, max_steps=3, batch=4)
    assert doc["details"]["steps"] == 3 and doc["details"]["stopped_by"] == "max_steps"
    assert doc["evaluated"] <= 12


@pytest.mark.parametrize("bad, match", [
    ({"w": 0.07}, "w must be <= 0.*--w -0.07"),
    ({"baseline_decay": 1.0}, "baseline_decay must be in"),
    ({"controller_lr": 0.0}, "controller_lr must be > 0"),
    ({"batch": 0}, "batch must be >= 1"),
    ({"evaluations": 0}, "evaluations must be >= 1"),
    ({"entropy_weight": -1}, "entropy_weight must be >= 0"),
])
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, bad, match):
    with pytest.raises(ConfigError, match=match):
        run(tmp_path, **bad)
    assert not (tmp_path / "run").exists()


def test_cli_shows_the_options_and_refuses_a_positive_exponent_in_one_line(tmp_path, capsys):
    code, io = run_main(capsys, ["search", "rl", "--help"])
    assert code == 0
    for opt in ("--reward [soft|hard]", "--w", "--controller-lr", "--entropy-weight", "--baseline-decay",
                "--batch", "--evaluations", "--hidden", "--policy [lstm|factorised]", "--estimator"):
        assert opt in io.out
    code, io = run_main(capsys, ["search", "rl", "--table", str(H.TABLE), "--estimator", "oracle", "--max-latency",
                                 "0.08ms", "--w", "0.07", "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2 and io.err.startswith("error: w must be <= 0") and io.err.count("\n") == 1
    assert not (tmp_path / "r").exists()
    code, io = run_main(capsys, ["search", "enas", "--help"])
    assert code == 0 and "--warmup-steps" in io.out and "--estimator" not in io.out and "--evaluations" not in io.out
