"""A run folder (``runs/NAME/``): the config that made it, a checkpoint, and what the run wrote.

Rerunning the same command resumes; a rerun with another config is refused
with the settings that changed, so two runs never mix in one folder.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from .errors import RunError
from .fileio import PathLike, atomic_write_json, check_writable

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"


def _fmt(v) -> str:
    return json.dumps(v, sort_keys=True) if not isinstance(v, str) else repr(v)


def config_changes(old: dict, new: dict, ignore: Iterable[str] = ()) -> list:
    """``"key: old -> new"`` for every setting that differs (keys in ``ignore`` do not count)."""
    skip = set(ignore)
    keys = sorted((set(old) | set(new)) - skip)
    return [f"{k}: {_fmt(old.get(k))} -> {_fmt(new.get(k))}" for k in keys if old.get(k) != new.get(k)]


def _flatten(d, prefix: str = "") -> Dict[str, object]:
    if isinstance(d, dict):
        out: Dict[str, object] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def _shown(value, missing, implied) -> str:
    if value is missing:
        return "(absent)" if implied is missing else json.dumps(implied)
    return json.dumps(value, default=str)


def nested_config_changes(old: dict, new: dict, implied: Optional[Dict[str, object]] = None) -> List[str]:
    """Human-readable differences ``key: old -> new`` between two configs.

    ``implied`` gives the value a (flattened) key means where a config leaves it out, as configs do for
    options added later; a key absent on one side is shown with that value, else as ``(absent)``.
    """
    a, b = _flatten(old), _flatten(new)
    missing = object()
    implied = implied or {}
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, missing), b.get(k, missing)
        if va != vb:
            out.append(f"{k}: {_shown(va, missing, implied.get(k, missing))} -> "
                       f"{_shown(vb, missing, implied.get(k, missing))}")
    return out


def open_run(out: PathLike, config: dict, kind: str, ignore: Iterable[str] = ()) -> bool:
    """Prepare ``out`` for a run of ``config``; return True when a checkpoint there will be resumed.

    Refuses (:class:`RunError`) a folder that holds another config, another
    kind of run, or files that are not a run's. Writes ``config.json``.
    """
    out = Path(out)
    check_writable(out / CONFIG)
    cfg_path = out / CONFIG
    if cfg_path.is_file():
        try:
            old = json.loads(cfg_path.read_text())
        except (OSError, ValueError) as e:
            raise RunError(f"{cfg_path} is unreadable ({type(e).__name__}); use another --out") from None
        if old.get("kind") != kind:
            raise RunError(f"{out} holds a {old.get('kind')!r} run, not a {kind!r} run; use another --out")
        changes = config_changes(old.get("config", {}), config, ignore)
        if changes:
            raise RunError(f"{out} holds a run with another config ({'; '.join(changes)}); rerun with the same "
                           f"options to resume, or pick another --out")
    elif out.is_dir() and any(out.iterdir()):
        raise RunError(f"{out} is not empty and holds no {CONFIG}; pick an empty or new folder for --out")
    atomic_write_json(cfg_path, {"kind": kind, "config": config})
    return (out / CHECKPOINT).is_file()


def read_json(path: PathLike) -> Optional[dict]:
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{path} is unreadable ({type(e).__name__})") from None
