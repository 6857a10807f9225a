"""The trained networks of a morphism search (NASH, LEMONADE): one checkpoint per network in the run folder.

``members/<id>.pt`` holds a network's architecture, its weights, where it came from (parent and
moves) and its validation score; it is written atomically when the network's training ends. The
folder is the search's journal: a rerun replays the search from its seed and loads every network
already there instead of training it again, so a killed run loses at most the network in flight.
The weights stay for ``edgenas export`` (fine-tuning the inherited weights).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from ..arch.model import Network, build_network
from ..arch.space import SearchSpace
from ..errors import RunError
from ..fileio import PathLike
from ..runfolder import read_json, split_config
from ..train.loop import load_checkpoint, save_checkpoint

__all__ = ["Member", "MemberStore", "MEMBERS", "check_member", "load_trained_run"]

MEMBERS = "members"


@dataclass
class Member:
    """One trained network of the search."""

    id: str
    arch: str
    val_acc: float
    val_loss: float
    train_s: float                     # wall seconds its training (and validation) took
    step: int = 0
    parent: Optional[str] = None       # the member it was made from
    moves: List[str] = field(default_factory=list)
    exact: bool = True                 # every move function-preserving

    @property
    def error(self) -> float:
        return 1.0 - self.val_acc


class MemberStore:
    """The ``members/`` folder of a run folder."""

    def __init__(self, out: Path, space: SearchSpace):
        self.folder, self.space = Path(out) / MEMBERS, space

    def path(self, member_id: str) -> Path:
        return self.folder / f"{member_id}.pt"

    def relpath(self, member_id: str) -> str:
        return f"{MEMBERS}/{member_id}.pt"

    def save(self, member: Member, net: Network) -> None:
        save_checkpoint(self.path(member.id), {"member": asdict(member), "space_fingerprint": self.space.fingerprint,
                                               "state": net.state_dict()})

    def load(self, member_id: str, arch: str) -> Optional[Tuple[Member, Network]]:
        """The member ``member_id`` with its network, or None when it was not trained yet.

        A checkpoint that is corrupt, of another space, or of another architecture than the replay expects
        (a folder written by another run) is a :class:`RunError`; the file is left as it is.
        """
        path = self.path(member_id)
        if not path.is_file():
            return None
        member, state = _read_member(path, self.space, arch)
        return member, _network(path, self.space, arch, state)


def _read_member(path: Path, space: SearchSpace, arch: str) -> Tuple[Member, dict]:
    """(member, state dict) of the checkpoint at ``path``, refused unless it is a member of ``arch`` in ``space``."""
    state = load_checkpoint(path)
    try:
        member = Member(**state["member"])
        foreign = state["space_fingerprint"] != space.fingerprint or member.arch != arch
    except (KeyError, TypeError):
        raise RunError(f"{path} is not a member checkpoint of a morphism search; move it away") from None
    if foreign:
        raise RunError(f"{path} holds {member.arch} but this run expects {arch} there: the folder was written "
                       f"by another run; use another output folder")
    return member, state["state"]


def _network(path: Path, space: SearchSpace, arch: str, state) -> Network:
    net = build_network(space, space.parse(arch))
    try:
        net.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise RunError(f"{path} holds weights that do not fit {arch}: {str(e).splitlines()[0]}") from None
    return net


def check_member(path: PathLike, space: SearchSpace, arch: str) -> None:
    """Refuse (:class:`RunError`) a member checkpoint ``path`` that is missing, corrupt, or not a trained network of
    ``arch`` in ``space``: what ``edgenas export --init inherited`` checks before it trains anything."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"the trained network of {arch} is missing from the search run ({path})")
    _network(path, space, arch, _read_member(path, space, arch)[1])


def load_trained_run(folder: Path, space: SearchSpace) -> Tuple[str, Network]:
    """(architecture, network with its trained weights) of an ``edgenas train`` run folder, checked against
    ``space``: a folder of another kind, an architecture or weights of another space, or a corrupt
    ``model.pt`` is a :class:`RunError` (or :class:`ArchitectureError`) in one line."""
    folder = Path(folder)
    doc = read_json(folder / "config.json", fix="give the folder of a finished 'edgenas train' run")
    if doc is None or not (folder / "model.pt").is_file():
        raise RunError(f"{folder} is not a finished 'edgenas train' run folder (no config.json and model.pt)")
    kind, config = split_config(doc)
    if kind != "train" or "arch" not in config:
        raise RunError(f"{folder} holds a {kind!r} run, not an 'edgenas train' run")
    arch = space.format(space.parse(config["arch"]))
    net = build_network(space, space.parse(arch))
    state = load_checkpoint(folder / "model.pt")
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise RunError(f"{folder / 'model.pt'} does not fit {arch} of space {space.name!r}: "
                       f"{str(e).splitlines()[0]}") from None
    return arch, net
