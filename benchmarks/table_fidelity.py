"""Profile a space on onnxruntime CPU (1 thread), then validate the table on held-out networks.

    python benchmarks/table_fidelity.py fbnet-224 latency_tables/fbnet-224.onnxruntime.cpu1.json [--no-reference]

Prints the profiling cost (wall time against time inside timed runs) and the
fidelity figures (calibrated, uncalibrated op sum, plain per-op sum, and the
machine's own pass-to-pass noise). The table keeps its validation figures and a
PNG scatter plot is written beside it. Run it on a quiet machine: the figures
are only as good as the machine's own noise allows, which the noise row shows.
"""
from __future__ import annotations

import argparse
import time

from edgenas.profiling.measure import TimingProtocol
from edgenas.profiling.profile import profile_space
from edgenas.profiling.report import format_table_summary, format_validation, plot_validation
from edgenas.arch.space import get_space
from edgenas.profiling.validate import validate_table
from profilers import get_profiler


def main(space_name: str, out: str, n: int = 30, reference: bool = True) -> None:
    space = get_space(space_name)
    profiler = get_profiler("onnxruntime", threads=1, protocol=TimingProtocol(min_time_s=0.5, reference=reference))
    t0 = time.perf_counter()
    table = profile_space(space, profiler, out, restart=True, calibration_networks=24)
    print(f"profiled {len(table.entries)} ops + {len(table.calibration.points)} calibration networks in "
          f"{time.perf_counter() - t0:.1f} s")
    report = validate_table(space, table, profiler, n=n, seed=0)
    table.validation = report.to_json()
    table.save(out)
    plot_validation(report, out.removesuffix(".json") + ".validation.png", title=f"{space.name}, onnxruntime CPU 1 thread")
    print(format_table_summary(table))
    print(format_validation(report))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("space")
    ap.add_argument("out")
    ap.add_argument("-n", type=int, default=30, help="Held-out architectures.")
    ap.add_argument("--no-reference", action="store_true", help="Time each model alone (no paired reference).")
    args = ap.parse_args()
    main(args.space, args.out, args.n, reference=not args.no_reference)
