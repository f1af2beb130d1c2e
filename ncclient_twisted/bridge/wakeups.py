"""Waking session threads from the reactor without handing the GIL away in a burst.

A session thread sleeps in ``select`` until a byte arrives on its wake-up socket. Writing
that byte is a system call, and CPython releases the GIL around every system call: in a
burst (a request to each of many sessions in one reactor turn), each write lets a session
thread that has just been woken take the GIL, and the reactor waits its turn to get it
back, for every session of the burst. (The reactor's time in such a burst is measured
by the fan-out benchmark in ``benchmarks/``.)

So the reactor thread only notes which sessions to wake; after its turn, one call hands
the list to a thread of our own that writes the bytes (one thread per reactor, not per
session). Only the first request of a turn is written by the reactor itself (see
``WakeOnSendSession.send``): a request made alone, one at a time, still costs no
hand-off at all.

The same thread hands blocking work (connects, closes) to the runtime's thread pool
(:meth:`Waker.call`): Twisted's pool starts its threads and coordinates its workers under
a lock on the calling thread, and with many connects at once the reactor would wait there
(``Thread.start`` waits for the new thread to run; the pool's lock is held by workers
waiting for the GIL).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.python import threadable

__all__ = ["Waker"]

log = Logger(namespace=__name__)

#: Bound on joining the waker thread at reactor shutdown.
STOP_TIMEOUT = 5.0


class Waker:
    """One per reactor (see ``Runtime.waker``)."""

    def __init__(
        self, reactor: IReactorTime, on_reactor_thread: Callable[[], bool] = threadable.isInIOThread
    ) -> None:
        self._reactor = reactor
        self._on_reactor_thread = on_reactor_thread
        self._sessions: Dict[Any, None] = {}  # insertion-ordered set
        self._scheduled = False
        self._direct_used = False
        self._queue: "queue.SimpleQueue[Optional[Tuple[Callable[..., None], Tuple[Any, ...]]]]" = (
            queue.SimpleQueue()
        )
        self._thread: Optional[threading.Thread] = None
        self._stopped = False

    # -- reactor thread ------------------------------------------------------------

    def defer(self, session: Any) -> bool:
        """Take on *session*'s wake-up (True), if this is the reactor thread; else
        False: the caller wakes it itself."""
        if self._stopped or not self._on_reactor_thread():
            return False
        self._sessions[session] = None
        self._schedule()
        return True

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the waker thread, after what it was given before: work
        that may wait for a lock or start a thread, which the reactor must not do. On
        any other thread, or once stopped, it runs at once."""
        if self._stopped or not self._on_reactor_thread():
            fn(*args)
            return
        self._put(fn, args)

    def claim_direct_write(self) -> bool:
        """Whether this thread may write a request itself now: any thread but the
        reactor's, and the reactor for the first write of a turn in which no wake-up
        was put off (a lone request, not a burst)."""
        if not self._on_reactor_thread():
            return True
        if self._direct_used or self._sessions:
            return False
        self._direct_used = True
        self._schedule()
        return True

    def in_burst(self) -> bool:
        """Whether this is the reactor thread in a turn that has already written a request
        itself or put off a wake-up: a request made now will not be written by it."""
        return (self._direct_used or bool(self._sessions)) and self._on_reactor_thread()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._reactor.callLater(0, self._end_of_turn)

    def _end_of_turn(self) -> None:
        self._scheduled = False
        self._direct_used = False
        if not self._sessions:
            return
        sessions = list(self._sessions)
        self._sessions.clear()
        self._put(_wake_all, (sessions,))  # no GIL-releasing write on this thread

    def _put(self, fn: Callable[..., None], args: Tuple[Any, ...]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ncclient_twisted-waker", daemon=True)
            self._thread.start()
        self._queue.put((fn, args))

    def stop(self) -> None:
        """Wake what is left and end the thread (reactor shutdown); from now on
        callers wake sessions themselves."""
        self._stopped = True
        for session in list(self._sessions):
            session.wake()
        self._sessions.clear()
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(STOP_TIMEOUT)

    # -- the waker thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                log.failure("the waker thread's work failed", level=LogLevel.error)


def _wake_all(sessions: List[Any]) -> None:
    for session in sessions:
        try:
            session.wake()
        except Exception:
            log.failure("waking a session failed", level=LogLevel.error)
