"""Latency tables: a versioned JSON file with a device header and entries keyed by :class:`OpKey`.

Loading checks the schema and, when asked, that the table fits the space,
backend and settings at hand; a table measured one way never silently mixes
with another. Writes are atomic.
"""
from __future__ import annotations

import datetime as _dt
import math
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..arch.analysis import OpCost
from ..errors import EdgeNASError, SpaceError, TableError, TableMismatchError, TableSchemaError
from ..fileio import PathLike, atomic_write_json
from .checks import check_document
from .in_network import InNetwork
from ..profiling.measure import Timing, TimingProtocol
from ..arch.space import OpKey, SearchSpace
from ..version import __version__

OP_LATENCIES = ("in_network", "alone")
SCHEMA_VERSION = 2  # 2: op latencies read in a network (``op_latency``, ``in_network``)
FORMAT = "edgenas-latency-table"


@dataclass
class TableEntry:
    """One measured op: raw timing, overhead-corrected latency and analytical cost.

    ``measured_peak_bytes`` is the runtime's own peak-memory reading for one run
    (CUDA's ``max_memory_allocated``), where the backend can give one.
    """

    timing: Timing
    latency_ms: float
    cost: OpCost
    measured_peak_bytes: Optional[int] = None

    def to_json(self, key: OpKey) -> dict:
        d = {"key": key.to_json(), "latency_ms": self.latency_ms, "timing": self.timing.to_json(),
             "cost": self.cost.to_json()}
        if self.measured_peak_bytes is not None:
            d["measured_peak_bytes"] = self.measured_peak_bytes
        return d


@dataclass
class Calibration:
    """Whole-network correction: measured ≈ link(Σ coef[i] · feature[i]), fitted on measured networks.

    ``features`` name what the cost model computes per architecture (``sum``:
    the per-op latency sum; ``log_sum``: its logarithm; ``const``: 1).
    ``link`` is ``identity`` (a line) or ``log`` (measured = exp(...), so
    ``log_sum`` + ``const`` is the power law ``k · sum^α``). ``points`` keep the fit data.
    """

    features: List[str]
    coef: List[float]
    points: List[dict] = field(default_factory=list)
    link: str = "identity"

    def to_json(self) -> dict:
        return {"features": self.features, "coef": self.coef, "link": self.link, "points": self.points}

    @classmethod
    def from_json(cls, d: dict) -> "Calibration":
        return cls(list(d["features"]), [float(c) for c in d["coef"]], list(d.get("points", [])),
                   d.get("link", "identity"))

    def describe(self) -> str:
        """``measured ≈ …`` in words."""
        c = dict(zip(self.features, self.coef))
        if self.link == "log" and set(c) == {"log_sum", "const"}:
            k = f"{math.exp(c['const']):.4g}" if c["const"] < 700 else f"e^{c['const']:.4g}"  # no overflow
            return f"{k}·sum^{c['log_sum']:.4g}"
        body = " + ".join(f"{v:.4g}·{f}" for f, v in c.items())
        return body if self.link == "identity" else f"exp({body})"


@dataclass
class LatencyTable:
    """An in-memory latency table. ``header`` holds everything that changes what a timing means."""

    header: dict
    entries: Dict[OpKey, TableEntry] = field(default_factory=dict)
    overheads: Dict[Tuple[int, ...], Timing] = field(default_factory=dict)
    calibration: Optional[Calibration] = None
    validation: Optional[dict] = None
    stats: dict = field(default_factory=dict)
    # With a paired protocol: {"arch": the reference network, "unit_ms": its latency when the profile began,
    # "timing": that measurement}. Every timing of the table is read in that machine state (see normalized).
    reference: Optional[dict] = None
    # With op_latency "in_network": the base network and its probes, see edgenas.tables.in_network.
    in_network: Optional[InNetwork] = None

    # ---- construction ----------------------------------------------------
    @classmethod
    def new(cls, space: SearchSpace, backend: str, runtime: dict, device: dict, protocol: dict,
            op_latency: str = "in_network") -> "LatencyTable":
        """An empty table; ``op_latency`` is ``in_network`` or ``alone`` (see :mod:`edgenas.tables.in_network`)."""
        header = {
            "format": FORMAT, "schema_version": SCHEMA_VERSION, "edgenas_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "space": {"name": space.name, "fingerprint": space.fingerprint, "declaration": space.declaration},
            "backend": backend, "runtime": runtime, "device": device,
            "precision": runtime.get("precision", "fp32"), "batch": space.input_shape[0],
            "protocol": protocol,
        }
        table = cls(header=header)
        table.set_op_latency(op_latency)
        return table

    def set_op_latency(self, op_latency: str) -> None:
        """Read the ops ``in_network`` or ``alone`` (an ``auto`` profile settles it after its calibration networks,
        see :func:`edgenas.profiling.profile.profile_space`); the header's description of a latency follows."""
        if op_latency not in OP_LATENCIES:
            raise TableError(f"op latency {op_latency!r} is not one of {', '.join(OP_LATENCIES)}")
        h = self.header
        h["op_latency"] = op_latency
        h["latency"] = (f"median of timed runs minus the run overhead of "
                        f"{h['runtime'].get('overhead_model', 'an identity model')} on the same input"
                        + ("; each timing paired with the reference network in alternating chunks and scaled "
                           "to its unit_ms (see 'reference')" if h["protocol"].get("reference") else "")
                        + ("; the cost model reads each layer's candidates in a network instead (see 'in_network')"
                           if op_latency == "in_network" else ""))

    # ---- identity of the table --------------------------------------------
    @property
    def space_name(self) -> str:
        return self.header["space"]["name"]

    @property
    def backend(self) -> str:
        return self.header["backend"]

    def settings(self) -> dict:
        """What must match for two measurements to share one table (used by resume)."""
        settings = {k: self.header[k] for k in ("space", "backend", "runtime", "device", "precision", "batch")}
        # through the dataclass, so that a table written before a protocol field existed compares by its default
        return {**settings, "protocol": TimingProtocol.from_json(self.header["protocol"]).to_json(),
                "op_latency": self.op_latency}

    @property
    def op_latency(self) -> str:
        """``in_network`` or ``alone`` (every table before schema 2)."""
        return self.header.get("op_latency", "alone")

    @property
    def unit_ms(self) -> Optional[float]:
        """The reference network's latency that paired timings are scaled to (None: timings are not paired)."""
        return float(self.reference["unit_ms"]) if self.reference else None

    def normalized(self, timing: Timing) -> float:
        """``timing``'s median in this table's terms: scaled to the reference's unit when it was paired."""
        return timing.normalized(self.unit_ms)

    def check_fits(self, space: Optional[SearchSpace] = None, backend: Optional[str] = None) -> None:
        """Raise :class:`TableMismatchError` if the table was measured for another space or backend."""
        if space is not None and self.header["space"]["fingerprint"] != space.fingerprint:
            raise TableMismatchError(
                f"table is for space {self.space_name!r} (fingerprint {self.header['space']['fingerprint']}), "
                f"not {space.name!r} ({space.fingerprint}); profile that space first")
        if backend is not None and self.backend != backend:
            raise TableMismatchError(f"table was measured with backend {self.backend!r}, not {backend!r}")

    def space(self) -> SearchSpace:
        """The search space the table was measured for, rebuilt from its stored declaration."""
        return SearchSpace.from_dict(self.space_name, self.header["space"]["declaration"])

    def candidate_names(self) -> List[str]:
        """The space's candidate names in their index order (as the stored declaration lists them)."""
        return list(self.header["space"]["declaration"]["candidates"])

    def in_network_latencies(self, space: SearchSpace, alone):
        """The ``(layers, candidates)`` latencies read in a network, from ``alone`` (the entries' matrix);
        :class:`TableError` when the probes are not all measured (a profile killed while measuring them)."""
        if self.in_network is None:
            raise TableError("the table's in-network probes are not measured yet; resume the profile to measure them")
        return self.in_network.latency_matrix(space, alone)

    def missing(self, space: SearchSpace) -> List[OpKey]:
        return [k for k in space.op_keys() if k not in self.entries]

    # ---- file ----------------------------------------------------------------
    def to_json(self) -> dict:
        return {**self.header,
                "overheads": [{"input_shape": list(s), "timing": t.to_json()} for s, t in self.overheads.items()],
                "entries": [e.to_json(k) for k, e in self.entries.items()],
                "calibration": self.calibration.to_json() if self.calibration else None,
                "validation": self.validation, "stats": self.stats, "reference": self.reference,
                "in_network": self.in_network.to_json(self.candidate_names()) if self.in_network else None}

    def save(self, path: PathLike) -> None:
        atomic_write_json(path, self.to_json())

    @classmethod
    def from_json(cls, d: dict, source: str = "<table>") -> "LatencyTable":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise TableError(f"{source} is not an edgenas latency table (no format {FORMAT!r})")
        version = d.get("schema_version")
        if version is None:
            raise TableError(f"{source} has no schema_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise TableError(f"{source}: schema_version is {version!r}; it must be a whole number "
                             f"(1 to {SCHEMA_VERSION}), not a {type(version).__name__}")
        if version > SCHEMA_VERSION:
            raise TableSchemaError(f"{source} has schema version {version}; this edgenas ({__version__}) reads "
                                   f"up to {SCHEMA_VERSION}: upgrade edgenas")
        check_document(d, source)
        try:
            header = {k: v for k, v in d.items()
                      if k not in ("overheads", "entries", "calibration", "validation", "stats", "reference",
                                   "in_network")}
            for k in ("space", "backend", "runtime", "device", "protocol"):
                header[k]  # noqa: B018 - presence check
            entries = {OpKey.from_json(e["key"]): TableEntry(Timing.from_json(e["timing"]), float(e["latency_ms"]),
                                                            OpCost.from_json(e["cost"]), e.get("measured_peak_bytes"))
                       for e in d.get("entries", [])}
            overheads = {tuple(o["input_shape"]): Timing.from_json(o["timing"]) for o in d.get("overheads", [])}
            cal = Calibration.from_json(d["calibration"]) if d.get("calibration") else None
            in_network = (InNetwork.from_json(d["in_network"], list(header["space"]["declaration"]["candidates"]))
                          if d.get("in_network") else None)
        except (KeyError, TypeError, ValueError) as e:
            raise TableError(f"{source} is corrupt: {type(e).__name__}: {e}") from None
        table = cls(header, entries, overheads, cal, d.get("validation"), d.get("stats") or {}, d.get("reference"),
                    in_network)
        table._check_keys(source)
        return table

    def _check_keys(self, source: str) -> None:
        """Refuse a table whose declaration does not give its fingerprint, or whose keys are not its space's."""
        try:
            space = self.space()
        except SpaceError as e:
            raise TableError(f"table {source}: its space declaration is invalid ({e})") from None
        if space.fingerprint != self.header["space"]["fingerprint"]:
            raise TableError(f"table {source}: its space declaration does not give its fingerprint "
                             f"{self.header['space']['fingerprint']} (the header was edited); re-profile or restore it")
        keys = set(space.op_keys())
        stray = next((k for k in self.entries if k not in keys), None)
        if stray is not None:
            raise TableError(f"table {source}: entry {stray} is not an op of its space {space.name!r}")
        shapes = {k.input_shape for k in keys}
        stray_shape = next((s for s in self.overheads if s not in shapes), None)
        if stray_shape is not None:
            raise TableError(f"table {source}: overhead input shape {list(stray_shape)} is not an input of its space")
        try:
            if self.reference:
                space.parse(self.reference["arch"])
            if self.in_network:
                space.parse(self.in_network.base)
                bad = next(((l, c) for l, c in self.in_network.probes if not 0 <= l < space.num_layers), None)
                if bad:
                    raise TableError(f"table {source}: in_network probe of layer {bad[0]}; the space has "
                                     f"layers 0 to {space.num_layers - 1}")
        except EdgeNASError as e:
            if isinstance(e, TableError):
                raise
            raise TableError(f"table {source}: {e}") from None

    @classmethod
    def load(cls, path: PathLike, space: Optional[SearchSpace] = None, backend: Optional[str] = None) -> "LatencyTable":
        """Read and check a table file; with ``space``/``backend`` also check that it fits them."""
        path = Path(path)
        if not path.is_file():
            raise TableError(f"table {path} does not exist")
        try:
            d = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise TableError(f"table {path} is corrupt or truncated ({type(e).__name__}: {e}); "
                             f"re-profile or restore it") from None
        table = cls.from_json(d, str(path))
        table.check_fits(space, backend)
        return table
