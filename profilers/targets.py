"""Target specs: one short string names a profiler on this host or on a device.

    onnxruntime | executorch-xnnpack | litert-xnnpack | torch | torch-cuda | ...   a backend on this host
    local:RUNTIME                                     the device runner on this host (tests, dry runs)
    ssh://[USER@]HOST[:PORT]/RUNTIME[?identity=KEY&python=PY&workdir=DIR&cooldown=S]
    adb://SERIAL/RUNTIME[?python=PY&workdir=DIR&cooldown=S&adb=ADB]

RUNTIME is ``onnxruntime``, ``executorch`` or ``litert``. ``NAME=SPEC`` names a
target; the name is used in the table's file name.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from edgenas.errors import ConfigError
from edgenas.profiling.measure import TimingProtocol

from . import BACKENDS, get_profiler
from .base import Profiler

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_QUERY_KEYS = {"identity", "python", "workdir", "cooldown", "adb", "known_hosts", "strict_host_key_checking"}


@dataclass(frozen=True)
class Target:
    """A parsed target: its name, its spec, and the device host it runs on (one Ray task per host)."""

    name: str
    spec: str
    kind: str  # "host", "local", "ssh" or "adb"
    host: str
    runtime: str
    options: tuple = ()

    def profiler(self, threads: int = 1, protocol: TimingProtocol = TimingProtocol()) -> Profiler:
        """A fresh profiler for this target."""
        opts = dict(self.options)
        if self.kind == "host":
            return get_profiler(self.runtime, threads=threads, protocol=protocol)
        from .remote import RemoteProfiler
        from .transport import AdbTransport, LocalTransport, SshTransport

        if self.kind == "local":
            transport = LocalTransport(workdir=opts.get("workdir"), python=opts.get("python"))
        elif self.kind == "ssh":
            ssh_opts = {}
            if "known_hosts" in opts:
                ssh_opts["UserKnownHostsFile"] = opts["known_hosts"]
            if "strict_host_key_checking" in opts:
                ssh_opts["StrictHostKeyChecking"] = opts["strict_host_key_checking"]
            transport = SshTransport(opts["_host"], user=opts.get("_user"), port=int(opts.get("_port", 22)),
                                     identity=opts.get("identity"), options=ssh_opts)
        else:
            transport = AdbTransport(opts["_serial"], adb=opts.get("adb", "adb"), workdir=opts.get("workdir"))
        return RemoteProfiler(transport, self.runtime, threads=threads, protocol=protocol,
                              cooldown_s=float(opts.get("cooldown", 0)), python=opts.get("python"),
                              workdir=opts.get("workdir") if self.kind != "local" else None)


def _default_name(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", spec.split("?", 1)[0]).strip("-.")[:64] or "target"


def parse_target(text: str) -> Target:
    """Parse ``[NAME=]SPEC``; raise :class:`ConfigError` with the accepted forms on anything else."""
    name, sep, spec = text.partition("=")
    if not sep or "://" in name or ":" in name:
        name, spec = "", text
    spec = spec.strip()
    name = name.strip() or _default_name(spec)
    if not _NAME.match(name):
        raise ConfigError(f"target name {name!r} must be letters, digits, '.', '_' or '-'")
    if spec in BACKENDS:
        return Target(name, spec, "host", "localhost", spec)
    if spec.startswith("local:"):
        runtime = spec.split(":", 1)[1]
        return Target(name, spec, "local", "localhost", _runtime(runtime, spec))
    parts = urlsplit(spec)
    if parts.scheme not in ("ssh", "adb"):
        raise ConfigError(f"target {spec!r} is not a backend ({', '.join(sorted(BACKENDS))}), local:RUNTIME, "
                          f"ssh://[USER@]HOST[:PORT]/RUNTIME or adb://SERIAL/RUNTIME")
    runtime = _runtime(parts.path.strip("/"), spec)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(query) - _QUERY_KEYS
    if unknown:
        raise ConfigError(f"target {spec!r}: unknown option(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(_QUERY_KEYS))}")
    if "cooldown" in query:
        try:
            cooldown = float(query["cooldown"])
        except ValueError:
            cooldown = math.nan
        if not (math.isfinite(cooldown) and cooldown >= 0):
            raise ConfigError(f"target {spec!r}: cooldown must be a number of seconds >= 0, "
                              f"not {query['cooldown']!r}")
    if parts.scheme == "ssh":
        try:
            port = parts.port or 22
        except ValueError:
            raise ConfigError(f"target {spec!r}: the port is not a number") from None
        if not parts.hostname:
            raise ConfigError(f"target {spec!r} has no host")
        opts = {**query, "_host": parts.hostname, "_port": str(port)}
        if parts.username:
            opts["_user"] = parts.username
        return Target(name, spec, "ssh", parts.hostname, runtime, tuple(sorted(opts.items())))
    serial = parts.netloc
    if not serial:
        raise ConfigError(f"target {spec!r} has no adb serial")
    return Target(name, spec, "adb", f"adb:{serial}", runtime, tuple(sorted({**query, "_serial": serial}.items())))


def _runtime(runtime: str, spec: str) -> str:
    from .converters import CONVERTERS

    if runtime not in CONVERTERS:
        raise ConfigError(f"target {spec!r}: device runtime {runtime!r} is not one of {', '.join(sorted(CONVERTERS))}")
    return runtime
