"""Deploy one model: train it (resumably), export it to each format, measure it, keep its manifest.

Each model's folder (``models/<id>/`` or ``baselines/mbv2-<width>/``) holds ``train/`` (the final-training run
folder of :mod:`edgenas.train.final`), the exported files and ``export.json``, the manifest. The manifest is
saved after every step and describes one set of weights; a format whose file is still current and a
measurement by the same table are not redone, so a rerun resumes and a failure keeps what came before it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import torch

from ..arch.space import SearchSpace
from ..errors import RunError
from ..fileio import atomic_write_json
from ..progress import Progress, prefixed
from ..runfolder import read_json
from ..tables.cost import CostModel
from ..train.ahead import TrainingJob, run_job
from ..train.loop import TrainConfig
from .formats.base import ExportFormat, ExportInputs, file_sha
from .formats.registry import get_format
from .measure import TableMeasurer
from .options import ExportOptions
from .source import Candidate, SearchSource

__all__ = ["Deployment", "candidate_job", "baseline_job", "deploy_candidate", "deploy_baseline"]


@dataclass(frozen=True)
class Deployment:
    """What every model's deployment shares: the options, the search, the table's cost model and measurer."""

    opts: ExportOptions
    src: SearchSource
    cost: CostModel
    formats: List[ExportFormat]
    inputs: ExportInputs
    measurer: TableMeasurer
    cfg: TrainConfig
    progress: Progress

    @property
    def out(self) -> Path:
        return Path(self.opts.out)

    @property
    def space(self) -> SearchSpace:
        return self.src.space

    @property
    def train_threads(self) -> Optional[int]:
        """Torch threads of every training: with ``jobs`` > 1 one, as in a worker, also for a training left to
        this process (a resumed export with one training to go), since the thread count changes the floats."""
        return self.opts.threads or (1 if self.opts.jobs > 1 else None)


def candidate_job(d: Deployment, cand: Candidate) -> TrainingJob:
    return TrainingJob(d.out / "models" / cand.id / "train", d.space, d.src.dataset, d.cfg, d.src.split_seed,
                       d.train_threads, arch=cand.arch,
                       supernet=str(d.src.supernet) if d.opts.init == "supernet" else None,
                       weights=d.src.weights[cand.arch] if d.opts.init == "inherited" else None)


def baseline_job(d: Deployment, width: float) -> TrainingJob:
    return TrainingJob(d.out / "baselines" / f"mbv2-{width:g}" / "train", d.space, d.src.dataset, d.cfg,
                       d.src.split_seed, d.train_threads, width=width, input_shape=d.inputs.input_shape)


def _train(d: Deployment, job: TrainingJob, label: str, module: torch.nn.Module):
    """Train (or find trained) ``job``; return its result, ``module`` with the trained weights, and the manifest."""
    res = run_job(job, progress=prefixed(d.progress, label))
    weights = job.folder / "model.pt"
    module.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return res, module.eval(), _load_manifest(job.folder.parent, file_sha(weights))


def deploy_candidate(d: Deployment, cand: Candidate) -> dict:
    from ..arch.model import build_network

    job = candidate_job(d, cand)
    arch = d.space.parse(cand.arch)
    label = f"model {cand.id}"
    res, model, manifest = _train(d, job, label, build_network(d.space, arch))
    p = d.cost.predict(arch)
    manifest.update({"id": cand.id, "kind": "searched", "arch": cand.arch, "accuracy": res["test_acc"],
                     "test_images": res["test_images"], "epochs": res["epochs"], "init": d.opts.init,
                     "params": res["params"], "search_estimated_accuracy": cand.estimated_accuracy,
                     "predicted": {"latency_ms": float(p.latency_ms[0]), "op_sum_ms": float(p.op_sum_ms[0]),
                                   "memory_bytes": float(p.memory_bytes[0]),
                                   "param_bytes": float(p.param_bytes[0]), "flops": float(p.flops[0])}})
    _export(d, model, job.folder.parent, manifest, label, d.formats)
    _measure(d, model, job.folder.parent, manifest, label)
    return manifest


def deploy_baseline(d: Deployment, width: float) -> dict:
    from ..arch.baselines import mobilenet_v2

    job = baseline_job(d, width)
    folder = job.folder.parent
    label = f"baseline {folder.name}"
    res, model, manifest = _train(d, job, label, mobilenet_v2(width, d.inputs.input_shape, d.space.num_classes))
    manifest.update({"id": folder.name, "kind": "baseline", "model": "MobileNetV2", "width": width,
                     "accuracy": res["test_acc"], "test_images": res["test_images"], "epochs": res["epochs"],
                     "params": res["params"], "predicted": None})
    _export(d, model, folder, manifest, label, [f for f in d.formats if f.for_baselines])
    _measure(d, model, folder, manifest, label)
    return manifest


def _export(d: Deployment, module: torch.nn.Module, folder: Path, manifest: dict, label: str,
            formats: List[ExportFormat]) -> None:
    """Export ``module`` to every format whose manifest entry is not current; save the manifest after each."""
    done = manifest.setdefault("formats", {})
    for f in formats:
        if f.current(folder, done.get(f.name), d.inputs):
            continue
        d.progress(f"{label} {f.name}", 0, 1)
        done[f.name] = f.export(module, folder, d.inputs, previous=done.get(f.name))
        atomic_write_json(folder / "export.json", manifest)
        d.progress(f"{label} {f.name}", 1, 1)


def _measure(d: Deployment, module: torch.nn.Module, folder: Path, manifest: dict, label: str) -> None:
    """Measure ``module`` with the table's profiler unless these weights were measured by the same table; the
    control networks beside the searched models (their prediction is what the controls adjust)."""
    measured = manifest.get("measured") or {}
    key = d.measurer.key
    if measured.get("latency_ms") is None or any(measured.get(k) != v for k, v in key.items()):
        d.progress(f"{label} measure", 0, 1)
        measured = d.measurer.measure(module, controls=bool(manifest.get("predicted")))
        d.progress(f"{label} measure", 1, 1)
    pte = get_format("executorch")
    if pte.name in manifest["formats"] and not pte.not_timed(d.measurer.table.backend):
        measured["executorch_ms"] = measured["latency_ms"]  # the table's backend ran the .pte (its own column)
    manifest["measured"] = measured
    pred, ms = (manifest.get("predicted") or {}).get("latency_ms"), measured["latency_ms"]
    manifest["error_pct"] = 100.0 * (pred - ms) / ms if pred and ms else None
    atomic_write_json(folder / "export.json", manifest)


def _load_manifest(folder: Path, weights: str) -> dict:
    """The model's manifest if it describes these weights; else a fresh one (old exports are redone)."""
    try:
        old = read_json(folder / "export.json")
    except RunError:  # a corrupt manifest: everything of this model is exported again
        old = None
    if old is not None and old.get("weights_sha256") == weights:
        return old
    return {"weights_sha256": weights}
