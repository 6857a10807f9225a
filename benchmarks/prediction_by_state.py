"""Prediction after export against the machine's state at measurement, over quickstart run folders.

For each exported model of each run: its prediction error and the ratio of the reference network's median
at measurement to the table's unit (taken when the profile began). A ratio far from 1 means the machine was in
another speed state than during the profile; pairing with the reference scales the timing by that ratio, which
is only right if the model changed speed as the reference did.

    PYTHONPATH=. python benchmarks/prediction_by_state.py /tmp/qs5auto/seed* /tmp/qs5slow/seed* --json OUT
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edgenas.profiling.measure import in_profile_state

WITHIN = 10.0


def rows(run: Path) -> list:
    unit = json.loads((run / "table.json").read_text())["reference"]["unit_ms"]
    out = []
    for manifest in sorted((run / "deploy" / "models").glob("*/export.json")):
        m = json.loads(manifest.read_text())
        measured = m.get("measured") or {}
        if m.get("error_pct") is None:      # a baseline, or not measured
            continue
        timing = measured["timing"]
        tries = (timing.get("state") or {}).get("tries", 1)
        out.append({"run": str(run), "id": m["id"], "arch": m["arch"], "error_pct": m["error_pct"],
                    "reference_ratio": timing["reference_ms"] / unit, "tries": tries})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="quickstart run folders (table.json and deploy/)")
    ap.add_argument("--json", help="write the rows and the summary here")
    args = ap.parse_args()
    table = [r for run in args.runs for r in rows(Path(run))]
    for r in table:
        print(f"{r['run']:>24} {r['id']:>4}  error {r['error_pct']:+6.1f} %  reference ×{r['reference_ratio']:.2f}"
              f"  tries {r['tries']}")
    summary = {}
    for name, pick in (("the profile's state", True), ("another state than the profile's", False)):
        sel = [r for r in table if in_profile_state(r["reference_ratio"]) == pick]
        within = sum(abs(r["error_pct"]) <= WITHIN for r in sel)
        mape = float(np.mean([abs(r["error_pct"]) for r in sel])) if sel else float("nan")
        summary[name] = {"models": len(sel), "within_10pct": within, "mape_pct": mape}
        print(f"measured in {name}: {within} of {len(sel)} within ±{WITHIN:g} % (MAPE {mape:.1f} %)")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": args.runs, "summary": summary, "rows": table}, indent=1) + "\n")


if __name__ == "__main__":
    main()
