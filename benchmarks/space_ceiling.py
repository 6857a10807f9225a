"""Issue 16: can any fbnet-small network under the budget beat MobileNetV2 ×0.5 beyond the noise of one training?

    PYTHONPATH=. python benchmarks/space_ceiling.py --out /tmp/ceiling [--epochs 8] [--seeds 0 1 2]

The morphism searches are scored on one final training per exported model (``edgenas export``: from scratch,
8 epochs on the 4,000 training images of MNIST-5k, 1,000 test images), and the training seed moves a network
by about as much as the searches differ. This trains the most accurate networks the searches exported
within their budgets (``--per-arm`` of each of nsga2, lemonade and nash, over every ``--from`` summary of
``benchmarks/morph_vs_nsga.py``, by their one recorded accuracy), any ``--arch``, the space's largest network
(over the budget: what the space can reach at all) and MobileNetV2 ×0.25 and ×0.5, each at every ``--seeds`` and
``--epochs``, with the export's recipe (same split, batch, learning rate, one thread per training), ``--workers`` at
a time. Differences to ×0.5 are paired by seed (same seed, same test images), on the seeds both networks have.

Writes ``summary.json``, ``summary.md`` and ``summary.png`` under ``--out``; a rerun skips finished trainings, and
``--no-train`` summarises those there (a run cut between seeds).
Accuracy does not depend on the machine's load, so this needs no quiet machine.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.arch.space import get_space  # noqa: E402
from edgenas.errors import EdgeNASError  # noqa: E402
from edgenas.train.ahead import TrainingJob, run_job, train_ahead  # noqa: E402
from edgenas.train.loop import TrainConfig  # noqa: E402
from profilers.base import cpu_model  # noqa: E402

SEARCH_ARMS = ("nsga2", "lemonade", "nash")   # trained from scratch at export (not lemonade-inherited)
BASELINES = (0.25, 0.5)


def candidates(summaries: List[str], per_arm: int) -> Dict[str, dict]:
    """The ``per_arm`` most accurate distinct networks each search arm exported within its own budget."""
    seen: Dict[str, Dict[str, dict]] = {arm: {} for arm in SEARCH_ARMS}
    for path in summaries:
        s = json.loads(Path(path).read_text())
        budget = s["settings"]["max_latency"]
        for arm in SEARCH_ARMS:
            if arm not in s["arms"]:
                continue
            # an arm scored from an earlier summary (--nsga2-from) was searched under that summary's budget
            arm_budget = (json.loads(Path(s["nsga2_from"]).read_text())["settings"]["max_latency"]
                          if arm == "nsga2" and s.get("nsga2_from") else budget)
            for m in s["arms"][arm]["models"]:
                if m["predicted_ms"] <= arm_budget:
                    best = seen[arm].get(m["arch"])
                    if best is None or m["accuracy"] > best["accuracy"]:
                        seen[arm][m["arch"]] = {"arm": arm, "accuracy": m["accuracy"], "summary": Path(path).name,
                                                "share_of_budget": m["predicted_ms"] / arm_budget}
    picked: Dict[str, dict] = {}
    for arm in SEARCH_ARMS:
        for arch, info in sorted(seen[arm].items(), key=lambda kv: -kv[1]["accuracy"])[:per_arm]:
            picked.setdefault(arch, info)
    return picked


def jobs(out: Path, space, names: Dict[str, dict], epochs: int, seed: int) -> Dict[str, TrainingJob]:
    cfg = TrainConfig(epochs=epochs, seed=seed)   # the export's batch, learning rate and weight decay
    folder = out / f"e{epochs}" / f"s{seed}"
    return {name: TrainingJob(folder / name, space, "mnist5k", cfg, 0, 1, arch=info.get("arch"),
                              width=info.get("width"), input_shape=tuple(space.input_shape))
            for name, info in names.items()}


def summarize(out: Path, names: Dict[str, dict], epochs: List[int], seeds: List[int], args) -> dict:
    """Each network's accuracy over the seeds it has, and its difference to ×0.5 on the seeds both have."""
    recipes = {}
    for e in epochs:
        acc = {n: {s: json.loads((out / f"e{e}" / f"s{s}" / n / "result.json").read_text())["test_acc"]
                   for s in seeds if (out / f"e{e}" / f"s{s}" / n / "result.json").is_file()} for n in names}
        ref = acc["mbv2-0.5"]
        rows = {}
        for n in names:
            paired = [s for s in acc[n] if s in ref]
            if not paired:
                continue
            a = np.array(list(acc[n].values()))
            d = np.array([acc[n][s] - ref[s] for s in paired])
            rows[n] = {"accuracy": {str(s): v for s, v in acc[n].items()}, "mean": float(a.mean()),
                       "sd": float(a.std(ddof=1)) if len(a) > 1 else None,
                       "minus_mbv2_0.5": {"seeds": len(d), "mean": float(d.mean()),
                                          "se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None,
                                          "seeds_at_or_above": int((d >= 0).sum())}}
        if rows:
            recipes[str(e)] = {"seeds": sorted({s for n in rows for s in acc[n]}), "networks": rows}
    summary = {"command": " ".join(sys.argv), "machine": cpu_model(),
               "cores": os.cpu_count(), "load_at_end": os.getloadavg(), "written": time.strftime("%Y-%m-%d %H:%M"),
               "settings": vars(args), "networks": names, "recipes": recipes}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(markdown(summary))
    if recipes:
        plot(summary, out / "summary.png")
    return summary


def markdown(s: dict) -> str:
    lines = []
    for e, r in s["recipes"].items():
        lines += [f"### {e} epochs, seeds {', '.join(map(str, r['seeds']))}", "",
                  "| network | from | one recorded | per seed | mean | sd | − ×0.5 (mean ± se) | seeds ≥ ×0.5 |",
                  "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |"]
        for n, row in sorted(r["networks"].items(), key=lambda kv: -kv[1]["mean"]):
            info, d = s["networks"][n], row["minus_mbv2_0.5"]
            src = f"{info['arm']} ({info['summary'].replace('morph_vs_nsga.', '').replace('.json', '')})" \
                if "arm" in info else info.get("note", "")
            recorded = f"{100 * info['accuracy']:.1f}" if "accuracy" in info else ""
            se = f" ± {100 * d['se']:.2f}" if d["se"] is not None else ""
            sd = f"{100 * row['sd']:.2f}" if row["sd"] is not None else ""
            lines.append(f"| {n} | {src} | {recorded} | "
                         f"{' / '.join(f'{100 * v:.1f}' for v in row['accuracy'].values())} | "
                         f"{100 * row['mean']:.2f} | {sd} | {100 * d['mean']:+.2f}{se} | "
                         f"{d['seeds_at_or_above']}/{d['seeds']} |")
        lines.append("")
    lines.append("Networks: " + "; ".join(f"{n} = {i.get('arch') or 'MobileNetV2 ×%g' % i['width']}"
                                          for n, i in s["networks"].items()))
    return "\n".join(lines) + "\n"


def plot(s: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recipes = s["recipes"]
    fig, axes = plt.subplots(1, len(recipes), figsize=(5.5 * len(recipes), 4.2), squeeze=False, sharey=True)
    for ax, (e, r) in zip(axes[0], recipes.items()):
        order = sorted(r["networks"], key=lambda n: -r["networks"][n]["mean"])
        for x, n in enumerate(order):
            vals = list(r["networks"][n]["accuracy"].values())
            color = "black" if n.startswith("mbv2") else "C0"
            ax.scatter([x] * len(vals), [100 * v for v in vals], s=14, color=color, alpha=0.6)
            ax.scatter([x], [100 * r["networks"][n]["mean"]], marker="_", s=400, color=color)
        ax.axhline(100 * r["networks"]["mbv2-0.5"]["mean"], color="grey", ls=":", label="MobileNetV2 ×0.5, mean")
        labels = [f"{n} ({s['networks'][n]['arm']})" if "arm" in s["networks"][n] else n for n in order]
        ax.set_xticks(range(len(order)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{e} epochs, up to {len(r['seeds'])} seeds each")
        ax.set_ylabel("test accuracy, % (1,000 images)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--from", dest="summaries", nargs="+",
                    default=sorted(glob.glob(str(ROOT / "benchmarks/results/morph_vs_nsga.*.json"))))
    ap.add_argument("--per-arm", type=int, default=2, help="Most accurate exported networks taken from each arm.")
    ap.add_argument("--arch", action="append", default=[], metavar="NAME=ARCH",
                    help="one more network to train, named NAME in the tables (repeatable)")
    ap.add_argument("--epochs", type=int, nargs="+", default=[8])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-train", dest="train", action="store_false",
                    help="only summarise the trainings already in --out")
    args = ap.parse_args()
    out = Path(args.out)
    space = get_space("fbnet-small")
    largest = "-".join(["k5_e6"] * sum(space.declaration["stages"]["layers"]))
    names = {f"net{i}": {"arch": arch, **info}
             for i, (arch, info) in enumerate(candidates(args.summaries, args.per_arm).items())}
    for item in args.arch:
        name, _, arch = item.partition("=")
        try:
            names[name] = {"arch": space.format(space.parse(arch)), "note": "named (--arch)"}
        except EdgeNASError as e:
            ap.error(f"--arch {item}: {e} (give NAME=ARCH, ARCH an fbnet-small architecture)")
    names["largest"] = {"arch": largest, "note": "the space's largest (over every budget)"}
    names.update({f"mbv2-{w:g}": {"width": w, "note": "baseline"} for w in BASELINES})
    out.mkdir(parents=True, exist_ok=True)
    for e in args.epochs if args.train else []:
        for s in args.seeds:
            todo = jobs(out, space, names, e, s)
            t0 = time.perf_counter()
            # the baselines and the largest network first: the longest trainings, so that the workers end together
            train_ahead(sorted(todo.values(), key=lambda j: j.arch is not None and j.folder.name != "largest"),
                        args.workers)
            for job in todo.values():   # what train_ahead leaves to this process (one training left)
                run_job(job)
            print(f"{e} epochs, seed {s}: {time.perf_counter() - t0:.0f} s", flush=True)
            summarize(out, names, args.epochs, args.seeds, args)   # after each seed: a cut run keeps its table
    if not args.train:
        summarize(out, names, args.epochs, args.seeds, args)
    print((out / "summary.md").read_text())


if __name__ == "__main__":
    main()
