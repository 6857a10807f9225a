"""NASH on a small space and the digits data: steps never lose accuracy, children meet the budget, exact resume,
bad input refused; and the recovery training of an approximate morphism."""
import itertools
import json

import numpy as np
import pytest
import torch

from edgenas.arch.model import build_network
from edgenas.arch.morphisms import apply_moves, move_between
from edgenas.arch.space import SearchSpace
from edgenas.errors import ArchitectureError, ConfigError, RunError
from edgenas.search.members import MemberStore
from edgenas.search.setup import search
from edgenas.search import morph_run
from edgenas.train.brief import evaluate, train_briefly
from edgenas.train.data import load_images, make_splits
from edgenas.train.loop import TrainConfig, save_checkpoint

from morph_helpers import DECL, SPACE

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = {"steps": 3, "children": 2, "morphisms": 2, "epochs": 1, "start_epochs": 2, "batch_size": 64,
        "max_batches": 6, "threads": 1}


@pytest.fixture(scope="module")
def splits():
    return make_splits(load_images("digits"), seed=0)


def run(out, table, budget, **config):
    return search("nash", [table], out, dataset="digits", max_latency_ms=[budget], config={**FAST, **config},
                  plot=False)


def latency(cost, arch):
    return float(cost.predict(SPACE.parse(arch)).latency_ms[0])


def test_steps_keep_or_improve_the_validation_accuracy_and_every_child_meets_the_budget(tmp_path, tiny28_table,
                                                                                         tiny28_budget, tiny28_cost):
    doc = run(tmp_path / "run", tiny28_table, tiny28_budget)
    hist = doc["history"]
    assert len(hist) == 1 + FAST["steps"] and doc["details"]["stopped_by"] == "steps"
    accs = [h["val_acc"] for h in hist]
    assert all(b >= a for a, b in zip(accs, accs[1:]))
    assert accs[-1] > 0.1                                   # it learned something (10 classes)
    for prev, h in zip(hist, hist[1:]):
        assert h["children"] and all(latency(tiny28_cost, c["arch"]) <= tiny28_budget for c in h["children"])
        assert h["val_acc"] == max([prev["val_acc"]] + [c["val_acc"] for c in h["children"]])
        assert h["parent"] in [prev["parent"]] + [c["arch"] for c in h["children"]]
    members = doc["details"]["members"]
    assert len({m["arch"] for m in members}) == len(members) == doc["evaluated"]
    for m in members[1:]:                                   # each child descends from the parent of its step
        assert m["parent"] == hist[int(m["id"][1:4]) - 1]["parent_id"] and m["moves"]
    assert doc["front"] and all(r["latency_ms"]["tiny28"] <= tiny28_budget for r in doc["front"])
    assert doc["selected"] in [r["arch"] for r in doc["front"]]
    for arch, rel in doc["sources"]["weights"].items():     # every member's weights, loadable for fine-tuning
        assert (tmp_path / "run" / rel).is_file()
    member, net = MemberStore(tmp_path / "run", SPACE).load(members[-1]["id"], members[-1]["arch"])
    assert member.val_acc == members[-1]["val_acc"] and net.arch == SPACE.parse(members[-1]["arch"])
    assert (tmp_path / "run" / "search.png").stat().st_size > 10_000   # the climb over the steps


def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path, tiny28_table, tiny28_budget, monkeypatch):
    whole = run(tmp_path / "whole", tiny28_table, tiny28_budget)
    calls = {"n": 0}
    real = morph_run.train_briefly

    def dies_after_four(*args, **kwargs):
        if calls["n"] == 4:
            raise KeyboardInterrupt   # as a killed process: the fifth network never finishes
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(morph_run, "train_briefly", dies_after_four)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", tiny28_table, tiny28_budget)
    assert len(list((tmp_path / "cut" / "members").glob("*.pt"))) == 4
    calls["n"] = -100   # the rerun may train again
    resumed = run(tmp_path / "cut", tiny28_table, tiny28_budget)
    assert calls["n"] == -100 + whole["evaluated"] - 4      # only the networks not trained before
    for key in ("front", "selected", "evaluated"):
        assert resumed[key] == whole[key]
    strip = lambda h: [{k: v for k, v in r.items() if k != "train_s_total"} for r in h]  # noqa: E731  (wall time)
    assert strip(resumed["history"]) == strip(whole["history"])


def test_a_rerun_with_more_steps_continues_the_climb(tmp_path, tiny28_table, tiny28_budget):
    short = run(tmp_path / "run", tiny28_table, tiny28_budget, steps=1)
    longer = run(tmp_path / "run", tiny28_table, tiny28_budget, steps=3)
    assert longer["history"][:2] == short["history"][:2] and len(longer["history"]) == 4


def test_a_time_budget_stops_before_a_step_and_without_shrink_every_child_is_an_exact_morph(tmp_path, tiny28_table,
                                                                                           tiny28_budget):
    seen = []
    doc = search("nash", [tiny28_table], tmp_path / "t", dataset="digits", max_latency_ms=[tiny28_budget], plot=False,
                 config={**FAST, "max_minutes": 1e-9}, progress=lambda *a, **k: seen.append(a))
    assert doc["details"]["stopped_by"] == "time" and len(doc["history"]) == 1 and doc["evaluated"] == 1
    assert ("start", 1, 1) in seen and ("steps", 0, FAST["steps"]) in seen
    doc = run(tmp_path / "grow", tiny28_table, tiny28_budget, shrink=False, steps=2)
    children = [c for h in doc["history"] for c in h["children"]]
    assert children and all(c["exact"] for c in children)
    assert all(m["moves"] and not any(mv.endswith("~") for mv in m["moves"]) for m in doc["details"]["members"][1:])


def test_grow_first_draws_shrinking_moves_only_where_no_growing_child_fits(tmp_path, tiny28_table, tiny28_budget,
                                                                           tiny28_cost):
    middle = "k3_e3-k3_e3-k3_e3"
    free = run(tmp_path / "free", tiny28_table, 1e3, start=middle, steps=1)     # grow_first is the default
    assert free["history"][1]["children"] and all(c["exact"] for c in free["history"][1]["children"])
    mixed = run(tmp_path / "mixed", tiny28_table, 1e3, grow_first=False, start=middle, steps=1)  # some shrink
    assert not all(c["exact"] for c in mixed["history"][1]["children"])
    # the slowest architecture within the budget: every growing move goes over it, so only shrinking ones remain
    archs = np.array(list(itertools.product(range(SPACE.num_candidates), repeat=SPACE.num_layers)))
    latency = tiny28_cost.predict(archs).latency_ms
    edge = archs[np.argmax(np.where(latency <= tiny28_budget, latency, -np.inf))]
    at_edge = run(tmp_path / "edge", tiny28_table, tiny28_budget, start=SPACE.format(edge), steps=1)
    children = at_edge["history"][1]["children"]
    assert children and not any(c["exact"] for c in children)


def test_bad_settings_are_refused_before_anything_is_written(tmp_path, tiny28_table, tiny28_budget, tiny28_cost):
    with pytest.raises(ConfigError, match="children must be >= 1"):
        run(tmp_path / "a", tiny28_table, tiny28_budget, children=0)
    with pytest.raises(ArchitectureError, match="unknown op"):
        run(tmp_path / "b", tiny28_table, tiny28_budget, start="k3_e1-k9_e9-skip")
    slow = "-".join(["k5_e6"] * SPACE.num_layers)
    with pytest.raises(ConfigError, match="over the budget"):
        run(tmp_path / "c", tiny28_table, tiny28_budget, start=slow)
    with pytest.raises(ConfigError, match="takes no estimator"):
        search("nash", [tiny28_table], tmp_path / "d", estimator="oracle", config=FAST, plot=False)
    assert not any((tmp_path / n).exists() for n in "abcd")


def _train_folder(path, space, arch, state):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"kind": "train", "config": {"arch": arch, "space": space.name}}))
    save_checkpoint(path / "model.pt", state)
    return str(path)


def test_start_from_a_trained_run_and_refuse_a_foreign_or_corrupt_one(tmp_path, tiny28_table, tiny28_budget):
    arch = "k3_e1-skip-skip"
    torch.manual_seed(0)
    net = build_network(SPACE, SPACE.parse(arch))
    good = _train_folder(tmp_path / "good", SPACE, arch, net.state_dict())
    doc = run(tmp_path / "run", tiny28_table, tiny28_budget, start=good, steps=1, start_epochs=0)
    assert doc["details"]["members"][0]["arch"] == arch
    wide = SearchSpace.from_dict("wide", {**DECL, "head": {"mid_ch": 32}})
    foreign = _train_folder(tmp_path / "foreign", wide, arch, build_network(wide, wide.parse(arch)).state_dict())
    with pytest.raises(RunError, match="does not fit"):
        run(tmp_path / "run2", tiny28_table, tiny28_budget, start=foreign)
    corrupt = _train_folder(tmp_path / "corrupt", SPACE, arch, net.state_dict())
    (tmp_path / "corrupt" / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RunError, match="corrupt"):
        run(tmp_path / "run3", tiny28_table, tiny28_budget, start=corrupt)
    assert not (tmp_path / "run2").exists() and not (tmp_path / "run3").exists()


def test_a_corrupt_member_checkpoint_is_reported_and_kept(tmp_path, tiny28_table, tiny28_budget):
    run(tmp_path / "run", tiny28_table, tiny28_budget, steps=1)
    bad = tmp_path / "run" / "members" / "s001c00.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(RunError, match="corrupt"):
        run(tmp_path / "run", tiny28_table, tiny28_budget, steps=1)
    assert bad.read_bytes() == b"garbage" and (tmp_path / "run" / "members" / "s000c00.pt").is_file()


@pytest.mark.parametrize("source,target,layer", [("k3_e6", "skip", 2), ("k3_e6", "k3_e1", 1), ("k5_e6", "k3_e6", 0)])
def test_approximate_moves_change_the_output_and_recovery_training_reduces_the_loss(source, target, layer, splits):
    names = SPACE.candidate_names
    torch.manual_seed(0)
    parent = build_network(SPACE, (names.index(source),) * SPACE.num_layers)
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.05, seed=0)
    parent_acc = train_briefly(parent, splits.weight, splits.arch, cfg).val_acc
    move = move_between(SPACE, layer, names.index(source), names.index(target))
    assert not move.exact
    child = apply_moves(parent, SPACE, [move])
    x = splits.arch.tensors[0][:64]
    with torch.no_grad():
        assert (child.eval()(x) - parent.eval()(x)).abs().max() > 1e-3
    after_move = evaluate(child, splits.arch)
    recovered = train_briefly(child, splits.weight, splits.arch, TrainConfig(epochs=1, batch_size=64, lr=0.02, seed=1))
    assert recovered.val_loss < after_move.loss
    assert parent_acc > 0.25   # trained well above chance (0.1)
