"""The bridge's side of a session's hooks: :class:`SessionHooks
<ncclient_twisted.transport.session_hooks.SessionHooks>` tied to the reactor's runtime."""

from __future__ import annotations

from typing import Any, Callable, ContextManager, Optional

from twisted.internet.defer import Deferred

from ncclient_twisted.bridge.gate import GATED_MESSAGE_MAX
from ncclient_twisted.bridge.handoff import batch
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import Runtime
from ncclient_twisted.transport.session_hooks import SessionHooks

__all__ = ["BridgeHooks", "ReactorHooks"]


class BridgeHooks(SessionHooks):
    """Ties a session to its reactor's :class:`Runtime` and to its reply listener.

    A message may be written by the caller's thread while nothing else is in flight on
    the session and the runtime's waker allows a direct write; wake-ups go through the
    waker; the runtime's gate is shared by every session of the reactor; each read's
    hand-offs reach the reactor in one batch; *notifications* (the session's router)
    takes the place of ncclient's notification handler.
    """

    gate_max = GATED_MESSAGE_MAX

    def __init__(self, runtime: Runtime, notifications: Any) -> None:
        self._waker = runtime.waker
        self.gate = runtime.gate
        self.notifications = notifications
        self._listener: Optional[DeferredReplyListener] = None

    def attach(self, listener: DeferredReplyListener) -> None:
        """The session's reply listener, once it is installed on the session."""
        self._listener = listener

    def write_now(self) -> bool:
        listener = self._listener
        return listener is not None and listener.alone() and self._waker.claim_direct_write()

    def wake_later(self, session: Any) -> bool:
        return bool(self._waker.defer(session))

    def batch(self) -> ContextManager[Any]:
        return batch()


class ReactorHooks(SessionHooks):
    """For a session on the reactor thread (``io="reactor"``): its notification router,
    and the runtime's pool for what would hold the reactor too long (a large message)."""

    def __init__(self, runtime: Runtime, notifications: Any) -> None:
        self._runtime = runtime
        self.notifications = notifications

    def run_elsewhere(self, fn: Callable[[], Any]) -> "Deferred[Any]":
        return self._runtime.run(fn)
