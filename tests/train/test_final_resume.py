"""A final training interrupted after an epoch and resumed ends with the weights of the uninterrupted one."""
import json

import pytest
import torch

from edgenas.train.final import train_architecture
from edgenas.train.loop import TrainConfig

ARCH = "k3_e1-skip-skip-k3_e1_g2-skip-skip-skip-skip"
CFG = TrainConfig(epochs=3, batch_size=128, lr=0.05, seed=5)


class Killed(Exception):
    """Stands for a kill: raised from the progress callback right after epoch ``k``'s checkpoint is written."""


def _kill_after(k):
    def progress(phase, done, total, **metrics):
        if phase == "train" and done == k and metrics:  # ``metrics``: an epoch just finished here
            raise Killed
    return progress


def test_a_resumed_final_training_is_the_uninterrupted_one_bit_for_bit(tmp_path):
    whole = train_architecture(ARCH, tmp_path / "whole", dataset="digits", cfg=CFG, threads=1)
    with pytest.raises(Killed):
        train_architecture(ARCH, tmp_path / "resumed", dataset="digits", cfg=CFG, threads=1, progress=_kill_after(1))
    assert not (tmp_path / "resumed" / "result.json").exists()
    resumed = train_architecture(ARCH, tmp_path / "resumed", dataset="digits", cfg=CFG, threads=1)
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in whole["history"]]
    a, b = (torch.load(tmp_path / run / "model.pt", weights_only=True) for run in ("whole", "resumed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "resumed" / "result.json").read_text())["test_acc"] == whole["test_acc"]
