"""Fixtures of the morphism searches' tests: a synthetic table of the tiny28 space and a budget that binds."""
import numpy as np
import pytest

from edgenas.tables.cost import CostModel
from edgenas.tables.table import LatencyTable

from _synthetic_table import synthetic_table
from morph_helpers import SPACE


@pytest.fixture(scope="session")
def tiny28_table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "tiny28.json"
    synthetic_table(SPACE, path)
    return str(path)


@pytest.fixture(scope="session")
def tiny28_cost(tiny28_table):
    return CostModel(SPACE, LatencyTable.load(tiny28_table, space=SPACE))


@pytest.fixture(scope="session")
def tiny28_budget(tiny28_cost):
    """Halfway between the fastest and the slowest architecture: a budget that binds."""
    slow = tuple(int(c) for c in np.nanargmax(tiny28_cost.matrix["latency_ms"], 1))
    return (tiny28_cost.fastest()[1] + float(tiny28_cost.predict(slow).latency_ms[0])) / 2
