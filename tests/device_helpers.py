"""Fixtures' helpers for device tests: a fake adb on PATH and a throwaway sshd on 127.0.0.1."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

FAKES = Path(__file__).resolve().parent / "fakes"


def adb_calls(log: Path) -> list:
    """Every argv the fake adb was called with, in order."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """An OpenSSH server on 127.0.0.1 that accepts one generated key for the current user."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
        self.proc = None

    def unavailable(self) -> str:
        """Why the server cannot run here ('' when it can)."""
        if not self.sshd:
            return "sshd is not installed (apt-get install openssh-server)"
        if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
            return "the ssh client is not installed (apt-get install openssh-client)"
        return ""

    def keygen(self, name: str) -> Path:
        key = self.folder / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        return key

    def start(self) -> str:
        """Start the server; return '' or the reason it could not start."""
        f = self.folder
        self.host_key, self.client_key, self.wrong_key = self.keygen("host_key"), self.keygen("id"), self.keygen("wrong")
        (f / "authorized_keys").write_text(Path(str(self.client_key) + ".pub").read_text())
        os.chmod(f / "authorized_keys", 0o600)
        self.port = free_port()
        self.user = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name
        (f / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}", f"PidFile {f / 'sshd.pid'}",
            f"AuthorizedKeysFile {f / 'authorized_keys'}", "StrictModes no", "UsePAM no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", f"AllowUsers {self.user}", "LogLevel ERROR", ""]))
        if os.getuid() == 0:
            os.makedirs("/run/sshd", exist_ok=True)  # privilege-separation folder sshd insists on
        self.proc = subprocess.Popen([self.sshd, "-D", "-e", "-f", str(f / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=open(f / "sshd.log", "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return f"sshd exited: {(f / 'sshd.log').read_text().strip()[-300:]}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return ""
            except OSError:
                time.sleep(0.1)
        return "sshd did not listen within 10 s"

    def options(self) -> dict:
        return {"UserKnownHostsFile": str(self.folder / "known_hosts"), "StrictHostKeyChecking": "accept-new"}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
