"""Notifications from the session thread to the reactor thread.

ncclient's ``NotificationHandler`` (registered by ``Session._post_connect``) parses each
``<notification>`` into a :class:`ncclient.transport.notify.Notification` on the session
thread and ``put``s it on ``session._notification_q``. Our session's queue is a
:class:`NotificationBuffer` whose ``put`` hands the notification to the reactor with
``callFromThread``; there it is buffered (bounded, dropping the oldest, counted) or given
to a waiting :meth:`NotificationBuffer.take`.
"""

from __future__ import annotations

import collections
import logging
from typing import Any, Deque, List, Optional

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

__all__ = ["NotificationBuffer", "DEFAULT_NOTIFICATION_BUFFER"]

log = logging.getLogger("ncclient_twisted.notifications")

DEFAULT_NOTIFICATION_BUFFER = 10000


class NotificationBuffer:
    """A bounded buffer of notifications, fed from any thread, read on the reactor."""

    def __init__(self, reactor: Any, maxlen: int = DEFAULT_NOTIFICATION_BUFFER) -> None:
        self._reactor = reactor
        self._items: Deque[Any] = collections.deque()
        self._maxlen = maxlen
        self._waiters: List["Deferred[Any]"] = []
        self._ended: Optional[Failure] = None
        self.dropped = 0

    # session thread (ncclient's NotificationHandler calls this)
    def put(self, notification: Any) -> None:
        self._reactor.callFromThread(self._deliver, notification)

    # reactor thread
    def _deliver(self, notification: Any) -> None:
        if self._waiters:
            self._waiters.pop(0).callback(notification)
            return
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("notification buffer full: %d dropped so far", self.dropped)
        self._items.append(notification)

    def take(self, block: bool = True, timeout: Optional[float] = None) -> "Deferred[Any]":
        """The next notification; ``None`` if there is none (not *block*) or on *timeout*."""
        if self._items:
            return succeed(self._items.popleft())
        if self._ended is not None:
            return fail(self._ended) if block else succeed(None)
        if not block:
            return succeed(None)
        d: "Deferred[Any]" = Deferred(self._waiters.remove)
        self._waiters.append(d)
        if timeout is not None:
            call = self._reactor.callLater(timeout, self._expire, d)
            d.addBoth(lambda r: (call.active() and call.cancel(), r)[1])
        return d

    def _expire(self, d: "Deferred[Any]") -> None:
        if d in self._waiters:
            self._waiters.remove(d)
            d.callback(None)

    def end(self, reason: Failure) -> None:
        """The session ended: waiters fail with *reason*; buffered items stay readable."""
        self._ended = reason
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.errback(reason)

    def __len__(self) -> int:
        return len(self._items)
