"""Deploy a search's architectures: final training, export to each format, measurement, deployment report.

For every chosen architecture (see :func:`edgenas.deploy.source.select_models`)
the output folder gets ``models/<id>/``: ``train/`` (the final-training run
folder of :mod:`edgenas.train.final`, resumable), ``model.onnx`` (always: it is what
is measured), ``model.pte`` and ``model.<precision>.engine`` when asked, and
``export.json``, the model's manifest. MobileNetV2 baselines go the same way
into ``baselines/mbv2-<width>/``. Then ``deploy.json``, ``report.md`` and
``report.png`` summarise the run.

Every file is written atomically and a format already exported for the same
weights is not redone, so a rerun resumes and an export that fails midway
(a mismatch, an op that does not export) keeps everything exported before it.

Latency is measured as the table measured its calibration networks: the whole
network exported to a static-shape ONNX model (the table's batch) and timed by
the ``onnxruntime`` profiler (:class:`profilers.onnxruntime_cpu.OnnxRuntimeCPUProfiler`) with the table's
threads and timing protocol. It is compared with the table's calibrated
prediction only when the table is an onnxruntime table: the prediction of a
table of another backend is not a prediction of onnxruntime on this CPU.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

from ..tables.cost import CostModel
from ..train.data import load_images, make_splits
from .source import Candidate, SearchSource, load_search_source, select_models
from ..errors import ConfigError
from ..fileio import atomic_write_json, check_writable
from ..profiling.measure import TimingProtocol
from ..arch.space import SearchSpace
from ..tables.table import LatencyTable
from ..progress import Progress, prefixed, quiet
from ..train.loop import TrainConfig
from ..train.ahead import TrainingJob, run_job, train_ahead
from .networks import measure_network, network_profiler
from .options import FORMATS, INITS, ExportOptions, check_formats

__all__ = ["FORMATS", "ExportOptions", "check_formats", "network_profiler", "measure_network", "deploy_models"]

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dataclass
class _Context:
    """What every model's deployment shares: options, data samples, the measuring setup."""

    opts: ExportOptions
    out: Path
    formats: List[str]
    input_shape: tuple
    sample: torch.Tensor
    calibration: np.ndarray
    threads: int
    protocol: TimingProtocol
    measured_as: str
    progress: Progress
    cost: Optional[CostModel] = None
    space: Optional[SearchSpace] = None
    cfg: TrainConfig = field(default_factory=TrainConfig)
    measure_shape: Optional[tuple] = None   # the table's batch; default: input_shape
    comparable: bool = True                 # the table is an onnxruntime table: error_pct means something
    table: Optional[LatencyTable] = None    # its reference network, when the protocol pairs timings
    profiler: Optional[object] = None       # network_profiler(threads, protocol, table), once needed
    controls: Optional[object] = None       # the table's ControlNetworks on that profiler, once needed


def _export_formats(ctx: _Context, module: torch.nn.Module, folder: Path, manifest: dict, label: str) -> None:
    """Export ``module`` to every format not yet in ``manifest`` for these weights; save after each."""
    done = manifest.setdefault("formats", {})
    path_of = {"onnx": folder / "model.onnx", "executorch": folder / "model.pte"}
    for f in ctx.formats:
        if f == "tensorrt":
            continue
        if f in done and path_of[f].is_file() and done[f].get("sha256") == _sha(path_of[f]):
            continue
        ctx.progress(f"{label} {f}", 0, 1)
        if f == "onnx":
            from .formats.onnx import export_onnx

            info = export_onnx(module, ctx.input_shape, path_of[f], sample=ctx.sample)
            info["gpu_providers"] = _gpu_provider_parity(module, path_of[f], ctx)
        else:
            from .formats.executorch import export_executorch

            info = export_executorch(module, ctx.input_shape, path_of[f], sample=ctx.sample)
        done[f] = {**info, "file": path_of[f].name, "sha256": _sha(path_of[f])}
        if f == "onnx":
            manifest.pop("measured", None)  # a new file is measured again
        atomic_write_json(folder / "export.json", manifest)
        ctx.progress(f"{label} {f}", 1, 1)
    if "tensorrt" in ctx.formats:
        from .formats.tensorrt import build_engine

        engines = done.setdefault("tensorrt", {})
        for prec in ctx.opts.trt_precisions:
            path = folder / f"model.{prec}.engine"
            if prec in engines and path.is_file():
                continue
            engines[prec] = build_engine(folder / "model.onnx", path, prec, ctx.input_shape,
                                         calibration=ctx.calibration if prec == "int8" else None)
            atomic_write_json(folder / "export.json", manifest)


def _gpu_provider_parity(module: torch.nn.Module, path: Path, ctx: _Context) -> dict:
    """Parity of the ONNX file under onnxruntime's CUDA / TensorRT execution providers, where present.

    Recorded, not enforced: GPU kernels (TF32, FP16 in TensorRT's provider) may
    legitimately differ beyond the FP32 CPU tolerance.
    """
    from .formats.onnx import onnx_parity
    from .formats.tensorrt import ort_gpu_providers

    out = {}
    for provider in ort_gpu_providers():
        try:
            parity = onnx_parity(module, path.read_bytes(), ctx.input_shape, sample=ctx.sample,
                                 providers=(provider, "CPUExecutionProvider"))
            out[provider] = [p.to_json() for p in parity]
        except Exception as e:  # a provider that is listed but cannot start (no driver) is reported, not fatal
            out[provider] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    return out


def _measure(ctx: _Context, module: torch.nn.Module, folder: Path, manifest: dict, label: str) -> None:
    """Time ``module`` as the table timed networks (and the ``.pte`` when there is one) unless done for these
    exports already; the prediction error only against an onnxruntime table."""
    onnx_sha = manifest["formats"]["onnx"]["sha256"]
    measured = manifest.get("measured") or {}
    want_pte = "executorch" in manifest["formats"]
    if measured.get("onnx_sha256") != onnx_sha or (want_pte and "executorch_ms" not in measured):
        ctx.progress(f"{label} measure", 0, 1)
        if measured.get("onnx_sha256") != onnx_sha:
            shape = ctx.measure_shape or ctx.input_shape
            if ctx.profiler is None:  # built on the first measurement: a resumed export may need none
                ctx.profiler = network_profiler(ctx.threads, ctx.protocol, ctx.table)
            timing = measure_network(module, shape, ctx.profiler, ctx.table)
            measured = {"latency_ms": timing.pop("latency_ms"), "timing": timing, "backend": ctx.measured_as,
                        "threads": ctx.threads, "input_shape": list(shape), "onnx_sha256": onnx_sha}
            if ctx.comparable and manifest.get("predicted"):  # the machine's move since the profile, right now
                measured["controls"] = _controls(ctx, shape).measure()
        if want_pte:
            from .formats.executorch import load_program, time_program

            method = load_program(str(folder / "model.pte"), threads=ctx.threads)
            measured["executorch_ms"] = time_program(method, ctx.input_shape, ctx.protocol).median_ms
            measured["executorch_threads"] = ctx.threads
        manifest["measured"] = measured
        ctx.progress(f"{label} measure", 1, 1)
    pred = (manifest.get("predicted") or {}).get("latency_ms")
    manifest["error_pct"] = ((100.0 * (pred - measured["latency_ms"]) / measured["latency_ms"])
                             if pred and ctx.comparable else None)
    atomic_write_json(folder / "export.json", manifest)


def _controls(ctx: _Context, shape: tuple):
    """The table's control networks on the measuring profiler, loaded on first use (:mod:`edgenas.deploy.controls`)."""
    from .controls import ControlNetworks

    if ctx.controls is None:
        ctx.controls = ControlNetworks(ctx.space, ctx.table, ctx.profiler, shape)
    return ctx.controls


def _candidate_job(ctx: _Context, src: SearchSource, cand: Candidate) -> TrainingJob:
    return TrainingJob(ctx.out / "models" / cand.id / "train", ctx.space, src.dataset, ctx.cfg, src.split_seed,
                       ctx.opts.threads, arch=cand.arch,
                       supernet=str(src.supernet) if ctx.opts.init == "supernet" else None)


def _baseline_job(ctx: _Context, src: SearchSource, width: float) -> TrainingJob:
    return TrainingJob(ctx.out / "baselines" / f"mbv2-{width:g}" / "train", ctx.space, src.dataset, ctx.cfg,
                       src.split_seed, ctx.opts.threads, width=width, input_shape=ctx.input_shape)


def _deploy_candidate(ctx: _Context, src: SearchSource, cand: Candidate) -> dict:
    from ..arch.model import build_network

    job = _candidate_job(ctx, src, cand)
    folder = job.folder.parent
    label = f"model {cand.id}"
    res = run_job(job, progress=prefixed(ctx.progress, label))
    model = build_network(ctx.space, ctx.space.parse(cand.arch))
    model.load_state_dict(torch.load(folder / "train" / "model.pt", map_location="cpu", weights_only=True))
    p = ctx.cost.predict(ctx.space.parse(cand.arch))
    manifest = _load_manifest(folder, _sha(folder / "train" / "model.pt"))
    manifest.update({"id": cand.id, "kind": "searched", "arch": cand.arch, "accuracy": res["test_acc"],
                     "test_images": res["test_images"], "epochs": res["epochs"], "init": ctx.opts.init,
                     "params": res["params"], "search_estimated_accuracy": cand.estimated_accuracy,
                     "predicted": {"latency_ms": float(p.latency_ms[0]), "op_sum_ms": float(p.op_sum_ms[0]),
                                   "memory_bytes": float(p.memory_bytes[0]),
                                   "param_bytes": float(p.param_bytes[0]), "flops": float(p.flops[0])}})
    _export_formats(ctx, model, folder, manifest, label)
    _measure(ctx, model, folder, manifest, label)
    return manifest


def _deploy_baseline(ctx: _Context, src: SearchSource, width: float) -> dict:
    from ..arch.baselines import mobilenet_v2

    job = _baseline_job(ctx, src, width)
    folder = job.folder.parent
    bid = folder.name
    label = f"baseline {bid}"
    res = run_job(job, progress=prefixed(ctx.progress, label))
    model = mobilenet_v2(width, ctx.input_shape, ctx.space.num_classes)
    model.load_state_dict(torch.load(folder / "train" / "model.pt", map_location="cpu", weights_only=True))
    model.eval()
    manifest = _load_manifest(folder, _sha(folder / "train" / "model.pt"))
    manifest.update({"id": bid, "kind": "baseline", "model": "MobileNetV2", "width": width,
                     "accuracy": res["test_acc"], "test_images": res["test_images"], "epochs": res["epochs"],
                     "params": res["params"], "predicted": None})
    saved = ctx.formats
    ctx.formats = [f for f in saved if f != "tensorrt"]  # baselines are compared on the CPU target only
    try:
        _export_formats(ctx, model, folder, manifest, label)
    finally:
        ctx.formats = saved
    _measure(ctx, model, folder, manifest, label)
    return manifest


def _load_manifest(folder: Path, weights: str) -> dict:
    """The model's manifest if it describes these weights; else a fresh one (old exports are redone)."""
    path = folder / "export.json"
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = None
        if isinstance(old, dict) and old.get("weights_sha256") == weights:
            return old
    return {"weights_sha256": weights}


def _context(opts: ExportOptions, src: SearchSource, progress: Progress) -> _Context:
    table = LatencyTable.load(src.table, space=src.space)
    cost = CostModel(src.space, table)
    runtime = table.header.get("runtime", {})
    comparable = table.backend == "onnxruntime"
    threads = int(runtime.get("threads", 1) or 1)
    try:
        table_protocol = TimingProtocol.from_json(table.header.get("protocol") or {})
    except (TypeError, ValueError):  # a table without a timing protocol (synthetic)
        table_protocol = None
    protocol = opts.protocol or table_protocol or TimingProtocol()
    if not comparable:  # the table's reference network and unit were measured on another backend
        protocol = replace(protocol, reference=False)
    batch = int(table.header.get("batch") or src.space.input_shape[0])
    if comparable:
        measured_as = f"onnxruntime {runtime.get('version')} CPU, {threads} thread(s), the table's protocol"
    else:  # a table of another backend: still measure the exported ONNX, but say it is not that backend
        measured_as = (f"onnxruntime CPU, {threads} thread(s) (the table's backend is {table.backend!r}: "
                       f"its predictions are not compared)")
    splits = make_splits(load_images(src.dataset), seed=src.split_seed)
    from ..train.data import check_fits_space

    check_fits_space(splits, src.space)
    sample = splits.test.tensors[0][:8]
    g = torch.Generator().manual_seed(opts.seed + 17)
    pick = torch.randperm(len(splits.weight), generator=g)[:opts.calibration_images]
    calibration = splits.weight.tensors[0][pick].numpy()
    cfg = TrainConfig(epochs=opts.epochs, batch_size=opts.batch_size, lr=opts.lr, seed=opts.seed)
    return _Context(opts, Path(opts.out), check_formats(opts.formats), tuple(src.space.input_shape), sample,
                    calibration, threads, protocol, measured_as, progress, cost, src.space, cfg,
                    (batch, *tuple(src.space.input_shape)[1:]), comparable=comparable, table=table)


def deploy_models(opts: ExportOptions, progress: Optional[Progress] = None) -> dict:
    """Train, export and measure the chosen models and baselines; write ``deploy.json`` (and the report)."""
    progress = progress or quiet
    formats = check_formats(opts.formats)
    if opts.init not in INITS:
        raise ConfigError(f"--init must be one of {', '.join(INITS)}, not {opts.init!r}")
    if opts.max_models < 1 or opts.epochs < 1:
        raise ConfigError("--max-models and --epochs must be at least 1")
    out = Path(opts.out)
    check_writable(out / "deploy.json")
    src = load_search_source(opts.run, table=opts.table)
    if opts.dataset:
        src.dataset = opts.dataset
    if not src.dataset:
        raise ConfigError(f"search run {src.path} does not say which dataset it used; pass --dataset")
    if opts.init == "supernet" and not src.supernet:
        raise ConfigError(f"search run {src.path} has no supernet to fine-tune from; use --init scratch")
    chosen = select_models(src, opts.models, opts.max_models)
    ctx = _context(opts, src, progress)
    ctx.formats = formats
    train_ahead([_candidate_job(ctx, src, c) for c in chosen] + [_baseline_job(ctx, src, w) for w in opts.baselines],
                opts.jobs, progress)
    models = []
    for i, cand in enumerate(chosen):
        progress("models", i, len(chosen))
        models.append(_deploy_candidate(ctx, src, cand))
    progress("models", len(chosen), len(chosen))
    baselines = [_deploy_baseline(ctx, src, w) for w in opts.baselines]
    summary = summarise(src, ctx, models, baselines)
    atomic_write_json(out / "deploy.json", summary)
    if opts.report:
        from .report import write_report

        write_report(summary, out)
    return summary


def summarise(src: SearchSource, ctx: _Context, models: List[dict], baselines: List[dict]) -> dict:
    """The deployment document: every model and baseline, prediction fidelity and the comparison."""
    from .report import prediction_stats, versus_baselines

    table = ctx.cost.table
    return {"format": "edgenas-deployment", "run": str(src.path), "strategy": src.strategy,
            "space": src.space.name, "table": str(src.table), "dataset": src.dataset,
            "device": table.header.get("device"), "table_backend": table.backend, "measured_as": ctx.measured_as,
            "protocol": ctx.protocol.to_json(), "formats": ctx.formats, "init": ctx.opts.init,
            "train": ctx.cfg.to_json(),
            "search_pareto": [{"id": c.id, "arch": c.arch, "estimated_accuracy": c.estimated_accuracy,
                               **c.predicted} for c in src.pareto],
            "models": models, "baselines": baselines,
            "prediction": prediction_stats(models), "versus_baselines": versus_baselines(models, baselines)}
