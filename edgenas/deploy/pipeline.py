"""Deploy a search's architectures: final training, export to each format, measurement, deployment report.

For every chosen architecture (see :func:`edgenas.deploy.source.select_models`) the output folder gets
``models/<id>/`` (:mod:`edgenas.deploy.models`): ``train/``, ``model.onnx`` (always), ``model.pte`` and
``model.<precision>.engine`` when asked (:mod:`edgenas.deploy.formats.registry`), and ``export.json``.
MobileNetV2 baselines go the same way into ``baselines/mbv2-<width>/``. Then ``deploy.json``, ``report.md``
and ``report.png`` summarise the run.

The latency table is loaded once, here, and every model is measured by the table's own profiler
(:mod:`edgenas.deploy.measure`), so each measurement is comparable with the table's prediction.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import torch

from ..errors import ConfigError
from ..fileio import atomic_write_json, check_writable
from ..progress import Progress, quiet
from ..tables.cost import CostModel
from ..tables.table import LatencyTable
from ..train.ahead import train_ahead
from ..train.data import check_fits_space, load_images, make_splits
from ..train.loop import TrainConfig
from .formats.base import ExportInputs
from .formats.registry import check_formats
from .measure import TableMeasurer
from .models import Deployment, baseline_job, candidate_job, deploy_baseline, deploy_candidate
from .options import INITS, ExportOptions
from .source import Candidate, SearchSource, load_search_source, select_models

__all__ = ["ExportOptions", "deploy_models", "summarise"]

def _export_inputs(opts: ExportOptions, src: SearchSource) -> ExportInputs:
    """The input shape, test images to compare outputs on, and calibration images from the weight split."""
    splits = make_splits(load_images(src.dataset), seed=src.split_seed)
    check_fits_space(splits, src.space)
    g = torch.Generator().manual_seed(opts.seed + 17)
    pick = torch.randperm(len(splits.weight), generator=g)[:opts.calibration_images]
    return ExportInputs(tuple(src.space.input_shape), splits.test.tensors[0][:8],
                        splits.weight.tensors[0][pick].numpy(), tuple(opts.trt_precisions))


def _check(opts: ExportOptions) -> None:
    if opts.init not in INITS:
        raise ConfigError(f"init must be one of {', '.join(INITS)}, not {opts.init!r}")
    if opts.max_models < 1 or opts.epochs < 1:
        raise ConfigError("max_models and epochs must be at least 1")


def _check_inherited(src: SearchSource, chosen: List[Candidate]) -> None:
    """Every chosen architecture has a trained network in the search run, whole and of this architecture."""
    from ..search.members import check_member

    for cand in chosen:
        if cand.arch not in src.weights:
            raise ConfigError(f"search run {src.path} trained no network {cand.arch}: only the architectures it "
                              f"trained can keep their weights; pick a Pareto index (models 0) or init 'scratch'")
        check_member(src.weights[cand.arch], src.space, cand.arch)


def deploy_models(opts: ExportOptions, progress: Optional[Progress] = None) -> dict:
    """Train, export and measure the chosen models and baselines; write ``deploy.json`` (and the report)."""
    progress = progress or quiet
    formats = check_formats(opts.formats)
    _check(opts)
    out = Path(opts.out)
    check_writable(out / "deploy.json")
    src = load_search_source(opts.run, table=opts.table)
    if opts.dataset:
        src.dataset = opts.dataset
    if not src.dataset:
        raise ConfigError(f"search run {src.path} does not say which dataset it used; name the dataset")
    if opts.init == "inherited" and not src.weights:
        raise ConfigError(f"search run {src.path} ({src.strategy}) keeps no trained weights of its architectures "
                          f"(nash and lemonade do); train from scratch (init 'scratch')")
    if opts.init == "supernet" and not src.supernet:
        raise ConfigError(f"search run {src.path} has no supernet to fine-tune from; train from scratch (init 'scratch')")
    chosen = select_models(src, opts.models, opts.max_models)
    if opts.init == "inherited":
        _check_inherited(src, chosen)
    table = LatencyTable.load(src.table, space=src.space)  # the one load of the table in this command
    batch = int(table.header.get("batch") or src.space.input_shape[0])
    d = Deployment(opts, src, CostModel(src.space, table), formats, _export_inputs(opts, src),
                   TableMeasurer(table, (batch, *src.space.input_shape[1:]), opts.protocol),
                   TrainConfig(epochs=opts.epochs, batch_size=opts.batch_size, lr=opts.lr, seed=opts.seed), progress)
    train_ahead([candidate_job(d, c) for c in chosen] + [baseline_job(d, w) for w in opts.baselines],
                opts.jobs, progress)
    models = []
    for i, cand in enumerate(chosen):
        progress("models", i, len(chosen))
        models.append(deploy_candidate(d, cand))
    progress("models", len(chosen), len(chosen))
    baselines = [deploy_baseline(d, w) for w in opts.baselines]
    summary = summarise(d, models, baselines)
    atomic_write_json(out / "deploy.json", summary)
    if opts.report:
        from .report import write_report

        write_report(summary, out)
    return summary


def summarise(d: Deployment, models: List[dict], baselines: List[dict]) -> dict:
    """The deployment document: every model and baseline, prediction fidelity and the comparison."""
    from .report import prediction_stats, versus_baselines

    src, table = d.src, d.measurer.table
    return {"format": "edgenas-deployment", "run": str(src.path), "strategy": src.strategy,
            "space": src.space.name, "table": str(src.table), "dataset": src.dataset,
            "device": table.header.get("device"), "table_backend": table.backend,
            "measured_as": d.measurer.describe(), "not_measured": d.measurer.failure,
            "formats_not_timed": {f.name: why for f in d.formats if (why := f.not_timed(table.backend))},
            "protocol": d.measurer.protocol.to_json(), "formats": [f.name for f in d.formats], "init": d.opts.init,
            "train": d.cfg.to_json(),
            "search_pareto": [{"id": c.id, "arch": c.arch, "estimated_accuracy": c.estimated_accuracy,
                               **c.predicted} for c in src.pareto],
            "models": models, "baselines": baselines,
            "prediction": prediction_stats(models), "versus_baselines": versus_baselines(models, baselines)}
