import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgenas.errors import OutputPathError, TableMismatchError
from edgenas.profiling.profile import profile_space
from edgenas.profiling.report import format_table_summary
from edgenas.tables.table import LatencyTable
from profilers import get_profiler
from profilers.onnxruntime_cpu import OnnxRuntimeCPUProfiler

ROOT = Path(__file__).resolve().parents[2]


class CountingProfiler(OnnxRuntimeCPUProfiler):
    """Counts the op shapes it measures, to prove a resume measures only what is missing."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.measured = []

    def measure_artifact(self, artifact, input_shape):
        self.measured.append(input_shape)
        return super().measure_artifact(artifact, input_shape)


class WindowProfiler(OnnxRuntimeCPUProfiler):
    """Records the minimum time of every window it measures an op or network in."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.windows = []

    def measure_artifact(self, artifact, input_shape):
        self.windows.append(self.protocol.min_time_s)
        return super().measure_artifact(artifact, input_shape)


@pytest.mark.parametrize("op_latency", ["in_network", "alone"])
def test_each_timing_gets_the_window_share_of_what_it_is_for(tiny_space, tmp_path, fast_protocol, op_latency):
    from dataclasses import replace

    from edgenas.profiling.profile import OP_SHARE_IN_NETWORK, PROBE_SHARE

    protocol = replace(fast_protocol, min_time_s=0.01)
    prof = WindowProfiler(protocol=protocol)
    table = profile_space(tiny_space, prof, tmp_path / "t.json", calibration_networks=4, op_latency=op_latency,
                          workers=0)
    n_ops = len(tiny_space.op_keys())
    probes = 0 if op_latency == "alone" else len(table.in_network.cells(tiny_space)) + tiny_space.num_layers
    ops_share = OP_SHARE_IN_NETWORK if op_latency == "in_network" else 1.0
    assert prof.windows == pytest.approx([0.01 * ops_share] * n_ops + [0.01] * 4 + [0.01 * PROBE_SHARE] * probes)
    assert prof.protocol == protocol  # the profiler keeps its own protocol
    assert set(table.stats["last_run_phases_s"]) == {"reference and overheads", "ops", "in-network", "calibration"}
    assert table.stats["window_shares"]["ops"] == ops_share


@pytest.mark.parametrize("alone_error, chosen", [(-1.0, "alone"), (1e9, "in_network")])
def test_auto_reads_the_ops_alone_where_the_probes_would_be_noise(tiny_space, tmp_path, fast_protocol, monkeypatch,
                                                                  alone_error, chosen):
    from dataclasses import replace

    from edgenas.profiling import profile as profile_module
    from edgenas.tables.in_network import BASE_READINGS

    monkeypatch.setattr(profile_module, "fit_error_pct", lambda points: alone_error)  # forced either way
    protocol = replace(fast_protocol, min_time_s=0.01)
    prof, out = WindowProfiler(protocol=protocol), tmp_path / "t.json"
    table = profile_space(tiny_space, prof, out, calibration_networks=4, workers=0)
    choice = table.header["op_latency_choice"]
    assert table.op_latency == choice["chosen"] == chosen
    assert len(choice["base_readings_ms"]) == BASE_READINGS and choice["probe_noise_pct"] >= 0
    probes = 0 if chosen == "alone" else len(table.in_network.cells(tiny_space)) + tiny_space.num_layers
    assert len(prof.windows) == len(tiny_space.op_keys()) + BASE_READINGS + probes + 4
    if chosen == "alone":
        assert table.in_network is None and "in a network" not in table.header["latency"]
    else:  # the readings that chose are the base's first
        assert table.in_network.base_ms[:BASE_READINGS] == choice["base_readings_ms"]
    assert "% error of the ops alone" in format_table_summary(LatencyTable.load(out))

    before, again = out.read_bytes(), WindowProfiler(protocol=protocol)
    profile_space(tiny_space, again, out, calibration_networks=4, workers=0)  # auto again: a finished table
    assert again.windows == [] and out.read_bytes() == before
    other = "in_network" if chosen == "alone" else "alone"
    with pytest.raises(TableMismatchError, match="op_latency"):
        profile_space(tiny_space, WindowProfiler(protocol=protocol), out, calibration_networks=4, op_latency=other)
    assert out.read_bytes() == before


def test_profile_measures_every_op(tiny_space, tiny_table):
    t = LatencyTable.load(tiny_table, space=tiny_space)
    assert not t.missing(tiny_space)
    assert len(t.overheads) == len({k.input_shape for k in tiny_space.op_keys()})
    assert len(t.calibration.points) == 4 and t.calibration.coef
    assert all(e.timing.runs >= 3 and e.latency_ms >= 0 for e in t.entries.values())
    identity = [e for k, e in t.entries.items() if k.is_identity]
    assert identity and all(e.cost.flops == 0 and e.cost.param_bytes == 0 for e in identity)


def test_resume_measures_only_what_is_missing(tiny_space, tiny_table, fast_protocol):
    t = LatencyTable.load(tiny_table)
    kept = dict(list(t.entries.items())[:4])
    t.entries = kept
    t.calibration = None
    t.save(tiny_table)
    prof = CountingProfiler(protocol=fast_protocol)
    again = profile_space(tiny_space, prof, tiny_table, calibration_networks=4)
    n_ops = len(tiny_space.op_keys())
    assert len(prof.measured) == (n_ops - 4) + 4  # the missing ops, then the 4 calibration networks
    assert all(again.entries[k] == e for k, e in kept.items())


def test_other_settings_refuse_to_resume_and_keep_the_file(tiny_space, tiny_table, fast_protocol):
    before = tiny_table.read_bytes()
    with pytest.raises(TableMismatchError, match="runtime"):
        profile_space(tiny_space, get_profiler("torch", protocol=fast_protocol), tiny_table)
    with pytest.raises(TableMismatchError, match="--restart"):
        profile_space(tiny_space, get_profiler("onnxruntime", threads=2, protocol=fast_protocol), tiny_table)
    assert tiny_table.read_bytes() == before


def test_unwritable_output_fails_before_measuring(tiny_space, tmp_path, fast_protocol):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    prof = CountingProfiler(protocol=fast_protocol)
    with pytest.raises(OutputPathError, match="cannot write"):
        profile_space(tiny_space, prof, blocker / "table.json")
    assert prof.measured == []


@pytest.mark.slow
def test_sigkill_then_resume_loses_nothing_and_measures_nothing_twice(tiny_decl, tmp_path, fast_protocol):
    from edgenas.arch.space import SearchSpace

    space_file = tmp_path / "tiny.json"
    space_file.write_text(json.dumps(tiny_decl))
    out = tmp_path / "table.json"
    cmd = [sys.executable, str(ROOT / "cli.py"), "profile", "--space", str(space_file), "-o", str(out),
           "--min-time", "0.15", "--min-runs", "3", "--calibration-networks", "2", "--op-latency", "in-network",
           "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 60
    while time.time() < deadline:
        if out.exists() and 3 <= len(json.loads(out.read_text())["entries"]):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = LatencyTable.load(out)  # an atomic write: never a torn file
    space = SearchSpace.from_dict("tiny", tiny_decl)
    done = dict(partial.entries)
    assert 3 <= len(done) < len(space.op_keys())
    from edgenas.profiling.measure import TimingProtocol

    prof = CountingProfiler(protocol=TimingProtocol.from_json(partial.header["protocol"]))
    resumed = profile_space(space, prof, out, calibration_networks=2, op_latency="in_network")
    probes = len(resumed.in_network.cells(space)) + space.num_layers  # each layer's swaps and its base
    assert len(prof.measured) == len(space.op_keys()) - len(done) + probes + 2
    assert all(resumed.entries[k] == e for k, e in done.items())
    assert not resumed.missing(space)


def test_calibration_fit_recovers_a_power_law_and_never_inverts():
    import numpy as np

    from edgenas.tables.cost import apply_calibration
    from edgenas.profiling.profile import fit_calibration

    pts = [{"op_sum_ms": x, "measured_ms": 1.3 * x ** 0.8} for x in (0.03, 0.05, 0.1, 0.2)]
    cal = fit_calibration(pts)
    assert cal.link == "log" and cal.coef == pytest.approx([0.8, np.log(1.3)])
    assert apply_calibration(cal, np.array([0.07]), np) == pytest.approx(1.3 * 0.07 ** 0.8)
    assert cal.describe() == "1.3·sum^0.8"
    inverted = [{"op_sum_ms": 1.0, "measured_ms": 2.0}, {"op_sum_ms": 2.0, "measured_ms": 1.0}]
    ratio = fit_calibration(inverted)
    assert ratio.features == ["sum"] and ratio.coef[0] > 0


def test_calibration_and_validation_networks_span_the_latency_range(tiny_space, tmp_path):
    from _synthetic_table import synthetic_table
    from edgenas.tables.cost import CostModel
    from edgenas.arch.sampling import spread_sample

    # A table made from FLOPs, not timed: the tiny space's ops take microseconds, and measured
    # latencies that close let machine noise reorder them (this test failed in CI under load).
    model = CostModel(tiny_space, synthetic_table(tiny_space, tmp_path / "tiny.json"))
    fastest = model.fastest()[0]
    archs = spread_sample(tiny_space, fastest, 12, seed=0)
    assert tuple(archs[-1]) == tuple(fastest)
    assert (spread_sample(tiny_space, fastest, 12, seed=0) == archs).all()
    lat = model.predict(archs).latency_ms
    assert lat[:4].mean() > lat[-4:].mean()
    assert model.fastest()[1] == lat.min() <= lat.max() <= model.slowest()[1]


def test_calibration_fit_leaves_out_a_spike():
    from edgenas.profiling.profile import fit_calibration

    xs = [0.03, 0.04, 0.05, 0.07, 0.09, 0.11, 0.13, 0.15]
    pts = [{"op_sum_ms": x, "measured_ms": 1.3 * x ** 0.8} for x in xs]
    pts[5]["measured_ms"] *= 1.9  # a measurement hit by a spike of the machine
    cal = fit_calibration(pts)
    assert cal.coef[0] == pytest.approx(0.8, rel=1e-6)
    assert [p.get("outlier", False) for p in cal.points] == [i == 5 for i in range(len(xs))]


def test_no_prefetch_profiles_with_an_idle_neighbour_core(tiny_decl, tmp_path):
    import cli

    space_file = tmp_path / "tiny.json"
    space_file.write_text(json.dumps(tiny_decl))
    out = tmp_path / "table.json"
    cli.main(["profile", "--space", str(space_file), "-o", str(out), "--min-time", "0", "--min-runs", "3",
              "--calibration-networks", "2", "--no-prefetch", "--quiet"])
    assert json.loads(out.read_text())["stats"]["export_workers"] == 0


def test_calibration_fit_ignores_a_network_whose_op_sum_is_zero():
    from edgenas.profiling.profile import fit_calibration

    pts = [{"op_sum_ms": x, "measured_ms": 1.3 * x ** 0.8} for x in (0.03, 0.05, 0.1, 0.2)]
    pts.append({"op_sum_ms": 0.0, "measured_ms": 0.01})
    cal = fit_calibration(pts)
    assert cal.link == "log" and cal.coef[0] == pytest.approx(0.8) and cal.points[-1]["outlier"]


def test_a_paired_profile_stores_its_reference_and_resumes_in_the_same_unit(tiny_space, tmp_path, fast_protocol):
    from dataclasses import replace

    paired = replace(fast_protocol, reference=True)
    out = tmp_path / "paired.json"
    last = {}  # phase -> its last (done, total)
    t = profile_space(tiny_space, get_profiler("onnxruntime", protocol=paired), out, calibration_networks=4,
                      op_latency="in_network",  # every phase; auto's choice would depend on the machine's noise
                      progress=lambda phase, done, total, **m: last.__setitem__(phase, (done, total)))
    assert set(last) == {"overhead", "ops", "in-network", "calibration"}
    assert all(done == total for done, total in last.values())  # every bar ends at its total
    assert t.reference and t.unit_ms > 0 and tiny_space.parse(t.reference["arch"])
    assert all(e.timing.reference_ms > 0 for e in t.entries.values())
    assert all(o.reference_ms > 0 for o in t.overheads.values())
    assert "reference" in t.header["latency"]
    e = next(iter(t.entries.values()))
    assert e.latency_ms == pytest.approx(max(0.0, t.normalized(e.timing) - t.normalized(
        t.overheads[next(iter(t.entries)).input_shape])))
    # a killed profile resumes against the reference and unit it started with
    saved = LatencyTable.load(out)
    saved.entries = dict(list(saved.entries.items())[:3])
    saved.save(out)
    again = profile_space(tiny_space, get_profiler("onnxruntime", protocol=paired), out, calibration_networks=4)
    assert again.reference == t.reference and not again.missing(tiny_space)
    # validation pairs its networks with the same reference and shows the unpaired figures beside
    from edgenas.profiling.report import format_validation
    from edgenas.profiling.validate import validate_table

    report = validate_table(tiny_space, again, get_profiler("onnxruntime", protocol=paired), n=4)
    assert report.noise_raw is not None and len(report.measured_raw_ms) == 4
    assert "unpaired medians" in format_validation(report)


def test_a_profiler_with_a_paired_protocol_needs_its_reference(tiny_space, fast_protocol):
    from dataclasses import replace

    import torch.nn as nn

    prof = get_profiler("onnxruntime", protocol=replace(fast_protocol, reference=True))
    with pytest.raises(TypeError, match="use_reference"):
        prof.measure(nn.ReLU(), tiny_space.input_shape)


def test_fit_error_leaves_each_network_out_of_its_own_fit():
    from edgenas.profiling.profile import fit_error_pct

    exact = [{"arch": str(i), "op_sum_ms": s, "measured_ms": 2.0 * s ** 0.9} for i, s in enumerate([1, 2, 3, 5, 8])]
    assert fit_error_pct(exact) == pytest.approx(0.0, abs=1e-9)
    off = [dict(p) for p in exact]
    off[2]["measured_ms"] *= 1.2  # one network 20 % slow: its own fit cannot absorb it
    assert fit_error_pct(off) > 20 / 5 ** 0.5 - 1
    assert fit_error_pct(exact[:2]) == float("inf")  # nothing to leave out: auto keeps the probes


def test_auto_with_too_few_calibration_networks_keeps_the_probes(tiny_space, tmp_path, fast_protocol):
    out = tmp_path / "t.json"
    table = profile_space(tiny_space, get_profiler("onnxruntime", protocol=fast_protocol), out, calibration_networks=2,
                          workers=0)
    assert table.op_latency == "in_network" and table.header["op_latency_choice"]["alone_fit_error_pct"] is None
    assert "too few calibration networks" in format_table_summary(LatencyTable.load(out))  # a valid table
