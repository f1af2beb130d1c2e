"""Items from the session thread to the reactor thread, in order, a burst at a time."""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, List, TypeVar

__all__ = ["Handoff"]

T = TypeVar("T")


class Handoff(Generic[T]):
    """Hands items put on any thread to ``deliver(batch)`` on the reactor thread.

    Order is kept, and a burst of items costs one ``reactor.callFromThread``: the first
    item of a burst schedules the drain, the others join the batch it will take.
    """

    def __init__(self, reactor: Any, deliver: Callable[[List[T]], None]) -> None:
        self._reactor = reactor
        self._deliver = deliver
        self._lock = threading.Lock()
        self._items: List[T] = []
        self._scheduled = False

    def put(self, item: T) -> None:
        with self._lock:
            self._items.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        self._reactor.callFromThread(self._drain)

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        self._deliver(items)
