"""The profiler that measured a table, rebuilt from the table's header through the backend registry.

Whatever is compared with a table's predictions is measured by this profiler: same backend, threads and
timing protocol, paired with the table's reference network when the protocol pairs (the caller attaches
it, :func:`edgenas.profiling.reference.attach_reference`). ``table validate`` and the deployment measurements
both come through here, so a table of backend X is only ever compared with timings of backend X.
"""
from __future__ import annotations

from typing import Optional

from ..errors import ConfigError
from ..tables.table import LatencyTable
from .measure import TimingProtocol

__all__ = ["table_protocol", "table_threads", "table_profiler"]


def table_protocol(table: LatencyTable) -> TimingProtocol:
    """The table's timing protocol; the default one for a table that has none (a synthetic table)."""
    try:
        return TimingProtocol.from_json(table.header.get("protocol") or {})
    except (TypeError, ValueError):
        return TimingProtocol()


def table_threads(table: LatencyTable) -> int:
    return int((table.header.get("runtime") or {}).get("threads") or 1)


def table_profiler(table: LatencyTable, protocol: Optional[TimingProtocol] = None, target: Optional[str] = None):
    """The table's profiler (``protocol`` replaces the table's, e.g. a shorter one in tests; ``target``, a
    profile-many spec, says where a device table is measured).

    Raises :class:`UnknownNameError` for a backend this host does not know, :class:`ConfigError` for a device
    table without ``target``, and the backend's :class:`BackendUnavailableError` when its runtime or hardware
    is missing here.
    """
    threads, protocol = table_threads(table), protocol or table_protocol(table)
    if target:
        from profilers.targets import parse_target

        profiler = parse_target(target).profiler(threads=threads, protocol=protocol)
    elif table.backend.startswith("remote-"):
        where = (table.header.get("device") or {}).get("transport", "a device")
        raise ConfigError(f"the table was measured on {where}: give that device's target spec to measure there")
    else:
        from profilers import get_profiler

        profiler = get_profiler(table.backend, threads=threads, protocol=protocol)
    profiler.runtime_info()  # a backend whose runtime or hardware is missing says so now, in one line
    return profiler
