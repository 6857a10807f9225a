"""The one result file of every search, ``result.json`` in the run folder, and its one reader.

It holds the Pareto set (one point for a strategy that returns one
architecture), the strategy's own pick, and the sources export needs: each table's
path and digest, the estimator, the dataset and its split, the supernet. Run
folders written by edgenas before this format (``pareto.json`` of NSGA-II and
random search, DNAS's ``result.json`` without a format) are read through the
same reader, converted on the fly.
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Optional

from ..errors import RunError
from ..fileio import PathLike, atomic_write_json
from ..runfolder import read_json
from ..version import __version__
from .contract import SearchOutcome, SearchRequest

__all__ = ["FORMAT", "SCHEMA_VERSION", "RESULT", "write_result", "read_result", "result_document",
           "selected_architecture"]

FORMAT = "edgenas-search-result"
SCHEMA_VERSION = 1
RESULT = "result.json"
PLOT = "result.png"


def _relative(path: PathLike, run: PathLike) -> str:
    return os.path.relpath(Path(path).resolve(), Path(run).resolve())


def result_document(request: SearchRequest, outcome: SearchOutcome, strategy: str) -> dict:
    spec = request.spec
    estimator = request.estimator.describe() if request.estimator is not None else None
    # Paths resolved, and also relative to the run folder: a run folder moved with its table and supernet
    # (a quickstart folder, a DNAS run that is its own supernet) still finds them; export checks a table's digest.
    sources = {"tables": [{"name": t.name, "path": t.path, "relative": _relative(t.path, request.out),
                           "digest": t.digest} for t in request.tables],
               "estimator": estimator, "dataset": request.dataset or (estimator or {}).get("dataset"),
               "split_seed": (estimator or {}).get("split_seed", 0), "supernet": (estimator or {}).get("supernet"),
               **outcome.sources}
    sources["supernet_relative"] = _relative(sources["supernet"], request.out) if sources.get("supernet") else None
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "edgenas": __version__,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "strategy": strategy,
            "space": {"name": request.space.name, "fingerprint": request.space.fingerprint,
                      "declaration": request.space.declaration},
            "sources": sources, "settings": request.settings, **spec.to_json(),
            "evaluated": outcome.evaluated,
            "front": [p.to_json(spec) for p in outcome.front],
            "selected": outcome.selected,
            "least_violating": outcome.least_violating.to_json(spec) if outcome.least_violating else None,
            "details": outcome.details, "history": outcome.history}


def write_result(request: SearchRequest, outcome: SearchOutcome, strategy: str, plot: bool = True) -> dict:
    """Write ``result.json`` (and ``result.png``, the front against each table's latency) into the run folder."""
    doc = result_document(request, outcome, strategy)
    atomic_write_json(request.out / RESULT, doc)
    if plot:
        from .report import plot_front

        plot_front(request.out / PLOT, request.spec, outcome.points or outcome.front, outcome.front,
                   title=f"{strategy} on {request.space.name}: {outcome.evaluated} evaluated")
    return doc


# ---- reading, older run folders included ---------------------------------------------------------------------
def _legacy_pareto(d: dict) -> dict:
    """NSGA-II / random search ``pareto.json`` (before the common result file)."""
    src = d.get("sources") or {}
    cfg = d.get("config") or {}
    est = cfg.get("estimator") or {}
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "strategy": cfg.get("strategy", "nsga2"),
            "space": None,
            "sources": {"tables": [{"name": Path(p).name.removesuffix(".json"), "path": p, "digest": None}
                                   for p in src.get("tables") or []],
                        "estimator": est, "dataset": src.get("dataset") or est.get("dataset"),
                        "split_seed": int(src.get("split_seed", est.get("split_seed", 0))),
                        "supernet": src.get("supernet") or est.get("supernet")},
            "front": d.get("pareto"), "selected": None, "evaluated": d.get("evaluated"),
            "least_violating": d.get("least_violating"), "history": d.get("history", [])}


def _legacy_dnas(d: dict, folder: Path) -> dict:
    """DNAS's ``result.json`` (before the common result file): its pick, the most likely one, then samples."""
    rows, seen = [], set()
    for r in [d.get("selected"), d.get("most_likely"), *d.get("samples", [])]:
        if r and r["arch"] not in seen:
            seen.add(r["arch"])
            rows.append({"arch": r["arch"], "error": None, "accuracy": None,
                         "latency_ms": {"table": r.get("latency_ms")},
                         **{k: r.get(k) for k in ("memory_bytes", "param_bytes", "flops")}})
    cfg = (read_json(folder / "config.json") or {}).get("config", {})
    table = d.get("table")
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "strategy": "dnas",
            "space": {"name": d.get("space")},
            "sources": {"tables": [{"name": "table", "path": table, "digest": None}] if table else [],
                        "estimator": None, "dataset": cfg.get("dataset") or d.get("dataset"),
                        # DNAS split its data with make_splits(seed=cfg.seed)
                        "split_seed": int(cfg.get("split_seed", cfg.get("seed", 0))),
                        "supernet": str(folder) if (folder / "checkpoint.pt").is_file() else None},
            "front": rows, "selected": rows[0]["arch"] if rows else None, "evaluated": None, "history": []}


def read_result(run: PathLike) -> dict:
    """The result document of the search run folder ``run`` (any strategy, any edgenas since schema 0)."""
    run = Path(run)
    if not run.exists():
        raise RunError(f"search run {run} does not exist; run a search into it first")
    if not run.is_dir():
        raise RunError(f"search run {run} is not a folder")
    d: Optional[dict] = read_json(run / RESULT)
    if d is not None and d.get("format") == FORMAT:
        if not isinstance(d.get("schema_version"), int) or d["schema_version"] > SCHEMA_VERSION:
            raise RunError(f"{run / RESULT} has schema version {d.get('schema_version')!r}; this edgenas reads up "
                           f"to {SCHEMA_VERSION}: upgrade edgenas")
        doc = d
    elif d is not None and "most_likely" in d:
        doc = _legacy_dnas(d, run)
    elif (run / "pareto.json").is_file():
        doc = _legacy_pareto(read_json(run / "pareto.json"))
    else:
        held = ", ".join(sorted(p.name for p in run.iterdir())[:5]) or "nothing"
        raise RunError(f"search run {run} is incomplete: no {RESULT}; it holds {held}. Finish the search first "
                       f"(rerun the same command: it resumes)")
    if not isinstance(doc.get("front"), list):
        raise RunError(f"search run {run} holds no Pareto set; the search did not finish (rerun it: it resumes)")
    return doc


def selected_architecture(run: PathLike) -> tuple:
    """(architecture, space) a search chose: the strategy's own pick, else the most accurate of its Pareto set."""
    run = Path(run)
    if run.suffix == ".json":
        if not run.is_file():
            raise RunError(f"{run} is not a search result (no such file); give an architecture or a search run")
        run = run.parent
    doc = read_result(run)
    arch = doc.get("selected")
    if arch is None:
        estimated = [r for r in doc["front"] if r.get("error") is not None]
        if not estimated:
            raise RunError(f"search run {run} has an empty Pareto set (no architecture met the budgets)")
        arch = min(estimated, key=lambda r: r["error"])["arch"]
    space = doc.get("space") or {}
    return arch, space.get("name")
