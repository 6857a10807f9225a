"""Ops read in a network or alone: which table predicts the networks a search exports?

Each repeat profiles fbnet-small on onnxruntime CPU (1 thread, paired timing) twice with the
quickstart's protocol (0.1 s per op, 12 calibration networks), once per ``op_latency`` (the order
alternates between repeats), then measures the networks searches export in ``--passes`` interleaved
paired passes and scores both tables' predictions against their medians, side by side:

* the 16 architectures of ``benchmarks/results/scratch_accuracy.json`` (fastest to slowest of the
  space's useful range, 0.03-0.15 ms), and
* the Pareto models exported by ``deploy_vs_baseline.py`` (``benchmarks/results/deploy_vs_baseline.json``).

Both tables pair with the same reference network (:func:`edgenas.profiling.reference.reference_arch`), so one
paired timing of a network is read in each table's unit. Networks with a grouped layer are scored
apart too: they were the misses of tables that read ops alone.

    PYTHONPATH=. python benchmarks/op_latency.py --out /tmp/op_latency --repeats 3
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.tables.cost import CostModel  # noqa: E402
from edgenas.profiling.network import network_profiler  # noqa: E402
from edgenas.fileio import atomic_write_json  # noqa: E402
from edgenas.profiling.measure import TimingProtocol  # noqa: E402
from edgenas.arch.model import build_network  # noqa: E402
from edgenas.deploy.formats.lowering import to_onnx_bytes  # noqa: E402
from edgenas.profiling.profile import profile_space  # noqa: E402
from edgenas.arch.space import get_space  # noqa: E402
from edgenas.tables.table import OP_LATENCIES  # noqa: E402
from profilers import get_profiler  # noqa: E402
from profilers.base import host_device_info  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def exported_archs() -> list:
    """Architecture strings searches exported, in order and without repeats."""
    truth = [r["arch"] for r in json.loads((RESULTS / "scratch_accuracy.json").read_text())["architectures"]]
    deployed = [m["arch"] for m in json.loads((RESULTS / "deploy_vs_baseline.json").read_text())["models"]]
    return list(dict.fromkeys(truth + deployed))


def score(predicted: np.ndarray, measured: np.ndarray) -> dict:
    err = (predicted / measured - 1) * 100
    return {"within_10pct": int((np.abs(err) <= 10).sum()), "within_5pct": int((np.abs(err) <= 5).sum()),
            "n": len(err), "mape_pct": float(np.abs(err).mean()), "bias_pct": float(err.mean()),
            "worst_pct": float(err[np.argmax(np.abs(err))]), "errors_pct": err.round(2).tolist()}


def one_repeat(space, archs, grouped, out: Path, repeat: int, passes: int, protocol: TimingProtocol) -> dict:
    tables = {}
    order = OP_LATENCIES if repeat % 2 == 0 else tuple(reversed(OP_LATENCIES))
    for how in order:
        started = time.perf_counter()
        tables[how] = profile_space(space, get_profiler("onnxruntime", threads=1, protocol=protocol),
                                    out / f"r{repeat}.{how}.json", calibration_networks=12, op_latency=how,
                                    restart=True)
        print(f"repeat {repeat}: {how} table in {time.perf_counter() - started:.0f} s", flush=True)
    profiler = network_profiler(tables[order[0]], protocol)
    runs = [profiler.load(to_onnx_bytes(build_network(space, a).eval(), space.input_shape), space.input_shape)
            for a in archs]
    timings = [[profiler.time(run) for run in runs] for _ in range(passes)]
    row = {"order": list(order), "tables": {}}
    for how, table in tables.items():
        ms = np.array([[table.normalized(t) for t in p] for p in timings])
        measured = np.median(ms, axis=0)
        predicted = CostModel(space, table).predict(np.asarray(archs)).latency_ms
        row["tables"][how] = {"calibration": table.calibration.describe(), "measured_ms": measured.tolist(),
                              "predicted_ms": predicted.tolist(), "profile_wall_s": table.stats["last_run_wall_s"],
                              **score(predicted, measured), "grouped": score(predicted[grouped], measured[grouped])}
        if passes > 1:
            row["noise_pct"] = float(np.mean(np.abs(ms[1] / ms[0] - 1)) * 100)
        s = row["tables"][how]
        print(f"  {how:<10} within ±10 %: {s['within_10pct']}/{s['n']}, ±5 %: {s['within_5pct']}, "
              f"MAPE {s['mape_pct']:.1f} %, bias {s['bias_pct']:+.1f} %, worst {s['worst_pct']:+.1f} %; "
              f"grouped: {s['grouped']['within_10pct']}/{s['grouped']['n']} within ±10 %, "
              f"bias {s['grouped']['bias_pct']:+.1f} %; profile {s['profile_wall_s']:.0f} s", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the tables")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--json", default=str(RESULTS / "op_latency.json"))
    args = ap.parse_args()

    space = get_space("fbnet-small")
    archs = [space.parse(a) for a in exported_archs()]
    names = space.candidate_names
    grouped = np.array([any(dict(space.candidates[c].args).get("groups", 1) > 1 for c in a) for a in archs])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    protocol = TimingProtocol(min_runs=10, min_time_s=0.1, reference=True)
    result = {"command": " ".join(sys.argv), "machine": host_device_info(1),
              "archs": ["-".join(names[c] for c in a) for a in archs], "grouped": grouped.tolist(), "repeats": []}
    for r in range(args.repeats):
        result["repeats"].append(one_repeat(space, archs, grouped, out, r, args.passes, protocol))
        atomic_write_json(args.json, result)  # a killed run keeps the repeats it finished


if __name__ == "__main__":
    main()
