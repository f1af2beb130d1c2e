"""Items from the session thread to the reactor thread, in order, a burst at a time.

Every ``reactor.callFromThread`` writes a byte to the reactor's waker pipe: a system call
that costs more than handling a small notification or reply. So a session processes each
read it gets from the socket inside :func:`batch`: the items handed off meanwhile are
delivered by one ``callFromThread`` per :class:`Handoff` when the read has been processed.
Outside a batch, the first item of a burst schedules the drain and the others join it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Tuple

from twisted.internet.interfaces import IReactorFromThreads
from twisted.python.threadable import isInIOThread

__all__ = ["Handoff", "ImmediateHandoff", "batch"]

_local = threading.local()


@contextmanager
def batch() -> Iterator[None]:
    """Hold back the wake-ups of this thread's hand-offs until the block ends."""
    if getattr(_local, "held", None) is not None:
        yield  # nested: the outer batch flushes
        return
    held: Dict["Handoff", None] = {}  # insertion-ordered
    _local.held = held
    try:
        yield
    finally:
        _local.held = None
        for handoff in held:
            handoff._schedule()


class Handoff:
    """Calls made on any thread, run on the reactor thread in the order they were made.

    One per session, shared by its reply listener and its notification router, so
    replies and notifications reach the reactor in the order they came off the wire.
    """

    def __init__(self, reactor: IReactorFromThreads) -> None:
        self._reactor = reactor
        self._lock = threading.Lock()
        self._items: List[Tuple[Callable[[Any], None], Any]] = []
        self._scheduled = False

    def call(self, fn: Callable[[Any], None], arg: Any) -> None:
        """Run ``fn(arg)`` on the reactor thread, after the calls made before it."""
        with self._lock:
            self._items.append((fn, arg))
            if self._scheduled:
                return
        held = getattr(_local, "held", None)
        if held is not None:
            held[self] = None
        else:
            self._schedule()

    def _schedule(self) -> None:
        with self._lock:
            if self._scheduled or not self._items:
                return
            self._scheduled = True
        self._reactor.callFromThread(self._drain)

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        for fn, arg in items:
            fn(arg)


class ImmediateHandoff(Handoff):
    """For sessions on the reactor thread (``io="reactor"``): a call made there runs at
    once, which is already in wire order; one made on another thread (a large message
    parsed on the pool, while the session waits for it) goes through ``callFromThread``."""

    def __init__(self, reactor: IReactorFromThreads) -> None:
        self._reactor = reactor

    def call(self, fn: Callable[[Any], None], arg: Any) -> None:
        if isInIOThread():
            fn(arg)
        else:
            self._reactor.callFromThread(fn, arg)
