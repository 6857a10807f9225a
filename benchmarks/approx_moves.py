"""How much accuracy do the approximate (non function-preserving) morphisms lose after their recovery training?

Trains ``--parents`` uniformly random fbnet-small architectures from scratch (``--parent-epochs`` in one cosine
cycle, :func:`edgenas.train.brief.train_briefly`, on the weight split of MNIST-5k), then applies ``--moves``
random approximate moves (each uniformly among the parent's non-exact legal moves: a block removed, a kernel
cropped, an expansion pruned, 1x1s grouped, a block inserted where it cannot be exact), one move per child,
parents in turn. Each child is scored on the held-out test split right after the move and after its recovery
training (what NASH and LEMONADE give every child: ``--epochs`` in one cosine cycle from ``--lr``, seeded by the
move's index). The loss is the parent's test accuracy minus the child's; the issue's target is a mean below
1 point. As a control, each parent also gets the same brief training with no move (same epochs, lr and seed
0): the loss against that says what the move costs apart from the extra training the child received.

Parents, controls and finished moves are kept under ``--out`` (a rerun resumes); the figures go to ``--json``.

    PYTHONPATH=. python benchmarks/approx_moves.py --out /tmp/approx --json benchmarks/results/approx_moves.json
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas.arch.model import build_network  # noqa: E402
from edgenas.arch.morphisms import apply_moves, legal_moves  # noqa: E402
from edgenas.arch.space import get_space  # noqa: E402
from edgenas.fileio import atomic_write_json  # noqa: E402
from edgenas.train.brief import evaluate, train_briefly  # noqa: E402
from edgenas.train.data import load_images, make_splits  # noqa: E402
from edgenas.train.loop import TrainConfig, load_checkpoint, save_checkpoint  # noqa: E402


def trained_parent(space, arch, splits, args, folder: Path) -> torch.nn.Module:
    path = folder / f"parent-{space.format(arch)}.pt"
    net = build_network(space, arch)
    if path.is_file():
        net.load_state_dict(load_checkpoint(path))
        return net
    torch.manual_seed(args.seed)
    net = build_network(space, arch)
    train_briefly(net, splits.weight, splits.arch, TrainConfig(epochs=args.parent_epochs, batch_size=128,
                                                                lr=0.05, seed=args.seed))
    save_checkpoint(path, net.state_dict())
    return net


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--parents", type=int, default=4)
    ap.add_argument("--parent-epochs", type=int, default=10)
    ap.add_argument("--moves", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=2, help="Recovery training (the searches' default).")
    ap.add_argument("--lr", type=float, default=0.05, help="Recovery learning rate (the searches' default).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True, help="Work folder (resumes).")
    ap.add_argument("--json", help="Write the figures here.")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    space = get_space("fbnet-small")
    splits = make_splits(load_images(args.dataset), seed=args.seed)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    journal = folder / "moves.json"
    done = json.loads(journal.read_text()) if journal.is_file() else {"parents": {}, "moves": []}
    rng = np.random.default_rng(args.seed)
    archs = [tuple(int(c) for c in rng.integers(space.num_candidates, size=space.num_layers))
             for _ in range(args.parents)]
    t0, cpu0 = time.perf_counter(), time.process_time()
    parents = []
    for arch in archs:
        net = trained_parent(space, arch, splits, args, folder)
        key = space.format(arch)
        if key not in done["parents"]:
            control = copy.deepcopy(net)
            train_briefly(control, splits.weight, splits.arch, TrainConfig(epochs=args.epochs, batch_size=128,
                                                                           lr=args.lr, seed=0))
            done["parents"][key] = {"test_acc": evaluate(net, splits.test).accuracy,
                                    "control_test_acc": evaluate(control, splits.test).accuracy}
            atomic_write_json(journal, done)
        parents.append((arch, net))
        print(f"parent {key}: test {100 * done['parents'][key]['test_acc']:.2f} %, after the same brief training "
              f"without a move {100 * done['parents'][key]['control_test_acc']:.2f} %", flush=True)
    for i in range(args.moves):
        arch, net = parents[i % len(parents)]
        options = [m for m in legal_moves(space, arch) if not m.exact]
        move = options[int(np.random.default_rng([args.seed, i]).integers(len(options)))]
        if i < len(done["moves"]):
            if done["moves"][i]["move"] != str(move):
                sys.exit(f"error: {folder} holds another run (move {i} was {done['moves'][i]['move']}); use another --out")
            continue
        torch.manual_seed(1000 + i)
        child = apply_moves(net, space, [move])
        moved = evaluate(child, splits.test).accuracy
        train_briefly(child, splits.weight, splits.arch, TrainConfig(epochs=args.epochs, batch_size=128, lr=args.lr,
                                                                     seed=1000 + i))
        parent = done["parents"][space.format(arch)]
        row = {"parent": space.format(arch), "move": str(move), "kind": move.kind, "parent_test_acc":
               parent["test_acc"], "control_test_acc": parent["control_test_acc"], "after_move_test_acc": moved,
               "recovered_test_acc": evaluate(child, splits.test).accuracy}
        done["moves"].append(row)
        atomic_write_json(journal, done)
        print(f"move {i:2d} {row['move']:<22} parent {100 * row['parent_test_acc']:.2f}  after move "
              f"{100 * moved:.2f}  recovered {100 * row['recovered_test_acc']:.2f}", flush=True)
    rows = done["moves"][:args.moves]
    loss = np.array([r["parent_test_acc"] - r["recovered_test_acc"] for r in rows]) * 100
    loss_control = np.array([r["control_test_acc"] - r["recovered_test_acc"] for r in rows]) * 100
    before = np.array([r["parent_test_acc"] - r["after_move_test_acc"] for r in rows]) * 100
    kinds = sorted({r["kind"] for r in rows})
    summary = {"command": " ".join(sys.argv), "dataset": args.dataset, "test_images": len(splits.test),
               "parents": done["parents"], "parent_epochs": args.parent_epochs, "recovery_epochs": args.epochs,
               "recovery_lr": args.lr, "moves": rows,
               "mean_loss_points": float(loss.mean()), "std_loss_points": float(loss.std(ddof=1)),
               "worst_loss_points": float(loss.max()),
               "mean_loss_vs_control_points": float(loss_control.mean()),
               "mean_loss_right_after_move_points": float(before.mean()),
               "by_kind": {k: {"n": int(sum(r["kind"] == k for r in rows)),
                               "mean_loss_points": float(np.mean([l for l, r in zip(loss, rows) if r["kind"] == k]))}
                           for k in kinds},
               "wall_s_this_process": time.perf_counter() - t0, "cpu_s_this_process": time.process_time() - cpu0,
               "load_average_at_end": os.getloadavg()}
    print(json.dumps({k: v for k, v in summary.items() if k not in ("moves", "parents")}, indent=1))
    if args.json:
        atomic_write_json(Path(args.json), summary)


if __name__ == "__main__":
    main()
