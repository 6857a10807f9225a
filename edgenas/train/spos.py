"""Single-path one-shot (SPOS) supernet training: one sampled path per batch (Guo et al. 2020).

Uniform sampling trains every candidate equally often, so the inherited
weights rank subnets more fairly than a DNAS supernet whose training followed
its architecture distribution. Uniform from the first step, though, a small
budget trains nothing: in a layer that changes the shape (stride or channels,
where no residual connection keeps the features' meaning) every candidate
writes its own channel basis, and with several such layers in a row each
step sees an unrelated network. On fbnet-small / MNIST-5k (four such layers
of nine candidates) uniform SPOS stayed at chance (loss 2.3, sampled-path
accuracy 16 % after 8 epochs of batch 128); uniform in the four residual
layers alone, or in any single shape-changing layer, it learns as fast as one
fixed network. Hence the *anchor warm-up*: in shape-changing layers a path
takes a uniformly drawn candidate with probability ``p`` and the layer's
largest candidate (the *anchor*) otherwise, ``p`` rising linearly from
``anchor_warmup`` in the first epoch to 1 (plain uniform SPOS) in the last,
so the other candidates learn to write the anchor's basis before sampling is
uniform everywhere. Residual layers are sampled uniformly throughout.
``anchor_warmup=1`` is plain uniform SPOS.

With that alone the supernet still ranked the most accurate architecture of
fbnet-small (all largest candidates, 98.4 % from scratch) level with 97 %
ones (estimates 86.1 % and 86.8 %), and searches stopped short of it. So
every step also trains the all-largest path (the *sandwich* rule of BigNAS,
without its smallest path), and by default the sampled path learns from that
path's predictions (in-place distillation; :class:`SandwichStep`): the
all-largest estimate rose to 97.6 %, first of 16 architectures trained from
scratch. Training goes through :func:`train.run_epoch` with a path-sampling
``forward``; the run folder uses the layout of
:mod:`edgenas.train.supernet_io`. A checkpoint is written after every epoch, and a
rerun with the same config continues from it.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import torch
import torch.nn.functional as F

from .data import check_fits_space, load_images, make_splits
from ..errors import ConfigError, RunError
from ..fileio import PathLike
from ..progress import Progress, quiet
from ..runfolder import RunFolder
from ..arch.space import SearchSpace
from ..arch.supernet import Supernet
from .loop import TrainConfig, TrainingDivergedError, load_checkpoint, run_epoch, save_checkpoint, sgd_cosine

__all__ = ["train_spos", "SandwichStep", "SANDWICH", "uniform_sampler", "anchored_sampler", "anchors",
           "shape_changing_layers", "uniform_probability"]

SANDWICH = ("none", "largest", "distill")
KIND = "supernet"


def uniform_sampler(space: SearchSpace, generator: torch.Generator) -> Callable[[], List[int]]:
    """A function drawing one uniformly random path (a candidate per layer) per call."""
    def sample() -> List[int]:
        return torch.randint(0, space.num_candidates, (space.num_layers,), generator=generator).tolist()
    return sample


def shape_changing_layers(space: SearchSpace) -> List[bool]:
    """Per layer: True where the layer changes stride or channels (no residual connection around it)."""
    return [ly.stride != 1 or ly.in_ch != ly.out_ch for ly in space.layers]


def anchors(supernet: Supernet) -> List[int]:
    """Per layer, the candidate with the most parameters (the first of equals)."""
    def size(layer, c: int) -> tuple:
        return sum(p.numel() for p in layer.candidates[c].parameters()), -c
    return [max(range(len(layer.candidates)), key=lambda c: size(layer, c)) for layer in supernet.layers]


def anchored_sampler(space: SearchSpace, generator: torch.Generator, anchor: Sequence[int],
                     p_uniform: float) -> Callable[[], List[int]]:
    """Paths uniform in residual layers; in shape-changing ones uniform with probability ``p_uniform``, else the anchor.

    With ``p_uniform >= 1`` it draws exactly what :func:`uniform_sampler` draws.
    """
    uniform = uniform_sampler(space, generator)
    if p_uniform >= 1.0:
        return uniform
    changing = shape_changing_layers(space)

    def sample() -> List[int]:
        path = uniform()
        keep = torch.rand(space.num_layers, generator=generator).tolist()
        return [int(anchor[l]) if changing[l] and keep[l] >= p_uniform else c for l, c in enumerate(path)]
    return sample


def uniform_probability(anchor_warmup: float, epoch: int, epochs: int) -> float:
    """Probability of a uniform draw in shape-changing layers in ``epoch`` (0-based): linear to 1 at the last."""
    if anchor_warmup >= 1.0 or epochs <= 1:
        return 1.0
    return anchor_warmup + (1.0 - anchor_warmup) * epoch / (epochs - 1)


class SandwichStep:
    """``forward``/``loss_fn`` pair for :func:`train.run_epoch` that trains the largest path beside the sampled one.

    Each step adds the loss of the all-anchor path (every layer's largest
    candidate) to the sampled path's, the "sandwich rule" of BigNAS (Yu et al.
    2020) without its smallest path. With ``distill`` the sampled path learns
    from the largest path's soft predictions (in-place distillation) instead of
    the labels. The loss an epoch reports is the sum of both paths' losses; its
    accuracy is the sampled path's.
    """

    def __init__(self, sample: Callable[[], List[int]], largest: Sequence[int], distill: bool = False):
        self.sample, self.largest, self.distill = sample, list(largest), distill
        self._largest_logits: Optional[torch.Tensor] = None

    def forward(self, model: Supernet, x: torch.Tensor) -> torch.Tensor:
        self._largest_logits = model(x, arch=self.largest)
        return model(x, arch=self.sample())

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        largest = self._largest_logits
        if self.distill:
            target = F.softmax(largest.detach(), dim=1)
            sampled = F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")
        else:
            sampled = F.cross_entropy(logits, y)
        return sampled + F.cross_entropy(largest, y)


def train_spos(space: SearchSpace, dataset: str, out: PathLike, cfg: TrainConfig, *, split_seed: int = 0,
               max_batches: Optional[int] = None, progress: Progress = quiet, anchor_warmup: float = 0.2,
               sandwich: str = "distill") -> List[dict]:
    """Train a SPOS supernet of ``space`` on ``dataset`` into the run folder ``out``; returns the history.

    ``anchor_warmup`` (in (0, 1]) is the first epoch's probability of a uniform
    draw in shape-changing layers (see the module docstring); 1 is plain SPOS.
    ``sandwich`` is one of :data:`SANDWICH`: ``"largest"`` also trains the
    all-anchor path every step, ``"distill"`` does so and has the sampled path
    learn from it (:class:`SandwichStep`); either costs about 2.8x the time of
    plain SPOS on fbnet-small (the largest path is the costliest).

    An existing run with the same config is continued; one with another config
    is refused (:class:`RunError` naming what changed) and left untouched. ``progress`` hears phase
    ``"supernet"`` per epoch, with the epoch's ``loss`` and sampled-path ``acc``.
    """
    if not 0.0 < anchor_warmup <= 1.0:
        raise ConfigError(f"anchor_warmup must be in (0, 1], not {anchor_warmup}")
    if sandwich not in SANDWICH:
        raise ConfigError(f"sandwich must be one of {', '.join(SANDWICH)}, not {sandwich!r}")
    config = {"kind": KIND, "mode": "spos", "space": {"name": space.name, "declaration": space.declaration,
                                                      "fingerprint": space.fingerprint},
              "dataset": dataset, "split_seed": split_seed, "train": cfg.to_json(), "max_batches": max_batches,
              "anchor_warmup": anchor_warmup}
    if sandwich != "none":  # only then, so runs made before the option still resume
        config["sandwich"] = sandwich
    splits = make_splits(load_images(dataset), seed=split_seed)
    check_fits_space(splits, space)
    # the layout of supernet folders: the config itself, its kind inside (edgenas.train.supernet_io)
    with RunFolder.open(out, KIND, config, flat=True, implied={"sandwich": "none"}) as run:
        return _train(run, space, splits, cfg, max_batches, progress, anchor_warmup, sandwich)


def _train(run: RunFolder, space: SearchSpace, splits, cfg: TrainConfig, max_batches: Optional[int],
           progress: Progress, anchor_warmup: float, sandwich: str) -> List[dict]:
    torch.manual_seed(cfg.seed)
    supernet = Supernet(space)
    opt, sched = sgd_cosine(supernet.parameters(), cfg, cfg.epochs)
    history, start = [], 0
    if run.checkpoint.is_file():
        state = load_checkpoint(run.checkpoint)
        try:
            supernet.load_state_dict(state["supernet"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            history, start = list(state["history"]), int(state["epoch"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise RunError(f"{run.checkpoint} does not continue this run ({type(e).__name__}); it was left "
                           f"untouched") from None
    progress("supernet", min(start, cfg.epochs), cfg.epochs)
    anchor = anchors(supernet)
    for epoch in range(start, cfg.epochs):
        p_uniform = uniform_probability(anchor_warmup, epoch, cfg.epochs)
        sample = anchored_sampler(space, torch.Generator().manual_seed(cfg.seed * 100_003 + epoch), anchor, p_uniform)
        loader = splits.loader("weight", cfg.batch_size, shuffle=True, seed=cfg.seed * 100_003 + epoch)
        if sandwich == "none":
            res = run_epoch(supernet, loader, optimizer=opt, forward=lambda m, x: m(x, arch=sample()),
                            max_batches=max_batches)
        else:
            step = SandwichStep(sample, anchor, distill=(sandwich == "distill"))
            res = run_epoch(supernet, loader, optimizer=opt, forward=step.forward, loss_fn=step.loss,
                            max_batches=max_batches)
        sched.step()
        row = {"epoch": epoch + 1, "train_loss": res.loss, "train_acc": res.accuracy, "samples": res.samples,
               "p_uniform": p_uniform}
        history.append(row)
        save_checkpoint(run.checkpoint, {"supernet": supernet.state_dict(), "optimizer": opt.state_dict(),
                                         "scheduler": sched.state_dict(), "history": history, "epoch": epoch + 1})
        progress("supernet", epoch + 1, cfg.epochs, loss=res.loss, acc=res.accuracy)
    if not history:
        raise TrainingDivergedError("no epoch was trained (epochs must be at least 1)")
    return history
