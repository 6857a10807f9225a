"""Scale-out: the DNAS search under torchrun with 2 gloo processes completes and agrees with one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgenas.arch.space import get_space
from edgenas.train.loop import epoch_batches

from _synthetic_table import synthetic_table

ROOT = Path(__file__).resolve().parents[2]
# A large β makes θ's update depend mostly on the latency term, so that θ can be compared after a few steps
# (at initialisation the CE gradient of θ is tiny and its sign is noise that BatchNorm differences flip).
ARGS = ["search", "dnas", "--dataset", "digits", "--epochs", "2", "--warmup-epochs", "1",
        "--batch-size", "32", "--max-batches", "3", "--threads", "1", "--quiet", "--beta", "20"]


def test_shards_of_the_processes_make_up_the_single_process_batches():
    ds = torch.utils.data.TensorDataset(torch.arange(50.0)[:, None], torch.arange(50))
    single = [y.tolist() for _, y in epoch_batches(ds, 8, seed=1, epoch=3)]
    shards = [[y.tolist() for _, y in epoch_batches(ds, 8, seed=1, epoch=3, rank=r, world=2)] for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == len(single)
    for whole, a, b in zip(single, *shards):
        assert sorted(a + b) == sorted(whole) and not set(a) & set(b)
    assert single != [y.tolist() for _, y in epoch_batches(ds, 8, seed=1, epoch=4)]


@pytest.mark.slow
def test_torchrun_two_processes_complete_and_agree_with_one(tmp_path):
    table = tmp_path / "table.json"
    synthetic_table(get_space("fbnet-small"), table)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    common = ARGS + ["--table", str(table)]
    one = subprocess.run([sys.executable, str(ROOT / "cli.py"), *common, "--out", str(tmp_path / "one")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(ROOT / "cli.py"), *common, "--out", str(tmp_path / "two")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    r1 = json.loads((tmp_path / "one" / "dnas.json").read_text())
    r2 = json.loads((tmp_path / "two" / "dnas.json").read_text())
    h1 = json.loads((tmp_path / "one" / "history.json").read_text())
    h2 = json.loads((tmp_path / "two" / "history.json").read_text())
    assert r2["processes"] == 2 and r1["processes"] == 1 and len(h2) == 2
    # The two processes held identical θ and weights at the end (θ's gradient is averaged, DDP syncs weights).
    assert r2["process_spread"] == {"theta": 0.0, "weights": 0.0}
    # Same data, same Gumbel samples, gradients averaged over the processes: the runs differ only through
    # BatchNorm statistics (per process on half of each batch) and float summation order.
    for a, b in zip(h1, h2):
        assert b["weight_loss"] == pytest.approx(a["weight_loss"], rel=0.05)
    assert h2[-1]["arch_loss"] == pytest.approx(h1[-1]["arch_loss"], rel=0.05)
    t1, t2 = torch.tensor(r1["theta"]), torch.tensor(r2["theta"])
    moved = t1.abs().max()
    assert moved > 0.05  # θ did learn, so the comparison means something
    diff = (t1 - t2).abs()
    assert diff.median() <= 0.1 * moved
    assert torch.sign(t1).eq(torch.sign(t2)).float().mean() >= 0.9
