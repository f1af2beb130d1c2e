"""A Twisted ``Service`` that keeps one device's NETCONF session up.

::

    from twisted.application.service import MultiService
    from ncclient_twisted.service import ManagerService, resubscribe

    inventory = MultiService()
    for host in ("192.0.2.1", "192.0.2.2"):
        ManagerService(
            dict(host=host, username="admin", password="admin", known_hosts=KNOWN_HOSTS,
                 accept_new=True, keepalive=30),
            prepare_connection=resubscribe(),
            name=host,
        ).setServiceParent(inventory)
    ...
    m = await inventory.getServiceNamed("192.0.2.1").when_connected()

Modelled on ``twisted.application.internet.ClientService``: it connects when started,
reconnects with backoff (a retry policy such as ``backoffPolicy()``, on an injectable
clock) whenever the session ends or an attempt fails, runs ``prepare_connection(manager,
last_event_time)`` on every new session before handing it out (to re-create
subscriptions, replaying from the last event received where the stream keeps a replay
log), and closes the session when stopped.
"""

from __future__ import annotations

import enum
import inspect
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ncclient.operations import RPCError
from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    ensureDeferred,
    fail,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from ncclient_twisted import manager as _manager
from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.runtime import resolve_reactor
from ncclient_twisted.stats import ServiceStats, register_service, unregister_service

__all__ = ["ManagerService", "State", "resubscribe", "PrepareConnection", "RetryPolicy"]

log = Logger(namespace=__name__)

#: ``prepare_connection(manager, last_event_time)``: may return a Deferred or be async.
PrepareConnection = Callable[[Any, Optional[str]], Union[None, "Deferred[Any]", Awaitable[Any]]]
#: Seconds to wait before the attempt after *n* consecutive failures (``n >= 1``).
RetryPolicy = Callable[[int], float]
#: How long ``stopService`` waits for ``close-session`` before closing the transport.
STOP_CLOSE_TIMEOUT = 5.0


def _call_hook(hook: PrepareConnection, m: Any, last_event_time: Optional[str]) -> "Deferred[Any]":
    def call() -> Any:
        result = hook(m, last_event_time)
        if inspect.isawaitable(result) and not isinstance(result, Deferred):
            return ensureDeferred(result)  # type: ignore[arg-type]
        return result

    return maybeDeferred(call)


class ManagerService(Service):
    """Keeps a NETCONF session to one device up, as ``ClientService`` keeps a connection.

    *connect_kwargs* are :func:`ncclient_twisted.manager.connect`'s keywords (host,
    credentials, ``known_hosts``/``accept_new``, ``keepalive``, ...). A ``keepalive``
    is recommended: it is what notices a device that went away silently.

    - ``prepare_connection(manager, last_event_time)`` runs on each new session before
      :meth:`when_connected` hands it out; it may return a Deferred or be a coroutine
      function. If it fails, the session is closed and the attempt counts as failed.
      *last_event_time* is the ``eventTime`` of the last notification the previous
      sessions received (``Manager.last_event_time``), ``None`` if none.
    - ``retry_policy(failures)`` gives the delay before the next attempt (default:
      Twisted's ``backoffPolicy()``: 1.5 s, growing 1.5x per failure, to 60 s, plus up
      to 1 s of jitter). A session that ends counts as one failure.
    - ``clock`` (default: the reactor) schedules the retries.
    - ``connect`` (default :func:`ncclient_twisted.manager.connect`) is called with
      *connect_kwargs* and must return a Deferred of a manager.

    A session that ends for any reason while the service runs (the device closed it, a
    keepalive timeout, someone called ``close_session()``) is replaced.
    """

    def __init__(
        self,
        connect_kwargs: Mapping[str, Any],
        *,
        prepare_connection: Optional[PrepareConnection] = None,
        retry_policy: Optional[RetryPolicy] = None,
        clock: Optional[IReactorTime] = None,
        reactor: Optional[INetconfReactor] = None,
        connect: Optional[Callable[..., "Deferred[Any]"]] = None,
        name: Optional[str] = None,
    ) -> None:
        self._connect_kwargs = dict(connect_kwargs)
        if reactor is not None:
            self._connect_kwargs.setdefault("reactor", reactor)
        self._reactor = reactor
        self._clock = clock
        self._connect = connect or _manager.connect
        self._prepare = prepare_connection
        self._retry_policy: RetryPolicy = retry_policy or backoffPolicy()
        if name is not None:
            self.name = name
        #: The current session's manager (``None`` while not connected).
        self.manager: Any = None
        #: Consecutive failed attempts (a session that ended counts as one).
        self.failures = 0
        #: The exception of the last failed attempt, or that ended the last session.
        self.last_error: Optional[BaseException] = None
        #: ``eventTime`` of the last notification received by an earlier session.
        self.last_event_time: Optional[str] = None
        self._state = State.STOPPED
        #: Set by stopService (until the next start): waits for a session fail at once.
        self._stopped = False
        self._attempt: "Optional[Deferred[Any]]" = None
        self._delayed: Optional[IDelayedCall] = None
        self._waiters: List[Tuple["Deferred[Any]", Optional[int]]] = []
        # For stats: sessions opened, connects that failed, the delay now waited.
        self._connects = 0
        self._connect_failures = 0
        self._backoff = 0.0

    def __repr__(self) -> str:
        kw = self._connect_kwargs
        return "<%s %s port %s %s>" % (
            type(self).__name__, kw.get("host"), kw.get("port", 830), self._state.value
        )

    def _log(self, level: LogLevel, text: str, **fields: Any) -> None:
        """Log *text* (a format string) under this service's name, host and port, which
        are fields of the event too."""
        kw = self._connect_kwargs
        label = "ManagerService {name!r}" if self.name is not None else "ManagerService"
        log.emit(
            level, label + " for {host} port {port}: " + text,
            name=self.name, host=kw.get("host"), port=kw.get("port", 830), **fields,
        )

    @property
    def state(self) -> "State":
        """Where the service is: ``STOPPED``, ``CONNECTING``, ``CONNECTED`` or ``WAITING``."""
        return self._state

    @property
    def stats(self) -> ServiceStats:
        """This service's state, reconnects and backoff (a snapshot)."""
        return ServiceStats(
            name=self.name,
            state=self._state.name,
            connects=self._connects,
            reconnects=max(0, self._connects - 1),
            connect_failures=self._connect_failures,
            consecutive_failures=self.failures,
            backoff_s=self._backoff if self._state is State.WAITING else 0.0,
        )

    @property
    def clock(self) -> IReactorTime:
        if self._clock is None:
            self._clock = resolve_reactor(self._reactor)
        return self._clock

    # -- the state machine -------------------------------------------------------------
    # Every event goes through _handle: the table says what each event does in each
    # state; an event a state does not list is ignored (a late outcome of an attempt
    # that was cancelled, a retry timer that fired while stopping, ...).

    def _handle(self, event: str, *args: Any) -> Any:
        action = _TRANSITIONS.get((self._state, event))
        if action is None:
            self._log(LogLevel.debug, "{event} ignored in state {state}",
                      event=event, state=self._state.value)
            return None
        return action(self, *args)

    def _enter(self, state: "State") -> None:
        self._log(LogLevel.debug, "{old} -> {new}", old=self._state.value, new=state.value)
        self._state = state

    # -- Service ---------------------------------------------------------------------

    def startService(self) -> None:
        """Start connecting. A second call while running is ignored, with a warning (as
        Twisted's ``ClientService``)."""
        if self._state is not State.STOPPED:
            self._log(LogLevel.warn, "duplicate startService call ignored")
            return
        self._handle("start")

    def stopService(self) -> "Deferred[None]":
        """Stop retrying, cancel a connect in progress, close the session (a Deferred)."""
        if self._state is State.STOPPED:
            super().stopService()
            self._stopped = True
            return succeed(None)
        result: "Deferred[None]" = self._handle("stop")
        return result

    def _start(self) -> None:
        super().startService()
        register_service(self)
        self._stopped = False
        self.failures = 0
        self._enter(State.CONNECTING)
        self._attempt_now()

    def _stop(self) -> "Deferred[None]":
        super().stopService()
        unregister_service(self)
        self._stopped = True
        self._enter(State.STOPPED)
        delayed, self._delayed = self._delayed, None
        if delayed is not None and delayed.active():
            delayed.cancel()
        waits: List["Deferred[Any]"] = []
        attempt, self._attempt = self._attempt, None
        if attempt is not None:
            done: "Deferred[Any]" = Deferred()
            attempt.addBoth(done.callback)
            attempt.cancel()
            waits.append(done)
        m, self.manager = self.manager, None
        if m is not None:
            waits.append(m.close_session(timeout=STOP_CLOSE_TIMEOUT))
        waiters, self._waiters = self._waiters, []
        for d, _ in waiters:
            d.errback(CancelledError("the service was stopped"))
        return DeferredList(waits, consumeErrors=True).addCallback(lambda _: None)

    # -- waiting for a session ---------------------------------------------------------

    def when_connected(self, fail_after_failures: Optional[int] = None) -> "Deferred[Any]":
        """A Deferred of the current manager, or of the next one if not connected now.

        With *fail_after_failures* it fails with the last attempt's exception once that
        many consecutive attempts have failed; it fails with ``CancelledError`` if the
        service is stopped (or already was). Cancelling it only stops this wait.
        """
        m = self.manager
        if m is not None and m.connected:
            return succeed(m)
        if self._stopped:
            return fail(CancelledError("the service is stopped"))
        if fail_after_failures is not None and self.failures >= fail_after_failures and self.last_error:
            return fail(self.last_error)

        def forget(d: "Deferred[Any]") -> None:
            self._waiters = [w for w in self._waiters if w[0] is not d]

        d: "Deferred[Any]" = Deferred(forget)
        self._waiters.append((d, fail_after_failures))
        return d

    # -- the attempt cycle -------------------------------------------------------------

    def _attempt_now(self) -> None:
        d = maybeDeferred(self._connect, **self._connect_kwargs)
        d.addCallback(self._prepare_session)
        self._attempt = d
        d.addCallbacks(
            lambda m: self._outcome("connected", m, d),
            lambda f: self._outcome("connect_failed", f, d),
        )

    def _outcome(self, event: str, result: Any, attempt: "Deferred[Any]") -> None:
        if self._attempt is not attempt:
            # An attempt stopService cancelled: a manager that came up anyway is closed.
            if event == "connected":
                result.close_session(timeout=0).addErrback(lambda _: None)
            return
        self._attempt = None
        self._handle(event, result)

    def _retry_due(self) -> None:
        self._delayed = None
        self._handle("retry_due")

    def _retry(self) -> None:
        self._enter(State.CONNECTING)
        self._attempt_now()

    def _prepare_session(self, m: Any) -> "Deferred[Any]":
        if self._prepare is None:
            return succeed(m)
        d = _call_hook(self._prepare, m, self.last_event_time)

        def failed(f: Failure) -> "Deferred[Any]":
            closed = m.close_session(timeout=0)
            closed.addErrback(lambda _: None)
            return closed.addCallback(lambda _: f)

        return d.addCallbacks(lambda _: m, failed)

    def _connected(self, m: Any) -> None:
        self._enter(State.CONNECTED)
        self.manager = m
        self.failures = 0
        self._connects += 1
        self._log(LogLevel.info, "connected, session {session_id}", session_id=getattr(m, "session_id", None))
        m.when_closed().addCallback(self._ended, m)
        waiters, self._waiters = self._waiters, []
        for d, _ in waiters:
            d.callback(m)

    def _connect_failed(self, f: Failure) -> None:
        self._connect_failures += 1
        self._retry_later(f.value, "connecting failed")

    def _ended(self, reason: Optional[BaseException], m: Any) -> None:
        if self.manager is not m:
            return  # an earlier session, already replaced or given up by stopService
        self._handle("session_ended", reason)

    def _session_ended(self, reason: Optional[BaseException]) -> None:
        m, self.manager = self.manager, None
        last = getattr(m, "last_event_time", None)
        if last is not None:
            self.last_event_time = last
        self._retry_later(reason, "the session ended")

    def _retry_later(self, error: Optional[BaseException], what: str) -> None:
        self._enter(State.WAITING)
        self.failures += 1
        if error is not None:
            self.last_error = error
        delay = self._backoff = self._retry_policy(self.failures)
        why = "closed by close_session()" if error is None else "%s: %s" % (type(error).__name__, error)
        self._log(LogLevel.warn, "{what} ({why}); retrying in {delay:.1f} s", what=what, why=why, delay=delay)
        keep: List[Tuple["Deferred[Any]", Optional[int]]] = []
        failed: List["Deferred[Any]"] = []
        for d, limit in self._waiters:
            if limit is not None and self.failures >= limit and error is not None:
                failed.append(d)
            else:
                keep.append((d, limit))
        self._waiters = keep
        # The timer first: a waiter's errback may stop the service, which cancels it.
        self._delayed = self.clock.callLater(delay, self._retry_due)
        for d in failed:
            d.errback(Failure(error))


class State(enum.Enum):
    """The states of a :class:`ManagerService`."""

    #: Not started, or stopped.
    STOPPED = "stopped"
    #: An attempt (connect, then ``prepare_connection``) is under way.
    CONNECTING = "connecting"
    #: A session is up (:attr:`ManagerService.manager`).
    CONNECTED = "connected"
    #: After a failed attempt or a session's end: the retry timer runs.
    WAITING = "waiting"


#: (state, event) -> what the service does. Anything else is ignored (see ``_handle``).
_TRANSITIONS: Dict[Tuple[State, str], Callable[..., Any]] = {
    (State.STOPPED, "start"): ManagerService._start,
    (State.CONNECTING, "stop"): ManagerService._stop,
    (State.CONNECTED, "stop"): ManagerService._stop,
    (State.WAITING, "stop"): ManagerService._stop,
    (State.CONNECTING, "connected"): ManagerService._connected,
    (State.CONNECTING, "connect_failed"): ManagerService._connect_failed,
    (State.CONNECTED, "session_ended"): ManagerService._session_ended,
    (State.WAITING, "retry_due"): ManagerService._retry,
}


def resubscribe(
    stream_name: Optional[str] = None, filter: Any = None
) -> Callable[[Any, Optional[str]], "Deferred[Any]"]:
    """A ``prepare_connection`` that (re-)creates an RFC 5277 subscription.

    After a reconnect it asks for a replay from the last event time received, so events
    the device logged while the session was down are delivered too (the event at that
    exact time may come again); if the stream keeps no replay log (the device answers
    with an ``rpc-error``), it subscribes to live events only.
    """

    async def prepare(m: Any, last_event_time: Optional[str]) -> None:
        if last_event_time is not None:
            try:
                await m.create_subscription(
                    filter=filter, stream_name=stream_name, start_time=last_event_time
                )
                return
            except RPCError as e:
                log.warn(
                    "replay from {start_time} refused ({error}): live events only",
                    start_time=last_event_time, error=e,
                )
        await m.create_subscription(filter=filter, stream_name=stream_name)

    return lambda m, t: ensureDeferred(prepare(m, t))
