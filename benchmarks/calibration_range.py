"""Which calibration networks predict whole networks best across a search's latency range?

Profiles fbnet-small on onnxruntime CPU (1 thread, paired timing) with the
quickstart's quick protocol and ``--networks`` calibration networks drawn by
:func:`edgenas.sampling.spread_sample` (a third uniform, a third spread toward
the fastest architecture, a third toward the slowest). Then it fits the
calibration on subsets of those networks, side by side on the same op
measurements:

* ``uniform+fast``: the scheme before the slow third existed (half uniform,
  half toward the fastest), 12 networks;
* ``thirds-12`` and ``thirds-<networks>``: the current scheme with 12 and all;

and scores each against architectures that searches export, from the fastest
to the slowest (the 16 of ``benchmarks/results/scratch_accuracy.json``, which
run 0.03-0.14 ms), measured paired in ``--passes`` interleaved passes.

    PYTHONPATH=. python benchmarks/calibration_range.py --out /tmp/calrange
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.cost import CostModel, apply_calibration  # noqa: E402
from edgenas.deploy import measure_network, network_profiler  # noqa: E402
from edgenas.measure import TimingProtocol  # noqa: E402
from edgenas.model import build_network  # noqa: E402
from edgenas.profile import fit_calibration, profile_space  # noqa: E402
from edgenas.space import get_space  # noqa: E402
from edgenas.table import LatencyTable  # noqa: E402
from profilers import get_profiler  # noqa: E402
from profilers.base import host_device_info  # noqa: E402

TRUTH = ROOT / "benchmarks" / "results" / "scratch_accuracy.json"


def subsets(n: int) -> dict:
    """Index lists of the calibration points per scheme (points are uniform, then fast, then slow thirds)."""
    third = n // 3
    uniform, fast, slow = range(0, n - 2 * third), range(n - 2 * third, n - third), range(n - third, n)

    def spaced(part, k):  # k points of a spread part, from near-uniform to its end
        return [part[int(round(i))] for i in np.linspace(len(part) - 1, 0, k, endpoint=False)[::-1]] if k else []

    return {"uniform+fast-12": list(uniform)[:6] + spaced(fast, 6),
            "thirds-12": list(uniform)[:4] + spaced(fast, 4) + spaced(slow, 4),
            f"thirds-{n}": list(range(n))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the table")
    ap.add_argument("--networks", type=int, default=18)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "calibration_range.json"))
    args = ap.parse_args()

    space = get_space("fbnet-small")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    protocol = TimingProtocol(min_runs=10, min_time_s=0.1, reference=True)
    table = profile_space(space, get_profiler("onnxruntime", threads=1, protocol=protocol), out / "table.json",
                          calibration_networks=args.networks)
    points = table.calibration.points
    archs = [space.parse(r["arch"]) for r in json.loads(TRUTH.read_text())["architectures"]]
    profiler = network_profiler(1, protocol, table)
    nets = [build_network(space, a).eval() for a in archs]
    ms = np.array([[measure_network(net, space.input_shape, profiler, table)["latency_ms"] for net in nets]
                   for _ in range(args.passes)])
    measured = np.median(ms, axis=0)
    op_sum = CostModel(space, table, calibrated=False).predict(np.asarray(archs)).op_sum_ms
    result = {"command": " ".join(sys.argv), "machine": host_device_info(1), "table": str(out / "table.json"),
              "noise_pass2_vs_1_pct": float(np.mean(np.abs(ms[1] / ms[0] - 1)) * 100) if args.passes > 1 else None,
              "networks": [{"arch": space.format(a), "op_sum_ms": float(s), "measured_ms": float(m)}
                           for a, s, m in zip(archs, op_sum, measured)], "schemes": {}}
    order = np.argsort(measured)
    for name, idx in subsets(len(points)).items():
        cal = fit_calibration([points[i] for i in idx])
        predicted = apply_calibration(cal, op_sum, np)
        err = (predicted / measured - 1) * 100
        result["schemes"][name] = {"points": len(idx), "within_10pct": int((np.abs(err) <= 10).sum()),
                                   "within_5pct": int((np.abs(err) <= 5).sum()),
                                   "mape_pct": float(np.abs(err).mean()), "errors_pct_by_latency": err[order].round(1).tolist()}
        print(f"{name:<16} within ±10 %: {result['schemes'][name]['within_10pct']}/{len(archs)}, "
              f"±5 %: {result['schemes'][name]['within_5pct']}, MAPE {np.abs(err).mean():.1f} %; errors fastest "
              f"to slowest: {' '.join(f'{e:+.0f}' for e in err[order])}")
    Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
