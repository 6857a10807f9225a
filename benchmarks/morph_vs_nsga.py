"""Issue 16's targets: LEMONADE and NASH against NSGA-II over the SPOS supernet, at equal wall time, on fbnet-small.

    PYTHONPATH=. python benchmarks/morph_vs_nsga.py --out /tmp/morph-vs-nsga [--minutes 15] [--seed 0]

Three searches under the same latency budget on the shipped onnxruntime table, each given ``--minutes`` of
wall time on the machine's cores, through the command line a user would type:

- ``lemonade`` and ``nash`` train their own networks, ``--workers`` at a time; their ``--max-minutes`` counts
  training seconds summed over workers, ``--train-minutes`` (default ``minutes × workers``; the wall is longer by
  what happens between trainings: on 2026-12-01 LEMONADE trained 0.80 and NASH 0.90 of two workers' wall time);
- ``nsga2``: ``edgenas supernet train`` (``--supernet-epochs``, chosen so that supernet and search together take
  about the same wall time; ≈ 20 s an epoch here), then NSGA-II over it. The measured wall times are reported
  side by side.

Then every result is exported the same way (``edgenas export``: from scratch, the same epochs, seed and data;
MobileNetV2 ×0.25 and ×0.5 trained and measured with the NSGA-II export), LEMONADE's also with
``--init inherited`` (its members' weights fine-tuned). The summary scores what was exported, on measured
latency and test accuracy: hypervolume of (error, latency) against one reference point for all, which baseline
each front dominates, NASH's network against the best NSGA-II model within the budget, and the share of models
measured within ±10 % of the table. Every stage is a resumable command and is skipped once its output exists,
so a rerun continues. Writes ``summary.json``, ``summary.md`` and ``summary.png`` under ``--out``.
Needs a quiet machine: the wall-time budgets and the latencies are only comparable there.

``--arms nash --nsga2-from SUMMARY`` runs one arm alone and scores it against the NSGA-II arm (and its baselines)
of an earlier ``summary.json``: for a variant of one search (e.g. ``--nash-arg=--grow-first``,
``--lemonade-arg=--start=ARCH``) without training the others again. The earlier arm's budget is its own
``max_latency`` on its own table; give this run's ``--max-latency`` at the same place on its table, and say so,
since the two tables are not one.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "latency_tables" / "fbnet-small.onnxruntime.cpu1.json"
ARMS = ("nsga2", "lemonade", "nash")
REF_ERROR = 0.10        # hypervolume reference: 90 % accuracy ...
REF_LATENCY_FACTOR = 1.1  # ... and 1.1 × the slowest network exported (baselines included)


def edgenas(*args) -> List[str]:
    return [sys.executable, "-m", "cli", *map(str, args)]


def stage(out: Path, name: str, done: Path, cmd: List[str], log: Dict[str, dict]) -> None:
    """Run ``cmd`` unless ``done`` exists; its wall time goes into the stage log (kept across reruns)."""
    if done.exists() and name in log:
        print(f"{name}: done ({log[name]['wall_s']:.0f} s), skipped", flush=True)
        return
    print(f"{name}: {' '.join(cmd[2:])}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    log[name] = {"wall_s": time.perf_counter() - t0, "command": " ".join(cmd[2:])}
    (out / "stages.json").write_text(json.dumps(log, indent=1))


def searches(args, out: Path, log: Dict[str, dict]) -> None:
    common = ["--table", args.table, "--max-latency", f"{args.max_latency}ms", "--dataset", args.dataset,
              "--seed", args.seed, "--quiet"]
    morph = ["--workers", args.workers, "--max-minutes", args.train_minutes or args.minutes * args.workers,
             "--epochs", args.epochs]
    if "lemonade" in args.arms:
        stage(out, "lemonade", out / "lemonade" / "result.json",
              edgenas("search", "lemonade", *common, *morph, "--generations", 10_000, *args.lemonade_arg,
                      "--out", out / "lemonade"), log)
    if "nash" in args.arms:
        stage(out, "nash", out / "nash" / "result.json",
              edgenas("search", "nash", *common, *morph, "--steps", 10_000, *args.nash_arg, "--out", out / "nash"),
              log)
    if "nsga2" in args.arms:
        stage(out, "supernet", out / "supernet" / "checkpoint.pt",
              edgenas("supernet", "train", "--dataset", args.dataset, "--epochs", args.supernet_epochs,
                      "--seed", args.seed, "--quiet", "--out", out / "supernet"), log)
        stage(out, "nsga2", out / "nsga2" / "result.json",
              edgenas("search", "nsga2", *common, "--estimator", f"supernet:{out / 'supernet'}",
                      "--pop", args.pop, "--gens", args.gens, "--out", out / "nsga2"), log)


def exports(args, out: Path, log: Dict[str, dict]) -> None:
    common = ["--epochs", args.export_epochs, "--seed", args.seed, "--max-models", args.models,
              "--jobs", args.workers, "--quiet"]
    for arm, extra in [("nsga2", ["--baseline", 0.25, "--baseline", 0.5]), ("lemonade", []), ("nash", []),
                       ("lemonade-inherited", ["--init", "inherited"])]:
        run = out / arm.split("-")[0]
        if run.name not in args.arms:
            continue
        stage(out, f"export {arm}", out / f"export-{arm}" / "deploy.json",
              edgenas("export", run, *common, *extra, "--out", out / f"export-{arm}"), log)


def hypervolume(points: List[tuple], ref: tuple) -> float:
    """Area dominated by (error, latency) points, both minimised, up to ``ref`` (pymoo's indicator, as the searches)."""
    import numpy as np
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=np.array(ref))(np.array(points))) if points else 0.0


def summarize(args, out: Path, log: Dict[str, dict]) -> dict:
    from profilers.base import cpu_model

    docs = {arm: json.loads((out / f"export-{arm}" / "deploy.json").read_text())
            for arm in ("nsga2", "lemonade", "nash", "lemonade-inherited") if arm.split("-")[0] in args.arms}
    models = {arm: [{"arch": m["arch"], "accuracy": m["accuracy"], "latency_ms": m["measured"]["latency_ms"],
                     "predicted_ms": m["predicted"]["latency_ms"]} for m in d["models"] if m.get("measured")]
              for arm, d in docs.items()}
    if "nsga2" in docs:
        baselines = [{"id": b["id"], "accuracy": b["accuracy"], "latency_ms": b["measured"]["latency_ms"]}
                     for b in docs["nsga2"]["baselines"]]
        nsga2_budget = args.max_latency
    else:  # the NSGA-II arm and its baselines of an earlier run, under that run's own budget
        earlier = json.loads(Path(args.nsga2_from).read_text())
        baselines, models["nsga2"] = earlier["baselines"], earlier["arms"]["nsga2"]["models"]
        nsga2_budget = earlier["settings"]["max_latency"]
        log = {**log, **{k: earlier["stages"][k] for k in ("supernet", "nsga2")}}  # its wall, for the table
    slowest = max([m["latency_ms"] for ms in models.values() for m in ms] + [b["latency_ms"] for b in baselines])
    ref = (REF_ERROR, REF_LATENCY_FACTOR * slowest)
    rows = {}
    for arm, ms in models.items():
        dominated = [b["id"] for b in baselines
                     if any(m["accuracy"] >= b["accuracy"] and m["latency_ms"] <= b["latency_ms"] for m in ms)]
        within = [abs(m["latency_ms"] / m["predicted_ms"] - 1) <= 0.10 for m in ms]
        rows[arm] = {"models": ms, "hypervolume": hypervolume([(1 - m["accuracy"], m["latency_ms"]) for m in ms], ref),
                     "best_accuracy": max((m["accuracy"] for m in ms), default=None),
                     "dominates": dominated, "within_10pct": f"{sum(within)}/{len(within)}"}
    under = [m["accuracy"] for m in models["nsga2"] if m["predicted_ms"] <= nsga2_budget]
    # the target: the network NASH returned (its result's ``selected``), after the same final training
    returned = (json.loads((out / "nash" / "result.json").read_text())["selected"] if "nash" in models
                else None)
    nash_acc = next((m["accuracy"] for m in models.get("nash", []) if m["arch"] == returned), None)
    summary = {"command": " ".join(sys.argv), "machine": cpu_model(),
               "cores": os.cpu_count(), "load_at_end": os.getloadavg(), "written": time.strftime("%Y-%m-%d %H:%M"),
               "settings": vars(args), "stages": log, "reference_point": ref,
               "baselines": baselines, "nsga2_from": args.nsga2_from, "arms": rows,
               "nash_vs_nsga2": {"nash_returned": returned, "nash": nash_acc,
                                 "best_nsga2_within_budget": max(under, default=None),
                                 "met": nash_acc is not None and (not under or nash_acc >= max(under))}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(markdown(summary))
    plot(summary, out / "summary.png")
    return summary


def markdown(s: dict) -> str:
    lines = ["| arm | search wall s | exported | best accuracy | HV | dominates | measured within ±10 % |",
             "| --- | ---: | ---: | ---: | ---: | --- | ---: |"]
    walls = {"nsga2": s["stages"].get("supernet", {}).get("wall_s", 0) + s["stages"].get("nsga2", {}).get("wall_s", 0),
             "lemonade": s["stages"].get("lemonade", {}).get("wall_s", 0),
             "lemonade-inherited": s["stages"].get("lemonade", {}).get("wall_s", 0),
             "nash": s["stages"].get("nash", {}).get("wall_s", 0)}
    for arm, r in s["arms"].items():
        lines.append(f"| {arm} | {walls[arm]:.0f} | {len(r['models'])} | {100 * r['best_accuracy']:.1f} % | "
                     f"{r['hypervolume']:.5f} | {', '.join(r['dominates']) or 'none'} | {r['within_10pct']} |")
    lines += ["", "baselines: " + ", ".join(f"{b['id']} {100 * b['accuracy']:.1f} % at {b['latency_ms']:.3f} ms"
                                           for b in s["baselines"]),
              f"NASH vs best NSGA-II model within the budget: {s['nash_vs_nsga2']}"]
    if s.get("nsga2_from"):
        lines.append(f"NSGA-II's arm and the baselines are those of {s['nsga2_from']}, measured then: latencies, "
                     "HV and dominance compare across two states of the machine; accuracies do not depend on it.")
    return "\n".join(lines) + "\n"


def plot(s: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for arm, r in s["arms"].items():
        ax.scatter([m["latency_ms"] for m in r["models"]], [100 * m["accuracy"] for m in r["models"]], label=arm)
    for b in s["baselines"]:
        ax.scatter([b["latency_ms"]], [100 * b["accuracy"]], marker="*", s=140, color="black")
        ax.annotate(b["id"], (b["latency_ms"], 100 * b["accuracy"]), textcoords="offset points", xytext=(5, -10))
    ax.axvline(s["settings"]["max_latency"], color="grey", ls=":", label="budget (predicted)")
    ax.set_xlabel("measured latency, ms")
    ax.set_ylabel("test accuracy, %")
    ax.set_title(f"exported models, {s['settings']['minutes']:g} min of search each")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--table", default=str(TABLE))
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--max-latency", type=float, default=0.09, help="Budget in ms on the table, for every search.")
    ap.add_argument("--minutes", type=float, default=15.0, help="Wall minutes of search per arm.")
    ap.add_argument("--workers", type=int, default=2, help="Trainings at a time (cores).")
    ap.add_argument("--train-minutes", type=float, default=None,
                    help="LEMONADE's and NASH's --max-minutes: training minutes summed over workers "
                         "(default: minutes x workers).")
    ap.add_argument("--epochs", type=int, default=2, help="Epochs per child (LEMONADE, NASH).")
    ap.add_argument("--supernet-epochs", type=int, default=30, help="SPOS epochs (sets NSGA-II's wall time).")
    ap.add_argument("--pop", type=int, default=24)
    ap.add_argument("--gens", type=int, default=10)
    ap.add_argument("--models", type=int, default=4, help="Models exported per arm.")
    ap.add_argument("--export-epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nash-arg", action="append", default=[], metavar="ARG",
                    help="one more argument of the NASH arm's search, e.g. --nash-arg=--grow-first")
    ap.add_argument("--lemonade-arg", action="append", default=[], metavar="ARG",
                    help="one more argument of the LEMONADE arm's search, e.g. --lemonade-arg=--start=ARCH")
    ap.add_argument("--arms", type=lambda s: s.split(","), default=list(ARMS),
                    help="comma-separated arms to run (default: all three)")
    ap.add_argument("--nsga2-from", metavar="SUMMARY",
                    help="an earlier summary.json whose NSGA-II arm and baselines stand in when nsga2 is not run")
    args = ap.parse_args()
    if set(args.arms) - set(ARMS) or not args.arms:
        ap.error(f"--arms: choose among {', '.join(ARMS)}")
    if "nsga2" not in args.arms and not args.nsga2_from:
        ap.error("without the nsga2 arm, give --nsga2-from an earlier summary.json to score against")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "stages.json"
    log = json.loads(log_path.read_text()) if log_path.is_file() else {}
    searches(args, out, log)
    exports(args, out, log)
    print(markdown(summarize(args, out, log)))


if __name__ == "__main__":
    main()
