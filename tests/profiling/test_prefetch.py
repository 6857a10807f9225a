"""The prefetching worker: order, errors at their item, and the in-process fallback."""
import pytest

from edgenas.profiling.prefetch import Prefetcher


def square(x):
    if x == 5:
        raise ValueError("five")
    return x * x


@pytest.mark.parametrize("workers", [0, 1])
def test_results_come_in_order(workers):
    with Prefetcher(workers) as pool:
        assert list(pool.map(square, [1, 2, 3, 4], depth=2)) == [(1, 1), (2, 4), (3, 9), (4, 16)]


@pytest.mark.parametrize("workers", [0, 1])
def test_an_error_is_raised_at_its_item(workers):
    seen = []
    with Prefetcher(workers) as pool, pytest.raises(ValueError, match="five"):
        for item, result in pool.map(square, [3, 4, 5, 6]):
            seen.append(item)
    assert seen == [3, 4]


def test_one_pool_serves_several_phases_and_an_abandoned_iterator():
    with Prefetcher(1) as pool:
        first = pool.map(square, range(10))
        assert next(first) == (0, 0)
        first.close()  # abandoned early: pending jobs are cancelled, the pool stays usable
        assert list(pool.map(square, [7])) == [(7, 49)]


def test_no_worker_without_a_spare_core():
    assert Prefetcher(None, timing_threads=10_000).workers == 0
