"""Exporters: ONNX parity on two batch sizes, ExecuTorch parity in its runtime, TensorRT, baselines, report."""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from edgenas.arch.baselines import DEFAULT_WIDTHS, mobilenet_v2
from edgenas.deploy.report import format_markdown, prediction_stats, versus_baselines, write_report
from edgenas.deploy.source import Candidate, SearchSource, select_models
from edgenas.errors import ArchitectureError, BackendUnavailableError, ExportError
from edgenas.deploy.formats.onnx import ATOL, RTOL, compare, export_onnx
from edgenas.arch.model import build_network

from export_helpers import SPACE, DiffersInExport, Unexportable

ARCH = "k3_e3-k5_e1_g2-k3_e6-skip-k5_e6-k3_e1_g2-k5_e3-k3_e1"


def trained_like(arch=ARCH, seed=0):
    """A network with non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    net = build_network(SPACE, SPACE.parse(arch))
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, 1, 28, 28))
    return net.eval()


def test_onnx_export_checks_and_matches_pytorch_on_two_batch_sizes(tmp_path):
    net = trained_like()
    info = export_onnx(net, SPACE.input_shape, tmp_path / "m.onnx")
    assert [p["batch_size"] for p in info["parity"]] == [1, 4] and all(p["ok"] for p in info["parity"])
    assert all(p["max_abs_diff"] <= ATOL + RTOL * 50 for p in info["parity"])
    model = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == info["opset"] == 17
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # the file also runs at a batch size the export never saw
    from profilers.onnxruntime_cpu import ort_session

    sess = ort_session((tmp_path / "m.onnx").read_bytes(), 1)
    x = torch.randn(7, 1, 28, 28)
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    assert compare(got, net(x).detach().numpy(), 7).ok


def test_onnx_mismatch_stops_and_names_the_layer(tmp_path):
    net = trained_like()
    net.layers[4] = DiffersInExport()
    with pytest.raises(ExportError, match=r"batch size 1.*first disagreeing layer: layers\.4 \(DiffersInExport\)"):
        export_onnx(net, SPACE.input_shape, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_unexportable_op_names_op_and_layer(tmp_path):
    net = trained_like()
    net.layers[5] = Unexportable(net.layers[5])
    with pytest.raises(ExportError, match=r"op aten::i0 in layer layers\.5 \(Unexportable\)"):
        export_onnx(net, SPACE.input_shape, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_failed_export_keeps_the_previous_file(tmp_path):
    path = tmp_path / "m.onnx"
    export_onnx(trained_like(), SPACE.input_shape, path)
    before = path.read_bytes()
    bad = trained_like()
    bad.layers[0] = DiffersInExport()
    with pytest.raises(ExportError):
        export_onnx(bad, SPACE.input_shape, path)
    assert path.read_bytes() == before


def test_compare_uses_rtol_and_atol():
    want = np.array([1.0, 100.0])
    assert compare(want * (1 + 0.9 * RTOL), want, 1).ok
    p = compare(want + [0, 1.0], want, 1)
    assert not p.ok and p.worst_index == (1,) and p.got == 101.0


@pytest.mark.slow  # about 15 s: importing ExecuTorch and lowering to XNNPACK
def test_executorch_pte_matches_pytorch_in_the_runtime(tmp_path):
    pytest.importorskip("executorch", reason="ExecuTorch is not installed: pip install executorch (the test extra installs it)")
    from edgenas.deploy.formats.executorch import export_executorch, load_program

    net = trained_like()
    info = export_executorch(net, SPACE.input_shape, tmp_path / "m.pte")
    assert info["delegated_calls"] >= 1 and all(p["ok"] for p in info["parity"])
    method = load_program(str(tmp_path / "m.pte"))
    x = torch.randn(1, 1, 28, 28)
    assert compare(method.execute([x])[0].numpy(), net(x).detach().numpy(), 1).ok


def _tensorrt_missing():
    try:
        from edgenas.deploy.formats.tensorrt import tensorrt_available

        tensorrt_available()
        return None
    except BackendUnavailableError as e:
        return str(e)


TRT_MISSING = _tensorrt_missing()


@pytest.mark.skipif(TRT_MISSING is None, reason="TensorRT is present here")
def test_tensorrt_absent_says_what_to_install():
    assert "pip install 'tensorrt>=10,<11'" in TRT_MISSING or "no CUDA GPU" in TRT_MISSING


@pytest.mark.tensorrt
@pytest.mark.skipif(TRT_MISSING is not None, reason=f"TensorRT unavailable: {TRT_MISSING}")
def test_tensorrt_engines_build_run_and_refuse_foreign_stamps(tmp_path):
    from edgenas.deploy.formats.tensorrt import build_engine, load_engine, run_engine

    net = trained_like()
    export_onnx(net, SPACE.input_shape, tmp_path / "m.onnx")
    calib = torch.randn(64, 1, 28, 28).numpy()
    x = torch.randn(2, 1, 28, 28)
    want = net(x).detach().numpy()
    for prec, tol in (("fp32", 1e-3), ("fp16", 5e-2), ("int8", 0.5)):
        engine_path = tmp_path / f"m.{prec}.engine"
        stamp = build_engine(tmp_path / "m.onnx", engine_path, prec, SPACE.input_shape,
                             calibration=calib if prec == "int8" else None)
        assert stamp["precision"] == prec and stamp["gpu"] and stamp["compute_capability"]
        got = run_engine(load_engine(engine_path), x.numpy())
        assert np.abs(got - want).max() <= tol * max(1.0, np.abs(want).max())
    stamp_path = tmp_path / "m.fp32.engine.json"
    s = json.loads(stamp_path.read_text())
    s["compute_capability"] = "1.0"
    stamp_path.write_text(json.dumps(s))
    with pytest.raises(ExportError, match="built for another machine"):
        load_engine(tmp_path / "m.fp32.engine")


@pytest.mark.parametrize("width", DEFAULT_WIDTHS)
def test_mobilenetv2_baseline_shapes_and_export(tmp_path, width):
    net = mobilenet_v2(width).eval()
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert net.blocks[-1].body[-1][0].out_channels % 8 == 0
    if width == 0.25:
        info = export_onnx(net, (1, 1, 28, 28), tmp_path / "b.onnx")
        assert all(p["ok"] for p in info["parity"])


def _source(n):
    pareto = [Candidate(f"p{i}", SPACE.format(a), 0.9, {"latency_ms": float(i)})
              for i, a in enumerate(SPACE.sample(n, seed=1))]
    return SearchSource(path="run", strategy="nsga2", space=SPACE, table="t.json", supernet=None, dataset="digits",
                        split_seed=0, pareto=pareto)


def test_select_models_caps_spreads_and_resolves_ids():
    src = _source(9)
    picked = select_models(src, ["pareto"], max_models=3)
    assert [c.id for c in picked] == ["p0", "p4", "p8"]
    assert [c.id for c in select_models(src, ["2", "2", "7"])] == ["p2", "p7"]
    assert [c.id for c in select_models(src, ["1,3"])] == ["p1", "p3"]
    other = select_models(src, [ARCH])[0]
    assert other.arch == ARCH and other.id.startswith("a")
    with pytest.raises(ArchitectureError, match="out of range"):
        select_models(src, ["12"])
    with pytest.raises(ArchitectureError):
        select_models(src, ["k3_e1-nope"])


def test_deployed_models_are_measured_like_the_tables_networks(monkeypatch, tmp_path):
    """A static-shape ONNX model of the table's batch, timed by the table's onnxruntime profiler with its settings."""
    from edgenas.profiling.network import measure_network, network_profiler
    from edgenas.profiling.measure import TimingProtocol
    from edgenas.tables.table import LatencyTable
    from profilers.onnxruntime_cpu import OnnxRuntimeCPUProfiler

    from _synthetic_table import synthetic_table
    from export_helpers import relabelled

    synthetic_table(SPACE, tmp_path / "t.json")
    table = LatencyTable.load(relabelled(tmp_path / "t.json", "onnxruntime", tmp_path / "ort.json"))
    fast = TimingProtocol(warmup_runs=1, warmup_s=0.0, min_runs=3, min_time_s=0.0, max_runs=10, max_time_s=0.2,
                          max_spread=10.0, retries=0)
    seen = {}
    real = OnnxRuntimeCPUProfiler.load

    def spy(self, artifact, shape):
        dims = onnx.load_from_string(artifact).graph.input[0].type.tensor_type.shape.dim
        seen.update(threads=self.threads, protocol=self.protocol, shape=tuple(shape),
                    dims=[d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims])
        return real(self, artifact, shape)

    monkeypatch.setattr(OnnxRuntimeCPUProfiler, "load", spy)
    timing = measure_network(trained_like(), (2, 1, 28, 28), network_profiler(table, fast), table)
    assert seen == {"threads": 1, "protocol": fast, "shape": (2, 1, 28, 28), "dims": [2, 1, 28, 28]}
    assert timing["median_ms"] > 0 and timing["latency_ms"] == timing["median_ms"]  # unpaired: as measured


def test_select_models_keeps_the_dnas_selected_architecture_first():
    src = _source(9)
    src.selected = "p3"  # in the middle of the front: a spread by latency alone would drop it
    assert [c.id for c in select_models(src, ["pareto"], max_models=3)] == ["p3", "p0", "p8"]
    assert [c.id for c in select_models(src, ["pareto"], max_models=1)] == ["p3"]


def _model(mid, acc, pred, meas):
    return {"id": mid, "kind": "searched", "arch": ARCH, "accuracy": acc, "predicted": {"latency_ms": pred,
            "memory_bytes": 2048.0}, "measured": {"latency_ms": meas, "executorch_ms": meas * 1.5},
            "error_pct": 100 * (pred - meas) / meas,
            "formats": {"onnx": {"parity": [{"max_abs_diff": 1e-6}, {"max_abs_diff": 2e-6}]}}}


def _baseline(width, acc, meas):
    return {"id": f"mbv2-{width:g}", "kind": "baseline", "width": width, "accuracy": acc, "params": 1000,
            "measured": {"latency_ms": meas}, "predicted": None}


def test_report_statistics_and_files(tmp_path):
    models = [_model("p0", 0.90, 0.10, 0.105), _model("p1", 0.95, 0.20, 0.25), _model("p2", 0.97, 0.30, 0.29)]
    baselines = [_baseline(0.25, 0.94, 0.8), _baseline(0.5, 0.99, 1.5)]
    st = prediction_stats(models)
    assert st["n"] == 3 and st["within_10pct"] == pytest.approx(2 / 3)
    vs = versus_baselines(models, baselines)
    assert vs[0]["match"] == "p1" and vs[0]["speedup"] == pytest.approx(0.8 / 0.25) and vs[0]["dominated"]
    assert vs[1]["match"] is None and not vs[1]["dominated"]
    doc = {"run": "runs/x", "strategy": "nsga2", "space": "fbnet-small", "dataset": "digits", "table": "t.json",
           "table_backend": "onnxruntime", "device": {"cpu": "test cpu", "cores": 2}, "measured_as": "ort",
           "train": {"epochs": 1, "batch_size": 128, "lr": 0.05}, "init": "scratch", "formats": ["onnx"],
           "search_pareto": [{"id": "p0", "arch": ARCH, "estimated_accuracy": 0.9, "latency_ms": 0.1}],
           "models": models, "baselines": baselines, "prediction": st, "versus_baselines": vs}
    write_report(doc, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| p1 | 95.00 % | 0.2000 |" in md and "3.20x" in md and "dominate 1 of 2" in md
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert format_markdown(doc, None).count("![") == 0


def test_dnas_run_folder_is_read(tmp_path):
    from edgenas.deploy.source import load_search_source

    from _synthetic_table import synthetic_table

    synthetic_table(SPACE, tmp_path / "t.json")
    run = tmp_path / "dnas"
    run.mkdir()
    rec = lambda arch: {"arch": arch, "latency_ms": 0.05, "memory_bytes": 1.0, "param_bytes": 1.0, "flops": 1.0}
    other = "k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k3_e1-k3_e1"
    (run / "result.json").write_text(json.dumps({"strategy": "dnas", "space": "fbnet-small",
                                                 "table": str(tmp_path / "t.json"), "dataset": "digits",
                                                 "selected": rec(other), "most_likely": rec(ARCH),
                                                 "samples": [rec(ARCH), rec(other)]}))
    src = load_search_source(run)
    assert src.strategy == "dnas" and src.dataset == "digits" and src.supernet is None
    assert [c.arch for c in src.pareto] == [other, ARCH] and src.table == str(tmp_path / "t.json")


def test_fine_tune_from_the_supernet(tmp_path):
    """--init supernet: the network starts from the weights the supernet shares for its path."""
    from edgenas.train.final import train_architecture
    from edgenas.train.spos import train_spos
    from edgenas.train.supernet_io import load_supernet_run
    from edgenas.train.loop import TrainConfig

    torch.set_num_threads(1)
    train_spos(SPACE, "digits", tmp_path / "sn", TrainConfig(epochs=1, batch_size=64), max_batches=2)
    run = load_supernet_run(tmp_path / "sn")
    start = run.supernet.extract(SPACE.parse(ARCH)).state_dict()
    res = train_architecture(ARCH, tmp_path / "t", space=SPACE, dataset="digits", supernet=tmp_path / "sn",
                             cfg=TrainConfig(epochs=1, batch_size=64, lr=1e-9), threads=1)
    cfg = json.loads((tmp_path / "t" / "config.json").read_text())["config"]
    assert cfg["init"] == f"supernet:{run.digest}" and res["epochs"] == 1
    trained = torch.load(tmp_path / "t" / "model.pt", weights_only=True)
    w = "layers.0.body.0.0.weight"
    assert torch.allclose(trained[w], start[w], atol=1e-6)  # lr ~ 0: the inherited weights are kept


def test_export_init_supernet_from_a_tiny_dnas_run(tmp_path):
    """A DNAS run folder holds the supernet export fine-tunes from, and DNAS split its data with its seed."""
    from edgenas.deploy.pipeline import ExportOptions, deploy_models
    from edgenas.deploy.source import load_search_source
    from edgenas.search.setup import search

    from _synthetic_table import synthetic_table

    torch.set_num_threads(1)
    synthetic_table(SPACE, tmp_path / "t.json")
    run = tmp_path / "dnas"
    opts = {"warmup_epochs": 1, "max_batches": 1, "batch_size": 32, "samples": 2, "threads": 1}
    search("dnas", [tmp_path / "t.json"], run, dataset="digits", seed=3, config={"epochs": 2, **opts}, plot=False)
    src = load_search_source(run)
    assert src.supernet == str(run.resolve()) and src.dataset == "digits" and src.split_seed == 3
    summary = deploy_models(ExportOptions(run=str(run), out=str(tmp_path / "out"), models=["0"], init="supernet",
                                          epochs=1, batch_size=64, threads=1, report=False))
    assert summary["init"] == "supernet" and summary["models"][0]["init"] == "supernet"
    cfg = json.loads((tmp_path / "out" / "models" / "p0" / "train" / "config.json").read_text())["config"]
    assert cfg["init"].startswith("supernet:")
    moved = tmp_path / "moved"  # the run and its table moved together: both found where they went
    moved.mkdir()
    for name in ("dnas", "t.json"):
        (tmp_path / name).rename(moved / name)
    again = load_search_source(moved / "dnas")
    assert Path(again.supernet).resolve() == (moved / "dnas").resolve()
    assert Path(again.table).resolve() == (moved / "t.json").resolve()
