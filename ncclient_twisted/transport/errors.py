"""Errors both transports raise beside ncclient's own."""

from __future__ import annotations

import socket

from ncclient.transport.errors import SSHError

__all__ = ["HostResolutionError"]


class HostResolutionError(SSHError, socket.gaierror):
    """The host name did not resolve: ncclient's ``SSHError``, and the ``socket.gaierror``
    plain ncclient lets through."""
