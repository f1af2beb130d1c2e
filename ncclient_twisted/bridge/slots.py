"""A bound on how many connects of the reactor transport are in progress at once.

The threads transport's connects each hold a thread of the project's pool, so the pool's
size bounds how many handshakes run at once. The reactor transport's hold no thread, so
nothing would bound them: a thousand connects at once would all do their key exchange,
signatures and hello in the same few reactor turns, and every timer would wait for them.
:class:`ConnectSlots` gives the reactor transport the same bound (the pool's size, read
when a slot is asked for): a connect past it waits, before opening its socket, for one
in progress to end.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Deque, List

from twisted.internet.defer import Deferred

__all__ = ["ConnectSlots"]


class ConnectSlots:
    """At most ``limit()`` holders at once; the others wait in the order they asked."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self._limit = limit
        self.held = 0
        self._waiting: Deque["Deferred[Callable[[], None]]"] = collections.deque()

    @property
    def waiting(self) -> int:
        """How many wait for a slot."""
        return len(self._waiting)

    def acquire(self) -> "Deferred[Callable[[], None]]":
        """A Deferred of the slot's release function (call it once, when done).
        Cancelling it while it waits gives up its place."""
        d: "Deferred[Callable[[], None]]" = Deferred(self._give_up)
        if not self._waiting and self.held < self._limit():
            self._grant(d)
        else:
            self._waiting.append(d)
        return d

    def _give_up(self, d: "Deferred[Any]") -> None:
        try:
            self._waiting.remove(d)
        except ValueError:
            pass

    def _grant(self, d: "Deferred[Callable[[], None]]") -> None:
        self.held += 1
        released: List[bool] = []

        def release() -> None:
            if released:
                return
            released.append(True)
            self.held -= 1
            self._next()

        d.callback(release)

    def _next(self) -> None:
        while self._waiting and self.held < self._limit():
            self._grant(self._waiting.popleft())
