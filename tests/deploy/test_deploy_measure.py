"""Deployed models are measured by the table's own backend, threads and protocol, paired with its reference;
export formats are a registry, each saying which backend times it."""
from __future__ import annotations

import pytest

from edgenas.arch.model import build_network
from edgenas.deploy.formats.registry import FORMATS, check_formats, get_format
from edgenas.deploy.measure import TableMeasurer
from edgenas.errors import UnknownNameError
from edgenas.tables.table import LatencyTable
from profilers import BACKENDS, Backend
from profilers.onnxruntime_cpu import OnnxRuntimeCPUProfiler

CALLS = []


class RecordingProfiler(OnnxRuntimeCPUProfiler):
    """onnxruntime, registered as another backend, recording how it is built and what it times."""

    name = "recording"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        CALLS.append(("built", self.threads, self.protocol))

    def time(self, run, protocol=None):
        timing = super().time(run, protocol)
        CALLS.append(("time", run is self.reference, timing.reference_ms is not None))
        return timing


@pytest.fixture
def recording_table(tiny_table, monkeypatch, fast_protocol):
    """The tiny onnxruntime table, relabelled as measured by the recording backend with 2 threads and a paired
    protocol (its reference network is timed when first needed)."""
    from dataclasses import replace

    CALLS.clear()
    monkeypatch.setitem(BACKENDS, "recording", Backend(__name__, "RecordingProfiler"))
    table = LatencyTable.load(tiny_table)
    table.header["backend"] = "recording"
    table.header["runtime"]["threads"] = 2
    table.header["protocol"] = replace(fast_protocol, reference=True).to_json()
    return table


def test_deployment_is_measured_by_the_tables_backend_and_paired(recording_table, tiny_space, fast_protocol):
    measurer = TableMeasurer(recording_table, tiny_space.input_shape)
    net = build_network(tiny_space, tiny_space.sample(1, seed=3)[0])
    m = measurer.measure(net, controls=True)
    built = [c for c in CALLS if c[0] == "built"]
    assert len(built) == 1 and built[0][1] == 2 and built[0][2].reference  # the table's threads and protocol
    timed = [c for c in CALLS if c[0] == "time" and not c[1]]  # (the reference's own unit timing aside)
    assert timed and all(paired for _, _, paired in timed)  # the model and every control network, paired
    # the model (retaken while its reference runs off the table's unit), then 3 passes over the controls
    assert len(timed) == m["timing"]["state"]["tries"] + 3 * len(m["controls"]["networks"])
    assert m["backend"] == "recording" and m["threads"] == 2 and m["timing"]["reference_ms"] > 0
    # in the table's terms: the median scaled to the reference's unit
    assert m["latency_ms"] == pytest.approx(m["timing"]["median_ms"] * recording_table.unit_ms
                                            / m["timing"]["reference_ms"])
    assert measurer.describe().startswith("recording, the table's backend") and "paired" in measurer.describe()


def test_a_table_whose_backend_cannot_run_here_is_not_timed_another_way(tiny_table, tiny_space):
    table = LatencyTable.load(tiny_table)
    table.header["backend"] = "remote-onnxruntime"
    measurer = TableMeasurer(table, tiny_space.input_shape)
    m = measurer.measure(build_network(tiny_space, tiny_space.sample(1, seed=0)[0]))
    assert m["latency_ms"] is None and "target spec" in m["not_measured"]
    assert measurer.failure and measurer.describe().startswith("nothing: the table's backend 'remote-onnxruntime'")


def test_each_format_says_which_backends_time_it():
    assert get_format("onnx").not_timed("onnxruntime") is None
    assert get_format("executorch").not_timed("executorch-xnnpack") is None
    assert "model.pte" in get_format("executorch").not_timed("onnxruntime")
    why = get_format("tensorrt").not_timed("onnxruntime")
    assert "does not run model.<precision>.engine" in why and "tensorrt-fp16" in why
    assert all(b in BACKENDS for f in FORMATS.values() for b in f.timed_by)


def test_an_unknown_format_is_a_typed_error_listing_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"^unknown export format 'tflite'; known: executorch, onnx, tensorrt$"):
        check_formats(["onnx", "tflite"])
    assert [f.name for f in check_formats([])] == ["onnx"]
