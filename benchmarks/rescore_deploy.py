"""Score a table's predictions against the exported models measured by ``deploy_vs_baseline.py``.

    python benchmarks/rescore_deploy.py latency_tables/fbnet-small.onnxruntime.cpu1.json

Reads the per-pass measurements of every exported Pareto model from
``benchmarks/results/deploy_vs_baseline.json`` (static-shape ONNX, onnxruntime
CPU, 1 thread, the table's protocol, median of 5 interleaved passes) and prints
how far the given table's predictions are from their medians. It re-scores a
re-profiled table without training and exporting the models again; it writes
``benchmarks/results/deploy_rescore.json``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from edgenas.tables.cost import CostModel
from edgenas.fileio import atomic_write_json
from edgenas.tables.table import LatencyTable

ROOT = Path(__file__).resolve().parents[1]


def main(table_path: str, results: str = str(ROOT / "benchmarks" / "results" / "deploy_vs_baseline.json")) -> None:
    doc = json.loads(Path(results).read_text())
    table = LatencyTable.load(table_path)
    space = table.space()
    model = CostModel(space, table)
    rows = []
    for m in doc["models"]:
        measured = float(np.median(m["remeasured_ms"]))
        predicted = float(model.predict(space.parse(m["arch"])).latency_ms[0])
        rows.append({"id": m["id"], "arch": m["arch"], "measured_ms": measured, "predicted_ms": predicted,
                     "error_pct": 100 * (predicted / measured - 1)})
        print(f"{m['id']:>4}  measured {measured:.4f} ms  predicted {predicted:.4f} ms  "
              f"error {rows[-1]['error_pct']:+6.1f} %  {m['arch']}")
    err = np.array([r["error_pct"] for r in rows])
    summary = {"table": table_path, "calibration": table.calibration.describe(), "measurements": results,
               "within_10pct": int((np.abs(err) <= 10).sum()), "n": len(rows),
               "mean_abs_error_pct": float(np.abs(err).mean()), "rows": rows}
    atomic_write_json(ROOT / "benchmarks" / "results" / "deploy_rescore.json", summary)
    print(f"{summary['within_10pct']} of {summary['n']} within ±10 %, mean |error| "
          f"{summary['mean_abs_error_pct']:.1f} %  (calibration {summary['calibration']})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
