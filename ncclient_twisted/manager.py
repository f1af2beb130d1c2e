"""A drop-in for :mod:`ncclient.manager` whose every operation returns a Deferred.

::

    from ncclient_twisted import manager

    m = await manager.connect(host="192.0.2.1", username="admin", password="admin")
    reply = await m.get_config(source="running")

:func:`connect` and :func:`connect_ssh` take ncclient's arguments, plus ``reactor=``.
Connecting runs on the project's own thread pool; the Deferred fires with a
:class:`Manager`, or fails with ncclient's own exception (``AuthenticationError``,
``SSHUnknownHostError``, ``SSHError``, ...).
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Dict, List, Optional, Tuple, Type, Union

import ncclient.manager as nc_manager
from ncclient import operations
from ncclient.manager import OPERATIONS, make_device_handler
from ncclient.operations.errors import TimeoutExpiredError
from ncclient.operations.retrieve import GetReply
from ncclient.operations.rpc import RPC, RaiseMode, RPCReply
from ncclient.transport.errors import TransportError
from ncclient.xml_ import NCElement, new_ele
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from ncclient_twisted._listener import DeferredReplyListener
from ncclient_twisted._lock import LockContext
from ncclient_twisted._notifications import DEFAULT_NOTIFICATION_BUFFER, NotificationBuffer
from ncclient_twisted._runtime import Runtime, resolve_reactor, runtime_for
from ncclient_twisted._session import (
    IDLE_SOCKET_TIMEOUT,
    QuietSocket,
    TwistedSSHSession,
    open_socket,
)

__all__ = ["connect", "connect_ssh", "Manager", "OPERATIONS", "make_device_handler"]

logger = logging.getLogger("ncclient_twisted.manager")

#: What an operation's Deferred fires with: the reply ncclient would return.
Reply = Union[RPCReply, NCElement]
GetResult = Union[GetReply, NCElement]

_NOT_ENDED: Any = object()
#: ``_call``'s timeout when the caller gives none: the manager's ``timeout``.
_MANAGER_TIMEOUT: Any = object()


class _CloseSession(operations.CloseSession):
    """``close-session`` that does not close the transport right after queueing it
    (ncclient's does: in async mode the request may never be written)."""

    def request(self) -> Any:
        return self._request(new_ele("close-session"))


def _timed_out(result: Any, timeout: float) -> Any:
    raise TimeoutExpiredError("ncclient timed out while waiting for an rpc reply.")


class Manager(nc_manager.Manager):
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

    Replies are parsed on the session thread; the reactor thread only fires Deferreds.
    """

    def __init__(
        self,
        session: TwistedSSHSession,
        device_handler: Any,
        timeout: Optional[float] = 30,
        raise_mode: int = RaiseMode.ALL,
        *,
        reactor: Any = None,
        listener: Optional[DeferredReplyListener] = None,
        notifications: Optional[NotificationBuffer] = None,
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
        self._notifications = (
            NotificationBuffer(self._reactor) if notifications is None else notifications
        )
        self._end_reason: Any = _NOT_ENDED
        self._closed_waiters: List["Deferred[Optional[Exception]]"] = []
        self._closing: Optional["Deferred[Any]"] = None
        # A vendor operation named like one of our explicit methods wins, as in ncclient.
        for name, cls in self._vendor_operations.items():
            if hasattr(type(self), name):
                setattr(self, name, functools.partial(self.execute, cls))
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

    def execute(self, cls: Type[RPC], *args: Any, **kwds: Any) -> "Deferred[Any]":
        """Build the RPC *cls* and request it; a Deferred of its reply."""
        if issubclass(cls, operations.CloseSession):
            return self.close_session()
        return self._call(cls, args, kwds)

    def _call(
        self,
        cls: Type[RPC],
        args: Tuple[Any, ...],
        kwds: Dict[str, Any],
        raise_mode: Optional[int] = None,
        timeout: Any = _MANAGER_TIMEOUT,
    ) -> "Deferred[Any]":
        try:
            rpc = cls(
                self._session,
                device_handler=self._device_handler,
                async_mode=True,
                timeout=self._timeout,
                raise_mode=self._raise_mode if raise_mode is None else raise_mode,
                huge_tree=self._huge_tree,
            )
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
        timeout = self._timeout if timeout is _MANAGER_TIMEOUT else timeout
        if timeout is not None and not d.called:
            d.addTimeout(timeout, self._reactor, onTimeoutCancel=_timed_out)
        return d

    # The common operations, typed. Others go through ``__getattr__`` as in ncclient.

    def get(self, filter: Any = None, with_defaults: Optional[str] = None) -> "Deferred[GetResult]":
        """``get``: running configuration and state data."""
        return self.execute(operations.Get, filter=filter, with_defaults=with_defaults)

    def get_config(
        self, source: str, filter: Any = None, with_defaults: Optional[str] = None
    ) -> "Deferred[GetResult]":
        """``get-config`` of *source* (``running``, ``candidate``, ``startup``)."""
        return self.execute(
            operations.GetConfig, source, filter=filter, with_defaults=with_defaults
        )

    def get_schema(
        self, identifier: str, version: Optional[str] = None, format: Optional[str] = None
    ) -> "Deferred[GetResult]":
        """``get-schema`` (RFC 6022)."""
        return self.execute(operations.GetSchema, identifier, version=version, format=format)

    def dispatch(
        self, rpc_command: Any, source: Optional[str] = None, filter: Any = None
    ) -> "Deferred[GetResult]":
        """Any RPC, given as an element or a name."""
        return self.execute(operations.Dispatch, rpc_command, source=source, filter=filter)

    def edit_config(
        self,
        config: Any,
        format: str = "xml",
        target: str = "candidate",
        default_operation: Optional[str] = None,
        test_option: Optional[str] = None,
        error_option: Optional[str] = None,
    ) -> "Deferred[Reply]":
        """``edit-config`` of *target* with *config*."""
        return self.execute(
            operations.EditConfig,
            config,
            format=format,
            target=target,
            default_operation=default_operation,
            test_option=test_option,
            error_option=error_option,
        )

    def copy_config(self, source: str, target: str) -> "Deferred[Reply]":
        """``copy-config`` from *source* to *target*."""
        return self.execute(operations.CopyConfig, source, target)

    def delete_config(self, target: str) -> "Deferred[Reply]":
        """``delete-config`` of *target*."""
        return self.execute(operations.DeleteConfig, target)

    def validate(self, source: Any = "candidate") -> "Deferred[Reply]":
        """``validate`` *source* (a datastore name or a config element)."""
        return self.execute(operations.Validate, source)

    def commit(
        self,
        confirmed: bool = False,
        timeout: Optional[Union[int, str]] = None,
        persist: Optional[str] = None,
        persist_id: Optional[str] = None,
    ) -> "Deferred[Reply]":
        """``commit``; *timeout* is the confirm-timeout of a confirmed commit."""
        return self.execute(
            operations.Commit,
            confirmed=confirmed,
            timeout=timeout,
            persist=persist,
            persist_id=persist_id,
        )

    def discard_changes(self) -> "Deferred[Reply]":
        """``discard-changes``: revert the candidate to running."""
        return self.execute(operations.DiscardChanges)

    def cancel_commit(self, persist_id: Optional[str] = None) -> "Deferred[Reply]":
        """``cancel-commit`` of a pending confirmed commit."""
        return self.execute(operations.CancelCommit, persist_id=persist_id)

    def lock(self, target: str = "candidate") -> "Deferred[Reply]":
        """``lock`` *target*."""
        return self.execute(operations.Lock, target)

    def unlock(self, target: str = "candidate") -> "Deferred[Reply]":
        """``unlock`` *target*."""
        return self.execute(operations.Unlock, target)

    def kill_session(self, session_id: Union[str, int]) -> "Deferred[Reply]":
        """``kill-session`` of another session."""
        return self.execute(operations.KillSession, str(session_id))

    def create_subscription(
        self,
        filter: Any = None,
        stream_name: Optional[str] = None,
        start_time: Optional[str] = None,
        stop_time: Optional[str] = None,
    ) -> "Deferred[Reply]":
        """``create-subscription`` (RFC 5277); read events with :meth:`take_notification`."""
        return self.execute(
            operations.CreateSubscription,
            filter=filter,
            stream_name=stream_name,
            start_time=start_time,
            stop_time=stop_time,
        )

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
        result: "Deferred[Any]" = Deferred()

        def share(r: Any) -> Any:
            result.callback(r) if not isinstance(r, Failure) else result.errback(r)
            return None if isinstance(r, Failure) else r

        self._closing.addBoth(share)
        return result

    def _close(self, timeout: Optional[float]) -> "Deferred[Any]":
        self._session._closing.set()
        if self._end_reason is _NOT_ENDED:
            d = self._call(
                _CloseSession,
                (),
                {},
                timeout=self._timeout if timeout is None else timeout,
            )
        else:
            d = fail(TransportError("Not connected to NETCONF server"))

        def close_transport(result: Any) -> "Deferred[Any]":
            closed = self._runtime.run(self._session.close)
            closed.addErrback(lambda f: logger.warning("closing the transport: %s", f.value))
            return closed.addCallback(lambda _: result)

        return d.addBoth(close_transport)

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
        self._notifications.end(Failure(reason or TransportError("Session closed")))
        if reason is not None and self._closing is None:
            # Not our close: the threads end by themselves; reap them off the reactor.
            self._closing = self._runtime.run(self._session.close)
            self._closing.addErrback(lambda f: None)
        waiters, self._closed_waiters = self._closed_waiters, []
        for d in waiters:
            d.callback(reason)

    @property
    def connected(self) -> bool:
        """Whether the session is up (``False`` as soon as it has ended or is closing)."""
        return self._end_reason is _NOT_ENDED and bool(self._session.connected)

    # -- context managers ----------------------------------------------------------

    async def __aenter__(self) -> "Manager":
        return self

    async def __aexit__(self, *exc_info: Any) -> bool:
        try:
            await self.close_session()
        except Exception:
            if exc_info[1] is None and self._end_reason is _NOT_ENDED:
                raise
            logger.debug("close_session on exit failed", exc_info=True)
        return False

    def __enter__(self) -> "Manager":
        raise TypeError("use 'async with' with ncclient_twisted's Manager")

    def __exit__(self, *exc_info: Any) -> None:  # pragma: no cover - __enter__ raises
        pass

    def locked(self, target: str) -> LockContext:
        """A lock on *target* for ``async with`` or ``.run(f)`` (see :class:`LockContext`)."""
        return LockContext(self, target)

    # -- notifications and counters -----------------------------------------------

    def take_notification(
        self, block: bool = True, timeout: Optional[float] = None
    ) -> "Deferred[Any]":
        """A Deferred of the next ``Notification`` (``None`` on *timeout* or not *block*)."""
        return self._notifications.take(block, timeout)

    @property
    def notifications_dropped(self) -> int:
        """Notifications dropped because the buffer was full (oldest first)."""
        return self._notifications.dropped

    @property
    def replies_dropped(self) -> int:
        """Replies dropped because no request waited for them."""
        return self._listener.replies_dropped

    @property
    def pending_requests(self) -> int:
        """Requests sent and waiting for their reply."""
        return self._listener.pending

    def scp(self) -> Any:
        raise NotImplementedError("scp is not supported by ncclient_twisted")


# -- connecting ----------------------------------------------------------------------


def _pop_params(kwds: Dict[str, Any]) -> Tuple[Any, Dict[str, Any], Dict[str, Any], Any, int]:
    """ncclient's parameter dictionaries, taken out of *kwds* as ncclient does."""
    device_params = kwds.pop("device_params", None)
    manager_params = dict(kwds.pop("manager_params", {}) or {})
    if "timeout" not in manager_params and "timeout" in kwds:
        manager_params["timeout"] = kwds["timeout"]
    nc_params = kwds.pop("nc_params", {}) or {}
    errors_params = kwds.pop("errors_params", {}) or {}
    ignore_errors = errors_params.get("ignore_errors", [])
    raise_mode = errors_params.get("raise_mode", RaiseMode.ALL)
    return device_params, manager_params, nc_params, ignore_errors, raise_mode


def connect_ssh(*args: Any, reactor: Any = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect over SSH; ncclient's arguments (see ``ncclient.manager.connect_ssh``).

    Extra keywords: ``reactor`` and, in ``manager_params``, ``notification_buffer`` (how
    many notifications are kept before the oldest is dropped).
    """
    reactor = resolve_reactor(reactor)
    runtime = runtime_for(reactor)
    try:
        device_params, manager_params, nc_params, ignore_errors, raise_mode = _pop_params(kwds)
        manager_params["raise_mode"] = raise_mode
        buffer_size = manager_params.pop("notification_buffer", DEFAULT_NOTIFICATION_BUFFER)
        device_handler = make_device_handler(device_params, ignore_errors)
        device_handler.add_additional_ssh_connect_params(kwds)
        if hasattr(device_handler, "add_additional_netconf_params"):
            device_handler.add_additional_netconf_params(nc_params)
        notifications = NotificationBuffer(reactor, buffer_size)
    except Exception:
        return fail()

    cancelled: List[bool] = []

    def blocking_connect() -> Tuple[TwistedSSHSession, DeferredReplyListener]:
        # Built here, not on the reactor: creating a session (a thread, its locks and
        # conditions, a socket pair) costs the reactor milliseconds under load.
        session = TwistedSSHSession(device_handler)
        listener = DeferredReplyListener.install(session, device_handler, reactor)
        session._notification_q = notifications
        call_kwds = dict(kwds)
        sock: Optional[QuietSocket] = None
        if not ({"sock", "sock_fd", "ssh_config"} & {k for k, v in kwds.items() if v}):
            host = args[0] if args else kwds.get("host")
            port = args[1] if len(args) > 1 else kwds.get("port", 830)
            if host:
                try:
                    sock = open_socket(host, port, kwds.get("timeout"), kwds.get("bind_addr"))
                except BaseException:
                    session.close()  # its wake-up socket pair
                    raise
                call_kwds["sock"] = sock
        try:
            session.connect(*args, **call_kwds)
        except BaseException:
            session.close()
            if sock is not None:
                sock.close()
            raise
        if sock is not None:
            keepalive = kwds.get("keepalive")
            sock.freeze_timeout(float(keepalive) if keepalive else IDLE_SOCKET_TIMEOUT)
        if cancelled:
            session.close()
        return session, listener

    def connected(built: Tuple[TwistedSSHSession, DeferredReplyListener]) -> Manager:
        session, listener = built
        return Manager(
            session,
            device_handler,
            reactor=reactor,
            listener=listener,
            notifications=notifications,
            **manager_params,
        )

    result: "Deferred[Manager]" = Deferred(lambda _: cancelled.append(True))
    inner: "Deferred[Manager]" = runtime.run(blocking_connect).addCallback(connected)

    def deliver(r: Any) -> None:
        if result.called:
            if isinstance(r, Manager):
                r.close_session(timeout=0)
            return
        result.errback(r) if isinstance(r, Failure) else result.callback(r)

    inner.addBoth(deliver)
    return result


def connect(*args: Any, reactor: Any = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect as ``ncclient.manager.connect`` does; a Deferred of a :class:`Manager`.

    Only the SSH transport (ncclient's default) is supported here.
    """
    if kwds.pop("use_libssh", False):
        return fail(NotImplementedError("ncclient_twisted does not support use_libssh"))
    device_params = kwds.get("device_params") or {}
    if kwds.get("host") == "localhost" and device_params.get("name") == "junos" and device_params.get("local"):
        return fail(NotImplementedError("ncclient_twisted does not support the junos ioproc transport"))
    return connect_ssh(*args, reactor=reactor, **kwds)


