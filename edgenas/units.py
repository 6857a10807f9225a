"""Parse budgets written with units: latency (``5ms``, ``0.5s``, ``800us``) and sizes (``2MB``, ``512KiB``)."""
from __future__ import annotations

import re

from .errors import EdgeNASError

__all__ = ["parse_latency_ms", "parse_bytes"]

_LATENCY = {"": 1.0, "ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3}
_SIZE = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-zµ]*)\s*$", re.IGNORECASE)


def _split(text: str, what: str, units) -> tuple:
    m = _NUMBER.match(str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in units:
        raise EdgeNASError(f"cannot read {what} {text!r}; write a positive number with a unit "
                           f"({', '.join(u for u in units if u)})")
    value = float(m.group(1))
    if value <= 0:
        raise EdgeNASError(f"{what} {text!r} must be positive")
    return value, unit


def parse_latency_ms(text: str) -> float:
    """Milliseconds from ``5ms``, ``5`` (ms), ``0.5s`` or ``800us``."""
    value, unit = _split(text, "latency", _LATENCY)
    return value * _LATENCY[unit]


def parse_bytes(text: str) -> float:
    """Bytes from ``2MB`` (10^6), ``2MiB`` (2^20), ``512KB``, ``1000`` or ``1000B``."""
    value, unit = _split(text, "memory size", _SIZE)
    return value * _SIZE[unit]
