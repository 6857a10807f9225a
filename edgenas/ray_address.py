"""A Ray cluster's address, checked before ``ray.init`` is asked to join it.

``ray.init`` with an address nobody listens on does not fail: it logs GCS warnings for minutes and retries.
A plain TCP connection to the address says at once, in one line, that nothing is there.
"""
from __future__ import annotations

import os
import socket
from typing import Optional

from .errors import BackendUnavailableError

__all__ = ["check_reachable"]


def check_reachable(address: Optional[str], timeout: float = 5.0) -> None:
    """Raise :class:`BackendUnavailableError` unless something accepts connections at ``address``
    (``HOST:PORT`` or ``ray://HOST:PORT``; None or ``local``, edgenas's word for a local cluster: the
    ``RAY_ADDRESS`` that ``ray.init`` would join, if set). ``auto`` is left to Ray."""
    address = address if address not in (None, "local") else os.environ.get("RAY_ADDRESS")
    if not address or address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise BackendUnavailableError(f"Ray address {address!r} is not HOST:PORT (or ray://HOST:PORT)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise BackendUnavailableError(f"Ray cluster at {address} is not reachable ({e.strerror or e}); start it "
                                      f"with 'ray start --head' or drop the address to use a local cluster") from None
