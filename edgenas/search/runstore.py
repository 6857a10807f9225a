"""The run store: every evaluated architecture of a search, journaled behind a small interface.

A search is the central object (optuna's study): its config, every evaluation
(architecture, values, generation, the session that computed it) and a summary
per generation live in a :class:`RunStore`. :class:`SQLiteRunStore` is the
embedded default, committed after every chunk of evaluations, so a killed
search loses at most the chunk in flight and a rerun with ``resume`` reuses
everything stored. :class:`MemoryRunStore` keeps the same contract in memory.

A store is bound to one config: opening it with another config raises
:class:`RunError` naming what changed; a file that is not an edgenas journal,
or is corrupt, is refused before anything is written to it.
"""
from __future__ import annotations

import abc
import datetime as _dt
import hashlib
import json
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import RunError
from ..fileio import PathLike
from ..runfolder import config_changes  # runstore's public name
from ..version import __version__

FORMAT = "edgenas-run-journal"
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

__all__ = ["EvalRecord", "RunStore", "MemoryRunStore", "SQLiteRunStore", "config_hash", "config_changes",
           "open_store", "LOCATION_KEYS"]


# Settings that say where something is, not what it is: the supernet's folder (its checkpoint digest, beside it,
# identifies it). A run folder moved with its supernet (a quickstart folder) resumes.
LOCATION_KEYS = ("estimator.supernet",)


def config_hash(config: dict) -> str:
    """Stable hash of a JSON-able config (sorted keys)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class EvalRecord:
    """One evaluated architecture: its string, genes, every value computed for it, and when."""

    arch: str
    genes: Tuple[int, ...]
    values: Dict[str, float]
    generation: int
    session: int


class RunStore(abc.ABC):
    """Storage interface of a search run. Implementations must keep insertion order and unique archs."""

    config: dict
    config_hash: str

    @abc.abstractmethod
    def lookup(self, archs: Sequence[str]) -> Dict[str, EvalRecord]:
        """The stored records of those of ``archs`` that were evaluated."""

    @abc.abstractmethod
    def add(self, records: Sequence[EvalRecord]) -> None:
        """Journal ``records`` durably (one transaction). An arch already stored is an error."""

    @abc.abstractmethod
    def records(self) -> List[EvalRecord]:
        """Every record, in the order it was added."""

    @abc.abstractmethod
    def set_generation(self, generation: int, summary: dict) -> None:
        """Record (or replace) the summary of a finished generation."""

    @abc.abstractmethod
    def generations(self) -> List[dict]:
        """Generation summaries in order, each with its ``generation`` number."""

    @abc.abstractmethod
    def begin_session(self) -> int:
        """Start a new session (a process working on the run) and return its number, 1 for the first."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """How many architectures are stored."""

    def close(self) -> None:
        """Release resources; the default does nothing."""

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MemoryRunStore(RunStore):
    """A run store in memory: same contract, nothing survives the process."""

    def __init__(self, config: dict):
        self.config, self.config_hash = config, config_hash(config)
        self._records: Dict[str, EvalRecord] = {}
        self._generations: Dict[int, dict] = {}
        self._sessions = 0

    def lookup(self, archs: Sequence[str]) -> Dict[str, EvalRecord]:
        return {a: self._records[a] for a in archs if a in self._records}

    def add(self, records: Sequence[EvalRecord]) -> None:
        dup = [r.arch for r in records if r.arch in self._records]
        if dup or len({r.arch for r in records}) != len(records):
            raise ValueError(f"architecture already stored: {dup[:1] or 'duplicate within the batch'}")
        for r in records:
            self._records[r.arch] = r

    def records(self) -> List[EvalRecord]:
        return list(self._records.values())

    def set_generation(self, generation: int, summary: dict) -> None:
        self._generations[int(generation)] = {"generation": int(generation), **summary}

    def generations(self) -> List[dict]:
        return [self._generations[g] for g in sorted(self._generations)]

    def begin_session(self) -> int:
        self._sessions += 1
        return self._sessions

    def __len__(self) -> int:
        return len(self._records)


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE evals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arch TEXT NOT NULL UNIQUE,
    genes TEXT NOT NULL,
    generation INTEGER NOT NULL,
    session INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    error REAL NOT NULL,
    vals TEXT NOT NULL
);
CREATE TABLE generations (generation INTEGER PRIMARY KEY, summary TEXT NOT NULL);
CREATE TABLE sessions (session INTEGER PRIMARY KEY, started TEXT NOT NULL, version TEXT NOT NULL);
"""


class SQLiteRunStore(RunStore):
    """The embedded journal: one SQLite file, WAL mode, one transaction per :meth:`add`.

    Use :meth:`create` for a new run and :meth:`open` to resume one.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, config: dict, chash: str):
        self.path, self._conn = path, conn
        self.config, self.config_hash = config, chash
        self._cache: Dict[str, EvalRecord] = {}
        for arch, genes, gen, session, vals in conn.execute(
                "SELECT arch, genes, generation, session, vals FROM evals ORDER BY seq"):
            self._cache[arch] = EvalRecord(arch, tuple(json.loads(genes)), json.loads(vals), gen, session)

    # ---- construction ---------------------------------------------------------
    @classmethod
    def create(cls, path: PathLike, config: dict) -> "SQLiteRunStore":
        """A new journal at ``path``; refuses if a file is already there."""
        path = Path(path)
        if path.exists():
            raise RunError(f"journal {path} already exists; resume it or choose another output folder")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.creating")
            tmp.unlink(missing_ok=True)
            conn = sqlite3.connect(tmp)
            conn.executescript(_SCHEMA)
            chash = config_hash(config)
            now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("edgenas_version", __version__),
                ("created", now), ("config", json.dumps(config, sort_keys=True, default=str)),
                ("config_hash", chash)])
            conn.commit()
            conn.close()
            tmp.replace(path)  # the journal appears complete with its meta, or not at all
        except (OSError, sqlite3.Error) as e:
            raise RunError(f"cannot create journal {path}: {e}") from None
        return cls._connect(path, config, chash)

    @classmethod
    def open(cls, path: PathLike, config: Optional[dict] = None) -> "SQLiteRunStore":
        """Open an existing journal; with ``config``, refuse one written for another config.

        The file is read and checked before anything is written to it.
        """
        path = Path(path)
        if not path.is_file():
            raise RunError(f"no journal at {path}: nothing to resume")
        try:
            with path.open("rb") as f:
                magic = f.read(len(_SQLITE_MAGIC))
        except OSError as e:
            raise RunError(f"cannot read journal {path}: {e}") from None
        if magic != _SQLITE_MAGIC:
            raise RunError(f"journal {path} is corrupt or not an SQLite file; it was left untouched; move it "
                           f"and its -wal and -shm files away (or use another output folder) to start afresh")
        meta = cls._check_copy(path)
        if meta.get("format") != FORMAT:
            raise RunError(f"{path} is an SQLite file but not an edgenas run journal; it was left untouched")
        if int(meta.get("schema_version", "0")) > SCHEMA_VERSION:
            raise RunError(f"journal {path} has schema version {meta['schema_version']}; this edgenas "
                           f"({__version__}) reads up to {SCHEMA_VERSION}: upgrade edgenas")
        try:
            stored = json.loads(meta["config"])
        except (KeyError, ValueError):
            raise RunError(f"journal {path} is corrupt (its config is unreadable); it was left untouched") from None
        if config is not None:
            new = json.loads(json.dumps(config, sort_keys=True, default=str))
            changes = config_changes(stored, new, ignore=LOCATION_KEYS)
            if changes:
                raise RunError(f"journal {path} was written for another config, refusing to resume; changed: "
                               f"{'; '.join(changes[:6])}{' ...' if len(changes) > 6 else ''}")
        return cls._connect(path, stored, meta["config_hash"])

    @staticmethod
    def _check_copy(path: Path) -> dict:
        """The meta table of the journal at ``path``, read from a copy of it (and of its ``-wal``/``-shm``).

        SQLite changes a database it merely opens: it replays and checkpoints the write-ahead log, rewrites the
        shared-memory index and deletes both on close. Checking a copy leaves a corrupt journal exactly as it
        was, for the user to inspect or recover.
        """
        recover = ("it was left untouched; move it and its -wal and -shm files away (or use another output "
                   "folder) to start afresh")
        with tempfile.TemporaryDirectory(prefix="edgenas-journal-") as tmp:
            copy = Path(tmp) / path.name
            try:
                for suffix in ("", "-wal", "-shm"):
                    if Path(f"{path}{suffix}").is_file():
                        shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
            except OSError as e:
                raise RunError(f"cannot read journal {path}: {e.strerror or e}") from None
            conn = None
            try:
                conn = sqlite3.connect(copy)
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(check.replace("\n", " "))
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not {"meta", "evals", "generations", "sessions"} <= tables:
                    raise RunError(f"{path} is an SQLite file but not an edgenas run journal; {recover}")
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                conn.execute("SELECT count(*) FROM evals").fetchone()
            except sqlite3.Error as e:
                raise RunError(f"journal {path} is corrupt ({' '.join(str(e).split())}); {recover}") from None
            finally:
                if conn is not None:
                    conn.close()
        return meta

    @classmethod
    def _connect(cls, path: Path, config: dict, chash: str) -> "SQLiteRunStore":
        try:
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process
            return cls(path, conn, config, chash)
        except sqlite3.Error as e:
            raise RunError(f"cannot open journal {path}: {e}") from None

    # ---- interface ------------------------------------------------------------
    def lookup(self, archs: Sequence[str]) -> Dict[str, EvalRecord]:
        return {a: self._cache[a] for a in archs if a in self._cache}

    def add(self, records: Sequence[EvalRecord]) -> None:
        rows = [(r.arch, json.dumps(list(r.genes)), r.generation, r.session, self.config_hash,
                 float(r.values["error"]), json.dumps(r.values)) for r in records]
        try:
            with self._conn:
                self._conn.executemany("INSERT INTO evals (arch, genes, generation, session, config_hash, error, "
                                       "vals) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.IntegrityError as e:
            raise ValueError(f"architecture already stored: {e}") from None
        except sqlite3.Error as e:
            raise RunError(f"cannot write journal {self.path}: {e}") from None
        for r in records:
            self._cache[r.arch] = r

    def records(self) -> List[EvalRecord]:
        return list(self._cache.values())

    def set_generation(self, generation: int, summary: dict) -> None:
        with self._conn:
            self._conn.execute("INSERT OR REPLACE INTO generations VALUES (?, ?)",
                               (int(generation), json.dumps(summary)))

    def generations(self) -> List[dict]:
        return [{"generation": g, **json.loads(s)}
                for g, s in self._conn.execute("SELECT generation, summary FROM generations ORDER BY generation")]

    def begin_session(self) -> int:
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        with self._conn:
            cur = self._conn.execute("INSERT INTO sessions (started, version) VALUES (?, ?)", (now, __version__))
        return int(cur.lastrowid)

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._conn.close()


def open_store(path: Optional[PathLike], config: dict) -> RunStore:
    """The store of a run: in memory when ``path`` is None; else the journal at ``path``, continued when it
    exists (a rerun resumes; one written for another config is refused) and created when it does not."""
    if path is None:
        return MemoryRunStore(config)
    path = Path(path)
    return SQLiteRunStore.open(path, config) if path.exists() else SQLiteRunStore.create(path, config)
