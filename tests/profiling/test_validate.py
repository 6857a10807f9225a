import numpy as np
import pytest

from edgenas.profiling.report import format_validation, plot_validation
from edgenas.tables.table import LatencyTable
from edgenas.profiling.validate import ErrorStats, rank_correlation, validate_table
from profilers import get_profiler


def test_error_stats_by_hand():
    import numpy as np

    s = ErrorStats.of(np.array([1.04, 0.8, 2.0]), np.array([1.0, 1.0, 2.0]))
    assert s.within_10pct == pytest.approx(2 / 3) and s.within_5pct == pytest.approx(2 / 3)
    assert s.mape_pct == pytest.approx((4 + 20 + 0) / 3) and s.bias_pct == pytest.approx((4 - 20) / 3)
    assert rank_correlation(np.array([1, 2, 3.0]), np.array([3, 2, 1.0])) == pytest.approx(-1)


def test_validate_scores_held_out_networks(tiny_space, tiny_table, fast_protocol, tmp_path):
    t = LatencyTable.load(tiny_table)
    report = validate_table(tiny_space, t, get_profiler("onnxruntime", protocol=fast_protocol), n=6)
    assert report.n == 6 and len(report.measured_ms) == 6
    assert 0 <= report.calibrated.within_10pct <= 1 and report.noise.mape_pct >= 0
    assert 0 <= report.split_half.within_5pct <= 1
    assert "calibrated" in format_validation(report) and "split-half fit" in format_validation(report)
    png = tmp_path / "v.png"
    plot_validation(report, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_split_half_fits_each_half_on_the_other():
    from edgenas.profiling.validate import split_half_predictions

    op_sum = np.linspace(1.0, 5.0, 12)
    measured = 0.8 * op_sum ** 1.1
    np.testing.assert_allclose(split_half_predictions(op_sum, measured), measured, rtol=1e-9)
    measured[3] *= 1.5  # a spike in one half moves nothing of its own prediction
    pred = split_half_predictions(op_sum, measured)
    np.testing.assert_allclose(pred[3], 0.8 * op_sum[3] ** 1.1, rtol=1e-6)
