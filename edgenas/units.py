"""Parse budgets written with units: latency (``5ms``, ``0.5s``, ``800us``) and sizes (``2MB``, ``512KiB``).

A latency needs its unit (a bare ``5`` could mean anything); a size without one counts bytes. Every budget
is a finite, positive number: ``1e309ms`` (infinite once read) and ``0ms`` are refused.
"""
from __future__ import annotations

import math
import re

from .errors import ConfigError

__all__ = ["parse_latency_ms", "parse_bytes"]

_LATENCY = {"ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3}
_SIZE = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-zµ]*)\s*$", re.IGNORECASE)


def _split(text: str, what: str, units, how: str) -> tuple:
    m = _NUMBER.match(str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in units:
        raise ConfigError(f"cannot read {what} {text!r}; write {how} ({', '.join(u for u in units if u)})")
    value = float(m.group(1)) * units[unit]
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{what} {text!r} must be a finite number above 0")
    return value


def parse_latency_ms(text: str) -> float:
    """Milliseconds from ``5ms``, ``0.5s`` or ``800us``; a bare number is refused (which unit?)."""
    return _split(text, "latency", _LATENCY, "a positive number with a unit")


def parse_bytes(text: str) -> float:
    """Bytes from ``2MB`` (10^6), ``2MiB`` (2^20), ``512KB``, ``1000`` or ``1000B``."""
    return _split(text, "memory size", _SIZE, "a positive number of bytes, or one with a unit")
