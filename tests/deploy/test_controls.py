"""Control networks: the table's calibration networks measured again beside exported models."""
import numpy as np
import pytest

from edgenas.deploy.controls import ControlNetworks, adjusted_error_pct, pick_controls
from edgenas.deploy.report import format_markdown, prediction_stats
from edgenas.tables.table import Calibration, LatencyTable
from profilers import get_profiler


def _table_with_points(points):
    t = LatencyTable(header={})
    t.calibration = Calibration(["sum"], [1.0], points)
    return t


def test_controls_span_the_calibration_networks_and_skip_fit_outliers():
    pts = [{"arch": f"a{i}", "measured_ms": ms} for i, ms in enumerate([0.05, 0.02, 0.09, 0.04, 0.07])]
    pts.append({"arch": "spike", "measured_ms": 0.01, "outlier": True})
    assert [p["arch"] for p in pick_controls(_table_with_points(pts), 3)] == ["a1", "a0", "a2"]
    assert len(pick_controls(_table_with_points(pts[:2]), 3)) == 2
    assert pick_controls(LatencyTable(header={})) == []


def test_controls_are_measured_again_in_the_tables_terms(tiny_space, tiny_table, fast_protocol):
    table = LatencyTable.load(tiny_table)
    controls = ControlNetworks(tiny_space, table, get_profiler("onnxruntime", protocol=fast_protocol),
                               tiny_space.input_shape, k=3)
    c = controls.measure(passes=2)
    assert [r["arch"] for r in c["networks"]] == [p["arch"] for p in pick_controls(table, 3)]
    for r in c["networks"]:
        assert r["measured_ms"] > 0 and r["change_pct"] == pytest.approx(100 * (r["measured_ms"] / r["profiled_ms"] - 1))
    # the median change (the tiny table's fit may leave out a noisy calibration network, so 2 or 3 of them)
    assert c["change_pct"] == pytest.approx(float(np.median([r["change_pct"] for r in c["networks"]])))
    assert ControlNetworks(tiny_space, LatencyTable(header={}), None, tiny_space.input_shape).measure() is None


def _measured(pred, meas, change=None):
    controls = {"change_pct": change, "networks": [{}, {}, {}]}
    measured = {"latency_ms": meas, **({"controls": controls} if change is not None else {})}
    return {"id": "p", "arch": "a", "accuracy": 0.9, "predicted": {"latency_ms": pred, "op_sum_ms": 0.12},
            "measured": measured, "error_pct": 100 * (pred - meas) / meas, "formats": {"onnx": {"parity": []}}}


def test_a_machine_running_slower_moves_the_prediction_by_the_controls_change():
    # predicted 0.100 ms; the machine now runs 10 % slower than at the profile; measured 0.112 ms
    assert adjusted_error_pct(0.100, 0.112, 10.0) == pytest.approx(100 * (0.110 - 0.112) / 0.112)
    st = prediction_stats([_measured(0.1, 0.112, 10.0), _measured(0.1, 0.108, 8.0)])
    assert st["within_10pct"] == pytest.approx(0.5) and st["control_adjusted"]["within_10pct"] == 1.0
    assert prediction_stats([_measured(0.1, 0.112)])["control_adjusted"]["n"] == 0  # measured before controls


def test_the_report_gives_each_models_control_change_and_the_adjusted_errors():
    models = [_measured(0.1, 0.112, 10.0), _measured(0.1, 0.105, 4.0)]
    doc = {"run": "r", "strategy": "nsga2", "space": "s", "dataset": "d", "table": "t.json",
           "table_backend": "onnxruntime", "device": {}, "measured_as": "ort", "init": "scratch", "formats": ["onnx"],
           "train": {"epochs": 1, "batch_size": 8, "lr": 0.1}, "models": models, "baselines": [],
           "prediction": prediction_stats(models), "versus_baselines": []}
    md = format_markdown(doc, None)
    assert "| -10.7 % | +10.0 % |" in md and "+4.0 … +10.0 % against the profile" in md
    assert "Control networks (3 of the table's calibration networks" in md
    assert "Adjusted for it: 100 % within ±10 %" in md
