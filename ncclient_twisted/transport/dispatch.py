"""Handing each complete message to the session's listeners (shared by every session kind)."""

from __future__ import annotations

from typing import Any, Callable, ContextManager, Optional, cast

from ncclient.transport.session import NotificationHandler
from twisted.logger import Logger

from ncclient_twisted.transport.framing import LargeMessage, MalformedReplyError, not_utf8
from ncclient_twisted.transport.rootscan import scan_root

__all__ = ["MessageDispatch"]

log = Logger(namespace=__name__)


class MessageDispatch:
    """``_dispatch_message`` and ``_reject`` for a subclass of ncclient's ``Session``.

    The root is read by :func:`scan_root` (never by a parser that could expand a DTD);
    listeners whose ``gated`` is true get small messages under the session's gate.
    """

    _gate: Optional[ContextManager[Any]] = None
    _gate_max: int = 0
    #: The hooks' notification listener (our router), or None: ncclient's handler.
    _notifications: Any = None
    # ncclient's Session's (declared for the type checker).
    _device_handler: Any
    _lock: Any
    _listeners: Any

    _dispatch_error: Callable[[Exception], None]

    def add_listener(self, listener: Any) -> None:
        """ncclient's, except that the hooks' notification listener (our router) takes the
        place of ncclient's ``NotificationHandler`` when ``_post_connect`` (or the reactor
        session's hello) adds it: it parses each ``<notification>`` once, straight into
        our ``Notification``."""
        if type(listener) is NotificationHandler and self._notifications is not None:
            listener = self._notifications
        cast(Any, super()).add_listener(listener)

    def _dispatch_message(self, raw: str) -> None:
        try:
            root = scan_root(raw)
        except MalformedReplyError as e:
            if e.dtd:  # never handed to a parser that could expand or fetch it
                self._reject(e)
                return
            handled = self._device_handler.handle_raw_dispatch(raw)
            if isinstance(handled, str):
                try:
                    root = scan_root(handled)
                except MalformedReplyError as again:
                    self._reject(again)
                    return
            elif isinstance(handled, Exception):
                self._dispatch_error(handled)
                return
            else:
                self._reject(e)
                return
        with self._lock:
            listeners = list(self._listeners)
        gate = self._gate if len(raw) <= self._gate_max else None
        for listener in listeners:
            try:
                if gate is not None and getattr(listener, "gated", False):
                    with gate:
                        listener.callback(root, raw)
                else:
                    listener.callback(root, raw)
            except Exception as e:
                # ncclient lets this end the session ("fail loudly"): a notification that
                # its parser refuses (too deep, not well-formed) would kill a long-lived
                # session. The message is dropped instead.
                log.error(
                    "{listener} dropped a message: {error!r}",
                    listener=type(listener).__name__, error=e,
                )

    def _dispatch_large(self, message: LargeMessage) -> None:
        """Decode a large message (off the reactor: see :class:`LargeMessage`) and hand it
        to the listeners; one that is not UTF-8 is rejected as the decoder would."""
        try:
            text = message.decode()
        except UnicodeDecodeError as e:
            self._reject(not_utf8(message.head(), e))
            return
        self._dispatch_message(text)

    def _reject(self, error: MalformedReplyError) -> None:
        """A message that cannot be parsed safely: its request (if known) fails with *error*."""
        with self._lock:
            listeners = list(self._listeners)
        rejected = False
        for listener in listeners:
            reject = getattr(listener, "reject", None)
            if reject is not None:
                reject(error)
                rejected = True
        if not rejected:
            log.error("dropping a message: {error}", error=error)
