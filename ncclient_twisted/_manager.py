"""The :class:`Manager`: ncclient's ``Manager`` whose every operation returns a Deferred
(users import it from :mod:`ncclient_twisted.manager`, with the connect functions).

Requests are built by ncclient's operation classes and written by the session's transport;
each reply fires its Deferred on the reactor thread: parsed on the session thread
(``io="threads"``) or within the reactor's work budget (``io="reactor"``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

import ncclient.manager as nc_manager
from ncclient import operations
from ncclient.operations.errors import TimeoutExpiredError
from ncclient.operations.rpc import RPC, RaiseMode
from ncclient.transport.errors import TransportError
from ncclient.xml_ import new_ele
from twisted.internet.defer import CancelledError, Deferred, fail, maybeDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ncclient_twisted._compat import rpc_raise_mode
from ncclient_twisted._types import INetconfReactor, ManagedSession
from ncclient_twisted.bridge.deadlines import Deadlines
from ncclient_twisted.bridge.jobs import BuildJob, snapshot
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import Runtime, resolve_reactor, runtime_for
from ncclient_twisted.locks import LockContext
from ncclient_twisted.notifications import (
    DEFAULT_NOTIFICATION_BUFFER,
    NotificationAccess,
    NotificationQueue,
)
from ncclient_twisted.stats import SessionStats, manager_ended, new_request_counters, register_manager
from ncclient_twisted.subscriptions import InterleaveError, NotificationRouter, SubscriptionOperations
from ncclient_twisted.typed_operations import Reply, TypedOperations

__all__ = ["Manager"]

logger = Logger(namespace=__name__)


_NOT_ENDED: Any = object()
#: ``_call``'s timeout when the caller gives none: the manager's ``timeout``.
_MANAGER_TIMEOUT: Any = object()


class _CloseSession(operations.CloseSession):
    """``close-session`` that does not close the transport right after queueing it
    (ncclient's does: in async mode the request may never be written)."""

    def request(self) -> Any:
        return self._request(new_ele("close-session"))


class _CloseFailed:
    """How a failed close is kept for later ``close_session`` calls (a Failure left as the
    result of a Deferred would be logged as unhandled)."""

    def __init__(self, failure: Failure) -> None:
        self.failure = failure


def _timed_out(result: Any, timeout: float) -> Any:
    raise TimeoutExpiredError("ncclient timed out while waiting for an rpc reply.")


class Manager(TypedOperations, NotificationAccess, SubscriptionOperations, nc_manager.Manager):
    """ncclient's ``Manager`` whose operations return Deferreds.

    Every operation of :data:`ncclient.manager.OPERATIONS`, every vendor operation of the
    device handler and every other name (sent as a generic RPC, as ncclient does) returns
    a Deferred that fires with the reply ncclient would return, or fails with the
    exception ncclient would raise:

    - ``raise_mode`` decides which ``rpc-error`` replies fail with ``RPCError``;
    - ``timeout`` (seconds, ``None`` for none) fails a request with
      ``TimeoutExpiredError``;
    - ``d.cancel()`` fails it with ``CancelledError``. A cancelled or timed-out request
      is forgotten: its late reply is dropped and counted in :attr:`replies_dropped`.

    Replies are parsed on the session thread (``io="threads"``; the reactor thread only
    fires Deferreds) or on the reactor within its work budget (``io="reactor"``).
    """

    def __init__(
        self,
        session: ManagedSession,
        device_handler: Any,
        timeout: Optional[float] = 30,
        raise_mode: int = RaiseMode.ALL,
        *,
        reactor: Optional[INetconfReactor] = None,
        listener: Optional[DeferredReplyListener] = None,
        notifications: Optional[NotificationRouter] = None,
        runtime: Optional[Runtime] = None,
    ) -> None:
        super().__init__(session, device_handler, timeout=timeout, raise_mode=raise_mode)
        self._reactor = resolve_reactor(reactor)
        self._runtime = runtime or runtime_for(self._reactor)
        if listener is None:
            listener = session.get_listener_instance(DeferredReplyListener)
        if listener is None:
            raise TypeError("the session needs a DeferredReplyListener installed before connect")
        self._listener = listener
        if notifications is None:
            notifications = NotificationRouter(
                self._reactor, NotificationQueue(self._reactor), DEFAULT_NOTIFICATION_BUFFER
            )
        self._router = notifications
        #: An RFC 5277 subscription without ``:interleave`` blocks every other RPC.
        self._interleave_blocked = False
        self._deadlines = Deadlines(self._reactor, _timed_out)
        self._waker = self._runtime.waker
        self._end_reason: Any = _NOT_ENDED
        self._closed_waiters: List["Deferred[Optional[Exception]]"] = []
        self._closing: Optional["Deferred[Any]"] = None
        #: While close-session waits for its reply: shortens that wait (see _bound_close).
        self._shorten_close: Optional[Callable[[float], None]] = None
        # A vendor operation named like one of our explicit methods wins, as in ncclient.
        for name, cls in self._vendor_operations.items():
            if hasattr(type(self), name):
                setattr(self, name, functools.partial(self.execute, cls))
        self._counters = new_request_counters()
        register_manager(self)
        self._runtime.add(self)
        session.add_end_callback(self._session_thread_ended)
        if session.ended:
            self._session_thread_ended(session.end_reason)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "closed"
        return "<%s host=%r session-id=%s %s>" % (
            type(self).__name__,
            getattr(self._session, "host", None),
            self._session.id,
            state,
        )

    # -- requests ------------------------------------------------------------------

    def execute(
        self, cls: Type[RPC], *args: Any, raise_mode: Optional[int] = None, **kwds: Any
    ) -> "Deferred[Any]":
        """Build the RPC *cls* and request it; a Deferred of its reply.

        *raise_mode* overrides the manager's for this request (a ``RaiseMode``).
        """
        if issubclass(cls, operations.CloseSession):
            return self.close_session()
        if issubclass(cls, operations.CreateSubscription):
            return self.create_subscription(*args, **kwds)
        return self._call(cls, args, kwds, raise_mode)

    def _call(
        self,
        cls: Type[RPC],
        args: Tuple[Any, ...],
        kwds: Dict[str, Any],
        raise_mode: Optional[int] = None,
        timeout: Any = _MANAGER_TIMEOUT,
    ) -> "Deferred[Any]":
        """Request *cls*; its outcome counted in :attr:`stats` (after any timeout's)."""
        self._counters.request()
        return self._request(cls, args, kwds, raise_mode, timeout).addBoth(self._counters.count)

    def _request(
        self,
        cls: Type[RPC],
        args: Tuple[Any, ...],
        kwds: Dict[str, Any],
        raise_mode: Optional[int],
        timeout: Any,
    ) -> "Deferred[Any]":
        if self._listener.ended:
            # After the end, whatever the transport: TransportError, the reason its cause.
            return fail(self._listener.later_error())
        if self._interleave_blocked and not issubclass(cls, operations.CloseSession):
            return fail(
                InterleaveError(
                    "the server does not support :interleave, so this session takes no "
                    "RPC but close-session while its notification subscription is active; "
                    "use a second session for other operations"
                )
            )
        mode = rpc_raise_mode(self) if raise_mode is None else raise_mode
        if self._build_elsewhere(cls):
            # Others are in flight: the session thread builds this one (ncclient's RPC
            # object and its XML) and writes it with the rest of the burst; the reactor
            # only makes the Deferred.
            try:
                args, kwds = snapshot(args, kwds)
            except Exception:  # an argument that cannot be copied
                return fail()
            job = BuildJob(self._listener, self._new_rpc, cls, args, kwds, mode)
            d: "Deferred[Any]" = job.deferred
            self._session.submit(job)
        else:
            try:
                rpc = self._new_rpc(cls, mode)
            except Exception:
                return fail()
            d = self._listener.expect(rpc)
            try:
                rpc.request(*args, **kwds)
            except Exception:
                self._listener.forget(rpc.id)
                if not d.called:
                    d.errback(Failure())
                return d
        if timeout is _MANAGER_TIMEOUT:
            if self._timeout is not None and not d.called:
                self._deadlines.add(d, self._timeout)
        elif timeout is not None and not d.called:
            d.addTimeout(timeout, self._reactor, onTimeoutCancel=_timed_out)
        return d

    def _new_rpc(self, cls: Type[RPC], raise_mode: int) -> RPC:
        return cls(
            self._session,
            device_handler=self._device_handler,
            async_mode=True,
            timeout=self._timeout,
            raise_mode=raise_mode,
            huge_tree=self._huge_tree,
        )

    def _build_elsewhere(self, cls: Type[RPC]) -> bool:
        """Whether the session thread should build this request: others wait for their
        reply or are still to be built, or the reactor is in a burst. While requests are
        still to be built, every later one is built after them, there: ``close-session``
        too, so nothing overtakes them on the wire."""
        session: ManagedSession = self._session
        if session.jobs_outstanding:
            return True
        if issubclass(cls, operations.CloseSession):
            return False
        if session.submit_always:
            # A session on the reactor runs every request as a job, within the reactor's
            # work budget: a caller's burst costs the reactor a queued job per request.
            return True
        # In a burst (a request to each of many sessions in one turn) only the turn's
        # first is written by the reactor: the others gain nothing from being built here.
        return self._listener.waiting() or self._waker.in_burst()

    def create_subscription(
        self,
        filter: Any = None,
        stream_name: Optional[str] = None,
        start_time: Optional[str] = None,
        stop_time: Optional[str] = None,
        *,
        stream: Optional[str] = None,
    ) -> "Deferred[Reply]":
        """``create-subscription`` (RFC 5277); ncclient's arguments (``stream`` is an alias
        of ``stream_name``).

        Read the events with :meth:`take_notification`, :meth:`notifications` or
        :meth:`add_notification_callback`. Without the server's ``:interleave`` the
        session takes no other RPC afterwards (they fail with :class:`InterleaveError`).
        """
        d = self._call(
            operations.CreateSubscription,
            (),
            dict(
                filter=filter,
                stream_name=stream_name if stream is None else stream,
                start_time=start_time,
                stop_time=stop_time,
            ),
        )

        def subscribed(reply: Any) -> Any:
            self._router.rfc5277_subscribed = True
            if ":interleave" not in self._session.server_capabilities:
                self._interleave_blocked = True
            return reply

        return d.addCallback(subscribed)

    def rpc(self, rpc_command: Any, **kwargs: Any) -> "Deferred[Reply]":
        """A generic RPC (an element, or the name of an empty one)."""
        return self.execute(operations.GenericRPC, rpc_command, **kwargs)

    # -- closing -------------------------------------------------------------------

    def close_session(self, timeout: Optional[float] = None) -> "Deferred[Any]":
        """Send ``close-session`` and close the transport, even if no reply comes.

        Fires with the reply (or fails with the request's error) once the session's
        threads and socket are gone. *timeout* bounds the wait for the reply (default:
        the manager's ``timeout``). Calling it again returns the same outcome.
        """
        if self._closing is None:
            self._closing = self._close(timeout)
        elif timeout is not None and self._shorten_close is not None:
            self._shorten_close(timeout)  # reactor shutdown: its bound holds for this close too
        result: "Deferred[Any]" = Deferred()

        def share(r: Any) -> Any:
            if isinstance(r, Failure):  # the first to see it; later calls get it too
                r = _CloseFailed(r)
            if isinstance(r, _CloseFailed):
                result.errback(r.failure)
            else:
                result.callback(r)
            return r

        self._closing.addBoth(share)
        return result

    def _close(self, timeout: Optional[float]) -> "Deferred[Any]":
        self._session.mark_closing()
        if self._end_reason is _NOT_ENDED:
            d = self._call(_CloseSession, (), {}, timeout=None)
            self._bound_close(d, self._timeout if timeout is None else timeout)
        else:
            d = fail(TransportError("Not connected to NETCONF server"))

        def close_transport(result: Any) -> "Deferred[Any]":
            closed = self._close_transport()
            closed.addErrback(lambda f: logger.warn("closing the transport: {error}", error=f.value))
            return closed.addCallback(lambda _: result)

        return d.addBoth(close_transport)

    def _bound_close(self, request: "Deferred[Any]", timeout: Optional[float]) -> None:
        """Fail *request* (close-session) with ``TimeoutExpiredError`` after *timeout*;
        a later ``close_session(timeout)`` may only shorten the wait."""
        calls: List[Any] = []
        expired: List[bool] = []

        def expire() -> None:
            if not request.called:
                expired.append(True)
                request.cancel()

        def shorten(seconds: float) -> None:
            if not request.called:
                calls.append(self._reactor.callLater(seconds, expire))

        def done(result: Any) -> Any:
            self._shorten_close = None
            for call in calls:
                if call.active():
                    call.cancel()
            if expired and isinstance(result, Failure) and result.check(CancelledError):
                return _timed_out(result, 0)
            return result

        self._shorten_close = shorten
        if timeout is not None:
            shorten(timeout)
        request.addBoth(done)

    def _close_transport(self) -> "Deferred[Any]":
        """Close the session's transport; a Deferred of its end. A session on the reactor
        closes there (nothing waits for the reactor on another thread: at its shutdown
        the reactor itself waits for the pool); a threaded session is joined on the pool."""
        close_on_reactor = getattr(self._session, "close_on_reactor", None)
        if close_on_reactor is not None:
            return maybeDeferred(close_on_reactor)
        return self._runtime.run(self._session.close)

    def when_closed(self) -> "Deferred[Optional[Exception]]":
        """A Deferred that fires when the session has ended.

        It fires with ``None`` after :meth:`close_session`, or with the exception that
        ended the session (``SessionCloseError`` when the server closed it, ...).
        """
        if self._end_reason is not _NOT_ENDED:
            return succeed(self._end_reason)
        d: "Deferred[Optional[Exception]]" = Deferred()
        self._closed_waiters.append(d)
        return d

    def _session_thread_ended(self, reason: Optional[Exception]) -> None:
        # Session thread: fail pending requests first, then tell the reactor side.
        self._listener.end(reason)
        self._reactor.callFromThread(self._ended, reason)

    def _ended(self, reason: Optional[Exception]) -> None:
        if self._end_reason is not _NOT_ENDED:
            return
        self._end_reason = reason
        self._runtime.discard(self)
        manager_ended(self)
        self._router.end(Failure(reason or TransportError("Session closed")), quiet=reason is None)
        if reason is not None and self._closing is None:
            # Not our close: the threads end by themselves; reap them off the reactor.
            self._closing = self._close_transport()
            self._closing.addErrback(lambda f: None)
        waiters, self._closed_waiters = self._closed_waiters, []
        for d in waiters:
            d.callback(reason)

    @property
    def connected(self) -> bool:
        """Whether the session is up (``False`` as soon as it has ended or is closing)."""
        # The listener has ended before any pending request is failed: False in the
        # first errback already, before the session thread has finished.
        return (
            self._end_reason is _NOT_ENDED
            and self._closing is None
            and not self._listener.ended
            and bool(self._session.connected)
        )

    # -- context managers ----------------------------------------------------------

    async def __aenter__(self) -> "Manager":
        return self

    async def __aexit__(self, *exc_info: Any) -> bool:
        try:
            await self.close_session()
        except Exception as e:
            if exc_info[1] is None and self._end_reason is _NOT_ENDED:
                raise
            logger.debug("close_session on exit failed: {error!r}", error=e)
        return False

    def __enter__(self) -> "Manager":
        raise TypeError("use 'async with' with ncclient_twisted's Manager")

    def __exit__(self, *exc_info: Any) -> None:  # pragma: no cover - __enter__ raises
        pass

    def locked(self, target: str) -> LockContext:
        """A lock on *target* for ``async with`` or ``.run(f)`` (see :class:`LockContext`)."""
        return LockContext(self, target)

    # -- notifications and counters -----------------------------------------------

    @property
    def replies_dropped(self) -> int:
        """Replies dropped because no request waited for them."""
        return self._listener.replies_dropped

    @property
    def pending_requests(self) -> int:
        """Requests sent and waiting for their reply."""
        return self._listener.pending

    @property
    def stats(self) -> SessionStats:
        """This session's counters and gauges (a snapshot; read on the reactor thread)."""
        session = self._session
        return SessionStats(
            pending=self._listener.pending,
            stray_replies_dropped=self._listener.replies_dropped,
            notifications_delivered=self._router.delivered,
            notifications_dropped=self.notifications_dropped,
            bytes_received=session.bytes_received,
            bytes_sent=session.bytes_sent,
            **self._counters.counts(),
        )

    def scp(self) -> Any:
        raise NotImplementedError("scp is not supported by ncclient_twisted")

