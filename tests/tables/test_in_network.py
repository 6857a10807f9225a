"""Op latencies read inside a network (edgenas.tables.in_network): probes, the cost model's cells, resume, old tables."""
import numpy as np
import pytest
import torch.nn as nn

from edgenas.tables.cost import CostModel
from edgenas.errors import TableError, TableMismatchError
from edgenas.tables.in_network import InNetwork, probe_arch, probe_noise_pct, typical_network_ms
from edgenas.profiling.measure import Timing, TimingProtocol
from edgenas.arch.model import build_network
from edgenas.arch.ops import ChannelShuffle, Head
from edgenas.profiling.profile import profile_space
from edgenas.tables.table import LatencyTable
from profilers.base import Profiler

CONV_MS = 0.001
SHUFFLE_IN_NETWORK_MS = 0.005


def _timing(ms: float) -> Timing:
    return Timing(ms, ms, ms, ms, 0.0, 0.0, 10, 0.0, 0, 0.0, 1, True)


class LayoutProfiler(Profiler):
    """A deterministic backend whose networks pay what their ops alone do not.

    A model costs 1 µs per convolution; inside a whole network (one with a head), each channel shuffle
    costs 5 µs more, as onnxruntime's layout conversions around a grouped layer do. Nothing is timed.
    """

    name = "layout-fake"

    def __init__(self):
        super().__init__(protocol=TimingProtocol(reference=False))
        self.measured = []

    def runtime_info(self) -> dict:
        return {"runtime": "layout-fake", "version": "1", "threads": 1, "precision": "fp32"}

    def prepare(self, module, input_shape):
        raise AssertionError("the fake measures modules, it never runs them")

    def measure_artifact(self, module: nn.Module, input_shape) -> Timing:
        kinds = [type(m) for m in module.modules()]
        in_network = Head in kinds
        self.measured.append("network" if in_network else "op")
        return _timing(CONV_MS * kinds.count(nn.Conv2d) + SHUFFLE_IN_NETWORK_MS * in_network * kinds.count(ChannelShuffle))

    def overhead(self, input_shape) -> Timing:
        return _timing(0.0)


def truth_ms(space, arch) -> float:
    return LayoutProfiler().measure_artifact(build_network(space, arch), space.input_shape).median_ms


@pytest.fixture
def grouped_archs(tiny_space):
    g = tiny_space.candidate_names.index("k3_e1_g2")
    return [a for a in map(tuple, tiny_space.sample(200, seed=1)) if g in a][:10]


@pytest.mark.parametrize("op_latency", ["in_network", "alone"])
def test_probes_see_what_a_network_pays_and_ops_alone_do_not(tiny_space, tmp_path, grouped_archs, op_latency):
    table = profile_space(tiny_space, LayoutProfiler(), tmp_path / "t.json", calibration_networks=6,
                          op_latency=op_latency)
    model = CostModel(tiny_space, table)
    predicted = model.predict(np.array(grouped_archs)).latency_ms
    truth = np.array([truth_ms(tiny_space, a) for a in grouped_archs])
    if op_latency == "in_network":
        # The fake is additive per layer, so the cells add up to every network exactly.
        np.testing.assert_allclose(model.predict(np.array(grouped_archs)).op_sum_ms, truth, rtol=1e-9)
        np.testing.assert_allclose(predicted, truth, rtol=1e-6)
    else:
        assert np.abs(predicted / truth - 1).max() > 0.05  # what the probes are there for


def test_a_cell_is_the_base_op_plus_the_probes_excess(tiny_space):
    alone = np.arange(tiny_space.num_layers * tiny_space.num_candidates, dtype=float).reshape(
        tiny_space.num_layers, -1) / 1000
    base = (0,) * tiny_space.num_layers
    probes = InNetwork(tiny_space.format(base), base_ms=[0.010, 0.012, 0.050])  # the median ignores 0.050
    for layer, cand in probes.cells(tiny_space):
        probes.probes[(layer, cand)] = 0.012 + 0.001 * (layer + 1) * cand
    cells = probes.latency_matrix(tiny_space, alone)
    for layer, cand in probes.cells(tiny_space):
        assert cells[layer, cand] == pytest.approx(alone[layer, 0] + 0.001 * (layer + 1) * cand)
    assert all(cells[layer, 0] == alone[layer, 0] for layer in range(tiny_space.num_layers))
    assert probe_arch(base, 1, 2) == (0, 2) + (0,) * (tiny_space.num_layers - 2)


def test_a_killed_profile_resumes_the_probes_it_lacks(tiny_space, tmp_path):
    path = tmp_path / "t.json"
    table = profile_space(tiny_space, LayoutProfiler(), path, calibration_networks=4, op_latency="in_network")
    dropped = list(table.in_network.probes)[-3:]
    for cell in dropped:
        del table.in_network.probes[cell]
    table.calibration = None
    table.save(path)

    with pytest.raises(TableError, match="resume the profile"):
        CostModel(tiny_space, LatencyTable.load(path))
    assert not CostModel(tiny_space, LatencyTable.load(path), strict=False).in_network  # falls back to ops alone

    again = LayoutProfiler()
    resumed = profile_space(tiny_space, again, path, calibration_networks=4, op_latency="in_network")
    layers = {layer for layer, _ in dropped}
    # the missing probes, the base once before each of their layers, the 4 calibration networks; no op again
    assert again.measured == ["network"] * (len(dropped) + len(layers) + 4)
    assert not resumed.in_network.missing(tiny_space)
    assert len(resumed.in_network.base_ms) == tiny_space.num_layers + len(layers)


def test_the_table_keeps_its_probes_and_refuses_to_resume_another_way(tiny_space, tmp_path):
    path = tmp_path / "t.json"
    table = profile_space(tiny_space, LayoutProfiler(), path, calibration_networks=4, op_latency="in_network")
    loaded = LatencyTable.load(path)
    assert loaded.op_latency == "in_network" and loaded.in_network == table.in_network
    before = path.read_bytes()
    with pytest.raises(TableMismatchError, match="op_latency"):
        profile_space(tiny_space, LayoutProfiler(), path, calibration_networks=4, op_latency="alone")
    assert path.read_bytes() == before


def test_a_schema_1_table_reads_its_ops_alone(tiny_space, tiny_table):
    import json

    d = json.loads(tiny_table.read_text())
    d["schema_version"] = 1
    for k in ("op_latency", "in_network"):
        d.pop(k, None)
    tiny_table.write_text(json.dumps(d))
    old = LatencyTable.load(tiny_table)
    assert old.op_latency == "alone" and old.in_network is None
    model = CostModel(tiny_space, old)
    alone = CostModel(tiny_space, old, in_network=False)
    np.testing.assert_array_equal(model.matrix["latency_ms"], alone.matrix["latency_ms"])


def test_probe_noise_is_one_readings_scatter_summed_over_the_layers():
    # one reading's sd 0.1 ms, so one cell's; sixteen layers √16 times that: 0.4 ms of a 4 ms network
    assert probe_noise_pct([0.9, 1.0, 1.1], layers=16, typical_ms=4.0) == pytest.approx(10.0)
    assert probe_noise_pct([1.0, 1.0, 1.0], layers=8, typical_ms=4.0) == 0.0
    with pytest.raises(ValueError, match="two or more"):
        probe_noise_pct([1.0], layers=8, typical_ms=4.0)


def test_a_typical_network_whose_ops_alone_read_as_nothing_is_scaled_by_the_base():
    # Ops below the timer's overhead sum to 0 ms alone (a tiny space on a loaded machine); the probes' noise is
    # then a share of the base network's median reading, not a division by zero (the profile used to stop there).
    assert typical_network_ms(4.0, [1.0, 1.2, 1.1]) == 4.0
    typical = typical_network_ms(0.0, [0.0303, 0.0308, 0.0291, 0.0303, 0.0303])
    assert typical == pytest.approx(0.0303)
    assert probe_noise_pct([0.0303, 0.0308, 0.0291, 0.0303, 0.0303], layers=2, typical_ms=typical) > 0
