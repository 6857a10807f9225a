"""The schema of a search-space declaration: every field's type and range, checked before anything is built.

:meth:`edgenas.arch.space.SearchSpace.from_dict` calls :func:`check_declaration` first, so a space file, a
table's stored declaration, a benchmark's and a supernet's all pass this one door. A failure is one
:class:`SpaceError` naming the field and what it may hold. The ceilings keep a typo (10**6 channels) from
running until killed: the largest architecture of the space is sized analytically, without building it.
"""
from __future__ import annotations

from typing import Dict, Tuple

from ..errors import SpaceError

__all__ = ["check_declaration", "largest", "CANDIDATE_ARGS", "MAX_PARAMS", "MAX_MACS"]

TOP_LEVEL = ("name", "input", "num_classes", "stem", "stages", "head", "candidates")
# op -> argument -> (low, high) for whole numbers; "kernel" must also be odd (padding k//2 keeps the size).
CANDIDATE_ARGS: Dict[str, Dict[str, Tuple[int, int]]] = {
    "ir": {"kernel": (1, 15), "expansion": (1, 16), "groups": (1, 64)},
    "skip": {},
}
REQUIRED_ARGS = {"ir": ("kernel", "expansion")}
# The largest architecture of a space: at most 2·10^8 parameters (800 MB in fp32) and 10^11 multiply-adds per
# image; fbnet-224's largest has 5.1·10^6 and 5.6·10^8.
MAX_PARAMS = 2 * 10**8
MAX_MACS = 10**11


def _fail(name: str, field: str, value, allowed: str) -> SpaceError:
    return SpaceError(f"space {name!r}: {field} is {value!r}; {allowed}")


def _int(name: str, field: str, value, low: int, high: int) -> int:
    """``value`` as a whole number in [low, high] (a JSON integer, not 16.7 nor true)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(name, field, value, f"must be a whole number from {low} to {high}")
    return value


def _obj(name: str, field: str, value, keys: Tuple[str, ...], required: Tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise SpaceError(f"space {name!r}: {field} must be an object with {', '.join(keys)}, "
                         f"not {type(value).__name__}")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise SpaceError(f"space {name!r}: unknown key {field + '.' if field else ''}{unknown[0]}; "
                         f"{field or 'a declaration'} may hold {', '.join(keys)}")
    missing = [k for k in (required or keys) if k not in value]
    if missing:
        raise SpaceError(f"space {name!r} is malformed: {field + '.' if field else ''}{missing[0]} is missing")
    return value


def _list(name: str, field: str, value, n: int = -1) -> list:
    if not isinstance(value, list) or not value or (n >= 0 and len(value) != n):
        size = f"{n} " if n >= 0 else ""
        raise _fail(name, field, value, f"must be a list of {size}whole numbers (one per stage)")
    return value


def _candidates(name: str, cands) -> Dict[str, dict]:
    if not isinstance(cands, dict) or not cands:
        raise SpaceError(f"space {name!r}: candidates must be a non-empty object NAME -> {{op, args}}")
    if len(cands) > 64:
        raise _fail(name, "the number of candidates", len(cands), "must be from 1 to 64")
    out = {}
    for cname, spec in cands.items():
        where = f"candidates.{cname}"
        if not isinstance(cname, str) or not cname or "-" in cname or any(ch.isspace() for ch in cname):
            raise SpaceError(f"space {name!r}: candidate name {cname!r} must be non-empty, without '-' or spaces")
        op = spec.get("op") if isinstance(spec, dict) else None
        if not isinstance(op, str) or op not in CANDIDATE_ARGS:
            raise SpaceError(f"space {name!r}: {where}.op is {op!r}; known ops: {', '.join(sorted(CANDIDATE_ARGS))}")
        ranges = CANDIDATE_ARGS[op]
        _obj(name, where, spec, ("op", *ranges), ("op", *REQUIRED_ARGS.get(op, ())))
        for arg, (low, high) in ranges.items():
            if arg in spec:
                _int(name, f"{where}.{arg}", spec[arg], low, high)
        if op == "ir" and spec["kernel"] % 2 == 0:
            raise _fail(name, f"{where}.kernel", spec["kernel"],
                        "must be odd (1, 3, 5, ...: the padding keeps the size)")
        out[cname] = spec
    return out


def largest(decl: dict, cands: Dict[str, dict]) -> Tuple[int, int]:
    """(parameters, multiply-adds) of the space's largest architecture: each layer's largest candidate."""
    size, stem, stages = decl["input"]["size"], decl["stem"], decl["stages"]
    hw = -(-size // stem["stride"])
    c_in = stem["out_ch"]
    params = decl["input"]["channels"] * c_in * stem["kernel"] ** 2
    macs = params * hw * hw
    for n, c_out, first in zip(stages["layers"], stages["channels"], stages["strides"]):
        for i in range(n):
            stride = first if i == 0 else 1
            out_hw = -(-hw // stride)
            best = (c_in * c_out, c_in * c_out * out_hw * out_hw)  # a skip's 1x1 projection at most
            for spec in cands.values():
                if spec["op"] == "ir":
                    mid, g, k = c_in * spec["expansion"], spec.get("groups", 1), spec["kernel"]
                    p = c_in * mid // g + mid * k * k + mid * c_out // g
                    m = c_in * mid // g * hw * hw + (mid * k * k + mid * c_out // g) * out_hw * out_hw
                    best = max(best, (p, m))
            params, macs = params + best[0], macs + best[1]
            hw, c_in = out_hw, c_out
    head = c_in * decl["head"]["mid_ch"] + decl["head"]["mid_ch"] * decl["num_classes"]
    return params + head, macs + c_in * decl["head"]["mid_ch"] * hw * hw + head


def check_declaration(name: str, decl) -> None:
    """Raise :class:`SpaceError` (one line: the field and its allowed range) unless ``decl`` is a valid space."""
    if not isinstance(decl, dict):
        raise SpaceError(f"space {name!r}: a declaration is a JSON object with {', '.join(TOP_LEVEL[1:])}, "
                         f"not a {type(decl).__name__}")
    _obj(name, "", decl, TOP_LEVEL, TOP_LEVEL[1:])
    if "name" in decl and not isinstance(decl["name"], str):
        raise _fail(name, "name", decl["name"], "must be a string")
    inp = _obj(name, "input", decl["input"], ("channels", "size"))
    _int(name, "input.channels", inp["channels"], 1, 64)
    _int(name, "input.size", inp["size"], 1, 4096)
    _int(name, "num_classes", decl["num_classes"], 1, 100_000)
    stem = _obj(name, "stem", decl["stem"], ("out_ch", "kernel", "stride"))
    _int(name, "stem.out_ch", stem["out_ch"], 1, 8192)
    if _int(name, "stem.kernel", stem["kernel"], 1, 15) % 2 == 0:
        raise _fail(name, "stem.kernel", stem["kernel"], "must be odd (1, 3, 5, ...)")
    _int(name, "stem.stride", stem["stride"], 1, 4)
    stages = _obj(name, "stages", decl["stages"], ("layers", "channels", "strides"))
    counts = _list(name, "stages.layers", stages["layers"])
    for field in ("channels", "strides"):
        _list(name, f"stages.{field}", stages[field], len(counts))
    for i, (n, ch, st) in enumerate(zip(counts, stages["channels"], stages["strides"])):
        _int(name, f"stages.layers[{i}]", n, 1, 64)
        _int(name, f"stages.channels[{i}]", ch, 1, 8192)
        _int(name, f"stages.strides[{i}]", st, 1, 4)
    if sum(counts) > 256:
        raise _fail(name, "the number of searchable layers", sum(counts), "must be at most 256")
    head = _obj(name, "head", decl["head"], ("mid_ch",))
    _int(name, "head.mid_ch", head["mid_ch"], 1, 16384)
    cands = _candidates(name, decl["candidates"])
    c_in = stem["out_ch"]
    for i, c_out in enumerate(stages["channels"]):  # the first layer of a stage maps c_in -> c_out, the rest c_out
        for ins in {c_in, c_out}:
            for cname, spec in cands.items():
                g, mid = spec.get("groups", 1), ins * spec.get("expansion", 1)
                if spec["op"] == "ir" and (ins % g or mid % g or c_out % g):
                    raise _fail(name, f"candidates.{cname}.groups", g,
                                f"must divide every layer's channels (stage {i}: {ins} -> {mid} -> {c_out})")
        c_in = c_out
    params, macs = largest(decl, cands)
    if params > MAX_PARAMS or macs > MAX_MACS:
        raise SpaceError(f"space {name!r} is too large: its largest architecture has {params:.3g} parameters and "
                         f"{macs:.3g} multiply-adds per image; the ceiling is {MAX_PARAMS:.0e} and {MAX_MACS:.0e} "
                         f"(check stages.channels, head.mid_ch and input.size)")
