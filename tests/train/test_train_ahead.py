"""Trainings run ahead in worker processes give what the same trainings give in this process."""
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

from edgenas.arch.space import get_space
from edgenas.train.loop import TrainConfig
from edgenas.train.ahead import TrainingJob, run_job, train_ahead

SPACE = get_space("fbnet-small")
CFG = TrainConfig(epochs=1, batch_size=256, lr=0.05, seed=3)


def _jobs(root):
    common = dict(space=SPACE, dataset="digits", cfg=CFG, split_seed=0, threads=1)
    return [TrainingJob(root / "arch", arch="skip-k3_e1-skip-skip-skip-skip-skip-skip", **common),
            TrainingJob(root / "mbv2", width=0.25, input_shape=SPACE.input_shape, **common)]


def _fresh_process(job):
    """``run_job(job)`` in a process of its own: a long test session's process may have changed
    floating-point state (its results then differ in the last bits), a user's command has not."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run_job, job).result()


def test_workers_train_exactly_as_one_training_at_a_time(tmp_path):
    seen = []
    train_ahead(_jobs(tmp_path / "ahead"), workers=2, progress=lambda *a: seen.append(a))
    assert seen[0] == ("train ahead", 0, 2) and seen[-1] == ("train ahead", 2, 2)
    for ahead, alone in zip(_jobs(tmp_path / "ahead"), _jobs(tmp_path / "alone")):
        assert ahead.done
        done = json.loads((ahead.folder / "result.json").read_text())
        heard = []
        again = run_job(ahead, progress=lambda *a, **m: heard.append(a))  # finds the training finished
        assert heard == [("train", 1, 1)]  # nothing is trained twice, and its bar ends at its total
        assert again["history"] == done["history"]
        assert _fresh_process(alone)["history"] == again["history"]
        a, b = (torch.load(j.folder / "model.pt", weights_only=True) for j in (ahead, alone))
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_nothing_runs_ahead_with_one_worker_or_nothing_left(tmp_path):
    jobs = _jobs(tmp_path)
    train_ahead(jobs, workers=1, progress=pytest.fail)
    train_ahead(jobs[:1], workers=2, progress=pytest.fail)
    assert not any(j.done for j in jobs)


def test_a_resumed_export_trains_what_is_left_on_a_workers_thread_count():
    """A killed ``export --jobs 2`` may leave one training: it then runs in this process (nothing to run ahead),
    and must use the one thread a worker would have, or its floats (and weights) differ from the uninterrupted
    run's (found by benchmarks/sigkill_campaign.py)."""
    from types import SimpleNamespace

    from edgenas.deploy.models import Deployment

    def threads(jobs, asked=None):
        return Deployment.train_threads.fget(SimpleNamespace(opts=SimpleNamespace(jobs=jobs, threads=asked)))

    assert threads(jobs=2) == 1 and threads(jobs=4) == 1
    assert threads(jobs=1) is None          # one at a time: torch's own thread count, as before
    assert threads(jobs=2, asked=3) == 3    # --threads wins
