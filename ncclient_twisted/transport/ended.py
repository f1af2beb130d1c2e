"""The errors of a session that has ended, the same on both transports.

The requests waiting when a session ends fail with the reason it ended
(``SessionCloseError``, ``NetconfFramingError``, ``KeepaliveTimeoutError``...; after our
own close, :func:`session_closed`). Every request made afterwards fails at once with
:func:`not_connected`: a plain ``TransportError``, as plain ncclient raises for a session
that is gone, whose ``__cause__`` is that reason.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from ncclient.logging_ import SessionLoggerAdapter
from ncclient.transport.errors import TransportError

__all__ = ["ended_session_logger", "not_connected", "session_closed"]

#: ncclient's message for a request on a session that is not connected.
NOT_CONNECTED = "Not connected to NETCONF server"


def session_closed() -> TransportError:
    """What a request pending when we closed the session fails with."""
    return TransportError("Session closed")


def not_connected(reason: Optional[BaseException]) -> TransportError:
    """What a request made after the session ended fails with; *reason*: why it ended
    (``None``: we closed it), kept as the error's ``__cause__``."""
    if reason is None:
        error = TransportError(NOT_CONNECTED + ": this client closed the session (close_session() or close)")
    else:
        # The class name only: the reason's own text is in __cause__, not repeated.
        error = TransportError("%s: the session ended with %s" % (NOT_CONNECTED, type(reason).__name__))
    error.__cause__ = reason
    return error


class _EndedSession:
    """What ncclient's ``SessionLoggerAdapter`` reads of a session (host, id), copied."""

    def __init__(self, session: Any) -> None:
        self.host = getattr(session, "host", None)
        self.id = session.id


def ended_session_logger(session: Any) -> SessionLoggerAdapter:
    """ncclient's logger adapter for *session* (``Session.logger``), its lines prefixed
    as before, holding a copy of its host and id instead of the session: the adapter
    ncclient makes refers to the session, a cycle that outlives its end."""
    logger = getattr(session, "logger", None)
    if isinstance(logger, logging.LoggerAdapter):
        base = logger.logger
    else:
        base = logging.getLogger("ncclient.transport.session")
    return SessionLoggerAdapter(base, {"session": _EndedSession(session)})
