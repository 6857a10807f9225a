import json

import numpy as np
import pytest
import torch

import nsga_helpers as H
from edgenas.train.data import load_images, make_splits
from edgenas.errors import RunError
from edgenas.search.estimators import SupernetEstimator, SyntheticOracle
from edgenas.search.setup import search
from edgenas.train.spos import (SandwichStep, anchored_sampler, anchors, shape_changing_layers, train_spos,
                          uniform_probability, uniform_sampler)
from edgenas.arch.supernet import Supernet
from edgenas.train.supernet_io import load_supernet_run
from edgenas.train.loop import TrainConfig, load_checkpoint, save_checkpoint

CFG = TrainConfig(epochs=1, batch_size=32, lr=0.05, seed=0)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # far faster than two threads on a shared two-core machine
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def splits():
    return make_splits(load_images("digits"), seed=0)


@pytest.fixture(scope="module")
def spos_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("spos") / "run"
    history = train_spos(H.space(), "digits", out, CFG, max_batches=3)
    assert len(history) == 1 and history[0]["samples"] == 96
    return out


def test_spos_run_layout_and_loader(spos_run):
    cfg = json.loads((spos_run / "config.json").read_text())
    assert cfg["mode"] == "spos" and cfg["dataset"] == "digits"
    run = load_supernet_run(spos_run)
    assert run.space.fingerprint == H.space().fingerprint and run.dataset == "digits" and len(run.digest) == 16


def test_spos_refuses_other_config_and_continues_same(spos_run):
    before = (spos_run / "checkpoint.pt").read_bytes()
    with pytest.raises(RunError, match="train.lr: 0.05 -> 0.1"):
        train_spos(H.space(), "digits", spos_run, TrainConfig(epochs=1, batch_size=32, lr=0.1), max_batches=3)
    assert (spos_run / "checkpoint.pt").read_bytes() == before
    assert train_spos(H.space(), "digits", spos_run, CFG, max_batches=3)[0]["samples"] == 96  # already done
    assert (spos_run / "checkpoint.pt").read_bytes() == before


def test_uniform_sampler_covers_every_candidate():
    s = H.space()
    draw = uniform_sampler(s, torch.Generator().manual_seed(0))
    seen = np.array([draw() for _ in range(400)])
    assert all(len(np.unique(seen[:, l])) == s.num_candidates for l in range(s.num_layers))


def test_anchor_is_the_largest_candidate_and_shape_changing_layers_are_found():
    s = H.space()
    assert anchors(Supernet(s)) == [s.candidate_names.index("k5_e6")] * s.num_layers
    # fbnet-small6: 12->12 (residual), 12->16, 16->24 s2, 24->24 (residual), 24->32 s2, 32->48
    assert shape_changing_layers(s) == [False, True, True, False, True, True]


def test_anchored_sampler_keeps_residual_layers_uniform_and_anchors_the_others():
    s = H.space()
    anchor = anchors(Supernet(s))
    changing = np.array(shape_changing_layers(s))
    u = uniform_sampler(s, torch.Generator().manual_seed(3))
    a = anchored_sampler(s, torch.Generator().manual_seed(3), anchor, 1.0)
    assert [u() for _ in range(20)] == [a() for _ in range(20)]  # p = 1: plain uniform SPOS, same draws
    draw = anchored_sampler(s, torch.Generator().manual_seed(0), anchor, 0.25)
    seen = np.array([draw() for _ in range(900)])
    at_anchor = (seen == np.array(anchor)).mean(0)
    assert np.all(np.abs(at_anchor[changing] - (0.75 + 0.25 / 9)) < 0.05)
    assert np.all(np.abs(at_anchor[~changing] - 1 / 9) < 0.05)
    assert all(len(np.unique(seen[:, l])) == s.num_candidates for l in range(s.num_layers))


def test_uniform_probability_rises_linearly_to_plain_spos():
    ps = [uniform_probability(0.2, e, 5) for e in range(5)]
    assert ps[0] == 0.2 and ps[-1] == 1.0 and np.allclose(np.diff(ps), 0.2)
    assert uniform_probability(1.0, 0, 5) == 1.0 and uniform_probability(0.2, 0, 1) == 1.0


def test_spos_records_anchor_warmup_and_refuses_another(spos_run):
    cfg = json.loads((spos_run / "config.json").read_text())
    assert cfg["anchor_warmup"] == 0.2
    assert load_checkpoint(spos_run / "checkpoint.pt")["history"][0]["p_uniform"] == 1.0  # one epoch: uniform
    with pytest.raises(RunError, match="anchor_warmup: 0.2 -> 1.0"):
        train_spos(H.space(), "digits", spos_run, CFG, max_batches=3, anchor_warmup=1.0)
    with pytest.raises(ValueError, match="anchor_warmup"):
        train_spos(H.space(), "digits", spos_run, CFG, max_batches=3, anchor_warmup=0.0)


def test_sandwich_step_trains_the_largest_path_beside_the_sampled_one():
    torch.manual_seed(0)
    net = Supernet(H.space())
    largest = anchors(net)
    sampled = [0] * H.space().num_layers
    x, y = torch.randn(8, *H.space().input_shape[1:]), torch.randint(0, H.space().num_classes, (8,))
    for distill in (False, True):
        step = SandwichStep(lambda: sampled, largest, distill=distill)
        net.zero_grad()
        logits = step.forward(net, x)
        assert torch.equal(logits, net(x, arch=sampled))
        step.loss(logits, y).backward()
        # both paths get gradients: the largest path's own candidates and the sampled path's
        for layer, (a, b) in enumerate(zip(largest, sampled)):
            for c in {a, b}:
                params = list(net.layers[layer].candidates[c].parameters())
                assert not params or all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    # distillation: the sampled path's loss is the KL to the largest path's (detached) predictions
    step = SandwichStep(lambda: sampled, largest, distill=True)
    logits = step.forward(net, x)
    big = net(x, arch=largest)
    kl = torch.nn.functional.kl_div(logits.log_softmax(1), big.softmax(1), reduction="batchmean")
    assert torch.allclose(step.loss(logits, y), kl + torch.nn.functional.cross_entropy(big, y), atol=1e-6)


def test_spos_records_the_sandwich_and_refuses_another(spos_run):
    assert json.loads((spos_run / "config.json").read_text())["sandwich"] == "distill"
    with pytest.raises(RunError, match='sandwich: "distill" -> "none"'):
        train_spos(H.space(), "digits", spos_run, CFG, max_batches=3, sandwich="none")
    with pytest.raises(ValueError, match="sandwich"):
        train_spos(H.space(), "digits", spos_run, CFG, max_batches=3, sandwich="both")


def test_spos_warmup_schedule_in_history(tmp_path):
    h = train_spos(H.space(), "digits", tmp_path / "r", TrainConfig(epochs=3, batch_size=16, lr=0.1), max_batches=1,
                   anchor_warmup=0.4)
    assert [round(r["p_uniform"], 6) for r in h] == [0.4, 0.7, 1.0]


def test_loader_tolerates_dnas_style_layout(tmp_path, spos_run):
    state = load_checkpoint(spos_run / "checkpoint.pt")
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": state["supernet"], "theta": torch.zeros(6, 9)})
    (tmp_path / "config.json").write_text(json.dumps({"space": str(H.SPACE), "dataset": "digits", "seed": 1}))
    run = load_supernet_run(tmp_path)
    assert run.split_seed == 1 and run.space.num_layers == 6
    (tmp_path / "config.json").write_text(json.dumps({"space": "fbnet-small"}))
    with pytest.raises(RunError, match="does not fit space 'fbnet-small'"):
        load_supernet_run(tmp_path)
    with pytest.raises(RunError, match="does not exist"):
        load_supernet_run(tmp_path / "none")


def test_estimator_recalibrates_without_touching_the_callers_supernet(spos_run, splits):
    run = load_supernet_run(spos_run)
    before = {k: v.clone() for k, v in run.supernet.state_dict().items()}
    est = SupernetEstimator(run.supernet, splits, bn_batches=1, batch_size=64, eval_batches=1)
    archs = H.space().sample(2, seed=0)
    e1 = est.evaluate(archs)
    e2 = est.evaluate(archs[::-1])[::-1]  # order does not matter: statistics are recomputed per path
    assert np.array_equal(e1, e2) and np.all((0 <= e1) & (e1 <= 1))
    assert all(torch.equal(before[k], v) for k, v in run.supernet.state_dict().items())
    bn = est.supernet.stem[1]
    x = est.calib[0][0]
    with torch.no_grad():
        pre = est.supernet.stem[0](x)
    est.recalibrate(archs[0])
    assert torch.allclose(bn.running_mean, pre.mean((0, 2, 3)), atol=1e-4)  # stats of this path's data


def test_search_with_supernet_estimator(spos_run, tmp_path):
    doc = search("nsga2", [H.TABLE], tmp_path / "s", estimator=f"supernet:{spos_run}", config={"pop": 4, "gens": 1},
                 estimator_options={"bn_batches": 1, "batch_size": 64, "eval_batches": 1}, plot=False)
    assert doc["evaluated"] == doc["details"]["fresh"] and doc["front"]
    assert doc == json.loads((tmp_path / "s" / "result.json").read_text())
    est = doc["sources"]["estimator"]
    assert est["kind"] == "supernet" and est["dataset"] == "digits" and doc["sources"]["dataset"] == "digits"
    assert doc["sources"]["supernet"] == str(spos_run.resolve())


def test_oracle_is_deterministic_and_prefers_capacity():
    c = H.cost()
    o = SyntheticOracle(H.space(), c.matrix["flops"], seed=0)
    a = H.space().sample(1000, seed=1)
    assert np.array_equal(o.evaluate(a), SyntheticOracle(H.space(), c.matrix["flops"], seed=0).evaluate(a))
    err, flops = o.evaluate(a), c.predict(a).flops
    assert np.corrcoef(err, np.log(flops))[0, 1] < -0.5
