"""Per-reactor state: the project's own thread pool and the open sessions.

Connecting (DNS, TCP, SSH handshake, authentication, hello) and closing (joining the
session's threads) block, so they run on a thread pool of our own, never on the reactor's
default pool, which the application may need for its own work. The pool starts on first
use and stops at reactor shutdown, after every open session has been closed.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Dict, Optional, Set, TypeVar, cast

from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.gate import new_gate
from ncclient_twisted.bridge.slots import ConnectSlots
from ncclient_twisted.bridge.wakeups import Waker
from ncclient_twisted.per_reactor import per_reactor

__all__ = [
    "Runtime",
    "runtime_for",
    "defer_to_pool",
    "set_pool_size",
    "DEFAULT_POOL_SIZE",
    "SHUTDOWN_CLOSE_TIMEOUT",
    "SHUTDOWN_CLOSE_GRACE",
]

log = Logger(namespace=__name__)

T = TypeVar("T")

DEFAULT_POOL_SIZE = 32
#: How long reactor shutdown waits for each session's close-session before closing it.
SHUTDOWN_CLOSE_TIMEOUT = 2.0
#: How much longer shutdown waits for the transports to close after that (seconds):
#: then the reactor goes on (and drops the connections left). Both count from the
#: start of the shutdown, the time taken to send every close-session included.
SHUTDOWN_CLOSE_GRACE = 1.0


def resolve_reactor(reactor: Optional[INetconfReactor] = None) -> INetconfReactor:
    """*reactor*, or the global reactor (imported only now: installing another reactor
    must be possible until the first call that needs one)."""
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        return cast(INetconfReactor, global_reactor)
    return reactor


class Runtime:
    """The thread pool and the set of open managers of one reactor."""

    def __init__(
        self, reactor: INetconfReactor, pool_size: int = DEFAULT_POOL_SIZE, *, waker: Optional[Waker] = None
    ) -> None:
        self.reactor = reactor
        self.pool_size = pool_size
        self._pool: Optional[ThreadPool] = None
        self._open: Set[Any] = set()
        self._triggers: list = []
        #: Set once the reactor begins to shut down: pool work waiting on it gives up.
        self.shutting_down = threading.Event()
        #: Wakes session threads for the reactor after each of its turns.
        self.waker = waker if waker is not None else Waker(reactor)
        #: Taken by its session threads around the Python work of each message.
        self.gate = new_gate()
        #: Bounds the reactor transport's connects in progress as the pool bounds the
        #: threads transport's (no thread is held).
        self.connect_slots = ConnectSlots(lambda: self.pool_size)
        #: What ends each connect under way on the pool (see track_connect).
        self._connect_aborts: Dict[int, Callable[[], None]] = {}
        self._connect_ids = itertools.count()
        self._lock = threading.Lock()

    def _start(self) -> ThreadPool:
        if self._pool is None:
            pool = ThreadPool(minthreads=0, maxthreads=self.pool_size, name="ncclient_twisted")
            pool.start()
            self._pool = pool
            self._watch_shutdown()
        return self._pool

    def _watch_shutdown(self) -> None:
        """Close the open sessions, then stop the pool, at reactor shutdown (set from the
        runtime's first use: a session on the reactor may never use the pool)."""
        if not self._triggers:
            self._triggers = [
                self.reactor.addSystemEventTrigger("before", "shutdown", self._close_all),
                self.reactor.addSystemEventTrigger("during", "shutdown", self.stop),
            ]

    def set_pool_size(self, size: int) -> None:
        """At most *size* threads from now on (a running pool is resized at once)."""
        size = int(size)
        if size < 1:
            raise ValueError("the pool needs at least one thread")
        self.pool_size = size
        if self._pool is not None:
            self._pool.adjustPoolsize(minthreads=0, maxthreads=size)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> "Deferred[T]":
        """Run blocking *fn* on our pool; a Deferred of its result.

        The reactor only queues it: the waker thread hands it to the pool (see
        ``Waker.call``), so starting pool threads never stalls the reactor.
        """
        pool = self._start()
        d: "Deferred[T]" = Deferred()
        call_from_thread = self.reactor.callFromThread

        def on_result(ok: bool, result: Any) -> None:
            call_from_thread(d.callback if ok else d.errback, result)

        def hand_over() -> None:
            try:
                pool.callInThreadWithCallback(on_result, fn, *args, **kwargs)
            except Exception:  # the pool has stopped (reactor shutdown)
                on_result(False, Failure())

        self.waker.call(hand_over)
        return d

    def add(self, manager: Any) -> None:
        self._open.add(manager)

    def discard(self, manager: Any) -> None:
        self._open.discard(manager)

    def track_connect(self, abort: Callable[[], None]) -> Callable[[], None]:
        """Have reactor shutdown call *abort* while a connect on the pool is under way (a
        stalled handshake would hold its pool thread, which shutdown joins, until its
        timeout); a function that forgets it. *abort* runs on the reactor thread and must
        not block; once shutdown has begun it runs at once, on the caller's thread."""
        with self._lock:
            if not self.shutting_down.is_set():
                key = next(self._connect_ids)
                self._connect_aborts[key] = abort
                return lambda: self._forget_connect(key)
        _call_quietly(abort)
        return lambda: None

    def _forget_connect(self, key: int) -> None:
        with self._lock:
            self._connect_aborts.pop(key, None)

    def _close_all(self) -> "Optional[Deferred[Any]]":
        started = self.reactor.seconds()
        with self._lock:
            self.shutting_down.set()
            aborts, self._connect_aborts = list(self._connect_aborts.values()), {}
        if aborts:
            log.debug("reactor shutdown: ending {count} connects under way", count=len(aborts))
        for abort in aborts:
            _call_quietly(abort)
        if not self._open:
            return None
        log.debug("reactor shutdown: closing {count} sessions", count=len(self._open))
        ds = [m.close_session(timeout=SHUTDOWN_CLOSE_TIMEOUT) for m in list(self._open)]
        closed = DeferredList(ds, consumeErrors=True)
        # Sending many close-sessions takes the reactor a while (more on a loaded machine,
        # or when a full garbage collection falls in it): the bound is not moved by it.
        spent = self.reactor.seconds() - started
        return self._at_most(closed, max(0.0, SHUTDOWN_CLOSE_TIMEOUT + SHUTDOWN_CLOSE_GRACE - spent))

    def _at_most(self, d: "Deferred[Any]", seconds: float) -> "Deferred[None]":
        """Fires when *d* does, or after *seconds*, whichever comes first (*d* goes on)."""
        waited: "Deferred[None]" = Deferred()

        def fire(_: Any = None) -> None:
            if not waited.called:
                waited.callback(None)

        timer = self.reactor.callLater(seconds, fire)

        def done(_: Any) -> None:
            if timer.active():
                timer.cancel()
            fire()

        d.addBoth(done)
        return waited

    def stop(self) -> None:
        """Stop the pool (its threads finish their current work first)."""
        pool, self._pool = self._pool, None
        for trigger in self._triggers:
            try:
                self.reactor.removeSystemEventTrigger(trigger)
            except (ValueError, KeyError):
                pass
        self._triggers = []
        self.waker.stop()  # hands what it holds to the pool first
        if pool is not None:
            pool.stop()


def _call_quietly(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as e:
        log.debug("ending a connect at shutdown failed: {error!r}", error=e)


def runtime_for(reactor: INetconfReactor) -> Runtime:
    """The :class:`Runtime` of *reactor*, created on first use."""

    def make() -> Runtime:
        rt = Runtime(reactor)
        rt._watch_shutdown()
        return rt

    return per_reactor(reactor, Runtime, make)


def set_pool_size(size: int, reactor: Optional[INetconfReactor] = None) -> None:
    """Set how many threads *reactor*'s ncclient_twisted pool may run (default 32).

    Each connect (DNS, TCP, SSH handshake, authentication, hello) and each close holds
    one of them while it runs, so *size* bounds how many handshakes run at once: a burst
    of 200 connects with the default size runs 32 at a time, the rest wait their turn
    without holding a thread. The reactor's own thread pool is never used. The reactor
    transport's connects (``io="reactor"``) hold no thread, but *size* bounds how many
    are in progress at once too.
    """
    runtime_for(resolve_reactor(reactor)).set_pool_size(size)


def defer_to_pool(
    reactor: Optional[INetconfReactor], fn: Callable[..., T], *args: Any, **kwargs: Any
) -> "Deferred[T]":
    r"""Run blocking *fn(\*args, \*\*kwargs)* on *reactor*'s ncclient_twisted pool (``None``:
    the global reactor); a Deferred of its result, fired on the reactor thread.

    For work beside NETCONF sessions that must not block the reactor (writing a file,
    pretty-printing a large reply): it shares the pool's bound (:func:`set_pool_size`) and
    its end at reactor shutdown, and never uses the reactor's own thread pool.
    """
    return runtime_for(resolve_reactor(reactor)).run(fn, *args, **kwargs)
