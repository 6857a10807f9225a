"""Final training: one architecture from scratch on the whole training part, scored on the held-out test split.

The split is :func:`edgenas.train.data.make_splits` with ``split_seed``; with the
seed of the search (default 0 for both) the test images are the ones the
search never saw. Training runs through :func:`edgenas.train.loop.train_model`
(the loop the supernet search uses), resumes from ``checkpoint.pt`` in the run
folder, and writes ``result.json`` and ``model.pt`` (a state dict).
"""
from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path
from typing import Optional, Union

import torch
from torch.utils.data import DataLoader, TensorDataset

from .data import check_fits_space, load_images, make_splits
from ..errors import RunError
from ..fileio import PathLike, atomic_write_bytes
from ..arch.model import build_network
from ..progress import Progress, quiet
from ..runfolder import RunFolder
from ..arch.space import SearchSpace, get_space
from .loop import TrainConfig, load_checkpoint, train_model

KIND = "train"


def train_architecture(arch: str, out: PathLike, *, space: Union[str, SearchSpace] = "fbnet-small",
                       dataset: str = "mnist5k", cfg: TrainConfig = TrainConfig(), split_seed: int = 0,
                       threads: Optional[int] = None,
                       progress: Progress = quiet, supernet: Optional[PathLike] = None,
                       weights: Optional[PathLike] = None) -> dict:
    """Train ``arch`` (from scratch, or from trained weights); return (and write) its test accuracy.

    With ``supernet`` (a supernet run folder) the network starts from the weights
    :meth:`Supernet.extract` copies out of it, and the training fine-tunes them. With ``weights`` (a
    checkpoint: the network's state dict, or a dict holding it under ``"state"``, as a morphism search's
    member does) it starts from those; the file's digest enters the run config, so other weights are
    another run.
    """
    if supernet is not None and weights is not None:
        raise RunError("start from a supernet or from trained weights, not both")
    sp = space if isinstance(space, SearchSpace) else get_space(space)  # an object: e.g. a table's declaration
    indices = sp.parse(arch)
    config = {"arch": sp.format(indices), "space": sp.name}
    if supernet is not None:
        from .supernet_io import load_supernet_run

        run = load_supernet_run(supernet)
        if run.space.fingerprint != sp.fingerprint:
            raise RunError(f"supernet {supernet} was trained for space {run.space.name!r}, not {sp.name!r}")
        torch.manual_seed(cfg.seed)
        model = run.supernet.extract(indices)
        config["init"] = f"supernet:{run.digest}"
    elif weights is not None:
        torch.manual_seed(cfg.seed)
        model = build_network(sp, indices)
        state = load_checkpoint(weights)
        try:
            model.load_state_dict(state["state"] if "state" in state else state)
        except (RuntimeError, TypeError, KeyError) as e:
            raise RunError(f"{weights} holds no weights of {config['arch']} in space {sp.name!r}: "
                           f"{str(e).splitlines()[0]}") from None
        config["init"] = f"weights:{hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:16]}"
    else:
        torch.manual_seed(cfg.seed)
        model = build_network(sp, indices)
    return train_network(model, out, config, dataset=dataset, cfg=cfg, split_seed=split_seed, threads=threads,
                         progress=progress, space=sp)


def train_network(model: torch.nn.Module, out: PathLike, identity: dict, *, dataset: str = "mnist5k",
                  cfg: TrainConfig = TrainConfig(), split_seed: int = 0, threads: Optional[int] = None,
                  progress: Progress = quiet, space=None) -> dict:
    """Train any network with the final-training recipe into the run folder ``out``; return ``result.json``.

    ``identity`` (what the network is: an architecture, a baseline and its width)
    enters the run config, so a rerun resumes only the same network. With
    ``space`` the dataset is checked against it first. ``progress`` hears phase ``"train"`` per epoch.
    """
    splits = make_splits(load_images(dataset), seed=split_seed)
    if space is not None:
        check_fits_space(splits, space)
    config = {**identity, "dataset": dataset, "split_seed": split_seed, **cfg.to_json()}
    with RunFolder.open(out, KIND, config) as run:
        train = TensorDataset(torch.cat([splits.weight.tensors[0], splits.arch.tensors[0]]),
                              torch.cat([splits.weight.tensors[1], splits.arch.tensors[1]]))
        threads_before = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            t0 = time.perf_counter()
            history = train_model(
                model, DataLoader(train, batch_size=cfg.batch_size, shuffle=True,
                                  generator=torch.Generator().manual_seed(cfg.seed)),
                DataLoader(splits.test, batch_size=512), cfg, checkpoint=run.checkpoint, progress=progress)
            wall = time.perf_counter() - t0
        finally:
            torch.set_num_threads(threads_before)
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        atomic_write_bytes(run.file("model.pt"), buf.getvalue())
        result = {**identity, "dataset": dataset, "split_seed": split_seed,
                  "train_images": len(train), "test_images": len(splits.test),
                  "test_acc": history[-1]["test_acc"], "best_test_acc": max(h["test_acc"] for h in history),
                  "params": sum(p.numel() for p in model.parameters()), "epochs": len(history),
                  "wall_s_this_session": wall, "history": history}
        run.write_json("result.json", result)
    return result
