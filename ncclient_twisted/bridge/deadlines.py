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
from twisted.internet.interfaces import IReactorTime

__all__ = ["Deadlines"]

OnTimeout = Callable[[Any, float], Any]

#: Done entries are dropped from the middle of the queue once it holds this many and
#: four times as many as are still waiting.
COMPACT_AT = 1024


class _Entry:
    __slots__ = ("owner", "deadline", "deferred", "timeout", "done", "timed_out")

    def __init__(self, owner: "Deadlines", deadline: float, d: "Deferred[Any]", timeout: float) -> None:
        self.owner = owner
        self.deadline = deadline
        self.deferred: "Optional[Deferred[Any]]" = d
        self.timeout = timeout
        self.done = False
        self.timed_out = False

    def settle(self, result: Any) -> Any:
        """The Deferred's first callback: the request is over, one way or the other."""
        self.done = True
        self.deferred = None  # a done entry behind a slow one must not keep the reply
        self.owner._settled()
        if self.timed_out:
            return self.owner._on_timeout(result, self.timeout)
        return result


class Deadlines:
    """Timeouts of one manager's requests (reactor thread only)."""

    def __init__(self, reactor: IReactorTime, on_timeout: OnTimeout) -> None:
        self._reactor = reactor
        self._on_timeout = on_timeout
        self._queue: Deque[_Entry] = collections.deque()
        self._live = 0  # entries not done
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
        self._live += 1
        d.addBoth(entry.settle)
        if self._call is None and not entry.done:
            self._call = self._reactor.callLater(timeout, self._expire)

    def __len__(self) -> int:
        return len(self._queue)

    def _settled(self) -> None:
        self._live -= 1
        queue = self._queue
        if len(queue) > COMPACT_AT and len(queue) > 4 * self._live:
            # A slow request at the head holds back the done ones behind it.
            self._queue = queue = collections.deque(e for e in queue if not e.done)
        while queue and queue[0].done:
            queue.popleft()
        if not queue and self._call is not None:
            call, self._call = self._call, None
            if call.active():
                call.cancel()

    def _expire(self) -> None:
        self._call = None
        now = self._reactor.seconds()
        # self._queue, not a local: a cancel below settles an entry, which may compact it.
        while self._queue and (self._queue[0].done or self._queue[0].deadline <= now):
            entry = self._queue.popleft()
            if not entry.done and entry.deferred is not None:
                entry.timed_out = True
                entry.deferred.cancel()
        head: Optional[_Entry] = self._queue[0] if self._queue else None
        if head is not None and self._call is None:
            self._call = self._reactor.callLater(max(0.0, head.deadline - now), self._expire)
