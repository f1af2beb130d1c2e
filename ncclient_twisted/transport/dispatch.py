"""Handing each complete message to the session's listeners (shared by every session kind)."""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING, Any, Callable, ContextManager, List, Optional, cast

from ncclient.transport.session import NotificationHandler
from twisted.logger import Logger

from ncclient_twisted.transport.ended import ended_session_logger
from ncclient_twisted.transport.framing import FrameDecoder, LargeMessage, MalformedReplyError, not_utf8
from ncclient_twisted.transport.rootscan import scan_root

__all__ = ["MessageDispatch", "UNUSED_QUEUE"]

log = Logger(namespace=__name__)


class _UnusedQueue(queue.Queue):
    """What a session has for a queue of ncclient's ``Session`` that it never uses: always
    empty (a ``get`` waits, or raises ``queue.Empty``, as on an empty queue of its own); a
    ``put`` raises, so nothing can reach another session through it."""

    def put(self, item: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        raise RuntimeError("this queue of the session is not used")


#: The one :class:`_UnusedQueue`, every session's.
UNUSED_QUEUE = _UnusedQueue()


class MessageDispatch:
    """``_dispatch_message`` and ``_reject`` for a subclass of ncclient's ``Session``, and
    what both transports do at a session's end (:meth:`add_end_callback`,
    :meth:`_release_after_end`).

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
    _notification_q: Any
    logger: Any
    # The transport's.
    _decoder: Optional[FrameDecoder]
    _on_end: List[Callable[[Optional[Exception]], None]]

    _dispatch_error: Callable[[Exception], None]

    if TYPE_CHECKING:

        @property
        def ended(self) -> bool:
            """Whether the session has ended (each transport's: an attribute, a property)."""

    def add_end_callback(self, fn: Callable[[Optional[Exception]], None]) -> None:
        """Call *fn(reason)* when the session ends (``None``: a close we asked for; on the
        threads transport, on the session thread). Once it has ended, *fn* is not kept (the
        caller reads :attr:`ended`, as the Manager does): it would keep its owner and this
        session alive in a cycle."""
        if not self.ended:
            self._on_end.append(fn)

    def _release_after_end(self) -> None:
        """Drop what refers back to this session, now that it has ended: its decoder (its
        callbacks are this session's methods), the end callbacks (the Manager's bound
        method), ncclient's logger adapter (it holds the session). Otherwise each session
        is a graph of cycles only the cyclic GC frees (issue #25); what a closed Manager
        reads (id, capabilities, counters, end_reason) stays. Each transport adds its own
        links."""
        self._decoder = None
        self._on_end = []
        self.logger = ended_session_logger(self)

    def _drop_notification_queue(self) -> None:
        """With the hooks' router (:meth:`add_listener`), ncclient's notification queue
        is never filled: :data:`UNUSED_QUEUE` takes its place (a ``Queue`` is ~15 objects
        the cyclic GC scans while the session is open, issue #25)."""
        if self._notifications is not None:
            self._notification_q = UNUSED_QUEUE

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
