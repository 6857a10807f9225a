"""``edgenas export`` and ``edgenas quickstart`` through the CLI: bad input is one line and exit 2, nothing lost."""
import json
import shutil

import pytest

import edgenas.arch.ops as ops
from cli_helpers import run_main
from edgenas.deploy.formats.onnx import ONNX
from edgenas.profiling.measure import TimingProtocol
from edgenas.runfolder import LOCK

from export_helpers import make_search_run, relabelled, unsupported

FAST = TimingProtocol(warmup_runs=1, warmup_s=0.0, min_runs=3, min_time_s=0.0, max_runs=20, max_time_s=0.2,
                      max_spread=10.0, retries=0)


@pytest.fixture(scope="module")
def search_run(tmp_path_factory):
    return make_search_run(tmp_path_factory.mktemp("search"))


@pytest.fixture(scope="module")
def ort_table(search_run, tmp_path_factory):
    """The search's synthetic table, labelled as measured by onnxruntime: the export measures with onnxruntime."""
    return relabelled(search_run[1], "onnxruntime", tmp_path_factory.mktemp("ort") / "table.json")


@pytest.fixture(autouse=True)
def fast_measurement(monkeypatch):
    """Measure exported models with a short protocol (the synthetic table has none of its own)."""
    import edgenas.profiling.network as measure

    from dataclasses import replace

    real = measure.table_profiler
    monkeypatch.setattr(measure, "table_profiler",  # paired as the table asks, against its reference network
                        lambda table, protocol=None: real(table, replace(FAST, reference=protocol.reference)))


def one_line_error(code, out, *fragments):
    assert code == 2, out
    assert out.err.startswith("error: ") and out.err.count("\n") == 1 and "Traceback" not in out.err, out.err
    for f in fragments:
        assert f in out.err, out.err


def export_args(run, out, *extra):
    return ["export", str(run), "--out", str(out), "--epochs", "1", "--batch-size", "32", "--threads", "1",
            "--quiet", *extra]


def test_export_trains_exports_measures_and_resumes(tmp_path, capsys, search_run, ort_table):
    run, _ = search_run
    args = export_args(run, tmp_path / "d", "--models", "0", "--epochs", "3")
    code, out = run_main(capsys, args)
    assert code == 0, out.err
    doc = json.loads((tmp_path / "d" / "deploy.json").read_text())
    m, = doc["models"]
    assert m["id"] == "p0" and (tmp_path / "d" / "models" / "p0" / "model.onnx").is_file()
    assert m["accuracy"] > 0.3 and m["predicted"]["latency_ms"] > 0
    assert [p["batch_size"] for p in m["formats"]["onnx"]["parity"]] == [1, 4]
    assert all(p["ok"] for p in m["formats"]["onnx"]["parity"])
    # the synthetic table's backend runs nowhere: the model is not measured, and never by another backend
    assert doc["table_backend"] == "synthetic" and m["measured"]["latency_ms"] is None and m["error_pct"] is None
    assert "unknown backend 'synthetic'" in m["measured"]["not_measured"] and doc["prediction"]["n"] == 0
    assert doc["formats_not_timed"] == {"onnx": ONNX.not_timed("synthetic")}
    report = (tmp_path / "d" / "report.md").read_text()
    assert "| p0 |" in report and "Prediction error not computed" in report and "Format onnx not timed" in report
    assert (tmp_path / "d" / "report.png").is_file()
    assert "report:" in out.out and "not measured: the table's backend 'synthetic'" in out.out
    # a rerun resumes: nothing is trained or exported again; with an onnxruntime table the model is measured
    onnx_file = tmp_path / "d" / "models" / "p0" / "model.onnx"
    before = onnx_file.stat().st_mtime_ns
    code, out = run_main(capsys, args + ["--table", str(ort_table)])
    assert code == 0 and onnx_file.stat().st_mtime_ns == before
    doc = json.loads((tmp_path / "d" / "deploy.json").read_text())
    m, = doc["models"]
    assert m["measured"]["latency_ms"] > 0 and m["measured"]["backend"] == "onnxruntime" and m["error_pct"] is not None
    assert m["measured"]["input_shape"] == [1, 1, 28, 28] and doc["formats_not_timed"] == {}
    assert doc["not_measured"] is None and doc["prediction"]["n"] == 1
    assert "Prediction error not computed" not in (tmp_path / "d" / "report.md").read_text()


@pytest.mark.slow  # about 25 s: two models and a MobileNetV2 baseline
def test_export_two_models_and_a_baseline(tmp_path, capsys, search_run, ort_table):
    run, _ = search_run
    code, out = run_main(capsys, export_args(run, tmp_path / "d", "--models", "pareto", "--max-models", "2",
                                             "--baseline", "0.25", "--jobs", "2", "--table", str(ort_table)))
    assert code == 0, out.err
    doc = json.loads((tmp_path / "d" / "deploy.json").read_text())
    # --jobs 2 trains them ahead in workers (tests/test_train_ahead.py); the export then finds each one done
    assert all((tmp_path / "d" / sub / "train" / "result.json").is_file()
               for sub in ["models/" + m["id"] for m in doc["models"]] + ["baselines/mbv2-0.25"])
    assert len(doc["models"]) == 2 and doc["baselines"][0]["id"] == "mbv2-0.25"
    assert all(p["ok"] for p in doc["baselines"][0]["formats"]["onnx"]["parity"])
    assert len(doc["versus_baselines"]) == 1 and "mbv2-0.25" in (tmp_path / "d" / "report.md").read_text()


def test_missing_run_folder(tmp_path, capsys):
    one_line_error(*run_main(capsys, export_args(tmp_path / "nope", tmp_path / "d")), "does not exist")
    assert not (tmp_path / "d").exists()


def test_incomplete_run_folder(tmp_path, capsys, search_run):
    run, _ = search_run
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(run / "journal.sqlite", partial / "journal.sqlite")
    one_line_error(*run_main(capsys, export_args(partial, tmp_path / "d")), "is incomplete", "no result.json")
    assert not (tmp_path / "d").exists()


def test_corrupt_result_file(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "result.json").write_text('{"front": [')
    one_line_error(*run_main(capsys, export_args(bad, tmp_path / "d")), "result.json")


def test_unknown_format(tmp_path, capsys, search_run):
    run, _ = search_run
    one_line_error(*run_main(capsys, export_args(run, tmp_path / "d", "--format", "tflite")),
                   "unknown export format 'tflite'", "executorch, onnx, tensorrt")
    assert not (tmp_path / "d").exists()


def test_tensorrt_absent(tmp_path, capsys, search_run):
    try:
        import tensorrt  # noqa: F401
        import torch

        if torch.cuda.is_available():
            pytest.skip("TensorRT and a GPU are present here")
    except ImportError:
        pass
    run, _ = search_run
    code, out = run_main(capsys, export_args(run, tmp_path / "d", "--format", "tensorrt"))
    one_line_error(code, out)
    assert "pip install 'tensorrt>=10,<11'" in out.err or "no CUDA GPU" in out.err
    assert not (tmp_path / "d").exists()


def test_output_folder_not_writable(tmp_path, capsys, search_run):
    run, _ = search_run
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    one_line_error(*run_main(capsys, export_args(run, blocker)), "cannot write")
    assert blocker.read_text() == "keep me"


def test_op_that_fails_to_export_names_op_and_layer_and_keeps_earlier_exports(tmp_path, capsys, search_run,
                                                                                monkeypatch):
    run, _ = search_run
    out = tmp_path / "d"
    code, _ = run_main(capsys, export_args(run, out, "--models", "0"))
    assert code == 0
    kept = {p: p.read_bytes() for p in [out / "models" / "p0" / "model.onnx", out / "models" / "p0" / "export.json",
                                        out / "deploy.json", out / "report.md"]}
    real_forward = ops.InvertedResidual.forward
    monkeypatch.setattr(ops.InvertedResidual, "forward", lambda self, x: unsupported(real_forward(self, x)))
    code, err = run_main(capsys, export_args(run, out, "--models", "1"))
    one_line_error(code, err, "aten::i0", "in layer layers.")
    assert all(p.read_bytes() == data for p, data in kept.items())
    assert not (out / "models" / "p1" / "model.onnx").exists()


@pytest.mark.slow  # ExecuTorch lowering takes about 10 s
def test_export_python_api_resumes_per_format(tmp_path, search_run, ort_table):
    """Asking for a second format later adds it without redoing the first; the .pte is timed by an
    executorch-xnnpack table only, and an onnxruntime table says it cannot time it."""
    pytest.importorskip("executorch", reason="ExecuTorch is not installed: pip install executorch (the test extra installs it)")
    from edgenas.deploy.pipeline import ExportOptions, deploy_models

    run, _ = search_run
    opts = ExportOptions(run=str(run), out=str(tmp_path / "d"), models=["0"], epochs=1, batch_size=32, threads=1,
                         table=str(ort_table), protocol=FAST)
    deploy_models(opts)
    onnx_file = tmp_path / "d" / "models" / "p0" / "model.onnx"
    before = onnx_file.stat().st_mtime_ns
    doc = deploy_models(ExportOptions(**{**opts.__dict__, "formats": ("onnx", "executorch")}))
    assert onnx_file.stat().st_mtime_ns == before
    m = doc["models"][0]
    assert m["formats"]["executorch"]["parity"][0]["ok"] and (tmp_path / "d" / "models" / "p0" / "model.pte").is_file()
    assert "executorch_ms" not in m["measured"] and "model.pte" in doc["formats_not_timed"]["executorch"]
    xnn_table = relabelled(ort_table, "executorch-xnnpack", tmp_path / "xnn.json")
    doc = deploy_models(ExportOptions(**{**opts.__dict__, "formats": ("onnx", "executorch"), "table": str(xnn_table)}))
    m = doc["models"][0]
    assert m["measured"]["backend"] == "executorch-xnnpack" and m["measured"]["executorch_ms"] == m["measured"]["latency_ms"] > 0
    assert list(doc["formats_not_timed"]) == ["onnx"]


def test_quickstart_fast_smoke_and_resume(tmp_path, capsys, search_run):
    _, table = search_run
    args = ["quickstart", "--fast", "--table", str(table), "--out", str(tmp_path / "q"), "--models", "1",
            "--no-baselines", "--quiet"]
    code, out = run_main(capsys, args)
    assert code == 0, out.err
    doc = json.loads((tmp_path / "q" / "deploy" / "deploy.json").read_text())
    assert len(doc["models"]) == 1 and (tmp_path / "q" / "deploy" / "report.md").is_file()
    assert "1/4" in out.out and "2/4 supernet" in out.out and "4/4" in out.out   # no benchmark of digits ships
    code, out = run_main(capsys, args)
    assert code == 0 and "skipped" in out.out


def test_quickstart_searches_over_the_shipped_benchmark_of_its_dataset(tmp_path, capsys, search_run):
    _, table = search_run
    code, out = run_main(capsys, ["quickstart", "--fast", "--dataset", "mnist5k", "--table", str(table), "--out",
                                  str(tmp_path / "q"), "--models", "1", "--no-baselines", "--quiet"])
    assert code == 0, out.err
    assert "2/4 estimator: fbnet-small.mnist5k.json" in out.out and not (tmp_path / "q" / "supernet").exists()
    sources = json.loads((tmp_path / "q" / "search" / "result.json").read_text())["sources"]
    assert sources["estimator"]["kind"] == "benchmark" and sources["dataset"] == "mnist5k"


def test_quickstart_bench_estimator_without_a_benchmark_of_the_dataset_is_refused(tmp_path, capsys, search_run):
    _, table = search_run
    code, out = run_main(capsys, ["quickstart", "--fast", "--estimator", "bench", "--table", str(table), "--out",
                                  str(tmp_path / "q"), "--quiet"])
    one_line_error(code, out, "no benchmark of space 'fbnet-small' trained on 'digits'", "--estimator supernet")
    assert not (tmp_path / "q").exists()


def test_quickstart_rerun_with_another_configuration_is_refused(tmp_path, capsys, search_run):
    from edgenas.quickstart import fast_config

    _, table = search_run
    out = tmp_path / "q"
    out.mkdir()
    stored = fast_config(str(out), table=str(table), models=2).to_json()
    (out / "quickstart.json").write_text(json.dumps({**stored, "formats_used": ["onnx"]}))
    code, res = run_main(capsys, ["quickstart", "--fast", "--table", str(table), "--out", str(out), "--models", "1",
                                  "--no-baselines", "--quiet"])
    one_line_error(code, res, "another configuration", "models: 2 -> 1", "baselines: [0.25] -> []",
                   "use another --out")
    assert json.loads((out / "quickstart.json").read_text())["models"] == 2  # the stored one is kept
    assert sorted(p.name for p in out.iterdir() if p.name != LOCK) == ["quickstart.json"]  # no stage ran


@pytest.mark.slow
def test_quickstart_fast_profiles_this_cpu(tmp_path, capsys):
    code, out = run_main(capsys, ["quickstart", "--fast", "--out", str(tmp_path / "q"), "--quiet"])
    assert code == 0, out.err
    doc = json.loads((tmp_path / "q" / "deploy" / "deploy.json").read_text())
    assert doc["baselines"] and doc["versus_baselines"]
    assert doc["table_backend"] == "onnxruntime" and doc["prediction"]["n"] == len(doc["models"]) >= 1
    assert all(len(m["measured"]["controls"]["networks"]) == 3 for m in doc["models"])
    assert doc["prediction"]["control_adjusted"]["n"] == len(doc["models"])
    assert all("controls" not in b["measured"] for b in doc["baselines"])


def test_deploy_summary_says_slower_when_the_match_is_slower():
    from cli import _deploy_summary

    def entry(mid, ms):
        return {"id": mid, "accuracy": 0.9, "measured": {"latency_ms": ms}, "predicted": None, "error_pct": None,
                "arch": "a"}

    row = {"baseline": "mbv2-0.25", "match": "p0", "speedup": 0.8}
    doc = {"models": [entry("p0", 1.25)], "baselines": [entry("mbv2-0.25", 1.0)], "table_backend": "onnxruntime",
           "prediction": {"n": 0}, "versus_baselines": [row, {**row, "speedup": 2.0}]}
    text = _deploy_summary(doc, "out")
    assert "p0 is 1.25x slower at >= its accuracy" in text and "0.80x" not in text
    assert "p0 is 2.00x faster" in text
