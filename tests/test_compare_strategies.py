"""Smoke test of benchmarks/compare_strategies.py: the harness end to end on the oracle problem, two edgenas
strategies picked from the registry by name, two seeds, a few dozen evaluations (a few seconds)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _harness():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("compare_strategies", BENCHMARKS / "compare_strategies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_strategies_smoke(tmp_path):
    out = tmp_path / "out" / "compare"
    result = _harness().main(["--problems", "oracle", "--strategies", "random,evolution", "--seeds", "2",
                              "--evaluations", "60", "--checkpoints", "10,30,60", "--option",
                              "evolution.population=20", "--workdir", str(tmp_path / "work"), "--out", str(out)])
    assert json.loads(out.with_suffix(".json").read_text())["evaluations"] == 60
    assert out.with_name("compare.oracle.png").stat().st_size > 0
    rows = result["rows"]
    assert {(r["strategy"], r["seed"]) for r in rows} == {(s, k) for s in ("random", "evolution") for k in (0, 1)}
    ref = result["problems"]["oracle@0.05ms"]["reference"]
    assert ref["how"].startswith("exact") and ref["hypervolume"] > 0
    for r in rows:
        assert r["evaluated"] == 60 and r["stopped"] == "budget"   # stopped by the meter at exactly 60 distinct
        for metric in ("hv_share", "best_accuracy"):
            c = np.array(r[metric])
            assert len(c) == 3 and np.all(np.diff(c) >= 0), (metric, c)
            assert np.all((0 <= c) & (c <= 1 + 1e-12)), (metric, c)
        assert r["overhead_ms_per_eval"] >= 0 and r["overhead_cpu_ms_per_eval"] >= 0
    # same seed, same run: the evolution rows are reproducible from the registry's strategy
    again = _harness().main(["--problems", "oracle", "--strategies", "evolution", "--seeds", "1",
                             "--evaluations", "60", "--checkpoints", "10,30,60", "--option",
                             "evolution.population=20", "--workdir", str(tmp_path / "work2"),
                             "--out", str(tmp_path / "out2" / "compare")])
    first = next(r for r in rows if r["strategy"] == "evolution" and r["seed"] == 0)
    assert again["rows"][0]["best_steps"] == first["best_steps"]
    assert [t["strategy"] for t in result["targets"]["overhead"]] == ["random", "evolution"]
