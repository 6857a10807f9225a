import itertools

import numpy as np
import pytest
from pymoo.core.population import Population

import nsga_helpers as H
from edgenas.errors import BudgetError
from edgenas.search.problem import (CategoricalMutation, GenomeDuplicateElimination, ObjectiveSpec, Target,
                                    check_budgets, min_memory, objective_bounds)
from edgenas.units import parse_bytes, parse_latency_ms
from edgenas.errors import EdgeNASError


class _P:  # the two attributes the operators read from a pymoo problem
    def __init__(self, L, C):
        self.n_var, self.xl, self.xu = L, np.zeros(L), np.full(L, C - 1)


def test_categorical_mutation_changes_to_another_valid_candidate():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 9, size=(500, 6))
    Y = CategoricalMutation(prob_var=1.0)._do(_P(6, 9), X.copy(), random_state=np.random.default_rng(1))
    assert Y.dtype.kind == "i" and Y.min() >= 0 and Y.max() <= 8
    assert np.all(Y != X)  # every gene mutated, never to itself
    counts = np.bincount((Y - X).ravel() % 9, minlength=9)
    assert counts[0] == 0 and counts[1:].min() > 0.5 * counts[1:].mean()  # other candidates roughly uniform


def test_categorical_mutation_rate():
    X = np.zeros((2000, 6), dtype=np.int64)
    Y = CategoricalMutation()._do(_P(6, 9), X.copy(), random_state=np.random.default_rng(2))
    rate = (Y != X).mean()
    assert abs(rate - 1 / 6) < 0.02


def test_genome_duplicate_elimination():
    pop = Population.new("X", np.array([[1, 2], [1, 2], [3, 4], [5, 6]]))
    other = Population.new("X", np.array([[5, 6]]))
    kept = GenomeDuplicateElimination().do(pop, other)
    assert kept.get("X").tolist() == [[1, 2], [3, 4]]


def test_min_memory_exact_by_enumeration():
    c = H.cost()
    A = np.array(list(itertools.product(range(9), repeat=6)))
    brute = c.predict(A).memory_bytes.min()
    least, arch = min_memory(c)
    assert least == pytest.approx(brute)
    assert c.predict(arch).memory_bytes[0] == pytest.approx(least)


def test_budgets_below_reach_name_the_best(tmp_path):
    c = H.cost()
    _, fastest = c.fastest()
    with pytest.raises(BudgetError, match=f"fastest reachable is {fastest:.4g} ms"):
        check_budgets(ObjectiveSpec([Target("cpu", c, max_latency_ms=fastest * 0.99)]))
    least, _ = min_memory(c)
    with pytest.raises(BudgetError, match=f"least reachable is {least:.0f} bytes"):
        check_budgets(ObjectiveSpec([Target("cpu", c)], max_memory_bytes=least - 1))
    check_budgets(ObjectiveSpec([Target("cpu", c, max_latency_ms=fastest)], max_memory_bytes=least))


def test_several_tables_objectives_and_constraints():
    c = H.cost()
    spec = ObjectiveSpec([Target("cpu", c, 0.1), Target("phone", c, 0.3, objective=False)], extra=("memory",),
                         max_memory_bytes=1e6)
    assert spec.objectives == ["error", "latency_ms:cpu", "memory_bytes"]
    assert spec.constraints == [("latency_ms:cpu", 0.1), ("latency_ms:phone", 0.3), ("memory_bytes", 1e6)]
    b = objective_bounds(spec)
    assert b["error"] == (0.0, 1.0) and b["latency_ms:cpu"][0] < b["latency_ms:cpu"][1]
    with pytest.raises(ValueError):
        ObjectiveSpec([Target("cpu", c), Target("cpu", c)])


def test_units():
    assert parse_latency_ms("5ms") == 5 and parse_latency_ms("0.5s") == 500 and parse_latency_ms("800us") == 0.8
    assert parse_bytes("2MB") == 2e6 and parse_bytes("1KiB") == 1024 and parse_bytes("100") == 100
    for bad in ("fast", "-1ms", "5 parsecs", "0ms"):
        with pytest.raises(EdgeNASError):
            parse_latency_ms(bad)
