import itertools
import time

from edgenas.measure import TimingProtocol, measure


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
