"""The import graph of edgenas/, profilers/ and cli.py: no cycle, and dependencies run downward only.

Imports are read with ``ast``, so an import inside a function counts (it is a
real dependency, only deferred). ``from pkg import name`` depends on the
submodule ``pkg.name`` when there is one, else on ``pkg``.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What profilers/ may import of edgenas: the errors, the timing protocol, the space and its ops, and the
# low-level export formats (module -> ONNX / .pte bytes, TensorRT's ONNX parser, runtime sessions).
PROFILERS_MAY_IMPORT = {
    "edgenas.errors",
    "edgenas.profiling.measure",
    "edgenas.arch.space",
    "edgenas.arch.ops",
    "edgenas.deploy.formats.lowering",
}

# Stage -> the stages and top-level modules it may import (besides itself). A stage's package is
# ``edgenas.<stage>``; top-level modules are named by their module name.
CROSS_CUTTING = {"edgenas.errors", "edgenas.fileio", "edgenas.units", "edgenas.version", "edgenas.progress",
                 "edgenas.runfolder", "edgenas.lifeline", "edgenas.ray_address"}
STAGES_MAY_IMPORT = {
    "arch": set(),
    # the table header stores the timing protocol's value types (measure imports nothing of edgenas)
    "tables": {"arch", "edgenas.profiling.measure"},
    "profiling": {"arch", "tables", "profilers"},
    "train": {"arch"},
    # the benchmark trains architectures, predicts their latency from the space's tables and measures it
    # with each table's own profiler
    "bench": {"arch", "tables", "profiling", "train", "profilers"},
    "search": {"arch", "tables", "train", "bench", "edgenas.profiling.measure"},
    "deploy": {"arch", "tables", "profiling", "train", "search", "profilers"},
}


def _modname(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def build_graph(root: Path) -> Dict[str, Set[str]]:
    """module -> the modules of the checkout it imports."""
    files = [p for pkg in ("edgenas", "profilers") for p in sorted((root / pkg).rglob("*.py"))]
    files += [root / "cli.py"] if (root / "cli.py").is_file() else []
    mods = {_modname(f, root): f for f in files}

    def owner(name: str) -> Optional[str]:
        parts = name.split(".")
        while parts and ".".join(parts) not in mods:
            parts.pop()
        return ".".join(parts) or None

    graph: Dict[str, Set[str]] = {}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: List[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
                names = subs or [base]
            for name in names:
                target = owner(name)
                if target and target != mod:
                    deps.add(target)
        graph[mod] = deps
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One import cycle as a list of modules (first == last), or None."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(v: str) -> Optional[List[str]]:
        state[v] = 1
        path.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def reachable(graph: Dict[str, Set[str]], start: Set[str]) -> Set[str]:
    seen, todo = set(), list(start)
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo.extend(graph.get(v, ()))
    return seen


def _stage(mod: str) -> Optional[str]:
    parts = mod.split(".")
    return parts[1] if parts[0] == "edgenas" and len(parts) > 2 and parts[1] in STAGES_MAY_IMPORT else None


def problems(root: Path) -> List[str]:
    """Every rule the checkout at ``root`` breaks, one line each."""
    graph = build_graph(root)
    out = []
    cycle = find_cycle(graph)
    if cycle:
        out.append("import cycle: " + " -> ".join(cycle))
    in_profilers = [m for m in graph if m.split(".")[0] == "profilers"]
    used = set()
    for m in in_profilers:
        for d in graph[m]:
            if d.split(".")[0] == "edgenas":
                used.add(d)
                if d not in PROFILERS_MAY_IMPORT:
                    out.append(f"{m} imports {d}; profilers/ may import only {sorted(PROFILERS_MAY_IMPORT)}")
    for m in sorted(reachable(graph, used)):
        back = sorted(d for d in graph.get(m, ()) if d.split(".")[0] == "profilers")
        if m.split(".")[0] == "edgenas" and back:
            out.append(f"{m} is imported by profilers/ and imports {', '.join(back)} back")
    for m, deps in sorted(graph.items()):
        stage = _stage(m)
        if stage is None:
            continue
        allowed = STAGES_MAY_IMPORT[stage]
        for d in sorted(deps):
            if d.split(".")[0] == "profilers":
                ok = "profilers" in allowed
            elif d in CROSS_CUTTING or d in allowed or d == "edgenas":
                ok = d != "edgenas"  # the package's __init__ imports every stage
            else:
                ok = _stage(d) in allowed | {stage}
            if not ok:
                out.append(f"{m} ({stage}) imports {d}; {stage} may import {sorted(allowed) or 'no other stage'}")
    # stage package inits stay light: a docstring, no imports of edgenas or profilers
    for m, deps in sorted(graph.items()):
        if m.count(".") >= 1 and m.split(".")[0] == "edgenas" and (root / Path(*m.split("."))).is_dir():
            heavy = sorted(d for d in deps if d.split(".")[0] in ("edgenas", "profilers") and d != "edgenas.errors")
            if heavy:
                out.append(f"{m}/__init__.py imports {', '.join(heavy)}; package inits stay light")
    return out


def test_the_checkout_keeps_its_import_rules():
    assert problems(ROOT) == []


def test_the_rules_catch_a_bad_import(tmp_path):
    """Each rule fails on a copy of the checkout with one bad import added."""
    import shutil

    def copy() -> Path:
        dst = tmp_path / f"c{len(list(tmp_path.iterdir()))}"
        for name in ("edgenas", "profilers"):
            shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "cli.py", dst / "cli.py")
        return dst

    def add(root: Path, module: str, line: str) -> None:
        path = root / (module.replace(".", "/") + ".py")
        path.write_text(path.read_text() + f"\n\ndef _bad():\n    {line}\n")

    c = copy()
    add(c, "profilers.torch_cpu", "from edgenas.search.runstore import RunStore")
    assert any("profilers/ may import only" in p for p in problems(c))
    c = copy()
    add(c, "edgenas.arch.space", "from ..tables.table import LatencyTable")
    found = problems(c)
    assert any(p.startswith("import cycle: ") for p in found)
    assert any("edgenas.arch.space (arch) imports edgenas.tables.table" in p for p in found)
    c = copy()
    add(c, "edgenas.deploy.formats.lowering", "from profilers import get_profiler")
    assert any("imports profilers back" in p for p in problems(c))
    c = copy()
    add(c, "edgenas.train.loop", "from ..search.runstore import RunStore")
    assert any("(train) imports edgenas.search.runstore" in p for p in problems(c))


@pytest.mark.parametrize("stage", sorted(STAGES_MAY_IMPORT))
def test_every_stage_has_a_package(stage):
    assert (ROOT / "edgenas" / stage / "__init__.py").is_file()
