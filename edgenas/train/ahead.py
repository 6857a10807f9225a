"""Train the models of a deployment several at a time, before anything of it is measured.

``edgenas export`` trains each chosen model and baseline, then exports and measures it. On one thread per
training (robust on a shared machine) a 2-core host leaves a core idle for most of that time. With
``jobs`` > 1 the trainings run first, ``jobs`` at a time in worker processes of one thread each; the
per-model steps that follow find each training finished in its run folder (its checkpoint and
``result.json``) and go straight to export and measurement, which so run with the other cores idle.
A training in a worker is the same as one at a time in a fresh process (same seed, data order and thread
count; a test checks the weights bit for bit).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import List, Optional, Tuple

from ..arch.space import SearchSpace
from ..progress import Progress, quiet
from .loop import TrainConfig
from .workers import TaskPool


@dataclass(frozen=True)
class TrainingJob:
    """One training of a deployment: a searched architecture (``arch``) or a MobileNetV2 (``width``)."""

    folder: Path                      # the run folder: checkpoint.pt, model.pt, result.json
    space: SearchSpace
    dataset: str
    cfg: TrainConfig
    split_seed: int
    threads: Optional[int]
    arch: Optional[str] = None
    width: Optional[float] = None
    supernet: Optional[str] = None    # fine-tune from this supernet's weights (searched models only)
    weights: Optional[str] = None     # ... or from this checkpoint's trained network (a morphism search's member)
    input_shape: Tuple[int, ...] = ()

    @property
    def done(self) -> bool:
        return (self.folder / "result.json").is_file()


def run_job(job: TrainingJob, progress: Progress = quiet) -> dict:
    """Train ``job`` (resuming its run folder); return its ``result.json``. ``progress`` hears phase ``"train"``."""
    import torch

    from .final import train_architecture, train_network

    if job.arch is not None:
        return train_architecture(job.arch, job.folder, space=job.space, dataset=job.dataset, cfg=job.cfg,
                                  split_seed=job.split_seed, threads=job.threads, supernet=job.supernet,
                                  weights=job.weights,
                                  progress=progress)
    from ..arch.baselines import mobilenet_v2

    torch.manual_seed(job.cfg.seed)
    model = mobilenet_v2(job.width, job.input_shape, job.space.num_classes)
    return train_network(model, job.folder, {"model": "mobilenetv2", "width": job.width}, dataset=job.dataset,
                         cfg=job.cfg, split_seed=job.split_seed, threads=job.threads, progress=progress)


def train_ahead(jobs: List[TrainingJob], workers: int, progress: Progress = quiet) -> None:
    """Run the unfinished ``jobs`` in ``workers`` processes (spawned: no torch state is forked). A failed
    training raises its error here; the others keep what they finished (each resumes from its folder)."""
    todo = [j for j in jobs if not j.done]
    if workers < 2 or len(todo) < 2:
        return
    progress("train ahead", 0, len(todo))
    # one torch thread per worker unless the job asks for more: workers beside each other must not
    # oversubscribe the cores; a killed export leaves no worker behind (TaskPool's lifeline)
    with TaskPool(min(workers, len(todo))) as pool:
        for i, _ in enumerate(pool.map(run_job, [(replace(j, threads=j.threads or 1),) for j in todo]), start=1):
            progress("train ahead", i, len(todo))
