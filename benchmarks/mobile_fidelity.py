"""Profile a space on a phone runtime running on this CPU (1 thread), then validate it on held-out networks.

    PYTHONPATH=. python benchmarks/mobile_fidelity.py --backend executorch-xnnpack
    PYTHONPATH=.:/path/to/litert-torch python benchmarks/mobile_fidelity.py --backend litert-xnnpack

Writes ``latency_tables/<space>.<backend>.cpu1.json`` (with its validation
figures and a PNG scatter plot beside it) and ``benchmarks/results/mobile_fidelity.<backend>.json``,
and prints the profiling cost and the fidelity figures: calibrated, uncalibrated
op sum, plain per-op sum, and the machine's own pass-to-pass noise.
The target (issue 6) is >= 95 % of held-out architectures within ±10 %.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edgenas.fileio import atomic_write_json
from edgenas.profiling.measure import TimingProtocol
from edgenas.profiling.profile import profile_space
from edgenas.profiling.report import format_table_summary, format_validation, plot_validation
from edgenas.arch.space import get_space
from edgenas.profiling.validate import validate_table
from profilers import get_profiler

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="executorch-xnnpack", choices=["executorch-xnnpack", "litert-xnnpack"])
    ap.add_argument("--space", default="fbnet-small")
    ap.add_argument("--out", help="Table path (default latency_tables/<space>.<backend>.cpu1.json).")
    ap.add_argument("-n", type=int, default=30, help="Held-out architectures.")
    ap.add_argument("--calibration-networks", type=int, default=24)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--restart", action="store_true", help="Measure again from nothing (default: resume).")
    ap.add_argument("--no-reference", action="store_true",
                    help="Time without pairing every timing with the reference network (see edgenas/profiling/reference.py).")
    args = ap.parse_args(argv)

    space = get_space(args.space)
    out = args.out or str(ROOT / "latency_tables" / f"{space.name}.{args.backend}.cpu1.json")
    profiler = get_profiler(args.backend, threads=1, protocol=TimingProtocol(min_time_s=args.min_time,
                                                                          reference=not args.no_reference))
    t0 = time.perf_counter()
    table = profile_space(space, profiler, out, restart=args.restart, calibration_networks=args.calibration_networks)
    profile_s = time.perf_counter() - t0
    print(f"profiled {len(table.entries)} ops + {len(table.calibration.points)} calibration networks in "
          f"{profile_s:.1f} s")
    t0 = time.perf_counter()
    report = validate_table(space, table, profiler, n=args.n, seed=0)
    validate_s = time.perf_counter() - t0
    table.validation = report.to_json()
    table.save(out)
    plot_validation(report, out.removesuffix(".json") + ".validation.png",
                    title=f"{space.name}, {args.backend} on this CPU, 1 thread")
    print(format_table_summary(table))
    print(format_validation(report))
    result = {"backend": args.backend, "space": space.name, "table": str(Path(out).relative_to(ROOT))
              if Path(out).resolve().is_relative_to(ROOT) else out,
              "profile_s": round(profile_s, 1), "validate_s": round(validate_s, 1),
              "runtime": table.header["runtime"], "cpu": table.header["device"].get("cpu"),
              "calibration": table.calibration.coef, "validation": report.to_json()}
    atomic_write_json(ROOT / "benchmarks" / "results" / f"mobile_fidelity.{args.backend}.json", result)
    c = report.calibrated
    print(f"target >= 95 % within ±10 %: {'met' if c.within_10pct >= 0.95 else 'NOT met'} "
          f"({100 * c.within_10pct:.1f} % of {report.n})")


if __name__ == "__main__":
    main()
