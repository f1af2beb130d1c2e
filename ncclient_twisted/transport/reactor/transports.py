"""What a reactor session asks of the Twisted transport under its link: write now, pause
reading, abort (TCP, TLS or Unix)."""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IWriteDescriptor


def flush_now(transport: Any) -> None:
    """Send what the socket under *transport* (TCP or Unix; under TLS) holds now, rather
    than when the reactor's next poll finds it writable: its ``doWrite``, as the reactor
    would call it. A closing connection is left to the reactor, and so is a write error
    (the reactor meets it again on that poll, and ends the connection)."""
    socket_transport: Any = transport
    for _ in range(3):  # the socket's transport, or TLS's, or none
        if IWriteDescriptor.providedBy(socket_transport):
            break
        socket_transport = getattr(socket_transport, "transport", None)
    else:
        return
    if getattr(socket_transport, "connected", False) and not getattr(socket_transport, "disconnecting", True):
        socket_transport.doWrite()


def pause_reading(transport: Any, paused: bool) -> None:
    """Pause (or resume) reading from *transport* (``IProducer``; TLS passes it on)."""
    if transport is None or getattr(transport, "disconnecting", False):
        return
    if paused:
        transport.pauseProducing()
    else:
        transport.resumeProducing()


def abort_transport(transport: Any) -> None:
    """Abort a TCP, TLS or Unix transport (lose it, where it cannot be aborted)."""
    abort_connection = getattr(transport, "abortConnection", None)
    if abort_connection is not None:
        abort_connection()
    elif transport is not None:
        transport.loseConnection()
