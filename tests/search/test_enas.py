"""ENAS: the controller and a shared supernet trained in turns on the digits data, checkpointed and resumed."""
import json

import pytest
import torch

from edgenas.arch.space import FBNET_CANDIDATES, get_space
from edgenas.arch.supernet import Supernet
from edgenas.errors import ConfigError
from edgenas.runfolder import CHECKPOINT
from edgenas.search.setup import search
from edgenas.search.strategies.enas import batch_statistics
from edgenas.train.loop import load_checkpoint

from _synthetic_table import synthetic_table

# a small space for 28x28 grey images and 10 classes (the digits data), so that a search takes seconds
DIGITS28 = {
    "input": {"channels": 1, "size": 28},
    "num_classes": 10,
    "stem": {"out_ch": 4, "kernel": 3, "stride": 2},
    "stages": {"layers": [1, 1, 1], "channels": [4, 8, 8], "strides": [1, 2, 1]},
    "head": {"mid_ch": 16},
    "candidates": {k: FBNET_CANDIDATES[k] for k in ("k3_e1", "k5_e3", "k3_e1_g2", "skip")},
}
SMALL = {"steps": 4, "warmup_steps": 1, "weight_batches": 2, "batch": 4, "batch_size": 32, "samples": 3,
         "threads": 1}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits28")
    (folder / "digits28.json").write_text(json.dumps({"name": "digits28", **DIGITS28}))
    synthetic_table(get_space(str(folder / "digits28.json")), folder / "table.json")
    return folder / "table.json"


def enas(table, out, progress=None, **config):
    return search("enas", [table], out, dataset="digits", max_latency_ms=[1.0], config={**SMALL, **config},
                  progress=progress, plot=False)


def without_timings(history):
    return [{k: v for k, v in row.items() if k != "step_s"} for row in history]


class StopAt:
    """A progress callback that stops the search, as a kill would, once ``step`` steps are done."""

    def __init__(self, step):
        self.step = step

    def __call__(self, phase, done, total, **metrics):
        if phase == "steps" and done == self.step:
            raise KeyboardInterrupt


def test_enas_trains_the_shared_supernet_and_the_controller_and_writes_a_checkpoint(table, tmp_path):
    doc = enas(table, tmp_path / "run")
    hist = doc["history"]
    assert [h["step"] for h in hist] == [1, 2, 3, 4]
    assert "reward_mean" not in hist[0] and all("reward_mean" in h for h in hist[1:])   # one warm-up step
    assert doc["front"] and doc["selected"] == doc["front"][0]["arch"]
    assert all(r["latency_ms"]["table"] <= 1.0 for r in doc["front"])
    assert doc["sources"]["supernet"] == str((tmp_path / "run").resolve())
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert state["step"] == 4 and {"supernet", "controller", "w_opt", "w_sched"} <= set(state)
    torch.manual_seed(0)   # the weights it started from
    start = Supernet(get_space(str(table.parent / "digits28.json"))).state_dict()
    trained = [k for k, v in state["supernet"].items() if v.dtype.is_floating_point and not torch.equal(v, start[k])]
    assert len(trained) > 10   # the search trained the shared weights
    policy = state["controller"]["policy"]
    assert state["controller"]["baseline"] is not None and len(policy) > 0


@pytest.mark.parametrize("every, stop", [(1, 2), (2, 3)])
def test_a_killed_enas_run_resumes_from_its_checkpoint_to_the_uninterrupted_result(table, tmp_path, every, stop):
    whole = enas(table, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        enas(table, tmp_path / "cut", progress=StopAt(stop), checkpoint_every=every)
    assert load_checkpoint(tmp_path / "cut" / CHECKPOINT)["step"] == stop - (stop % every)
    resumed = enas(table, tmp_path / "cut", checkpoint_every=every)
    assert resumed["front"] == whole["front"] and resumed["selected"] == whole["selected"]
    assert without_timings(resumed["history"]) == without_timings(whole["history"])


def test_batch_statistics_leave_the_running_statistics_alone():
    bn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    bn.eval()
    before = {k: v.clone() for k, v in bn[1].state_dict().items() if k != "num_batches_tracked"}
    x = torch.randn(8, 1, 4, 4) * 3 + 5
    with batch_statistics(bn):
        y = bn(x)
    assert abs(float(y.detach().mean())) < 1e-3   # normalised with the batch's own mean (bias 0)
    assert not bn.training and all(torch.equal(before[k], bn[1].state_dict()[k]) for k in before)
    assert bn[1].momentum == 0.1


@pytest.mark.parametrize("bad, match", [
    ({"warmup_steps": 4}, "warmup_steps must be in"),
    ({"w": 1.0}, "w must be <= 0"),
    ({"samples": 0}, "samples must be >= 1"),
])
def test_bad_enas_settings_are_refused_before_anything_is_written(table, tmp_path, bad, match):
    with pytest.raises(ConfigError, match=match):
        enas(table, tmp_path / "run", **bad)
    assert not (tmp_path / "run").exists()


def test_enas_takes_no_estimator(table, tmp_path):
    with pytest.raises(ConfigError, match="estimates accuracy itself"):
        search("enas", [table], tmp_path / "run", dataset="digits", estimator="oracle", config=SMALL, plot=False)
