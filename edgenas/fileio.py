"""Atomic file writes: a temp file in the same folder, fsync, then ``os.replace``."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Union

from .errors import OutputPathError

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; set it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never a part."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OutputPathError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        # mkstemp creates the file readable by its owner only; give it the mode open() would (0666 less the
        # umask), so that a table or report written here can be shared like any other file.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputPathError(f"cannot write {path}: {e.strerror or e}") from None


def atomic_write_json(path: PathLike, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode())


def check_writable(path: PathLike) -> Path:
    """Fail early, before hours of work, if ``path`` cannot be written."""
    path = Path(path)
    folder = path.parent if path.parent != Path("") else Path(".")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise OutputPathError(f"cannot write {path}: {probe} is not a writable folder")
    if path.is_dir():
        raise OutputPathError(f"cannot write {path}: it is a folder")
    return path


def ensure_folder(path: PathLike) -> Path:
    """Create the folder ``path`` (and its parents) or raise :class:`OutputPathError` saying why it cannot be."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        blocker = path
        while not blocker.exists() and blocker != blocker.parent:
            blocker = blocker.parent
        if blocker.exists() and not blocker.is_dir():
            why = f"{blocker} is not a folder"
        elif not os.access(blocker, os.W_OK):
            why = f"{blocker} is not writable"
        else:
            why = f"{e.strerror or e} (in {blocker})"
        raise OutputPathError(f"cannot create folder {path}: {why}") from None
    if not os.access(path, os.W_OK):
        raise OutputPathError(f"cannot write in folder {path}: permission denied")
    return path


def atomic_write_figure(path: PathLike, fig, dpi: int = 110) -> None:
    """Write a matplotlib figure to ``path`` as PNG, atomically, and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
