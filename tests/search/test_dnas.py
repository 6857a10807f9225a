"""FBNet-style DNAS: the loss, Gumbel sampling, the target controller, the search run and its bad input."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edgenas.tables.cost import CostModel
from edgenas.search.costloss import CostTerm, ExpectedCost, TargetController, fbnet_loss
from edgenas.errors import BudgetError, ConfigError, RunError, TableMismatchError, UnknownNameError
from edgenas.arch.space import get_space
from edgenas.search.setup import search as run_search
from edgenas.search.strategies import get_strategy, names
from edgenas.search.strategies import dnas
from edgenas.tables.table import LatencyTable
from edgenas.train.loop import TrainingDivergedError, load_checkpoint

from _synthetic_table import synthetic_table

SPACE = get_space("fbnet-small")
TINY = {"warmup_epochs": 1, "max_batches": 1, "batch_size": 32, "samples": 3, "threads": 1}


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "small.json"
    synthetic_table(SPACE, path)
    return str(path)


@pytest.fixture(scope="module")
def cost(table_path):
    return CostModel(SPACE, LatencyTable.load(table_path, space=SPACE))


def search(out, table, epochs=2, progress=None, target_ms=None, **opts):
    """A DNAS run through the common search entry; returns DNAS's own details (dnas.json)."""
    run_search("dnas", [table] if table else [], out, config={"epochs": epochs, **TINY, **opts}, dataset="digits",
               max_latency_ms=[target_ms] if target_ms else [], progress=progress, plot=False)
    return json.loads((out / "dnas.json").read_text())


# ---- loss ---------------------------------------------------------------------------
def test_expected_cost_of_a_one_hot_mixture_is_the_cost_models_prediction(cost):
    exp = ExpectedCost(cost)
    for arch in SPACE.sample(5, seed=1):
        w = F.one_hot(torch.as_tensor(arch), SPACE.num_candidates).float()
        p = cost.predict(arch)
        assert float(exp.latency_ms(w)) == pytest.approx(float(p.latency_ms[0]), rel=1e-5)
        assert float(exp.memory_bytes(w)) == pytest.approx(float(p.memory_bytes[0]), rel=1e-5)


def test_expected_latency_is_the_weighted_sum_and_differentiable(cost):
    theta = torch.randn(SPACE.num_layers, SPACE.num_candidates, requires_grad=True)
    w = torch.softmax(theta, 1)
    lat = ExpectedCost(cost).latency_ms(w)
    a, b = cost.calibration.coef
    manual = a * ((w.detach().numpy() * cost.matrix["latency_ms"]).sum() + cost.fixed["latency_ms"]) + b
    assert float(lat) == pytest.approx(manual, rel=1e-5)
    lat.backward()
    assert theta.grad.abs().sum() > 0


def test_fbnet_loss_is_ce_times_alpha_times_log_latency_in_us_to_the_beta():
    ce, lat = torch.tensor(0.7), torch.tensor(0.25)  # 0.25 ms = 250 us
    loss = fbnet_loss(ce, {"latency_ms": lat}, [CostTerm("latency_ms", 0.6)], alpha=0.2)
    assert float(loss) == pytest.approx(0.7 * 0.2 * math.log(250.0) ** 0.6, rel=1e-6)
    both = fbnet_loss(ce, {"latency_ms": lat, "memory_bytes": torch.tensor(2048.0)},
                      [CostTerm("latency_ms", 0.6), CostTerm("memory_bytes", 1.0)], alpha=0.2)
    assert float(both) == pytest.approx(float(loss) * math.log(2.0), rel=1e-6)


def _theta_after_adam_steps(cost, alpha, beta, steps=5):
    torch.manual_seed(0)
    theta = torch.zeros(SPACE.num_layers, SPACE.num_candidates, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.1)
    exp = ExpectedCost(cost)
    for _ in range(steps):
        w = torch.softmax(theta, 1)
        ce = (w * torch.linspace(1, 2, SPACE.num_candidates)).sum() / SPACE.num_layers  # stands in for CE
        loss = fbnet_loss(ce, {"latency_ms": exp.latency_ms(w)}, [CostTerm("latency_ms", beta)], alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return theta.detach()


def test_alpha_only_scales_the_loss_so_adam_on_theta_ignores_it(cost):
    # FBNet: α "controls the magnitude of the loss"; β is the trade-off knob (documented in costloss).
    a, b = _theta_after_adam_steps(cost, 0.2, 0.6), _theta_after_adam_steps(cost, 5.0, 0.6)
    assert torch.allclose(a, b, atol=1e-3)  # equal up to Adam's eps
    c = _theta_after_adam_steps(cost, 0.2, 8.0)
    assert not torch.allclose(a, c, atol=1e-3)


def test_a_larger_beta_moves_theta_toward_faster_candidates(cost):
    exp = ExpectedCost(cost)
    lats = [float(exp.latency_ms(torch.softmax(_theta_after_adam_steps(cost, 0.2, b, steps=20), 1)))
            for b in (0.0, 2.0, 8.0)]
    assert lats[0] > lats[1] > lats[2]


def test_gumbel_softmax_sample_is_seeded_and_normalised():
    theta = torch.randn(4, 5)
    a = dnas.gumbel_softmax_sample(theta, 5.0, torch.Generator().manual_seed(1))
    b = dnas.gumbel_softmax_sample(theta, 5.0, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and torch.allclose(a.sum(1), torch.ones(4))
    hard = dnas.gumbel_softmax_sample(theta, 5.0, torch.Generator().manual_seed(1), hard=True)
    assert torch.equal(hard.argmax(1), a.argmax(1)) and torch.equal(hard.sum(1), torch.ones(4))
    assert set(hard.flatten().tolist()) == {0.0, 1.0}


def test_low_temperature_samples_approach_one_hot():
    theta = torch.zeros(3, 9)
    soft = dnas.gumbel_softmax_sample(theta, 5.0, torch.Generator().manual_seed(0))
    sharp = dnas.gumbel_softmax_sample(theta, 0.05, torch.Generator().manual_seed(0))
    assert soft.max() < 0.5 and sharp.max(1).values.min() > 0.9


def test_target_controller_raises_beta_over_budget_and_lowers_it_under():
    term = CostTerm("latency_ms", 0.6, target=1.0)
    ctl = TargetController([term, CostTerm("memory_bytes", 1.0)], gain=0.5, beta_min=-1, beta_max=3)
    ctl.update({"latency_ms": 2.0, "memory_bytes": 1.0})
    assert term.beta == pytest.approx(0.6 + 0.5 * math.log(2))
    for _ in range(50):
        ctl.update({"latency_ms": 2.0, "memory_bytes": 1.0})
    assert term.beta == 3
    for _ in range(50):
        ctl.update({"latency_ms": 0.5, "memory_bytes": 1.0})
    assert term.beta == -1


# ---- registry and config -------------------------------------------------------------------
def test_strategies_are_looked_up_by_name():
    assert "dnas" in names() and get_strategy("dnas") is dnas.DNASStrategy
    with pytest.raises(UnknownNameError, match="unknown strategy .annealing.*dnas"):
        get_strategy("annealing")


def test_an_option_dnas_does_not_take_is_refused(tmp_path, table_path):
    with pytest.raises(ConfigError, match="does not take population"):
        search(tmp_path / "r", table_path, population=10)
    with pytest.raises(ConfigError, match="at least one latency table"):
        search(tmp_path / "r", None)
    with pytest.raises(ConfigError, match="warmup_epochs"):
        search(tmp_path / "r", table_path, epochs=1, warmup_epochs=1)
    assert not (tmp_path / "r").exists()


# ---- the run -----------------------------------------------------------------------------
def test_search_writes_the_run_folder(tmp_path, table_path, cost):
    seen = []
    res = search(tmp_path / "run", table_path, epochs=2, progress=lambda phase, d, n: seen.append((phase, d, n)))
    assert seen == [("epochs", 1, 2), ("epochs", 2, 2)]
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.json", "checkpoint.pt", "history.json", "dnas.json", "result.json", "search.png"} <= files
    assert (tmp_path / "run" / "search.png").read_bytes()[:4] == b"\x89PNG"
    common = json.loads((tmp_path / "run" / "result.json").read_text())  # the one result file of every strategy
    assert common["strategy"] == "dnas" and common["selected"] == res["selected"]["arch"]
    assert common["front"][0]["arch"] == res["selected"]["arch"]
    assert common["sources"]["supernet"] == str((tmp_path / "run").resolve())
    assert len(res["samples"]) == 3
    for rec in [res["most_likely"], *res["samples"]]:
        p = cost.predict(SPACE.parse(rec["arch"]))
        assert rec["latency_ms"] == pytest.approx(float(p.latency_ms[0]))
        assert rec["memory_bytes"] == pytest.approx(float(p.memory_bytes[0]))
        assert rec["flops"] == pytest.approx(float(p.flops[0]))
    theta = torch.tensor(res["theta"])
    assert SPACE.parse(res["most_likely"]["arch"]) == tuple(theta.argmax(1).tolist())
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["phase"] for h in hist] == ["warmup", "search"]
    assert hist[0]["theta"] == [[0.0] * 9] * 8 and hist[1]["theta"] == res["theta"]  # θ frozen in warm-up
    assert hist[1]["tau"] == pytest.approx(5.0) and hist[1]["arch_acc"] is not None
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["epoch"] == 2 and torch.equal(state["theta"], theta)


def test_temperature_is_annealed_per_search_epoch(tmp_path, table_path):
    cfg = dnas.DNASConfig(epochs=5, warmup_epochs=2)
    s = dnas.DNASSearch.__new__(dnas.DNASSearch)
    s.cfg = cfg
    assert [round(s.tau(e), 4) for e in range(5)] == [5.0, 5.0, 5.0, round(5 * math.exp(-0.045), 4),
                                                      round(5 * math.exp(-0.09), 4)]


class _Stop(Exception):
    pass


def test_interrupted_search_resumes_to_the_uninterrupted_result(tmp_path, table_path):
    full = search(tmp_path / "full", table_path, epochs=3)

    def stop_after_first(phase, done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "cut", table_path, epochs=3, progress=stop_after_first)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 2
    assert not (tmp_path / "cut" / "result.json").exists()
    epochs_run = []
    resumed = search(tmp_path / "cut", table_path, epochs=3, progress=lambda phase, d, n: epochs_run.append(d))
    assert epochs_run == [3]
    assert resumed["theta"] == full["theta"] and resumed["most_likely"] == full["most_likely"]


def test_a_rerun_with_another_config_is_refused_naming_what_changed(tmp_path, table_path):
    search(tmp_path / "run", table_path, epochs=2)
    with pytest.raises(RunError, match=r"alpha: 0.2 -> 0.5"):
        search(tmp_path / "run", table_path, epochs=2, alpha=0.5)
    search(tmp_path / "run", table_path, epochs=2, threads=2)  # threads do not change the result


def test_a_folder_with_foreign_files_is_refused(tmp_path, table_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "thesis.tex").write_text("x")
    with pytest.raises(RunError, match="not empty"):
        search(tmp_path / "run", table_path)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, table_path, monkeypatch):
    search(tmp_path / "ok", table_path, epochs=3)  # reference: the same run without the fault
    real, calls = dnas.arch_loss, []

    def diverging(ce, costs, terms, alpha):
        calls.append(1)
        loss = real(ce, costs, terms, alpha)
        return loss * float("nan") if len(calls) > 1 else loss  # epoch 3's θ step

    monkeypatch.setattr(dnas, "arch_loss", diverging)
    with pytest.raises(TrainingDivergedError, match="architecture step of epoch 3.*epoch 2.*kept"):
        search(tmp_path / "run", table_path, epochs=3)
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["epoch"] == 2 and all(math.isfinite(v) for row in state["theta"].tolist() for v in row)
    assert not (tmp_path / "run" / "result.json").exists()


def test_budget_below_the_fastest_architecture_names_it(tmp_path, table_path, cost):
    arch, fastest = cost.fastest()
    with pytest.raises(BudgetError, match=rf"fastest reachable is {fastest:.4g} ms \({SPACE.format(arch)}\)"):
        search(tmp_path / "r", table_path, target_ms=fastest * 0.9)
    assert not (tmp_path / "r").exists()


def test_a_table_of_another_space_is_refused(tmp_path, table_path):
    other = dict(get_space("fbnet-small").declaration)
    other["stages"] = {"layers": [1, 1], "channels": [12, 16], "strides": [1, 2]}
    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps({"name": "tiny", **other}))
    synthetic_table(get_space(str(spec)), tmp_path / "tiny-table.json")
    with pytest.raises(TableMismatchError, match="table is for space 'tiny'"):  # beside a table of fbnet-small
        run_search("dnas", [table_path, tmp_path / "tiny-table.json"], tmp_path / "r", dataset="digits")
    assert not (tmp_path / "r").exists()


def test_target_mode_moves_latency_toward_the_budget(tmp_path, table_path, cost):
    # Tiny run: a budget well under the uniform mixture's latency pushes β up; history records it per epoch.
    # The returned architecture is the most likely one within [0.9 · budget, budget].
    res = search(tmp_path / "t", table_path, epochs=3, target_ms=cost.fastest()[1] * 1.3, theta_lr=0.3,
                 max_batches=2)
    hist = json.loads((tmp_path / "t" / "history.json").read_text())
    assert hist[-1]["betas"]["latency_ms"] > 0.6
    assert hist[-1]["expected_latency_ms"] < hist[0]["expected_latency_ms"]
    budget = cost.fastest()[1] * 1.3
    assert 0.9 * budget <= res["selected"]["latency_ms"] <= budget


def test_memory_factor_enters_the_loss_when_asked(tmp_path, table_path):
    res = search(tmp_path / "m", table_path, epochs=2, memory_beta=1.0)
    assert set(res["betas"]) == {"latency_ms", "memory_bytes"}


@pytest.mark.slow
def test_a_sigkilled_search_resumes_from_its_last_checkpoint(tmp_path, table_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    args = [sys.executable, str(root / "cli.py"), "search", "dnas", "--table", table_path, "--dataset", "digits",
            "--epochs", "4", "--warmup-epochs", "1", "--max-batches", "2", "--batch-size", "32", "--threads", "1",
            "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    ref = subprocess.run(args + ["--out", str(tmp_path / "ref")], env=env, capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen(args + ["--out", str(tmp_path / "run")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    deadline = time.time() + 600
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(ckpt)["epoch"]
    assert 1 <= killed_at < 4 and not (tmp_path / "run" / "dnas.json").exists()
    again = subprocess.run(args + ["--out", str(tmp_path / "run")], env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    a = json.loads((tmp_path / "ref" / "dnas.json").read_text())
    b = json.loads((tmp_path / "run" / "dnas.json").read_text())
    assert b["theta"] == a["theta"] and b["most_likely"] == a["most_likely"]


def test_expected_cost_follows_a_power_law_calibration(table_path):
    from edgenas.tables.table import Calibration

    table = LatencyTable.load(table_path, space=SPACE)
    table.calibration = Calibration(["log_sum", "const"], [0.8, math.log(1.3)], [], link="log")
    model = CostModel(SPACE, table)
    exp = ExpectedCost(model)
    for arch in SPACE.sample(3, seed=2):
        w = F.one_hot(torch.as_tensor(arch), SPACE.num_candidates).float().requires_grad_()
        lat = exp.latency_ms(w)
        assert float(lat) == pytest.approx(float(model.predict(arch).latency_ms[0]), rel=1e-5)
        lat.backward()
        assert torch.isfinite(w.grad).all()
