"""Do accuracy comparisons of single training runs survive other seeds?

Trains fbnet-small architectures and MobileNetV2 widths with the deploy recipe
(10 epochs, batch 128, lr 0.05, SGD cosine, the 4,000 training images of
MNIST-5k, tested on its 1,000 held-out images: one image is 0.1 point) once
per seed, and prints each network's accuracies and their mean. Run folders
under ``--out`` resume, so a killed run continues.

    PYTHONPATH=. python benchmarks/seed_check.py --arch skip-k5_e1-... --width 0.25 0.75 --seeds 1 2
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.arch.baselines import mobilenet_v2  # noqa: E402
from edgenas.train.final import train_architecture, train_network  # noqa: E402
from edgenas.train.loop import TrainConfig  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", nargs="*", default=[], help="fbnet-small architectures")
    ap.add_argument("--width", type=float, nargs="*", default=[], help="MobileNetV2 width multipliers")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--out", default="runs/seed-check")
    ap.add_argument("--json", help="write the accuracies here")
    args = ap.parse_args()
    torch.set_num_threads(1)

    results = {}
    for seed in args.seeds:
        cfg = TrainConfig(epochs=args.epochs, batch_size=128, lr=0.05, seed=seed)
        for arch in args.arch:
            res = train_architecture(arch, Path(args.out) / f"{arch}-s{seed}", cfg=cfg, threads=1)
            results.setdefault(arch, {})[seed] = res["test_acc"]
            print(f"seed {seed} {arch}: {100 * res['test_acc']:.1f} %", flush=True)
        for width in args.width:
            torch.manual_seed(seed)
            res = train_network(mobilenet_v2(width), Path(args.out) / f"mbv2-{width}-s{seed}",
                                {"model": "mobilenetv2", "width": width}, cfg=cfg, threads=1)
            results.setdefault(f"mbv2-{width}", {})[seed] = res["test_acc"]
            print(f"seed {seed} MobileNetV2 x{width}: {100 * res['test_acc']:.1f} %", flush=True)
    summary = {name: {"by_seed": acc, "mean": float(np.mean(list(acc.values())))} for name, acc in results.items()}
    for name, s in summary.items():
        print(f"{name:<55} mean {100 * s['mean']:.2f} % over seeds {sorted(s['by_seed'])}")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "epochs": args.epochs,
                                               "networks": summary}, indent=1))


if __name__ == "__main__":
    main()
