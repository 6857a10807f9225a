"""Budget-constrained decoding of a learned distribution, checked against brute force on a small space."""
import itertools
import json

import numpy as np
import pytest

from edgenas.search.constrained_decode import most_probable_within
from edgenas.tables.cost import CostModel
from edgenas.arch.space import get_space
from edgenas.tables.table import LatencyTable

from _synthetic_table import synthetic_table


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("cd")
    decl = dict(get_space("fbnet-small").declaration)
    decl["stages"] = {"layers": [1, 1, 1], "channels": [12, 16, 24], "strides": [1, 2, 2]}
    spec = d / "three.json"
    spec.write_text(json.dumps({**decl, "name": "three"}))
    space = get_space(str(spec))
    synthetic_table(space, d / "t.json")
    cost = CostModel(space, LatencyTable.load(d / "t.json", space=space))
    archs = np.array(list(itertools.product(range(space.num_candidates), repeat=space.num_layers)))
    return space, cost, archs, cost.predict(archs).latency_ms


def brute_force(archs, latency, probs, low, high):
    logp = np.log(probs)[np.arange(probs.shape[0]), archs].sum(1)
    ok = (latency >= low) & (latency <= high)
    return tuple(archs[ok][np.argmax(logp[ok])]) if ok.any() else None


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_on_every_band(small, seed):
    space, cost, archs, latency = small
    probs = np.random.default_rng(seed).dirichlet(np.ones(space.num_candidates), size=space.num_layers)
    lo, hi = latency.min(), latency.max()
    for frac in (0.15, 0.4, 0.7, 0.95):
        high = lo + frac * (hi - lo)
        band = (0.9 * high, high)
        got = most_probable_within(cost, probs, *band, bins=200_000)
        want = brute_force(archs, latency, probs, *band)
        if want is None:
            assert got is None
            continue
        assert got is not None
        got_lat = float(cost.predict(got).latency_ms[0])
        assert band[0] <= got_lat <= band[1]
        logp = lambda a: np.log(probs)[np.arange(len(a)), list(a)].sum()  # noqa: E731
        assert logp(got) == pytest.approx(logp(want), abs=1e-9)


def test_default_bins_always_return_a_feasible_architecture(small):
    space, cost, archs, latency = small
    probs = np.random.default_rng(9).dirichlet(np.ones(space.num_candidates) * 0.3, size=space.num_layers)
    high = float(np.median(latency))
    got = most_probable_within(cost, probs, 0.9 * high, high)
    assert got is not None and 0.9 * high <= float(cost.predict(got).latency_ms[0]) <= high


def test_an_empty_band_returns_none(small):
    space, cost, archs, latency = small
    probs = np.full((space.num_layers, space.num_candidates), 1 / space.num_candidates)
    assert most_probable_within(cost, probs, 0.0, float(latency.min()) * 0.5) is None


def test_a_wide_band_returns_the_argmax(small):
    space, cost, archs, latency = small
    probs = np.random.default_rng(3).dirichlet(np.ones(space.num_candidates), size=space.num_layers)
    assert most_probable_within(cost, probs, 0.0, float(latency.max()) + 1) == tuple(probs.argmax(1))


def test_a_budget_just_above_the_fastest_architecture_is_always_met(small):
    space, cost, archs, latency = small
    # A distribution that strongly prefers the slowest candidates: the lightest paths must survive binning.
    probs = np.random.default_rng(4).dirichlet(np.ones(space.num_candidates), size=space.num_layers)
    probs = probs * np.exp(5 * cost.matrix["latency_ms"] / np.nanmax(cost.matrix["latency_ms"]))
    probs /= probs.sum(1, keepdims=True)
    fastest = float(cost.fastest()[1])
    got = most_probable_within(cost, probs, 0.0, fastest * 1.0001, bins=8)
    assert got is not None and float(cost.predict(got).latency_ms[0]) <= fastest * 1.0001


def test_bad_arguments_are_refused(small):
    space, cost, archs, latency = small
    with pytest.raises(ValueError, match="do not fit"):
        most_probable_within(cost, np.ones((2, 2)), 0, 1)
    with pytest.raises(ValueError, match="bins"):
        most_probable_within(cost, np.ones((space.num_layers, space.num_candidates)), 0, 1, bins=1)
