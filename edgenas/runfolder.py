"""A run folder (``runs/NAME/``): the config that made it, a checkpoint, and what the run wrote.

One module handles every run folder (supernet training, final training, DNAS
search, the quickstart). :meth:`RunFolder.open` locks the folder, so a second
edgenas process writing into it is refused naming the one that holds it; it
checks the stored config, so a rerun with the same settings resumes and one
with other settings is refused naming the settings that changed; and it
writes the config. JSON files are read through :func:`read_json` (a corrupt
file is a :class:`RunError` naming it) and written atomically.

The lock is ``fcntl.flock`` on the file :data:`LOCK` inside the folder, held
until :meth:`RunFolder.close` or the end of the process: the operating system
releases it when the process exits or is killed, so a lock file left behind
by a killed run never blocks the next one. The lock file holds the pid,
start time and command of its holder, for the refusal to name them.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from .errors import RunError
from .fileio import PathLike, atomic_write_json, check_writable

__all__ = ["RunFolder", "config_changes", "lock_file", "read_json", "split_config", "CONFIG", "CHECKPOINT", "LOCK"]

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
LOCK = ".edgenas.lock"
ANOTHER_FOLDER = "use another output folder"


def _flatten(d, prefix: str = "") -> Dict[str, object]:
    if isinstance(d, dict):
        out: Dict[str, object] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def _shown(value, missing) -> str:
    return "(absent)" if value is missing else json.dumps(value, default=str)


def config_changes(old: dict, new: dict, ignore: Iterable[str] = (),
                   implied: Optional[Dict[str, object]] = None) -> List[str]:
    """Human-readable differences ``key: old -> new`` between two configs (nested keys joined by dots).

    Keys in ``ignore`` (and the keys under them) do not count. ``implied`` gives the value a key means where
    a config leaves it out, as configs do for options added later; a key absent on one side is shown with
    that value, else as ``(absent)``.
    """
    a, b = _flatten(old), _flatten(new)
    skip = set(ignore)
    missing = object()
    implied = implied or {}
    out = []
    for k in sorted(set(a) | set(b)):
        if k in skip or k.split(".")[0] in skip:
            continue
        va, vb = a.get(k, implied.get(k, missing)), b.get(k, implied.get(k, missing))
        if va != vb:
            out.append(f"{k}: {_shown(va, missing)} -> {_shown(vb, missing)}")
    return out


def read_json(path: PathLike, fix: str = ANOTHER_FOLDER) -> Optional[dict]:
    """The JSON object in ``path``, or None when there is no such file.

    A file that cannot be read, is not JSON or holds no object raises :class:`RunError` naming it and
    ending with ``fix`` (what the user can do); the file is left as it is.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{path} is unreadable or corrupt ({type(e).__name__}); it was left untouched; {fix}") from None
    if not isinstance(doc, dict):
        raise RunError(f"{path} is not a JSON object; it was left untouched; {fix}")
    return doc


def _command() -> str:
    words = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    text = " ".join(words)
    return text if len(text) <= 80 else text[:79] + "…"


def _holder(fd: int) -> str:
    """Who holds the lock on ``fd``'s file, in words."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode())
        who = "this process" if info["pid"] == os.getpid() else "another edgenas process"
        return f"{who} (pid {info['pid']}, started {info['started']}: {info['command']})"
    except (OSError, ValueError, KeyError, TypeError):  # the holder is writing it right now
        return "another edgenas process"


def lock_file(lock: Path, owner: PathLike, fix: str = ANOTHER_FOLDER) -> int:
    """An open descriptor of ``lock`` holding an exclusive flock for ``owner`` (a run folder, a benchmark file);
    RunError naming the holder when another process holds it. Closing the descriptor, or the end of the
    process, releases it."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise RunError(f"cannot lock {owner}: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _holder(fd)
        os.close(fd)
        raise RunError(f"{owner} is in use by {holder}; wait for it or {fix}") from None
    info = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": _command()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    return fd


def split_config(doc: dict) -> tuple:
    """``(kind, config)`` of a stored config file: ``{"kind", "config"}``, or a flat config (``kind`` inside, if any)."""
    if isinstance(doc.get("kind"), str) and isinstance(doc.get("config"), dict):
        return doc["kind"], doc["config"]
    return doc.get("kind"), doc


class RunFolder:
    """An open, locked run folder. Open one with :meth:`open`; it is a context manager that unlocks on exit."""

    def __init__(self, path: Path, kind: str, config: dict, resumed: bool, fd: int):
        self.path, self.kind, self.config, self.resumed = path, kind, config, resumed
        self._fd: Optional[int] = fd

    @classmethod
    def open(cls, path: PathLike, kind: str, config: dict, *, config_file: str = CONFIG, flat: bool = False,
             ignore: Iterable[str] = (), implied: Optional[Dict[str, object]] = None) -> "RunFolder":
        """Lock ``path`` for a run of ``kind`` with ``config``, check what it holds, and write the config.

        Refuses (:class:`RunError`, the folder left untouched) a folder another process holds, one whose
        ``config_file`` holds another kind of run or another config (naming the settings that changed;
        ``ignore`` and ``implied`` as in :func:`config_changes`), and one holding files but no config.
        The config is stored as ``{"kind", "config"}``, or with ``flat`` as the config itself (the layout of
        SPOS supernet folders and ``quickstart.json``). ``resumed`` says whether the config was there.
        """
        path = Path(path)
        cfg_path = path / config_file
        check_writable(cfg_path)
        config = json.loads(json.dumps(config))  # as it will be read back: tuples as lists
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(f"cannot create run folder {path}: {e.strerror or e}") from None
        fd = lock_file(path / LOCK, path)
        try:
            resumed = cls._check(path, cfg_path, kind, config, ignore, implied)
            atomic_write_json(cfg_path, config if flat else {"kind": kind, "config": config})
        except BaseException:
            os.close(fd)
            raise
        return cls(path, kind, config, resumed, fd)

    @staticmethod
    def _check(path: Path, cfg_path: Path, kind: str, config: dict, ignore, implied) -> bool:
        doc = read_json(cfg_path)
        if doc is None:
            if any(p.name != LOCK for p in path.iterdir()):
                raise RunError(f"{path} is not empty and holds no {cfg_path.name}; use an empty or new output folder")
            return False
        old_kind, old = split_config(doc)
        if old_kind is not None and old_kind != kind:
            raise RunError(f"{path} holds a {old_kind!r} run, not a {kind!r} run; {ANOTHER_FOLDER}")
        changes = config_changes(old, config, ignore, implied)
        if changes:
            raise RunError(f"{path} holds a {kind} run with another configuration ({'; '.join(changes)}); rerun "
                           f"with the same settings to resume, or {ANOTHER_FOLDER}")
        return True

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    def read_json(self, name: str) -> Optional[dict]:
        return read_json(self.path / name)

    def write_json(self, name: str, obj) -> None:
        atomic_write_json(self.path / name, obj)

    def close(self) -> None:
        """Unlock the folder (the end of the process does it too)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
