"""Score stored validations with the split-half calibration (issue 2, item 7), without measuring again.

    python benchmarks/rescore_split_half.py latency_tables/*.json

Each table keeps its validation networks' op sums and measurements; every network is predicted by a
calibration fitted on the other half of them (:func:`edgenas.profiling.validate.split_half_predictions`).
Prints that score beside the table's own (profile-time) calibration.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from edgenas.profiling.validate import ErrorStats, split_half_predictions


def main(paths) -> None:
    print(f"{'table':<48} {'split-half ±10/±5 (MAPE, bias)':>32}   {'profile fit ±10/±5':>18}")
    for path in paths:
        v = json.load(open(path)).get("validation")
        if not v:
            continue
        op_sum, measured = np.array(v["op_sum_ms"]), np.array(v["measured_ms"])
        s = ErrorStats.of(split_half_predictions(op_sum, measured), measured)
        c = v["calibrated"]
        print(f"{path:<48} {100 * s.within_10pct:6.1f} / {100 * s.within_5pct:5.1f} ({s.mape_pct:.2f} %, "
              f"{s.bias_pct:+.2f} %)   {100 * c['within_10pct']:6.1f} / {100 * c['within_5pct']:5.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
