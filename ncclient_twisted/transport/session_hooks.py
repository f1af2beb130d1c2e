"""What a session asks of the layer above it, given to the session when it is made.

The bridge (:mod:`ncclient_twisted.bridge`) passes one :class:`SessionHooks` to the
session's constructor: for a session thread (``io="threads"``), whether a message may be
written by the caller's thread, who wakes the session thread, the lock session threads
share and how a read's hand-offs are batched; for both transports, the listener that takes
the session's notifications and the largest message; for a session on the reactor
(``io="reactor"``), where work too long for the reactor runs. The defaults are those of a
session on its own.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Optional

from ncclient_twisted.transport.framing import DEFAULT_MAX_MESSAGE_SIZE

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

__all__ = ["SessionHooks"]


class SessionHooks:
    """The seam between one session and the layer above it (defaults: none of it)."""

    #: The lock the session takes around the Python work of each message (for listeners
    #: whose ``gated`` is true) and of each job; ``None``: no lock.
    gate: Optional[ContextManager[Any]] = None
    #: Messages longer than this are dispatched outside the gate.
    gate_max: int = 0
    #: A ``SessionListener`` that takes the place of ncclient's ``NotificationHandler``:
    #: it gets every message and handles the ``<notification>`` ones. ``None``: ncclient's.
    notifications: Any = None
    #: The largest message the session takes (bytes; ``None``: no limit), the
    #: ``max_message_size`` connect keyword: a larger one ends the session.
    max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE

    def write_now(self) -> bool:
        """Whether a message sent now may be written by the caller's thread (nothing else
        in flight, so there is no burst to write in one go)."""
        return False

    def wake_later(self, session: Any) -> bool:
        """Take on a wake-up of *session*, to do it later from another thread (True), or
        decline (False: the session wakes its thread now)."""
        return False

    def batch(self) -> ContextManager[Any]:
        """A block around the processing of one read from the transport."""
        return contextlib.nullcontext()

    def run_elsewhere(self, fn: Callable[[], Any]) -> "Optional[Deferred[Any]]":
        """Run *fn* off the caller's thread (a session on the reactor thread hands a large
        message's parse to a pool), a Deferred of its end; None: run it inline."""
        return None
