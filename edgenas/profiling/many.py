"""Profile one space on several targets at once: a Ray task per device host, a table per target.

Targets on the same host (this CPU, one board) run one after the other inside
their host's task, so they never time each other's load; different hosts run
in parallel. Each target writes its own table file, which is its journal, so a
killed run resumes per device: rerunning measures only what each table lacks.
A target that fails (device gone, runtime missing) is reported and the others
go on.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from profilers.targets import Target, parse_target

from ..arch.space import SearchSpace
from ..errors import BackendUnavailableError, ConfigError, EdgeNASError
from ..fileio import ensure_folder
from ..lifeline import Sweeper
from ..ray_address import check_reachable
from .measure import TimingProtocol


@dataclass
class TargetResult:
    name: str
    spec: str
    host: str
    table: str
    ok: bool
    message: str
    entries: int = 0


def table_path(out_dir, space: SearchSpace, target: Target) -> Path:
    return Path(out_dir) / f"{space.name}.{target.name}.json"


def _profile_host(space_name: str, declaration: dict, targets: List[Target], out_dir: str, threads: int,
                  protocol: dict, restart: bool, calibration_networks: int, op_latency: str) -> List[dict]:
    """Profile the targets of one host one after the other (runs in a Ray task or in-process)."""
    from .profile import profile_space

    space = SearchSpace.from_dict(space_name, declaration)
    results = []
    for t in targets:
        path = table_path(out_dir, space, t)
        try:
            prof = t.profiler(threads=threads, protocol=TimingProtocol.from_json(protocol))
            table = profile_space(space, prof, path, restart=restart, calibration_networks=calibration_networks,
                                  op_latency=op_latency)
            results.append(TargetResult(t.name, t.spec, t.host, str(path), True,
                                        f"{len(table.entries)} entries, calibration {table.calibration.coef}",
                                        len(table.entries)))
        except EdgeNASError as e:
            results.append(TargetResult(t.name, t.spec, t.host, str(path), False, str(e)))
    return [asdict(r) for r in results]


def group_by_host(targets: Sequence[Target]) -> "OrderedDict[str, List[Target]]":
    groups: "OrderedDict[str, List[Target]]" = OrderedDict()
    for t in targets:
        groups.setdefault(t.host, []).append(t)
    return groups


def profile_many(space: SearchSpace, targets: Sequence, out_dir, *, threads: int = 1,
                 protocol: TimingProtocol = TimingProtocol(), restart: bool = False, calibration_networks: int = 24,
                 op_latency: str = "auto", ray: Optional[str] = "local") -> List[TargetResult]:
    """Profile ``space`` on every target (specs or :class:`Target`); one table per target under ``out_dir``.

    ``ray``: ``"local"`` starts a local Ray cluster with one CPU per host group,
    an address joins a running cluster, ``None`` runs the hosts one after the other here.
    """
    targets = [t if isinstance(t, Target) else parse_target(t) for t in targets]
    if not targets:
        raise ConfigError("give at least one target")
    names = [t.name for t in targets]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"target names must differ (each names a table file): {', '.join(dupes)}")
    if ray is not None:
        check_reachable(ray)  # before the folder: a cluster not there writes nothing
    ensure_folder(out_dir)
    groups = group_by_host(targets)
    args = (space.name, space.declaration)
    rest = (str(out_dir), threads, protocol.to_json(), restart, calibration_networks, op_latency)
    if ray is None:
        rows = [r for g in groups.values() for r in _profile_host(*args, g, *rest)]
        return [TargetResult(**r) for r in rows]
    try:
        import ray as ray_mod
    except ImportError:
        raise BackendUnavailableError("profiling several hosts in parallel needs Ray: pip install ray "
                                      "(or pass --no-ray)") from None
    owns = not ray_mod.is_initialized()
    sweeper = Sweeper() if owns and ray == "local" else None  # a local cluster dies with this process
    if owns:
        root = str(Path(__file__).resolve().parents[2])  # the checkout holding edgenas/ and profilers/
        env = {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False,
                      runtime_env={"env_vars": env})
        try:
            if ray == "local":
                ray_mod.init(num_cpus=len(groups), **kwargs)
            else:
                ray_mod.init(address=ray, **kwargs)
        except Exception as e:  # ray raises many types
            if sweeper is not None:
                sweeper.close()
            raise BackendUnavailableError(f"cannot start or join a Ray cluster: {type(e).__name__}: {e}") from None
    try:
        task = ray_mod.remote(num_cpus=1, max_retries=0)(_profile_host)
        refs = [task.remote(*args, g, *rest) for g in groups.values()]
        rows: Dict[str, dict] = {}
        for ref, g in zip(refs, groups.values()):
            try:
                for r in ray_mod.get(ref):
                    rows[r["name"]] = r
            except Exception as e:  # a worker that died: its targets failed, their tables keep what was measured
                for t in g:
                    rows[t.name] = asdict(TargetResult(t.name, t.spec, t.host, str(table_path(out_dir, space, t)),
                                                       False, f"task for host {t.host} died: {type(e).__name__}: "
                                                              f"{e}; rerun to resume"))
        return [TargetResult(**rows[t.name]) for t in targets]
    finally:
        if owns:
            ray_mod.shutdown()
        if sweeper is not None:
            sweeper.close()
