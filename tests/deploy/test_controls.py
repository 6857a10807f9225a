"""Control networks: the table's calibration networks measured again beside exported models."""
import numpy as np
import torch
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


def _report(models):
    doc = {"run": "r", "strategy": "nsga2", "space": "s", "dataset": "d", "table": "t.json",
           "table_backend": "onnxruntime", "device": {}, "measured_as": "ort", "init": "scratch", "formats": ["onnx"],
           "train": {"epochs": 1, "batch_size": 8, "lr": 0.1}, "models": models, "baselines": [],
           "prediction": prediction_stats(models), "versus_baselines": []}
    return format_markdown(doc, None)


def test_the_report_gives_each_models_control_change_and_the_adjusted_errors():
    models = [_measured(0.1, 0.112, 10.0), _measured(0.1, 0.105, 4.0)]
    md = _report(models)
    assert "| -10.7 % | +10.0 % |" in md and "+4.0 … +10.0 % against the profile" in md
    assert "Control networks (3 of the table's calibration networks" in md
    assert "Adjusted for it: 100 % within ±10 %" in md


class _ScriptedProfiler:
    """Times every network at 1 ms, its reference at the next of ``reference_ms`` (the machine's state)."""

    def __init__(self, reference_ms):
        self.reference_ms, self.released = list(reference_ms), False

    def prepare(self, module, shape):
        return "run"

    def time(self, run):
        from edgenas.profiling.measure import Timing
        return Timing(1.0, 0.9, 1.1, 1.0, 0.01, 0.2, 100, 0.1, 3, 0.01, 1, True,
                      reference_ms=self.reference_ms.pop(0) if self.reference_ms[0] is not None else None)

    def release(self, run):
        self.released = True


class _UnitTable:
    unit_ms = 0.1

    def normalized(self, timing):
        return timing.normalized(self.unit_ms)


@pytest.mark.parametrize("references, tries, kept", [
    ([0.1], 1, 0.1),                       # the profile's state: measured once
    ([0.05, 0.055, 0.104], 3, 0.104),      # twice as fast, then back within 5 %: retaken until it is
    ([0.05, 0.06, 0.055, 0.052], 4, 0.06),  # never back: three retries, the nearest state kept
])
def test_a_network_measured_in_another_machine_state_is_retaken(references, tries, kept):
    from edgenas.profiling.network import measure_network

    pauses = []
    prof = _ScriptedProfiler(references)
    m = measure_network(torch.nn.Identity(), (1, 1, 4, 4), prof, _UnitTable(), retries=3, pause_s=7.0,
                        sleep=pauses.append)
    assert m["state"] == {"reference_ratio": pytest.approx(kept / 0.1), "tries": tries}
    assert pauses == [7.0] * (tries - 1) and prof.released
    assert m["reference_ms"] == kept and m["latency_ms"] == pytest.approx(1.0 * 0.1 / kept)


def test_an_unpaired_timing_is_taken_once_and_says_nothing_of_the_state():
    from edgenas.profiling.network import measure_network

    m = measure_network(torch.nn.Identity(), (1, 1, 4, 4), _ScriptedProfiler([None]), _UnitTable(),
                        sleep=lambda s: pytest.fail("no pause expected"))
    assert "state" not in m and m["latency_ms"] == 1.0


def test_the_report_names_measurements_left_in_another_state():
    models = [_measured(0.1, 0.105), _measured(0.1, 0.1)]
    models[0]["measured"]["timing"] = {"state": {"reference_ratio": 1.03, "tries": 2}}
    models[1]["measured"]["timing"] = {"state": {"reference_ratio": 0.52, "tries": 4}}
    models[1]["id"] = "p9"
    md = _report(models)
    assert "Machine state: 2 of 2 measurements were retaken" in md
    assert "still off: p9 (reference ×0.52 after 4 tries)" in md and "p (reference" not in md
