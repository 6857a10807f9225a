"""Ways to reach a device: this host, a board over ssh, a phone over adb.

A transport runs an argument list on the device, pushes a file to it and reads
one back. Commands are never strings built by hand: every token is quoted with
:func:`shlex.quote` before it reaches a remote shell, and every file name a
transport writes is checked by :func:`check_name` first. Failures become one
:class:`~edgenas.errors.DeviceError` line: not connected, authentication
refused, dropped mid-profile.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import weakref
from abc import ABC, abstractmethod
from typing import Dict, Optional, Sequence

from edgenas.errors import ConfigError, DeviceError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
_PATH = re.compile(r"^[A-Za-z0-9_./-]+$")

# One constant script, so a fingerprint costs one round trip; it takes no input.
_FACTS_SCRIPT = r"""
echo "uname=$(uname -srm)"
echo "model=$(tr -d '\0' < /proc/device-tree/model 2>/dev/null)"
echo "cpu=$(grep -m1 -iE '^(model name|hardware)' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "cores=$(grep -c ^processor /proc/cpuinfo 2>/dev/null)"
echo "governor=$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null)"
echo "max_khz=$(cat /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq 2>/dev/null)"
"""
_TEMPS_SCRIPT = "cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null; true"


def check_name(name: str) -> str:
    """``name`` if it is a plain file name (letters, digits, ``._-``, no leading dot or dash); else raise."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        raise ConfigError(f"file name {name!r} is not allowed on a device: use letters, digits, '.', '_' and '-' "
                          f"only, not starting with '.' or '-'")
    return name


def check_path(path: str) -> str:
    """A device folder: absolute or relative, made of checked names only."""
    if not _PATH.match(path or "") or any(part in ("..",) or part.startswith("-") for part in path.split("/")):
        raise ConfigError(f"device path {path!r} is not allowed: use letters, digits and '._-/' only")
    return path


def quote_command(argv: Sequence[str]) -> str:
    """One shell command line in which every token is quoted: the only way argv reaches a remote shell."""
    return " ".join(shlex.quote(str(a)) for a in argv)


def parse_temperatures(text: str) -> list:
    return [round(int(v) / 1000.0, 1) for v in text.split() if v.lstrip("-").isdigit()]


def _facts(text: str) -> Dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class Transport(ABC):
    """How commands and files reach one device. ``name`` identifies it in messages and tables."""

    name: str = ""
    default_workdir: str = "edgenas-work"
    default_python: str = "python3"

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`DeviceError` unless the device answers."""

    @abstractmethod
    def run(self, argv: Sequence[str], timeout: float = 600.0,
            stdin: Optional[bytes] = None) -> subprocess.CompletedProcess:
        """Run ``argv`` on the device; the result carries its exit code, stdout and stderr (bytes)."""

    @abstractmethod
    def push(self, local: str, remote_dir: str, name: str) -> str:
        """Copy the local file to ``remote_dir/name`` (``name`` checked); return the device path."""

    @abstractmethod
    def read(self, remote_path: str) -> bytes:
        """The bytes of a device file."""

    def fingerprint(self) -> dict:
        """What identifies the device and its settings (stable across a profile: no temperatures)."""
        out = self.run(["sh", "-c", _FACTS_SCRIPT], timeout=60)
        return {"transport": self.name, **_facts(out.stdout.decode(errors="replace"))}

    def temperatures(self) -> list:
        """Current thermal-zone temperatures in °C (empty where the device has none)."""
        out = self.run(["sh", "-c", _TEMPS_SCRIPT], timeout=60)
        return parse_temperatures(out.stdout.decode(errors="replace"))

    def remove(self, *remote_paths: str) -> None:
        self.run(["rm", "-rf", "--", *remote_paths], timeout=60)


def _completed(argv, rc, out=b"", err=b""):
    return subprocess.CompletedProcess(argv, rc, out, err)


class LocalTransport(Transport):
    """This host as the device: commands run without a shell, files are copied. For tests and benches."""

    def __init__(self, workdir: Optional[str] = None, python: Optional[str] = None):
        import sys

        self.name = "local"
        self.default_workdir = workdir or tempfile.mkdtemp(prefix="edgenas-device-")
        self.default_python = python or sys.executable
        if workdir is None:  # a folder of its own: removed with the transport (it holds the runner files)
            weakref.finalize(self, shutil.rmtree, self.default_workdir, ignore_errors=True)

    def check(self) -> None:
        pass

    def run(self, argv, timeout=600.0, stdin=None):
        try:
            return subprocess.run(list(map(str, argv)), input=stdin, capture_output=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DeviceError(f"local command {argv[0]!r} failed: {e}") from None

    def push(self, local, remote_dir, name):
        dest = os.path.join(check_path(remote_dir), check_name(name))
        os.makedirs(remote_dir, exist_ok=True)
        shutil.copyfile(local, dest)
        return dest

    def read(self, remote_path):
        try:
            with open(remote_path, "rb") as f:
                return f.read()
        except OSError as e:
            raise DeviceError(f"cannot read {remote_path}: {e.strerror}") from None


class SshTransport(Transport):
    """A board (Jetson, Raspberry Pi) over OpenSSH, key authentication only (``BatchMode``: never a prompt)."""

    def __init__(self, host: str, user: Optional[str] = None, port: int = 22, identity: Optional[str] = None,
                 options: Optional[Dict[str, str]] = None, connect_timeout: int = 10, ssh: str = "ssh"):
        if not _HOST.match(host or ""):
            raise ConfigError(f"ssh host {host!r} is not a host name or address")
        if user is not None and not _USER.match(user):
            raise ConfigError(f"ssh user {user!r} is not a user name")
        if not 0 < int(port) < 65536:
            raise ConfigError(f"ssh port {port} is out of range")
        self.host, self.user, self.port = host, user, int(port)
        self.dest = f"{user}@{host}" if user else host
        self.name = f"ssh://{self.dest}:{self.port}"
        opts = {"BatchMode": "yes", "ConnectTimeout": str(connect_timeout), "ServerAliveInterval": "15",
                "ServerAliveCountMax": "3", "LogLevel": "ERROR"}
        opts.update(options or {})
        self._base = [ssh, "-p", str(self.port)]
        if identity:
            self._base += ["-i", str(identity), "-o", "IdentitiesOnly=yes"]
        for k, v in opts.items():
            self._base += ["-o", f"{k}={v}"]

    def _ssh(self, remote_command: str, timeout: float, stdin: Optional[bytes] = None):
        argv = self._base + ["--", self.dest, remote_command]
        try:
            proc = subprocess.run(argv, input=stdin if stdin is not None else b"", capture_output=True,
                                  timeout=timeout)
        except FileNotFoundError:
            raise DeviceError(f"the ssh client {self._base[0]!r} is not installed (apt-get install openssh-client)") \
                from None
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{self.name} did not answer within {timeout:.0f} s; rerun to resume") from None
        if proc.returncode == 255:  # ssh's own failure, not the remote command's
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            last = err[-1] if err else "no message"
            if "Permission denied" in last or "Too many authentication failures" in last:
                raise DeviceError(f"ssh authentication to {self.name} failed ({last}); check the user and the key "
                                  f"(identity=...)")
            raise DeviceError(f"cannot reach {self.name} ({last}); is it on and is sshd running? Rerun to resume")
        return proc

    def check(self) -> None:
        proc = self._ssh("true", timeout=60)
        if proc.returncode != 0:
            raise DeviceError(f"{self.name} answered but 'true' failed with exit code {proc.returncode}")

    def run(self, argv, timeout=600.0, stdin=None):
        return self._ssh(quote_command(argv), timeout, stdin)

    def push(self, local, remote_dir, name):
        dest = f"{check_path(remote_dir)}/{check_name(name)}"
        with open(local, "rb") as f:
            data = f.read()
        cmd = f"mkdir -p -- {shlex.quote(remote_dir)} && cat > {shlex.quote(dest)}"
        proc = self._ssh(cmd, timeout=600, stdin=data)
        if proc.returncode != 0:
            raise DeviceError(f"cannot write {dest} on {self.name}: {proc.stderr.decode(errors='replace').strip()}")
        return dest

    def read(self, remote_path):
        proc = self._ssh(quote_command(["cat", "--", remote_path]), timeout=600)
        if proc.returncode != 0:
            raise DeviceError(f"cannot read {remote_path} on {self.name}: "
                              f"{proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout


class AdbTransport(Transport):
    """An Android phone over ``adb -s SERIAL``: push, shell, pull."""

    default_workdir = "/data/local/tmp/edgenas"

    def __init__(self, serial: str, adb: str = "adb", workdir: Optional[str] = None):
        if not _SERIAL.match(serial or ""):
            raise ConfigError(f"adb serial {serial!r} is not a device serial")
        self.serial, self.adb = serial, adb
        self.name = f"adb://{serial}"
        if workdir:
            self.default_workdir = check_path(workdir)

    def _adb(self, args: Sequence[str], timeout: float, stdin: Optional[bytes] = None):
        argv = [self.adb, "-s", self.serial, *args]
        try:
            proc = subprocess.run(argv, input=stdin if stdin is not None else b"", capture_output=True,
                                  timeout=timeout)
        except FileNotFoundError:
            raise DeviceError(f"adb ({self.adb!r}) is not installed: install the Android platform tools") from None
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{self.name} did not answer within {timeout:.0f} s; rerun to resume") from None
        err = proc.stderr.decode(errors="replace")
        if proc.returncode != 0 and ("device '" in err or "no devices" in err or "offline" in err
                                     or "device not found" in err or "unauthorized" in err):
            line = err.strip().splitlines()[-1]
            raise DeviceError(f"adb device {self.serial} is not connected ({line}); plug it in, allow USB debugging "
                              f"and rerun to resume")
        return proc

    def check(self) -> None:
        proc = self._adb(["get-state"], timeout=30)
        state = proc.stdout.decode(errors="replace").strip()
        if proc.returncode != 0 or state != "device":
            raise DeviceError(f"adb device {self.serial} is not connected (state {state or 'unknown'}: "
                              f"{proc.stderr.decode(errors='replace').strip()})")

    def run(self, argv, timeout=600.0, stdin=None):
        return self._adb(["shell", quote_command(argv)], timeout, stdin)

    def push(self, local, remote_dir, name):
        dest = f"{check_path(remote_dir)}/{check_name(name)}"
        self.run(["mkdir", "-p", "--", remote_dir], timeout=60)
        proc = self._adb(["push", local, dest], timeout=600)
        if proc.returncode != 0:
            raise DeviceError(f"adb push to {dest} failed: {proc.stderr.decode(errors='replace').strip()}")
        return dest

    def read(self, remote_path):
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, "pulled")
            proc = self._adb(["pull", remote_path, local], timeout=600)
            if proc.returncode != 0 or not os.path.exists(local):
                raise DeviceError(f"adb pull of {remote_path} failed: {proc.stderr.decode(errors='replace').strip()}")
            with open(local, "rb") as f:
                return f.read()

    def fingerprint(self) -> dict:
        props = ["ro.product.manufacturer", "ro.product.model", "ro.soc.manufacturer", "ro.soc.model",
                 "ro.board.platform", "ro.product.cpu.abi", "ro.build.version.release", "ro.build.fingerprint"]
        script = "; ".join(f"echo {p}=$(getprop {p})" for p in props)  # constant: property names only
        out = self.run(["sh", "-c", script], timeout=60).stdout.decode(errors="replace")
        facts = _facts(out)
        return {"transport": self.name, "model": facts.get("ro.product.model", ""),
                "manufacturer": facts.get("ro.product.manufacturer", ""),
                "soc": facts.get("ro.soc.model") or facts.get("ro.board.platform", ""),
                "soc_manufacturer": facts.get("ro.soc.manufacturer", ""), "abi": facts.get("ro.product.cpu.abi", ""),
                "android": facts.get("ro.build.version.release", ""),
                "build": facts.get("ro.build.fingerprint", ""),
                **{k: v for k, v in super().fingerprint().items() if k in ("governor", "max_khz", "cores")}}
