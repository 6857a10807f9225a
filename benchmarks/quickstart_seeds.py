"""Issue 14's last target: five fresh quickstarts (seeds 0-4), each within 15 minutes on two cores, whose front
dominates both MobileNetV2 baselines in at least 4 of 5.

Runs ``edgenas quickstart --seed S`` (the console command, as a user would) one after the other, each into a new
run folder under ``--workdir``, timing its wall clock, and reads each deployment report: the best exported accuracy,
the prediction after export, and for each baseline the fastest exported model at least as accurate (it dominates
the baseline when it is also faster). A seed whose summary is already in the workdir is not run again.

    PYTHONPATH=. python benchmarks/quickstart_seeds.py --workdir /tmp/qs5 --out benchmarks/results/quickstart_seeds.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 15 * 60


def load_average() -> float:
    return os.getloadavg()[0]


def run_seed(seed: int, work: Path, extra: list) -> dict:
    out = work / f"seed{seed}"
    cmd = [str(Path(sys.executable).with_name("edgenas")), "quickstart", "--seed", str(seed), "--out", str(out),
           "--quiet", *extra]
    load_before = load_average()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    (work / f"seed{seed}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed}: quickstart exited {proc.returncode}; see {work}/seed{seed}.log")
    doc = json.loads((out / "deploy" / "deploy.json").read_text())
    versus = {r["baseline"]: {"match": r["match"], "speedup": r["speedup"],
                              "dominated": bool(r["match"]) and r["speedup"] >= 1.0}
              for r in doc["versus_baselines"]}
    models = [{"id": m["id"], "arch": m["arch"], "accuracy": m["accuracy"],
               "latency_ms": m["measured"].get("latency_ms"), "predicted_ms": (m.get("predicted") or {}).get("latency_ms"),
               "error_pct": m.get("error_pct")} for m in doc["models"]]
    baselines = [{"id": b["id"], "accuracy": b["accuracy"], "latency_ms": b["measured"].get("latency_ms")}
                 for b in doc["baselines"]]
    return {"seed": seed, "wall_s": wall, "within_target": wall <= TARGET_S, "load_before": load_before,
            "load_after": load_average(), "stdout_lines": [ln for ln in proc.stdout.splitlines() if ln[:3] in
                                                         ("1/4", "2/4", "3/4", "4/4")],
            "models": models, "baselines": baselines, "versus": versus,
            "dominates_all": bool(versus) and all(v["dominated"] for v in versus.values()),
            "prediction": doc["prediction"]}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "quickstart_seeds.json")
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="after --: more quickstart options, e.g. -- --estimator supernet")
    args = ap.parse_args(argv)
    extra = [a for a in args.extra if a != "--"]
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in range(args.seeds):
        kept = args.workdir / f"seed{seed}.json"
        if kept.is_file():
            row = json.loads(kept.read_text())
        else:
            row = run_seed(seed, args.workdir, extra)
            kept.write_text(json.dumps(row, indent=1))
        rows.append(row)
        best = max(m["accuracy"] for m in row["models"])
        print(f"seed {seed}: {row['wall_s']:.0f} s, best {100 * best:.2f} %, dominates "
              f"{sum(v['dominated'] for v in row['versus'].values())} of {len(row['versus'])} baselines, "
              f"{100 * row['prediction'].get('within_10pct', 0):.0f} % within 10 %", flush=True)
    summary = {"command": "edgenas quickstart --seed S " + " ".join(extra), "extra": extra,
               "machine": os.uname().nodename, "cores": os.cpu_count(),
               "seeds_dominating_all": sum(r["dominates_all"] for r in rows), "seeds": len(rows),
               "seeds_within_15_min": sum(r["within_target"] for r in rows),
               "median_wall_s": sorted(r["wall_s"] for r in rows)[len(rows) // 2], "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    print(f"{summary['seeds_dominating_all']} of {len(rows)} dominate every baseline (target >= 4 of 5); "
          f"{summary['seeds_within_15_min']} of {len(rows)} within 15 minutes; median {summary['median_wall_s']:.0f} s")
    return summary


if __name__ == "__main__":
    main()
