"""``edgenas bench measure``: whole networks timed by the table's own profiler, journaled, one writer at a time."""
from __future__ import annotations

from pathlib import Path

import pytest

from edgenas.arch.space import get_space
from edgenas.bench import measure as measure_mod
from edgenas.bench.benchfile import Benchmark, bench_lock
from edgenas.bench.build import build
from edgenas.bench.measure import measure, measured_vs_predicted
from edgenas.bench.recipe import Recipe
from edgenas.errors import RunError

TABLES = Path(__file__).resolve().parents[2] / "latency_tables"
TINY = Recipe(dataset="digits", train_images=200, val_images=200, epochs=1, batch_size=50)
TABLE = TABLES / "fbnet-small.onnxruntime.cpu1.json"


def test_measures_each_network_once_and_resumes(tmp_path, fast_protocol, monkeypatch):
    path = tmp_path / "b.json"
    build(path, get_space("fbnet-small"), TINY, archs=3, three_seed=0, tables_dir=TABLES,
          limit=0)   # planned, nothing trained: latency does not need training
    measure(path, TABLE, limit=2, protocol=fast_protocol)
    recs = Benchmark.load(path).records
    assert [TABLE.name in r.measured for r in recs] == [True, True, False]
    m = recs[0].measured[TABLE.name]
    assert m["latency_ms"] > 0 and m["runs"] >= 3 and m["table_created"]

    calls = []
    real = measure_mod.measure_network
    monkeypatch.setattr(measure_mod, "measure_network", lambda *a: calls.append(a) or real(*a))
    bench = measure(path, TABLE, protocol=fast_protocol)
    assert len(calls) == 1 and all(TABLE.name in r.measured for r in bench.records)
    summary = measured_vs_predicted(bench, TABLE.name)
    assert summary["networks"] == 3 and 0 <= summary["within_10pct"] <= 1


def test_a_second_writer_is_refused_and_the_file_left_alone(tmp_path, fast_protocol):
    path = tmp_path / "b.json"
    build(path, get_space("fbnet-small"), TINY, archs=2, three_seed=0, tables_dir=TABLES,
          limit=0)
    before = path.read_bytes()
    with bench_lock(path):   # a build running on the file
        with pytest.raises(RunError, match="is in use by this process"):
            measure(path, TABLE, protocol=fast_protocol)
    assert path.read_bytes() == before
