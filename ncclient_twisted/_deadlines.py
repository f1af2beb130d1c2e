"""The manager's timeout for its requests: one timer per manager, not one per request.

Every request made with the manager's ``timeout`` expires that long after it was made, so
their deadlines come in the order the requests were made: a queue in that order and one
``DelayedCall`` for its head do what ``d.addTimeout(timeout, reactor)`` on each request
does, without a ``DelayedCall`` (made, pushed on the reactor's heap, cancelled) per
request. A request whose deadline would come before the last one queued (the manager's
timeout was lowered meanwhile, or the clock went back) gets its own ``addTimeout``.

On expiry the request's Deferred is cancelled (its canceller forgets the request) and
fails with ncclient's ``TimeoutExpiredError``, as with ``addTimeout(...,
onTimeoutCancel=...)``.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Deque, Optional

from twisted.internet.defer import Deferred

__all__ = ["Deadlines"]

OnTimeout = Callable[[Any, float], Any]


class _Entry:
    __slots__ = ("owner", "deadline", "deferred", "timeout", "done", "timed_out")

    def __init__(self, owner: "Deadlines", deadline: float, d: "Deferred[Any]", timeout: float) -> None:
        self.owner = owner
        self.deadline = deadline
        self.deferred = d
        self.timeout = timeout
        self.done = False
        self.timed_out = False

    def settle(self, result: Any) -> Any:
        """The Deferred's first callback: the request is over, one way or the other."""
        self.done = True
        self.owner._trim()
        if self.timed_out:
            return self.owner._on_timeout(result, self.timeout)
        return result


class Deadlines:
    """Timeouts of one manager's requests (reactor thread only)."""

    def __init__(self, reactor: Any, on_timeout: OnTimeout) -> None:
        self._reactor = reactor
        self._on_timeout = on_timeout
        self._queue: Deque[_Entry] = collections.deque()
        self._call: Any = None

    def add(self, d: "Deferred[Any]", timeout: float) -> None:
        """Fail *d* with a timeout if it has not fired *timeout* seconds from now."""
        deadline = self._reactor.seconds() + timeout
        queue = self._queue
        if queue and deadline < queue[-1].deadline:
            d.addTimeout(timeout, self._reactor, onTimeoutCancel=self._on_timeout)
            return
        entry = _Entry(self, deadline, d, timeout)
        queue.append(entry)
        d.addBoth(entry.settle)
        if self._call is None and not entry.done:
            self._call = self._reactor.callLater(timeout, self._expire)

    def __len__(self) -> int:
        return len(self._queue)

    def _trim(self) -> None:
        queue = self._queue
        while queue and queue[0].done:
            queue.popleft()
        if not queue and self._call is not None:
            call, self._call = self._call, None
            if call.active():
                call.cancel()

    def _expire(self) -> None:
        self._call = None
        now = self._reactor.seconds()
        queue = self._queue
        while queue and (queue[0].done or queue[0].deadline <= now):
            entry = queue.popleft()
            if not entry.done:
                entry.timed_out = True
                entry.deferred.cancel()
        head: Optional[_Entry] = queue[0] if queue else None
        if head is not None and self._call is None:
            self._call = self._reactor.callLater(max(0.0, head.deadline - now), self._expire)
