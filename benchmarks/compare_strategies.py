"""Search strategies side by side (issue 15, item 5): every registered edgenas strategy that takes an accuracy
estimator, and peers run for real on the same problems (optuna 5: NSGAIISampler, TPESampler; NNI 3.0:
RegularizedEvolution, PolicyBasedRL in NNI's own venv), all counted in distinct architectures evaluated.

Problems (benchmarks/compare_problems.py): ``oracle`` — fbnet-small6, 531,441 architectures, the SyntheticOracle,
the exact front by enumeration; ``bench`` — fbnet-small, 43M architectures, the benchmark of trained architectures
(tabular where trained, its surrogate elsewhere), one problem per budget. Anytime curves against distinct
evaluations: hypervolume of (error, latency) over the feasible architectures found, as a share of the reference
front's, and the best accuracy within the budget (0 while none is found); median and interquartile range over
seeds; one PNG per problem family and one JSON of every row. The summary checks issue 15's targets.

    PYTHONPATH=. python benchmarks/compare_strategies.py --seeds 20 --evaluations 1000
    PYTHONPATH=. python benchmarks/compare_strategies.py --problems oracle --strategies random,evolution --seeds 2 \\
        --evaluations 100 --out /tmp/compare-smoke/compare

``--variant evolution-pareto=evolution --option evolution-pareto.selection=pareto`` runs a registered strategy
with other options under a name of its own; ``--evaluations-of optuna-tpe=200`` stops a slow strategy earlier (its
curves end there: later checkpoints are empty, not flat).

Runs are kept as they finish in ``<workdir>/rows.<problem>.<settings>.jsonl``: rerunning continues, and problems
run by separate invocations (in parallel) are summed up by one more invocation naming them all.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

# one BLAS thread per process (the NNI worker inherits it): the estimator mostly answers one architecture at a
# time, and several harness processes may share the cores. Not measured to be faster: a guess against thread
# oversubscription, kept because the recorded runs were made with it
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads when loaded)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))   # this checkout's edgenas, before any installed one
sys.path.insert(0, str(HERE))

import compare_problems as cp  # noqa: E402
from compare_runners import PEERS, Trace, runner_for  # noqa: E402

CHECKPOINTS = (25, 50, 75, 100, 150, 200, 300, 400, 500, 600, 700, 800, 900, 1000)


def default_strategies() -> List[str]:
    """Every registered edgenas strategy that takes an estimator, then the peers."""
    from edgenas.search.strategies import get_strategy, names

    return [n for n in names() if get_strategy(n).uses_estimator] + list(PEERS)


# ---- one run -> one row ----------------------------------------------------------------------------------------
def row_of(problem: cp.Problem, strategy: str, seed: int, trace: Trace, checkpoints: Sequence[int], cap: int) -> dict:
    """Anytime figures of one run: hypervolume (raw; the share is taken once the reference is known) and best
    accuracy within the budget after k distinct evaluations, for each checkpoint k up to the run's budget ``cap``
    (None after it)."""
    lat = problem.latency(trace.archs) if len(trace.archs) else np.empty(0)
    err = trace.errors
    ok = lat <= problem.budget_ms
    tracker = problem.tracker()
    hv, done = [], 0
    for k in checkpoints:
        k = min(k, len(err))
        tracker.observe([], {"error": err[done:k], problem.latency_key: lat[done:k]})
        done = k
        hv.append(tracker.hypervolume)
    hv = [h if k <= cap else None for h, k in zip(hv, checkpoints)]
    best = np.maximum.accumulate(np.where(ok, 1.0 - err, 0.0)) if len(err) else np.zeros(0)
    gains = np.flatnonzero(np.diff(np.concatenate([[0.0], best])) > 0)
    idx = np.flatnonzero(ok)
    front = idx[cp._front_2d(err[idx], lat[idx])] if len(idx) else idx
    n = len(err)
    return {
        "problem": problem.name, "strategy": strategy, "seed": seed, "budget": cap, "evaluated": n,
        "stopped": trace.stopped,
        "proposals": trace.proposals, "feasible": int(ok.sum()), "wall_s": trace.wall_s,
        "estimator_s": trace.estimator_s, "cpu_s": trace.cpu_s, "estimator_cpu_s": trace.estimator_cpu_s,
        "overhead_ms_per_eval": 1e3 * (trace.wall_s - trace.estimator_s) / max(n, 1),
        # the same in CPU time: what the strategy costs, whatever else the machine runs
        "overhead_cpu_ms_per_eval": 1e3 * (trace.cpu_s - trace.estimator_cpu_s) / max(n, 1),
        "hypervolume": hv,
        "best_accuracy": [(float(best[min(k, n) - 1]) if n else 0.0) if k <= cap else None for k in checkpoints],
        "best_steps": [[int(i) + 1, float(best[i])] for i in gains],   # (evaluations, new best) pairs
        "front": [[float(err[i]), float(lat[i])] for i in front],      # feasible (error, latency) front found
    }


def settings_key(args, problem) -> str:
    """What a problem's rows depend on: runs of other invocations with the same key are reused."""
    ident = {"problem": problem.name, "evaluations": args.evaluations, "checkpoints": list(args.checkpoints),
             "options": sorted(args.option), "reference": problem.reference.get("how"),
             "estimator": problem.estimator.describe(), "cap": args.max_proposals_factor}
    if args.variant:   # (only when used: the keys of earlier runs stay valid)
        ident["variants"] = sorted(args.variant)
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_all(args, problems: List[cp.Problem], strategies: List[str], log) -> List[dict]:
    """Every (problem, strategy, seed) run; each problem's rows are kept as they finish in
    ``<workdir>/rows.<problem>.<settings>.jsonl``, so a rerun (or another invocation with other problems)
    continues from them."""
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    seeds_of = {k: int(v) for k, v in (o.split("=", 1) for o in args.seeds_of)}
    evaluations_of = {k: int(v) for k, v in (o.split("=", 1) for o in args.evaluations_of)}
    rows = []
    for problem in problems:
        rows_path = work / f"rows.{problem.name}.{settings_key(args, problem)}.jsonl"
        done = {}
        if rows_path.exists():
            for line in rows_path.read_text().splitlines():
                r = json.loads(line)
                done[(r["strategy"], r["seed"])] = r
            log(f"{problem.name}: {len(done)} runs already in {rows_path}")
        runners = {s: runner_for(s, args) for s in strategies}
        with rows_path.open("a") as out:
            # seed-major, so that a run stopped early holds every strategy for its first seeds
            for seed in range(max([args.seeds, *seeds_of.values()])):
                for strategy, run in runners.items():
                    if seed >= seeds_of.get(strategy, args.seeds):
                        continue
                    cap = evaluations_of.get(strategy, args.evaluations)
                    if (strategy, seed) in done and done[(strategy, seed)].get("budget", args.evaluations) == cap:
                        rows.append(done[(strategy, seed)])
                        continue
                    if args.summarize_only:
                        continue
                    folder = work / "runs" / f"{problem.name}.{strategy}.{seed}"
                    shutil.rmtree(folder, ignore_errors=True)   # a run killed half-way starts over
                    trace = run(problem, seed, cap, folder)
                    shutil.rmtree(folder, ignore_errors=True)
                    row = row_of(problem, strategy, seed, trace, args.checkpoints, cap)
                    rows.append(row)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    best = [a for a in row["best_accuracy"] if a is not None][-1]
                    log(f"{problem.name:14s} {strategy:16s} seed {seed:2d}: {row['evaluated']:5d} distinct, best "
                        f"{best:.4f}, {row['wall_s']:6.1f} s, overhead "
                        f"{row['overhead_ms_per_eval']:.2f} ms/eval ({row['stopped']})")
    return rows


# ---- references, shares, statistics -----------------------------------------------------------------------------
def finish_references(problems: List[cp.Problem], rows: List[dict]) -> None:
    """Problems whose feasible set was too large to enumerate: the reference is the union of every run's front."""
    for p in problems:
        if "hypervolume" in p.reference:
            continue
        pts = np.array([pt for r in rows if r["problem"] == p.name for pt in r["front"]]).reshape(-1, 2)
        tracker = p.tracker()
        if len(pts):
            tracker.observe([], {"error": pts[:, 0], p.latency_key: pts[:, 1]})
        p.reference.update(hypervolume=tracker.hypervolume, front_points=len(tracker.front),
                           best_accuracy=float(1.0 - pts[:, 0].min()) if len(pts) else 0.0)


def add_shares(problems: List[cp.Problem], rows: List[dict]) -> None:
    ref = {p.name: p.reference["hypervolume"] for p in problems}
    for r in rows:
        r["hv_share"] = [None if h is None else h / ref[r["problem"]] if ref[r["problem"]] > 0 else 0.0
                         for h in r["hypervolume"]]


def numbers(values) -> np.ndarray:
    """Rows' curves as floats, NaN past a run's budget."""
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def stats(values) -> dict:
    """Median and quartiles per checkpoint (None past the runs' budget)."""
    values = numbers(values)
    out = {}
    for name, q in (("median", 50), ("q25", 25), ("q75", 75)):
        col = [np.percentile(c[~np.isnan(c)], q) if (~np.isnan(c)).any() else None for c in values.T]
        out[name] = [None if v is None else float(v) for v in col]
    return out


def curves(rows: List[dict], problems, strategies) -> Dict[str, Dict[str, dict]]:
    out: Dict[str, Dict[str, dict]] = {}
    for p in problems:
        for s in strategies:
            rs = sorted((r for r in rows if r["problem"] == p.name and r["strategy"] == s), key=lambda r: r["seed"])
            if rs:
                out.setdefault(p.name, {})[s] = {
                    "seeds": len(rs), "hv_share": stats(np.array([r["hv_share"] for r in rs])),
                    "best_accuracy": stats(np.array([r["best_accuracy"] for r in rs])),
                    "median_overhead_ms_per_eval": float(np.median([r["overhead_ms_per_eval"] for r in rs])),
                    "median_overhead_cpu_ms_per_eval": float(np.median([r.get("overhead_cpu_ms_per_eval", np.nan)
                                                                        for r in rs])),
                    "median_wall_s": float(np.median([r["wall_s"] for r in rs])),
                    "budget": max(r.get("budget", r["evaluated"]) for r in rs),
                    "runs_short_of_budget": sum(r["evaluated"] < r.get("budget", r["evaluated"]) for r in rs)}
    return out


def _at(rows, problem, strategy, metric, i) -> np.ndarray:
    rs = sorted((r for r in rows if r["problem"] == problem and r["strategy"] == strategy), key=lambda r: r["seed"])
    return numbers([[r[metric][i]] for r in rs])[:, 0]


def evaluations_to_reach(row: dict, target: float):
    return next((k for k, acc in row["best_steps"] if acc >= target), None)


def targets(rows, problems, strategies, checkpoints: Sequence[int], evaluations: int) -> dict:
    """Issue 15's targets, computed from the rows."""
    out: dict = {"vs_random_at_200": [], "bananas_to_random_median_best": [], "vs_peers": [], "overhead": []}
    at = {k: i for i, k in enumerate(checkpoints)}
    for p in problems:
        names = [s for s in strategies if any(r["problem"] == p.name and r["strategy"] == s for r in rows)]
        if "random" in names and 200 in at:
            for s in names:
                if s == "random":
                    continue
                for metric in ("hv_share", "best_accuracy"):
                    a, b = _at(rows, p.name, s, metric, at[200]), _at(rows, p.name, "random", metric, at[200])
                    if np.isnan(a).any() or np.isnan(b).any():
                        continue   # a run stopped before 200
                    m = min(len(a), len(b))   # paired by seed
                    wins = float(np.mean(a[:m] > b[:m])) if m else float("nan")
                    out["vs_random_at_200"].append({
                        "problem": p.name, "strategy": s, "metric": metric, "median": float(np.median(a)),
                        "random_median": float(np.median(b)), "share_of_seeds_won": wins,
                        "ties": int(np.sum(a[:m] == b[:m])),
                        "met": bool(np.median(a) > np.median(b) and wins >= 0.8)})
        if "bananas" in names and "random" in names:
            target = float(np.median(_at(rows, p.name, "random", "best_accuracy", len(checkpoints) - 1)))
            reach = [evaluations_to_reach(r, target) for r in rows if r["problem"] == p.name
                     and r["strategy"] == "bananas"]
            finite = [k if k is not None else np.inf for k in reach]
            out["bananas_to_random_median_best"].append({
                "problem": p.name, "random_median_best_at": checkpoints[-1], "target_accuracy": target,
                "bananas_evaluations": reach, "median": float(np.median(finite)),
                "met": bool(np.median(finite) <= 150)})
        for ours, theirs, metric in (("evolution", "nni-evolution", "best_accuracy"), ("rl", "nni-rl", "best_accuracy"),
                                     ("nsga2", "optuna-nsga2", "hv_share")):
            if ours in names and theirs in names:
                a = [float(np.median(_at(rows, p.name, ours, metric, i))) for i in range(len(checkpoints))]
                b = [float(np.median(_at(rows, p.name, theirs, metric, i))) for i in range(len(checkpoints))]
                both = [i for i in range(len(checkpoints)) if not (np.isnan(a[i]) or np.isnan(b[i]))]
                out["vs_peers"].append({"problem": p.name, "ours": ours, "theirs": theirs, "metric": metric,
                                        "checkpoints": [checkpoints[i] for i in both],
                                        "ours_median": [a[i] for i in both], "theirs_median": [b[i] for i in both],
                                        "met": all(a[i] >= b[i] for i in both)})
        for s in names:
            rs = [r for r in rows if r["problem"] == p.name and r["strategy"] == s]
            med = float(np.median([r["overhead_ms_per_eval"] for r in rs]))
            cpu = float(np.median([r.get("overhead_cpu_ms_per_eval", np.nan) for r in rs]))
            out["overhead"].append({"problem": p.name, "strategy": s, "evaluations": max(r["evaluated"] for r in rs),
                                    "median_ms_per_eval": med, "median_cpu_ms_per_eval": cpu,
                                    "met": med <= 5.0, "met_in_cpu_time": cpu <= 5.0})
    return out


# ---- output -----------------------------------------------------------------------------------------------------
COLORS = {"random": "tab:gray", "evolution": "tab:green", "nsga2": "tab:red", "rl": "tab:purple",
          "bananas": "tab:orange", "neural-architect": "tab:brown", "optuna-nsga2": "salmon",
          "optuna-tpe": "gold", "nni-evolution": "yellowgreen", "nni-rl": "plum", "evolution-pareto": "tab:olive",
          "bananas-pareto": "darkgoldenrod"}


def plot(path: Path, problems: List[cp.Problem], summary: dict, checkpoints: Sequence[int], seeds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(problems), figsize=(5.2 * len(problems), 8), squeeze=False)
    for j, p in enumerate(problems):
        for i, (metric, label) in enumerate((("hv_share", "hypervolume / reference front's"),
                                             ("best_accuracy", "best accuracy within the budget"))):
            ax = axes[i, j]
            for s, c in summary.get(p.name, {}).items():
                st = c[metric]
                style = "--" if s in PEERS else "-"
                color = COLORS.get(s)
                ax.plot(checkpoints, numbers([st["median"]])[0], style, color=color, label=s)
                ax.fill_between(checkpoints, numbers([st["q25"]])[0], numbers([st["q75"]])[0], color=color, alpha=0.15)
            ax.set_xscale("log")
            ax.set_xlabel("distinct architectures evaluated")
            ax.set_ylabel(label)
            ref = p.reference
            if metric == "hv_share":
                ax.set_title(f"{p.name}\nreference: {'exact' if ref['how'].startswith('exact') else 'union of runs'}, "
                             f"{ref.get('front_points', '?')} points", fontsize=9)
            else:
                ax.axhline(ref["best_accuracy"], color="k", lw=0.8, ls=":", label="reference best")
                last = [next(v for v in reversed(c[metric]["q25"]) if v is not None) for c in summary[p.name].values()]
                lo = min(min(last), ref["best_accuracy"])
                ax.set_ylim(max(0.0, lo - 0.5 * (ref["best_accuracy"] - lo) - 0.002), ref["best_accuracy"] + 0.002)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"median and interquartile range over {seeds} seeds", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def print_tables(summary: dict, checkpoints: Sequence[int], log) -> None:
    show = [k for k in (25, 50, 100, 200, 500, 1000) if k in checkpoints]
    for metric in ("hv_share", "best_accuracy"):
        for problem, by in summary.items():
            log(f"\n{problem}: median {metric}")
            log(f"  {'strategy':16s}" + "".join(f"{k:>9d}" for k in show) + "   overhead ms/eval")
            for s, c in by.items():
                med = c[metric]["median"]
                log(f"  {s:16s}" + "".join(f"{numbers([med])[0][checkpoints.index(k)]:9.4f}" for k in show)
                    + f"   {c['median_overhead_ms_per_eval']:7.2f} wall, {c['median_overhead_cpu_ms_per_eval']:7.2f} CPU")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--problems", default="oracle,bench", help="oracle, bench or both")
    ap.add_argument("--oracle-budget-ms", type=float, nargs="+", default=[0.05])
    ap.add_argument("--bench-budget-ms", type=float, nargs="+", default=[0.05, 0.08])
    ap.add_argument("--bench", default=None, help="benchmark file (default: the one edgenas ships)")
    ap.add_argument("--strategies", default=None,
                    help=f"comma-separated; edgenas registry names and peers ({', '.join(PEERS)}); "
                         f"default: every registered strategy that takes an estimator, then every peer")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--seeds-of", action="append", default=[], metavar="STRATEGY=N",
                    help="fewer (or more) seeds for one strategy, e.g. nni-rl=5 for a slow one")
    ap.add_argument("--evaluations", type=int, default=1000, help="distinct architectures per run")
    ap.add_argument("--evaluations-of", action="append", default=[], metavar="STRATEGY=N",
                    help="fewer distinct evaluations for one strategy, e.g. optuna-tpe=200 for a slow one")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=STRATEGY",
                    help="a registered strategy under another name, given its own options with --option NAME.X=V, "
                         "e.g. evolution-pareto=evolution --option evolution-pareto.selection=pareto")
    ap.add_argument("--checkpoints", default=None, help="comma-separated evaluation counts (default: 25...1000)")
    ap.add_argument("--option", action="append", default=[], metavar="STRATEGY.NAME=VALUE",
                    help="an edgenas strategy's own option, e.g. evolution.population=40")
    ap.add_argument("--max-enumerate", type=int, default=2_000_000,
                    help="enumerate a problem's exact front when it has at most this many feasible architectures; "
                         "else its reference is the union of every run's front")
    ap.add_argument("--max-proposals-factor", type=int, default=20,
                    help="a peer stops after this many times --evaluations proposals, repeats included")
    ap.add_argument("--nni-python", default=os.environ.get("EDGENAS_NNI_PYTHON", "/work/nni-venv/bin/python"))
    ap.add_argument("--workdir", default="/tmp/compare-runs")
    ap.add_argument("--summarize-only", action="store_true",
                    help="run nothing: summarise the runs already kept in --workdir")
    ap.add_argument("--out", default=str(HERE / "results" / "compare_strategies"),
                    help="prefix: writes PREFIX.json and PREFIX.<problem>.png")
    args = ap.parse_args(argv)
    n = args.evaluations
    args.checkpoints = sorted({min(int(k), n) for k in (args.checkpoints.split(",") if args.checkpoints
                                                         else CHECKPOINTS)} | {n})
    strategies = args.strategies.split(",") if args.strategies else default_strategies()

    def log(msg=""):
        print(msg, flush=True)

    started, load0 = time.time(), os.getloadavg()
    families = []
    kinds = args.problems.split(",")
    if "oracle" in kinds:
        families.append(cp.oracle_problems(args.oracle_budget_ms))
    if "bench" in kinds:
        families.append(cp.bench_problems(args.bench_budget_ms, args.bench))
    for fam in families:
        cp.attach_reference(fam, Path(args.workdir) / "cache", args.max_enumerate, log=log)
    problems = [p for fam in families for p in fam]

    rows = run_all(args, problems, strategies, log)
    finish_references(problems, rows)
    add_shares(problems, rows)
    summary = curves(rows, problems, strategies)
    result = {
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": time.time() - started,
        "machine": {"cpus": os.cpu_count(), "load_avg_start": load0, "load_avg_end": os.getloadavg(),
                    "platform": platform.platform(), "python": platform.python_version()},
        "evaluations": n, "seeds": args.seeds, "seeds_of": args.seeds_of, "evaluations_of": args.evaluations_of,
        "variants": args.variant, "checkpoints": args.checkpoints, "strategies": strategies,
        "options": args.option,
        "problems": {p.name: {"budget_ms": p.budget_ms, "table": str(p.table.relative_to(cp.ROOT)),
                              **{k: v for k, v in p.info.items() if not k.startswith("_")},
                              "reference": p.reference} for p in problems},
        "curves": summary,
        "targets": targets(rows, problems, strategies, args.checkpoints, n),
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    for fam in families:
        plot(out.with_name(f"{out.name}.{fam[0].kind}.png"), fam, summary, args.checkpoints, args.seeds)
    print_tables(summary, args.checkpoints, log)
    log("\ntargets:")
    for t in result["targets"]["vs_random_at_200"]:
        log(f"  vs random @200 {t['problem']:14s} {t['strategy']:16s} {t['metric']:13s} median {t['median']:.4f} vs "
            f"{t['random_median']:.4f}, won {t['share_of_seeds_won']:.0%} ({t['ties']} ties): "
            f"{'met' if t['met'] else 'NOT met'}")
    for t in result["targets"]["bananas_to_random_median_best"]:
        log(f"  bananas {t['problem']}: median {t['median']} evaluations to random's median best at "
            f"{t['random_median_best_at']} ({t['target_accuracy']:.4f}): {'met' if t['met'] else 'NOT met'}")
    for t in result["targets"]["vs_peers"]:
        log(f"  {t['ours']} vs {t['theirs']} {t['problem']} ({t['metric']}): "
            f"{'met' if t['met'] else 'NOT met'} at every checkpoint")
    for t in result["targets"]["overhead"]:
        if not (t["met"] and t["met_in_cpu_time"]):
            log(f"  overhead {t['problem']} {t['strategy']}: {t['median_ms_per_eval']:.2f} ms/eval wall, "
                f"{t['median_cpu_ms_per_eval']:.2f} CPU: {'met' if t['met_in_cpu_time'] else 'NOT met'} in CPU time")
    log(f"\nwrote {out.with_suffix('.json')} ({time.time() - started:.0f} s)")
    return result


if __name__ == "__main__":
    main()
