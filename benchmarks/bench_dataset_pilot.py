"""Which embedded dataset lets the benchmark tell architectures apart? A pilot before the long build.

Takes the first ``--uniform`` uniform and ``--fast`` fast-stratum architectures of the shipped
fbnet-small MNIST-5k benchmark (already trained there with seeds 0-2), trains them with seeds 0 and 1
on another recipe through the benchmark's own journaled build, and prints, per stratum and for both
recipes on the *same* architectures: seed noise, spread between architectures, their ratio, and the
seed-to-seed Kendall τ.

    python benchmarks/bench_dataset_pilot.py --dataset animals --out benchmarks/results/pilot-animals.json
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from edgenas.bench.benchfile import Benchmark, BenchRecord
from edgenas.bench.build import build
from edgenas.bench.query import shipped
from edgenas.bench.recipe import Recipe
from edgenas.bench.stats import noise_ceiling, signal_to_noise
from edgenas.arch.space import get_space
from edgenas.progress import progress_bar


def subset(bench: Benchmark, uniform: int, fast: int, seeds=(0, 1)) -> list:
    picked = {"uniform": [], "fast": []}
    for r in bench.records:
        want = {"uniform": uniform, "fast": fast}.get(r.stratum, 0)
        if len(r.runs) >= len(seeds) and len(picked.get(r.stratum, [])) < want:
            picked[r.stratum].append(r)
    return picked["uniform"] + picked["fast"]


def restricted(bench: Benchmark, archs: set, seeds=(0, 1)) -> Benchmark:
    recs = [BenchRecord(r.arch, r.stratum, list(seeds), r.features, {s: r.runs[s] for s in seeds if s in r.runs})
            for r in bench.records if r.arch in archs]
    return Benchmark(copy.deepcopy(bench.header), recs)


def report(name: str, bench: Benchmark) -> dict:
    rows = {}
    for stratum in (None, "uniform", "fast"):
        s = signal_to_noise(bench, stratum=stratum)
        rows[stratum or "all"] = s
        print(f"{name:>10} {stratum or 'all':>8}: noise {100 * s['seed_noise']:.2f} pts, spread "
              f"{100 * s['spread']:.2f} pts, ratio {s['ratio']:.2f}  ({s['architectures']} archs)")
    rows["seed_tau"] = noise_ceiling(bench)
    acc = [100 * r.mean("test_acc") for r in bench.trained()]
    print(f"{name:>10}  seed-to-seed τ {rows['seed_tau']:.3f}; mean accuracy {min(acc):.1f}–{max(acc):.1f} %")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="animals")
    ap.add_argument("--train-images", type=int, default=1000)
    ap.add_argument("--uniform", type=int, default=16)
    ap.add_argument("--fast", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", required=True, help="the pilot's benchmark file (its journal: rerun to continue)")
    ap.add_argument("--report-only", action="store_true",
                    help="train nothing; report on the architectures finished with both seeds so far")
    args = ap.parse_args()

    space = get_space("fbnet-small")
    base = Benchmark.load(shipped(space))
    picked = subset(base, args.uniform, args.fast)
    recipe = Recipe(dataset=args.dataset, train_images=args.train_images)
    out = Path(args.out)
    if not out.exists():  # a benchmark file holding only the picked architectures, to be trained with seeds 0, 1
        header = copy.deepcopy(base.header)
        header["recipe"], header["recipe_fingerprint"] = recipe.to_json(), recipe.fingerprint
        Benchmark(header, [BenchRecord(r.arch, r.stratum, [0, 1], r.features) for r in picked]).save(out)
    h = base.header["sample"]
    if args.report_only:
        pilot = Benchmark.load(out)
    else:
        with progress_bar() as bar:
            pilot = build(out, space, recipe, archs=h["archs"], three_seed=h["three_seed"], sample_seed=h["seed"],
                          workers=args.workers, progress=bar)
    archs = {r.arch for r in pilot.records if len(r.runs) == 2}
    rows = {"mnist5k (shipped)": report("mnist5k", restricted(base, archs)),
            f"{args.dataset} train {args.train_images}": report(args.dataset, restricted(pilot, archs))}
    out.with_suffix(".summary.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
