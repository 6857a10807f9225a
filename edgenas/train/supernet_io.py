"""The supernet run folder: ``checkpoint.pt`` (a ``"supernet"`` state dict) and ``config.json`` (its space).

SPOS training (:mod:`edgenas.train.spos`) and DNAS search write this layout; the
search strategies read it through :func:`load_supernet_run`, which is tolerant
of both (and of a DNAS search folder, whose ``config.json`` nests the settings
under ``"config"``): the space may be named (a preset or a JSON file) or declared inline,
and the weights may sit under ``"supernet"`` or ``"model"``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import EdgeNASError, RunError
from ..fileio import PathLike
from ..runfolder import CHECKPOINT, CONFIG, read_json, split_config
from ..arch.space import SearchSpace, get_space
from ..arch.supernet import Supernet
from .loop import load_checkpoint

__all__ = ["SupernetRun", "load_supernet_run", "space_from_config", "file_digest"]


@dataclass
class SupernetRun:
    """A trained supernet with what is needed to evaluate it fairly."""

    path: Path
    supernet: Supernet
    space: SearchSpace
    config: dict
    digest: str  # sha256 of the checkpoint file: part of a search's config hash

    @property
    def dataset(self) -> Optional[str]:
        return self.config.get("dataset")

    @property
    def split_seed(self) -> int:
        return int(self.config.get("split_seed", self.config.get("seed", 0)))


def file_digest(path: PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def space_from_config(config: dict, source: str) -> SearchSpace:
    """The space a run config names: ``{"space": "fbnet-small"}``, a JSON path, or ``{"space": {name, declaration}}``."""
    spec = config.get("space")
    if isinstance(spec, dict):
        if "declaration" in spec:
            return SearchSpace.from_dict(spec.get("name", "space"), spec["declaration"])
        spec = spec.get("name")
    if not isinstance(spec, str):
        raise RunError(f"{source} does not name its search space (a 'space' entry)")
    return get_space(spec)


def load_supernet_run(path: PathLike) -> SupernetRun:
    """Load the supernet of a run folder; :class:`RunError` says what is missing or does not fit."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"supernet run {path} does not exist; train a supernet into it first (train_spos)")
    cfg_path, ckpt_path = path / CONFIG, path / CHECKPOINT
    for p in (cfg_path, ckpt_path):
        if not p.is_file():
            raise RunError(f"supernet run {path} is incomplete: {p.name} is missing")
    _, config = split_config(read_json(cfg_path, fix="train the supernet again into a new folder"))
    try:
        space = space_from_config(config, str(cfg_path))
    except EdgeNASError as e:
        raise RunError(f"{cfg_path}: {e}") from None
    state = load_checkpoint(ckpt_path)
    weights = state.get("supernet", state.get("model")) if isinstance(state, dict) else None
    if not isinstance(weights, dict):
        raise RunError(f"{ckpt_path} holds no supernet weights (no 'supernet' entry)")
    if isinstance(state.get("space_fingerprint"), str) and state["space_fingerprint"] != space.fingerprint:
        raise RunError(f"{ckpt_path} was trained for another space than {cfg_path} names ({space.name!r})")
    supernet = Supernet(space)
    try:
        supernet.load_state_dict(weights)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise RunError(f"{ckpt_path} does not fit space {space.name!r}: {first}") from None
    return SupernetRun(path, supernet.eval(), space, config, file_digest(ckpt_path))
