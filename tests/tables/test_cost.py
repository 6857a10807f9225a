import numpy as np
import pytest

from edgenas.tables.cost import CostModel
from edgenas.errors import ArchitectureError, MissingEntryError
from edgenas.tables.table import LatencyTable


@pytest.fixture
def table(tiny_table):
    return LatencyTable.load(tiny_table)


def test_prediction_is_the_sum_of_its_entries(tiny_space, table):
    model = CostModel(tiny_space, table, calibrated=False, in_network=False)
    for arch in tiny_space.sample(10, seed=0):
        keys = [tiny_space.layer_key(l, c) for l, c in enumerate(arch)] + list(tiny_space.fixed_keys())
        p = model.predict(arch)
        assert p.op_sum_ms[0] == pytest.approx(sum(table.entries[k].latency_ms for k in keys))
        assert p.param_bytes[0] == sum(table.entries[k].cost.param_bytes for k in keys)
        assert p.peak_activation_bytes[0] == max(table.entries[k].cost.peak_activation_bytes for k in keys)
        assert p.flops[0] == sum(table.entries[k].cost.flops for k in keys)
        assert p.memory_bytes[0] == p.param_bytes[0] + p.peak_activation_bytes[0]
        assert p.latency_ms[0] == p.op_sum_ms[0]


def test_calibration_is_applied(tiny_space, table):
    # set by hand: the fit of the measured tiny table may fall back to a ratio on a noisy machine
    from edgenas.tables.table import Calibration

    table.calibration = Calibration(["log_sum", "const"], [0.9, -0.2], link="log")
    p = CostModel(tiny_space, table).predict(tiny_space.sample(5, 1))
    np.testing.assert_allclose(p.latency_ms, np.exp(-0.2) * p.op_sum_ms ** 0.9)
    table.calibration = Calibration(["sum", "const"], [0.8, 0.01])
    p = CostModel(tiny_space, table).predict(tiny_space.sample(5, 1))
    np.testing.assert_allclose(p.latency_ms, 0.8 * p.op_sum_ms + 0.01)


def test_batch_equals_one_by_one(tiny_space, table):
    model = CostModel(tiny_space, table)
    archs = tiny_space.sample(50, seed=2)
    batch = model.predict(archs).latency_ms
    np.testing.assert_allclose(batch, [model.predict(a).latency_ms[0] for a in archs])


def test_a_miss_is_never_zero(tiny_space, table):
    victim = tiny_space.layer_key(1, 0)
    del table.entries[victim]
    with pytest.raises(MissingEntryError, match="lacks 1 op"):
        CostModel(tiny_space, table)
    model = CostModel(tiny_space, table, strict=False, in_network=False)
    assert model.misses == [victim]
    p = model.predict([[0, 0], [0, 1]])
    assert np.isnan(p.latency_ms[0]) and np.isfinite(p.latency_ms[1])
    rows = model.breakdown((0, 0))
    assert [r["missing"] for r in rows] == [False, False, True, False]
    # read in a network, the cell stays a miss too (probes were measured, but the op's entry is gone)
    assert np.isnan(CostModel(tiny_space, table, strict=False).predict([0, 0]).latency_ms[0])


def test_fastest_is_the_per_layer_minimum(tiny_space, table):
    model = CostModel(tiny_space, table)
    arch, latency = model.fastest()
    every = np.array(np.meshgrid(*[range(tiny_space.num_candidates)] * tiny_space.num_layers)).reshape(2, -1).T
    assert latency == pytest.approx(model.predict(every).latency_ms.min())


@pytest.mark.parametrize("bad", [[[0, 0, 0]], [[0, 7]], [[-1, 0]]])
def test_bad_architectures_are_refused(tiny_space, table, bad):
    with pytest.raises(ArchitectureError):
        CostModel(tiny_space, table).predict(bad)


def test_chunked_batches_equal_one_by_one(tiny_space, table, monkeypatch):
    import edgenas.tables.cost as cost

    model = CostModel(tiny_space, table)
    archs = tiny_space.sample(50, seed=3)
    whole = model.predict(archs)
    monkeypatch.setattr(cost, "PREDICT_CHUNK", 7)  # chunk boundaries inside the batch
    chunked = model.predict(archs)
    for field in ("latency_ms", "op_sum_ms", "param_bytes", "peak_activation_bytes", "memory_bytes", "flops"):
        np.testing.assert_array_equal(getattr(chunked, field), getattr(whole, field))
    np.testing.assert_allclose(whole.memory_bytes, [model.predict(a).memory_bytes[0] for a in archs])
