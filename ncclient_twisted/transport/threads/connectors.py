"""The connect path of the threads transport (``io="threads"``): one connector per session
class, as Twisted's endpoints: ``connector.connect()`` is a Deferred of a
:class:`~ncclient_twisted.manager.Manager` (through :func:`~ncclient_twisted.assembly.open_manager`).

- :class:`SSHConnector`: ncclient's SSH session (a socket of ours, our host-key policy,
  dead-peer detection); with ``sock=`` it runs over a connected socket (call home).
- :class:`SocketConnector`: ncclient's TLS (RFC 7589) or Unix-socket session.

Each is made from a :class:`~ncclient_twisted.options.ConnectOptions`. :meth:`ThreadsConnector.open`
is the path they share: the session is built and connected on the reactor's pool
(:mod:`ncclient_twisted.bridge.runtime`) and handed to the assembly on the reactor.
"""

from __future__ import annotations

import importlib
import socket
from typing import Any, List, Optional, Tuple, Type

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger
from twisted.python.failure import Failure

from ncclient_twisted._manager import Manager
from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.assembly import Assemble, Opened, host_key_policy, open_manager, session_parts
from ncclient_twisted.bridge.handoff import Handoff
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import resolve_reactor, runtime_for
from ncclient_twisted.bridge.runtime_hooks import BridgeHooks
from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.transport.hostkeys import HostKeyPolicy
from ncclient_twisted.transport.keepalive import DeadPeerDetector
from ncclient_twisted.transport.limits import limit_error_in
from ncclient_twisted.transport.threads.session import WakeOnSendSession
from ncclient_twisted.transport.threads.ssh import ThreadedSSHSession, send_keepalive
from ncclient_twisted.transport.threads.tcp import (
    IDLE_SOCKET_TIMEOUT,
    CountingSocket,
    QuietSocket,
    open_socket,
)

__all__ = ["ThreadsConnector", "SSHConnector", "SocketConnector"]


log = Logger(namespace=__name__)


class ThreadsConnector:
    """What the threads transport's connectors share: a session connected on the pool
    (:meth:`open`), each transport's part (:meth:`session_class`, :meth:`prepare`,
    :meth:`connect_session`) on the pool thread but :meth:`prepare`."""

    #: ``connect_<transport>``'s name for the transport, in error messages.
    transport = ""

    def __init__(self, options: ConnectOptions, reactor: Optional[INetconfReactor] = None) -> None:
        self.options = options
        self.reactor = resolve_reactor(reactor)

    def session_class(self) -> Type[WakeOnSendSession]:
        raise NotImplementedError

    def prepare(self, device_handler: Any) -> None:
        """Add the device handler's transport parameters (on the reactor thread)."""

    def connect_session(self, session: Any) -> None:
        """Connect *session* (blocking, on the pool thread)."""
        session.connect(*self.options.args, **self.options.session_kwds)

    def connect(self) -> "Deferred[Manager]":
        """A Deferred of the connected :class:`Manager`."""
        return open_manager(self)

    def open(self, assemble: Assemble) -> "Deferred[Manager]":
        """The session is built and connected on the reactor's pool, and handed to
        *assemble* on the reactor. Cancelling the Deferred closes the session once it is
        up (quietly: nobody is waiting for that close)."""
        reactor = self.reactor
        runtime = runtime_for(reactor)
        options = self.options
        try:
            session_class = self.session_class()
            handoff = Handoff(reactor)  # replies and notifications, in wire order
            device_handler, notifications = session_parts(options, reactor, handoff, self.prepare)
        except Exception:
            return fail()

        cancelled: List[bool] = []

        def blocking_connect() -> Tuple[WakeOnSendSession, DeferredReplyListener]:
            # Built here, not on the reactor: creating a session (a thread, its locks and
            # conditions, a socket pair) costs the reactor milliseconds under load.
            hooks = BridgeHooks(runtime, notifications)
            hooks.max_message_size = options.max_message_size
            try:
                session = session_class(device_handler, hooks)
            except Exception as e:
                raise (limit_error_in(e) or e) from e
            listener = DeferredReplyListener.install(session, device_handler, reactor, handoff)
            hooks.attach(listener)
            try:
                self.connect_session(session)
            except BaseException as e:
                session.close()
                limit = limit_error_in(e)
                if limit is not None:
                    raise limit from e
                raise
            if cancelled:
                session.close()
            return session, listener

        def connected(built: Tuple[WakeOnSendSession, DeferredReplyListener]) -> Manager:
            session, listener = built
            return assemble(Opened(session, device_handler, listener, notifications))

        result: "Deferred[Manager]" = Deferred(lambda _: cancelled.append(True))
        inner: "Deferred[Manager]" = runtime.run(blocking_connect).addCallback(connected)

        def deliver(r: Any) -> None:
            if result.called:
                if isinstance(r, Manager):
                    # Cancelled while connecting: close the session nobody will use. Its
                    # outcome concerns nobody either (the session may well be gone already).
                    r.close_session(timeout=0).addErrback(
                        lambda f: log.debug("closing a session whose connect was cancelled: {e}", e=f.value)
                    )
                return
            result.errback(r) if isinstance(r, Failure) else result.callback(r)

        inner.addBoth(deliver)
        return result


class SSHConnector(ThreadsConnector):
    """NETCONF over SSH as ncclient connects it, on a :class:`QuietSocket`, with our
    host-key policy and dead-peer detection."""

    transport = "ssh"

    @classmethod
    def from_call(
        cls, args: Tuple[Any, ...], kwds: Any, reactor: Optional[INetconfReactor] = None
    ) -> "SSHConnector":
        """From ``connect_ssh``'s arguments (raises what :class:`ConnectOptions` finds)."""
        return cls(ConnectOptions.parse("ssh", ThreadedSSHSession, args, kwds), reactor)

    def session_class(self) -> Type[WakeOnSendSession]:
        return ThreadedSSHSession

    def prepare(self, device_handler: Any) -> None:
        device_handler.add_additional_ssh_connect_params(self.options.session_kwds)

    def _policy(self, session: Any) -> Optional[HostKeyPolicy]:
        policy = host_key_policy(self.reactor, self.options, self.options.ssh.port)
        if policy is not None:
            session.use_hostkey_policy(policy)
        return policy

    def connect_session(self, session: Any) -> None:
        o = self.options.ssh
        kwds = dict(self.options.session_kwds)  # what goes to ncclient's connect
        policy = self._policy(session)
        if policy is not None:
            kwds["unknown_host_cb"] = policy.unknown_host
        interval = o.keepalive
        host, port = o.host, o.port
        sock: Optional[QuietSocket] = None
        opened = False
        if isinstance(o.sock, QuietSocket):
            sock = o.sock
        elif host and not (o.sock or o.sock_fd or o.ssh_config):
            cls = CountingSocket if interval else QuietSocket
            sock = open_socket(host, port, o.timeout, o.bind_addr, cls)
            kwds["sock"] = sock
            opened = True
        if interval and isinstance(sock, CountingSocket):
            counting = sock
            session.use_keepalive(
                DeadPeerDetector(
                    interval,
                    lambda: counting.last_received,
                    lambda: send_keepalive(session.transport),
                    o.keepalive_count_max,
                    peer="%s port %s" % (host, port),
                )
            )
        elif interval:
            kwds["keepalive"] = interval  # a socket not ours: paramiko's keepalive
        given = sock
        untrack = runtime_for(self.reactor).track_connect(lambda: _shut_down(session, given))
        try:
            session.connect(*self.options.args, **kwds)
        except BaseException:
            if opened and sock is not None:
                sock.close()
            raise
        finally:
            untrack()
        if sock is not None:
            sock.freeze_timeout(IDLE_SOCKET_TIMEOUT)


def _shut_down(session: Any, sock: Optional[socket.socket]) -> None:
    """End a connect under way at reactor shutdown: shut its socket down (it wakes
    paramiko's thread, and ncclient's connect fails at once); never blocks. The socket
    is closed by the connect's own failure path."""
    if sock is None:  # ncclient's own socket (sock_fd, ssh_config): paramiko's, if any yet
        sock = getattr(getattr(session, "transport", None), "sock", None)
    shutdown = getattr(sock, "shutdown", None)
    if shutdown is not None:
        try:
            shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _socket_session_class(name: str) -> Type[WakeOnSendSession]:
    try:
        sockets = importlib.import_module("ncclient_twisted.transport.threads.sockets")
    except ImportError as e:
        raise NotImplementedError(
            "the installed ncclient has no %s transport (it needs ncclient 0.6.14 or later): %s"
            % (name, e)
        ) from e
    session_class: Type[WakeOnSendSession] = getattr(sockets, name)
    return session_class


class SocketConnector(ThreadsConnector):
    """NETCONF straight over a socket: TLS (``"tls"``) or a Unix socket (``"uds"``)."""

    _CLASSES = {"tls": "ThreadedTLSSession", "uds": "ThreadedUnixSocketSession"}

    def __init__(
        self, transport: str, options: ConnectOptions, reactor: Optional[INetconfReactor] = None
    ) -> None:
        super().__init__(options, reactor)
        self.transport = transport

    @classmethod
    def from_call(
        cls, transport: str, args: Tuple[Any, ...], kwds: Any, reactor: Optional[INetconfReactor] = None
    ) -> "SocketConnector":
        """From ``connect_tls``'s or ``connect_uds``'s arguments."""
        session_class = _socket_session_class(cls._CLASSES[transport])
        return cls(transport, ConnectOptions.parse(transport, session_class, args, kwds), reactor)

    def session_class(self) -> Type[WakeOnSendSession]:
        return _socket_session_class(self._CLASSES[self.transport])
