"""The reactor's work budget: :class:`WorkScheduler` works its sessions' bursts (replies,
requests, SSH packets, a connect's setup) a slice per reactor turn, so timers and other
connections are served in between. One per reactor (:func:`scheduler_for`)."""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Optional, Protocol

from twisted.logger import Logger, LogLevel

from ncclient_twisted.per_reactor import per_reactor

if TYPE_CHECKING:
    from ncclient_twisted.transport.reactor.session import ReactorSession

log = Logger(namespace=__name__)


#: The longest a session works on a burst in one reactor turn (seconds).
WORK_SLICE = 0.0005
#: A pause between two pieces of work this long (seconds) means the reactor was free in
#: between (it polled, ran its timers): the budget starts again. Work that comes as a
#: reply, then a wait for the server, then the next reply, never waits for a turn.
IDLE_GAP = 0.00005


class Worker(Protocol):
    """What a :class:`WorkScheduler` works: a session, or an SSH transport's reads."""

    queued: bool

    def work_until(self, deadline: float) -> bool: ...

    def pause_reading(self, paused: bool) -> None: ...


class WorkScheduler:
    """The reactor's sessions' burst work, WORK_SLICE seconds per reactor turn in all.

    A session with work asks :meth:`request`: while the budget is not used (and nobody
    is queued before it) it works at once; otherwise it is queued, and the next turn
    works through the queue, round robin, until the budget is used. The budget is
    WORK_SLICE seconds of work in a window of twice that, started again after a pause of
    IDLE_GAP: work that comes in pieces with pauses between (a reply, the next request,
    a wait for the server) never waits for a turn, a burst yields to timers and other
    connections every WORK_SLICE.

    What the sessions write while replies are handled (the requests a reply's callback
    makes) and in a turn goes on the wire without waiting for the reactor's next poll:
    a session's first write at once (the answer to a reply is on its way while the rest
    of the work is done), its later ones when the work ends (a burst of requests is
    still one more write per session).
    """

    def __init__(self, reactor: Any, now: Callable[[], float] = time.perf_counter) -> None:
        self._reactor = reactor
        #: The clock the work is timed by (seconds).
        self.now = now
        self._queue: Deque[Worker] = collections.deque()
        self._deadline = 0.0
        #: The current window's end, and the work done in it (seconds).
        self._window_end = 0.0
        self._used = 0.0
        #: When the last work ended: a pause of IDLE_GAP since means the reactor was free.
        self._last_end = 0.0
        self._scheduled = False
        #: How deep in work (replies, requests) the reactor thread is.
        self._depth = 0
        #: Whether what is written in that work is flushed (replies in hand, or a turn).
        self._eager = False
        #: The sessions that wrote in that work (what they send next is held till its end).
        self._wrote: List[ReactorSession] = []

    def request(self, session: Worker, flush: bool = False) -> None:
        """Work *session*'s messages and jobs (now, or queued for a coming turn); with
        *flush*, put what was written meanwhile on the wire when done (replies in hand)."""
        if session.queued:
            return  # its turn comes, in order
        now = self.now()
        outermost = not self._depth
        if outermost:  # else: within work, whose deadline holds
            # After work that overran its budget (one large request), only the window's
            # end starts a new one: a caller's loop of requests never pauses IDLE_GAP.
            idle = now - self._last_end >= IDLE_GAP and self._used <= WORK_SLICE
            if now >= self._window_end or idle:
                self._window_end, self._used = now + 2 * WORK_SLICE, 0.0
            self._deadline = now + WORK_SLICE - self._used
            self._eager = flush
        if not self._queue and now < self._deadline:
            self._depth += 1
            try:
                done = session.work_until(self._deadline)
            finally:
                self._depth -= 1
                if outermost:
                    self._flush()  # its writing is work too
                    self._last_end = self.now()
                    self._used += self._last_end - now
                    if self._used > WORK_SLICE:
                        # Overran (one job longer than the budget): the reactor polls
                        # before this scheduler works at once again.
                        self._window_end = max(self._window_end, self._last_end + WORK_SLICE)
            if done:
                return
        session.queued = True
        session.pause_reading(True)
        self._queue.append(session)
        self._schedule()

    def call(self, fn: Callable[[], None]) -> None:
        """Run *fn* (reactor work that is not a session's: a connect's setup) within the
        budget: now while it lasts, else in a coming turn, in order with the rest."""
        self.request(_Call(fn))

    def wrote(self, session: ReactorSession) -> None:
        """*session* has written to its channel: in work, what it sends next is held
        and written at the work's end, and (eager) this first write goes on the wire
        now. (Out of a reply's handling, in a caller's burst, what is written is left to
        the reactor's next poll: more may follow in this turn.)"""
        if not self._depth:
            return
        if self._eager:
            session.release(True)
        session.hold()
        self._wrote.append(session)

    def _flush(self) -> None:
        wrote, self._wrote = self._wrote, []
        for session in wrote:
            session.release(self._eager)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._reactor.callLater(0, self._turn)

    def _turn(self) -> None:
        self._scheduled = False
        start = self.now()
        deadline = self._deadline = start + WORK_SLICE
        queue = self._queue
        self._depth += 1
        self._eager = True
        try:
            while queue:  # at least one item a turn, however short the slice
                session = queue.popleft()
                if session.work_until(deadline):
                    session.queued = False
                    session.pause_reading(False)
                else:
                    queue.append(session)
                if self.now() >= deadline:
                    break
        finally:
            self._depth -= 1
            if not self._depth:
                self._flush()
                self._last_end = self.now()
                self._window_end, self._used = start + 2 * WORK_SLICE, self._last_end - start
        if queue:
            self._schedule()


class _Call:
    """:meth:`WorkScheduler.call`'s work: one call."""

    queued = False

    def __init__(self, fn: Callable[[], None]) -> None:
        self._fn: Optional[Callable[[], None]] = fn

    def work_until(self, deadline: float) -> bool:
        fn, self._fn = self._fn, None
        if fn is not None:
            try:
                fn()
            except Exception:
                log.failure("reactor work failed", level=LogLevel.error)
        return True

    def pause_reading(self, paused: bool) -> None:
        pass


def scheduler_for(reactor: Any) -> WorkScheduler:
    """The :class:`WorkScheduler` of *reactor* (made on first use)."""
    return per_reactor(reactor, WorkScheduler, lambda: WorkScheduler(reactor))
