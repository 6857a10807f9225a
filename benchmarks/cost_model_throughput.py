"""Cost-model throughput: architectures per second for latency + memory from a loaded table.

    python benchmarks/cost_model_throughput.py latency_tables/fbnet-224.onnxruntime.cpu1.json
"""
from __future__ import annotations

import sys
import time

import numpy as np

from edgenas.tables.cost import CostModel
from edgenas.tables.table import LatencyTable


def main(path: str, batch: int = 1_000_000, repeats: int = 7) -> None:
    table = LatencyTable.load(path)
    space = table.space()
    model = CostModel(space, table)
    archs = space.sample(batch, seed=0)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = model.predict(archs)
        _ = p.latency_ms.sum() + p.memory_bytes.sum()
        rates.append(batch / (time.perf_counter() - t0))
    single = []
    for arch in archs[:2000]:
        t0 = time.perf_counter()
        model.predict(arch)
        single.append(time.perf_counter() - t0)
    print(f"space {space.name}: {space.num_layers} layers x {space.num_candidates} candidates, batch {batch:,}")
    print(f"batched: median {np.median(rates):,.0f} architectures/s (min {min(rates):,.0f}, max {max(rates):,.0f}, "
          f"{repeats} repeats)")
    print(f"one at a time: median {1 / np.median(single):,.0f} architectures/s")


if __name__ == "__main__":
    main(*sys.argv[1:2])
