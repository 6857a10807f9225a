"""The checks a table document passes before it is read: types and ranges of every number, and its keys.

:meth:`edgenas.tables.table.LatencyTable.from_json` runs :func:`check_document` first, so every table that
edgenas loads (a file, a benchmark's, a run's) has only finite numbers, non-negative latencies and costs,
and fields of the types the schema says. A failure is one :class:`TableError` naming the field and its range.
"""
from __future__ import annotations

import math
from typing import Iterator, Tuple

from ..errors import TableError

__all__ = ["check_document", "non_finite"]

_TIMING_MS = ("median_ms", "p10_ms", "p90_ms", "mean_ms")
_TIMING_REAL = ("cv", "spread", "timed_s", "warmup_s")
_TIMING_INT = ("runs", "warmup_runs", "attempts")
_COST_INT = ("param_bytes", "input_bytes", "output_bytes", "peak_activation_bytes", "flops")
_FEATURES = ("sum", "log_sum", "const")
_LINKS = ("identity", "log")


def non_finite(obj, path: str = "") -> Iterator[Tuple[str, float]]:
    """``(path, value)`` of every NaN or infinite float anywhere in a JSON-like ``obj``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from non_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from non_finite(v, f"{path}[{i}]")


class _Doc:
    """Checks of one document; every failure names ``source`` and the field."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, field: str, value, allowed: str) -> TableError:
        return TableError(f"table {self.source}: {field} is {value!r}; {allowed}")

    def obj(self, field: str, value) -> dict:
        if not isinstance(value, dict):
            raise self.fail(field, value, "must be an object")
        return value

    def seq(self, field: str, value) -> list:
        if not isinstance(value, list):
            raise self.fail(field, value, "must be a list")
        return value

    def number(self, field: str, value, low: float = 0.0, *, above: bool = False, optional: bool = False):
        if value is None and optional:
            return
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not (value > low if above else value >= low):
            raise self.fail(field, value, f"must be a number {'>' if above else '>='} {low:g}")

    def whole(self, field: str, value, low: int = 0, optional: bool = False):
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(field, value, f"must be a whole number >= {low}")

    def timing(self, field: str, t) -> None:
        t = self.obj(field, t)
        for k in _TIMING_MS + _TIMING_REAL:
            self.number(f"{field}.{k}", t.get(k))
        for k in _TIMING_INT:
            self.whole(f"{field}.{k}", t.get(k))
        if not isinstance(t.get("stable"), bool):
            raise self.fail(f"{field}.stable", t.get("stable"), "must be true or false")
        self.number(f"{field}.reference_ms", t.get("reference_ms"), above=True, optional=True)
        self.number(f"{field}.median_error", t.get("median_error"), optional=True)

    def shape(self, field: str, value) -> None:
        if not isinstance(value, list) or not value or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                                                           for v in value):
            raise self.fail(field, value, "must be a list of whole numbers >= 1")


def check_document(d: dict, source: str) -> None:
    """Raise :class:`TableError` unless the numbers and types of table document ``d`` are as the schema says.

    Only the fields edgenas reads are typed; every number anywhere (``stats``, ``validation`` included) must be
    finite, so that nothing non-finite is read from a table or written back into one.
    """
    c = _Doc(source)
    for path, value in non_finite(d):
        raise c.fail(path, value, "every number in a table must be finite")
    header = c.obj("space", d.get("space"))
    for k in ("name", "fingerprint"):
        if not isinstance(header.get(k), str):
            raise c.fail(f"space.{k}", header.get(k), "must be a string")
    c.obj("space.declaration", header.get("declaration"))
    if not isinstance(d.get("backend"), str):
        raise c.fail("backend", d.get("backend"), "must be a string")
    for k in ("runtime", "device", "protocol"):
        c.obj(k, d.get(k))
    c.whole("batch", d.get("batch", 1), 1)
    for i, e in enumerate(c.seq("entries", d.get("entries", []))):
        e = c.obj(f"entries[{i}]", e)
        key = c.obj(f"entries[{i}].key", e.get("key"))
        c.obj(f"entries[{i}].key.args", key.get("args"))
        c.shape(f"entries[{i}].key.input_shape", key.get("input_shape"))
        c.number(f"entries[{i}].latency_ms", e.get("latency_ms"))
        c.timing(f"entries[{i}].timing", e.get("timing"))
        cost = c.obj(f"entries[{i}].cost", e.get("cost"))
        for k in _COST_INT:
            c.whole(f"entries[{i}].cost.{k}", cost.get(k))
        c.whole(f"entries[{i}].measured_peak_bytes", e.get("measured_peak_bytes"), optional=True)
    for i, o in enumerate(c.seq("overheads", d.get("overheads", []))):
        o = c.obj(f"overheads[{i}]", o)
        c.shape(f"overheads[{i}].input_shape", o.get("input_shape"))
        c.timing(f"overheads[{i}].timing", o.get("timing"))
    if d.get("calibration"):
        cal = c.obj("calibration", d["calibration"])
        features, coef = c.seq("calibration.features", cal.get("features")), c.seq("calibration.coef", cal.get("coef"))
        if any(f not in _FEATURES for f in features) or len(coef) != len(features):
            raise c.fail("calibration.features", features, f"must name one coefficient each, of {', '.join(_FEATURES)}")
        for j, v in enumerate(coef):
            c.number(f"calibration.coef[{j}]", v, -math.inf)
        if cal.get("link", "identity") not in _LINKS:
            raise c.fail("calibration.link", cal.get("link"), f"must be one of {', '.join(_LINKS)}")
        for j, p in enumerate(c.seq("calibration.points", cal.get("points", []))):
            p = c.obj(f"calibration.points[{j}]", p)
            # the op sum is derived (in-network cells of a tiny op can sum below zero); the measurement is not
            c.number(f"calibration.points[{j}].op_sum_ms", p.get("op_sum_ms"), -math.inf)
            c.number(f"calibration.points[{j}].measured_ms", p.get("measured_ms"))
    if d.get("reference"):
        ref = c.obj("reference", d["reference"])
        c.number("reference.unit_ms", ref.get("unit_ms"), above=True)
        if not isinstance(ref.get("arch"), str):
            raise c.fail("reference.arch", ref.get("arch"), "must be an architecture string")
    if d.get("in_network"):
        net = c.obj("in_network", d["in_network"])
        if not isinstance(net.get("base"), str):
            raise c.fail("in_network.base", net.get("base"), "must be an architecture string")
        for j, v in enumerate(c.seq("in_network.base_ms", net.get("base_ms"))):
            c.number(f"in_network.base_ms[{j}]", v)
        for j, p in enumerate(c.seq("in_network.probes", net.get("probes"))):
            p = c.obj(f"in_network.probes[{j}]", p)
            c.whole(f"in_network.probes[{j}].layer", p.get("layer"))
            c.number(f"in_network.probes[{j}].measured_ms", p.get("measured_ms"))
    for k in ("validation", "stats"):
        if d.get(k) is not None:
            c.obj(k, d[k])
