"""Errors both transports raise beside ncclient's own."""

from __future__ import annotations

import socket
from typing import Optional

from ncclient.transport.errors import SSHError

__all__ = ["HostResolutionError"]


class HostResolutionError(SSHError, socket.gaierror):
    """The host name did not resolve: ncclient's ``SSHError``, and the ``socket.gaierror``
    plain ncclient lets through. Its text is OpenSSH's: ``Could not resolve hostname H: why``."""

    @classmethod
    def of(cls, host: str, errno: Optional[int], why: str) -> "HostResolutionError":
        """The error for *host*, with the resolver's *errno* (None if not known) and reason."""
        return cls(errno, "Could not resolve hostname %s: %s" % (host, why))

    def __str__(self) -> str:
        # OSError's own text starts "[Errno None]" when the resolver gave no number.
        return str(self.strerror) if self.strerror else super().__str__()
