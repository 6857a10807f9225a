import itertools
import time

import pytest

from edgenas.profiling.measure import TimingProtocol, measure


def test_minimum_runs_and_minimum_time_both_hold():
    t = measure(lambda: None, TimingProtocol(min_runs=50, min_time_s=0.05, warmup_runs=2, warmup_s=0.0, max_runs=10**7))
    assert t.runs >= 50 and t.timed_s >= 0.05 and t.warmup_runs >= 2
    assert t.p10_ms <= t.median_ms <= t.p90_ms


def test_caps_stop_a_slow_op():
    t = measure(lambda: time.sleep(0.01), TimingProtocol(min_runs=1000, min_time_s=10, max_time_s=0.1, warmup_runs=1,
                                                          warmup_s=0.0, retries=0))
    assert t.runs < 20 and 5 < t.median_ms < 50


def test_a_wide_spread_is_remeasured_then_flagged():
    delays = itertools.cycle([0.0, 0.003])
    t = measure(lambda: time.sleep(next(delays)), TimingProtocol(min_runs=10, min_time_s=0.0, warmup_runs=1,
                                                                  warmup_s=0.0, max_spread=0.1, retries=2))
    assert t.attempts == 3 and not t.stable and t.spread > 0.1


def test_the_run_cap_is_honoured():
    t = measure(lambda: None, TimingProtocol(min_runs=10, min_time_s=5.0, max_runs=200, warmup_runs=1, warmup_s=0.0))
    assert t.runs == 200


class _Machine:
    """A fake clock: every model costs ``cost`` ms times the machine's current slowdown."""

    def __init__(self):
        self.slowdown = 1.0

    def model(self, cost_ms):
        def run():
            return None
        run.cost_ms = cost_ms
        return run

    def timer(self, fn):
        return fn.cost_ms * self.slowdown * 1e6  # ns


def test_a_paired_timing_cancels_a_drift_of_the_machine():
    machine = _Machine()
    op, ref = machine.model(0.2), machine.model(1.0)
    p = TimingProtocol(min_runs=5, min_time_s=0.0, warmup_runs=1, warmup_s=0.0, chunk_s=0.0, reference=True)
    fast = measure(op, p, machine.timer, reference=ref)
    machine.slowdown = 1.6  # the neighbours got busy
    slow = measure(op, p, machine.timer, reference=ref)
    assert slow.median_ms == pytest.approx(1.6 * fast.median_ms)
    assert slow.reference_ms == pytest.approx(1.6) and fast.reference_ms == pytest.approx(1.0)
    assert slow.normalized(1.0) == pytest.approx(fast.normalized(1.0)) == pytest.approx(0.2)


def test_a_paired_window_alternates_chunks_and_keeps_its_time_bounds():
    calls = []
    op, ref = (lambda: calls.append("op")), (lambda: calls.append("ref"))
    p = TimingProtocol(min_runs=3, min_time_s=0.02, max_runs=10**7, warmup_runs=1, warmup_s=0.0, chunk_s=0.002,
                       reference=True)
    t = measure(op, p, reference=ref)
    timed = calls[1:]  # after the op's warm-up
    switches = sum(a != b for a, b in zip(timed, timed[1:]))
    assert switches >= 3 and timed.count("ref") > 2
    assert t.reference_ms is not None and t.timed_s >= 0.02 and t.runs >= 3


def test_an_unpaired_timing_is_its_own_normalized_value():
    t = measure(lambda: None, TimingProtocol(min_runs=3, min_time_s=0.0, warmup_runs=1, warmup_s=0.0))
    assert t.reference_ms is None and t.normalized(5.0) == t.median_ms


def test_a_wide_spread_over_many_runs_is_precise_enough_and_not_remeasured_but_not_called_stable():
    delays = itertools.cycle([0, 0, 1, 1])  # ns: a spread of 67 % of the median, 5,000 runs
    clock = lambda fn: 1000 + next(delays) * 1000  # noqa: E731 - a fake timer, in ns
    t = measure(lambda: None, TimingProtocol(min_runs=5000, min_time_s=0.0, max_runs=5000, warmup_runs=1,
                                             warmup_s=0.0, max_spread=0.1, retries=2), clock)
    assert t.spread > 0.1 and t.median_error < 0.01
    assert t.attempts == 1 and not t.stable  # stable: the raw spread came within max_spread
