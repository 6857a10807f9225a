"""What ``edgenas export`` reads from a finished search: its space, table, supernet, dataset and chosen architectures.

Every strategy writes the one result file (:mod:`edgenas.search.result`, which also reads the
files of older run folders); a folder without it, or whose file cannot be read, is refused with a
:class:`RunError` that says what is missing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

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
    weights: Dict[str, str] = field(default_factory=dict)  # arch -> its trained network (NASH, LEMONADE members)


def _space(doc: dict, table: Optional[str]) -> SearchSpace:
    """The space a result names (its declaration), else its table's, else its supernet's (older run folders)."""
    decl = (doc.get("space") or {}).get("declaration")
    if decl:
        return SearchSpace.from_dict(doc["space"]["name"], decl)
    if table:
        from ..tables.table import LatencyTable

        return LatencyTable.load(table).space()
    supernet = doc["sources"].get("supernet")
    if supernet and Path(supernet).is_dir():
        from ..train.supernet_io import load_supernet_run

        return load_supernet_run(supernet).space
    name = (doc.get("space") or {}).get("name")
    try:
        return get_space(name or "")
    except EdgeNASError:
        raise RunError("the search result names no usable table or space; name the table to use") from None


def load_search_source(run: PathLike, table: Optional[str] = None) -> SearchSource:
    """Read the search run folder ``run`` through the one result reader (``table`` overrides the table it names)."""
    from ..search.result import read_result

    run = Path(run)
    if table is not None and not Path(table).is_file():
        raise RunError(f"table {table} does not exist")
    doc = read_result(run)
    src = doc["sources"]
    tables = src.get("tables") or []
    if table is None:
        if not tables:
            raise RunError(f"search run {run} does not name its latency table; name the table to use")
        table = _search_table(run, tables[0])
    pareto = [Candidate(f"p{i}", r["arch"], r.get("accuracy"),
                        {"latency_ms": next(iter((r.get("latency_ms") or {}).values()), None),
                         **{k: r.get(k) for k in ("memory_bytes", "param_bytes", "flops")}})
              for i, r in enumerate(doc["front"])]
    selected = next((c.id for c in pareto if c.arch == doc.get("selected")), None)
    supernet = src.get("supernet")
    if supernet and not Path(supernet).is_dir() and src.get("supernet_relative"):
        moved = run / src["supernet_relative"]  # the run folder moved with its supernet
        supernet = str(moved) if moved.is_dir() else supernet
    weights = {arch: str(run / rel) for arch, rel in (src.get("weights") or {}).items()}  # relative to the run
    return SearchSource(run, doc.get("strategy", "nsga2"), _space(doc, table), table, supernet,
                        src.get("dataset"), int(src.get("split_seed") or 0), pareto, selected=selected,
                        weights=weights)


def _search_table(run: Path, ref: dict) -> str:
    """The file of the search's table ``ref``: at its stored path, else relative to the run folder (both moved
    together), and with the digest the search recorded (a table edited or re-profiled since is another table)."""
    from ..search.setup import table_digest
    from ..tables.cost import CostModel
    from ..tables.table import LatencyTable

    places = [Path(ref["path"])] + ([run / ref["relative"]] if ref.get("relative") else [])
    found = [p for p in dict.fromkeys(places) if p.is_file()]
    if not found:
        raise RunError(f"the table of search run {run} is neither at {ref['path']} nor at "
                       f"{places[-1]}; name the table to use (its digest was {ref.get('digest')})")
    for path in found:
        if ref.get("digest") is None:  # a run folder written before digests: its path is all there is
            return str(path)
        t = LatencyTable.load(path)
        if table_digest(CostModel(t.space(), t)) == ref["digest"]:
            return str(path)
    raise RunError(f"the table at {found[0]} has changed since search run {run} used it (digest "
                   f"{ref['digest']}); name the table to use")


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
