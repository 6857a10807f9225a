"""What ``edgenas export`` reads from a finished search: its space, table, supernet, dataset and chosen architectures.

A search run folder holds ``pareto.json`` (NSGA-II and random search, written
by :mod:`edgenas.search.report`) or ``result.json`` (DNAS: the most likely
architecture and samples from the learned distribution). A folder without
either, or whose file cannot be read, is refused with a :class:`RunError`
that says what is missing.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

from ..errors import ArchitectureError, EdgeNASError, RunError
from ..fileio import PathLike
from ..arch.space import SearchSpace, get_space

__all__ = ["Candidate", "SearchSource", "load_search_source", "select_models", "DEFAULT_MAX_MODELS"]

DEFAULT_MAX_MODELS = 5


@dataclass
class Candidate:
    """One architecture to deploy, with what the search predicted for it."""

    id: str
    arch: str
    estimated_accuracy: Optional[float] = None   # the search's estimate (supernet or oracle), not a trained score
    predicted: dict = field(default_factory=dict)


@dataclass
class SearchSource:
    """A finished search: where its pieces are and the architectures it proposes (``pareto``)."""

    path: Path
    strategy: str
    space: SearchSpace
    table: Optional[str]
    supernet: Optional[str]
    dataset: Optional[str]
    split_seed: int
    pareto: List[Candidate]
    selected: Optional[str] = None  # id of the architecture the search itself chose (DNAS); always deployed


def _read(path: Path) -> dict:
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunError(f"{path} is corrupt or truncated ({type(e).__name__}); rerun the search to rewrite it") from None
    if not isinstance(d, dict):
        raise RunError(f"{path} is not a JSON object")
    return d


def _space_of_table(table: Optional[str]) -> Optional[SearchSpace]:
    if not table:
        return None
    from ..tables.table import LatencyTable

    t = LatencyTable.load(table)
    return SearchSpace.from_dict(t.space_name, t.header["space"]["declaration"])


def _from_pareto(path: Path, d: dict, table: Optional[str]) -> SearchSource:
    src = d.get("sources") or {}
    cfg = d.get("config") or {}
    est = cfg.get("estimator") or {}
    tables = src.get("tables") or []
    table = table or (tables[0] if tables else None)
    supernet = src.get("supernet") or est.get("supernet")
    space = None
    if supernet and Path(supernet).is_dir():
        from ..train.supernet_io import load_supernet_run

        space = load_supernet_run(supernet).space
    space = space or _space_of_table(table)
    if space is None:
        raise RunError(f"{path} does not name its latency table (written by an older edgenas); pass --table")
    rows = d.get("pareto")
    if not isinstance(rows, list):
        raise RunError(f"{path} holds no 'pareto' list; the search did not finish (rerun it with --resume)")
    pareto = [Candidate(f"p{i}", r["arch"], r.get("accuracy"),
                        {"latency_ms": next(iter(r.get("latency_ms", {}).values()), None),
                         "memory_bytes": r.get("memory_bytes"), "param_bytes": r.get("param_bytes"),
                         "flops": r.get("flops")}) for i, r in enumerate(rows)]
    return SearchSource(path.parent, cfg.get("strategy", "nsga2"), space, table, supernet,
                        src.get("dataset") or est.get("dataset"), int(src.get("split_seed", est.get("split_seed", 0))),
                        pareto)


def _from_dnas(path: Path, d: dict, table: Optional[str]) -> SearchSource:
    if "most_likely" not in d:
        raise RunError(f"{path} is not a search result (no 'most_likely' architecture)")
    table = table or d.get("table")
    folder = path.parent
    space = _space_of_table(table)
    if space is None:
        try:
            space = get_space(d.get("space", ""))
        except EdgeNASError:
            raise RunError(f"{path} names no usable table or space; pass --table") from None
    # the architecture DNAS selected within its budget band (newer runs), the most likely one, then samples
    rows = [r for r in [d.get("selected"), d["most_likely"], *d.get("samples", [])] if r]
    seen, pareto = set(), []
    for r in rows:  # samples repeat; keep each architecture once
        if r["arch"] in seen:
            continue
        seen.add(r["arch"])
        pareto.append(Candidate(f"p{len(pareto)}", r["arch"], None,
                                {k: r.get(k) for k in ("latency_ms", "memory_bytes", "param_bytes", "flops")}))
    cfg = _read(folder / "config.json").get("config", {}) if (folder / "config.json").is_file() else {}
    has_supernet = (folder / "checkpoint.pt").is_file()
    # DNAS splits its data with make_splits(data, seed=cfg.seed): the split seed is stored as "seed"
    return SearchSource(folder, "dnas", space, table, str(folder) if has_supernet else None,
                        cfg.get("dataset") or d.get("dataset"), int(cfg.get("split_seed", cfg.get("seed", 0))),
                        pareto, selected=pareto[0].id if pareto else None)


def load_search_source(run: PathLike, table: Optional[str] = None) -> SearchSource:
    """Read the search run folder ``run`` (``table`` overrides the table it names)."""
    run = Path(run)
    if not run.exists():
        raise RunError(f"search run {run} does not exist (run 'edgenas search --out {run}' first)")
    if not run.is_dir():
        raise RunError(f"search run {run} is not a folder")
    if table is not None and not Path(table).is_file():
        raise RunError(f"table {table} does not exist")
    if (run / "pareto.json").is_file():
        src = _from_pareto(run / "pareto.json", _read(run / "pareto.json"), table)
    elif (run / "result.json").is_file():
        src = _from_dnas(run / "result.json", _read(run / "result.json"), table)
    else:
        held = ", ".join(sorted(p.name for p in run.iterdir())[:5]) or "nothing"
        raise RunError(f"search run {run} is incomplete: no pareto.json (nsga2/random) or result.json (dnas); "
                       f"it holds {held}. Finish the search first (rerun it; nsga2 with --resume)")
    if src.table is None:
        raise RunError(f"search run {run} does not name its latency table; pass --table")
    if not Path(src.table).is_file():
        raise RunError(f"the table of search run {run}, {src.table}, does not exist; pass --table")
    return src


def _spread(cands: List[Candidate], n: int) -> List[Candidate]:
    """``n`` of ``cands`` spread evenly along the front (by predicted latency), ends included."""
    if len(cands) <= n:
        return cands
    order = sorted(cands, key=lambda c: (c.predicted.get("latency_ms") or 0.0, c.arch))
    picks = sorted({round(i * (len(order) - 1) / (n - 1)) for i in range(n)}) if n > 1 else [0]
    return [order[i] for i in picks]


def select_models(src: SearchSource, ids: Sequence[str], max_models: int = DEFAULT_MAX_MODELS) -> List[Candidate]:
    """The candidates ``ids`` names: ``pareto`` (all, at most ``max_models`` spread along the front, the
    search's selected architecture first where it has one),
    Pareto indices (``0``, ``3``) or architecture strings of the space; an item may hold several, comma-separated."""
    ids = [part for item in ids for part in str(item).split(",") if part.strip()] or ["pareto"]
    chosen: List[Candidate] = []
    for item in ids:
        item = str(item).strip()
        if item == "pareto":
            if not src.pareto:
                raise RunError(f"search run {src.path} has an empty Pareto set (no architecture met the budgets)")
            first = next((c for c in src.pareto if c.id == src.selected), None)
            if first is None:
                chosen += _spread(src.pareto, max_models)
            else:  # the search's own choice first, the rest spread along the front
                rest = [c for c in src.pareto if c is not first]
                chosen += [first] + (_spread(rest, max_models - 1) if max_models > 1 else [])
        elif item.isdigit():
            i = int(item)
            if i >= len(src.pareto):
                raise ArchitectureError(f"model {i} is out of range: the Pareto set of {src.path} has "
                                        f"{len(src.pareto)} architectures (0..{len(src.pareto) - 1})")
            chosen.append(src.pareto[i])
        else:
            arch = src.space.format(src.space.parse(item))
            known = next((c for c in src.pareto if c.arch == arch), None)
            chosen.append(known or Candidate("a" + hashlib.sha256(arch.encode()).hexdigest()[:8], arch))
    unique = {c.id: c for c in chosen}
    return list(unique.values())
