"""One connector per transport, as Twisted's endpoints: ``connector.connect()`` is a
Deferred of a :class:`~ncclient_twisted.manager.Manager`.

- :class:`SSHConnector`: ncclient's SSH session (a socket of ours, our host-key policy,
  dead-peer detection); with ``sock=`` it runs over a connected socket (call home).
- :class:`SocketConnector`: ncclient's TLS (RFC 7589) or Unix-socket session.

Each is made from a :class:`~ncclient_twisted.options.ConnectOptions`. :func:`open_manager`
is the path they share: the session is built and connected on the reactor's pool
(:mod:`ncclient_twisted.bridge.runtime`) and wrapped in a ``Manager`` on the reactor.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import socket
from typing import Any, List, Optional, Tuple, Type

from ncclient.manager import make_device_handler
from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure

from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.handoff import Handoff
from ncclient_twisted.bridge.hooks import BridgeHooks
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import resolve_reactor, runtime_for
from ncclient_twisted.manager import Manager
from ncclient_twisted.notifications import NotificationQueue
from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.subscriptions import NotificationRouter
from ncclient_twisted.transport.hostkeys import HostKeyPolicy
from ncclient_twisted.transport.keepalive import CountingSocket, DeadPeerDetector, send_keepalive
from ncclient_twisted.transport.limits import limit_error_in
from ncclient_twisted.transport.threads.session import (
    IDLE_SOCKET_TIMEOUT,
    QuietSocket,
    TwistedSSHSession,
    WakeOnSendSession,
    open_socket,
)

__all__ = [
    "SSHConnector",
    "SocketConnector",
    "open_manager",
    "connect",
    "connect_ssh",
    "connect_tls",
    "connect_uds",
]

log = logging.getLogger("ncclient_twisted.manager")


class _Connector:
    """What :func:`open_manager` needs of a transport (each runs on the pool thread but
    :meth:`connect`)."""

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


class SSHConnector(_Connector):
    """NETCONF over SSH as ncclient connects it, on a :class:`QuietSocket`, with our
    host-key policy and dead-peer detection."""

    transport = "ssh"

    @classmethod
    def from_call(
        cls, args: Tuple[Any, ...], kwds: Any, reactor: Optional[INetconfReactor] = None
    ) -> "SSHConnector":
        """From ``connect_ssh``'s arguments (raises what :class:`ConnectOptions` finds)."""
        return cls(ConnectOptions.parse("ssh", TwistedSSHSession, args, kwds), reactor)

    def session_class(self) -> Type[WakeOnSendSession]:
        return TwistedSSHSession

    def prepare(self, device_handler: Any) -> None:
        device_handler.add_additional_ssh_connect_params(self.options.session_kwds)

    def _policy(self, session: Any) -> Optional[HostKeyPolicy]:
        policy = host_key_policy(self.reactor, self.options, self.options.port)
        if policy is not None:
            session.use_hostkey_policy(policy)
        return policy

    def connect_session(self, session: Any) -> None:
        o = self.options
        kwds = dict(o.session_kwds)
        policy = self._policy(session)
        if policy is not None:
            kwds["unknown_host_cb"] = policy.unknown_host
        interval = o.keepalive
        host, port = o.host, o.port
        sock: Optional[QuietSocket] = None
        opened = False
        if isinstance(kwds.get("sock"), QuietSocket):
            sock = kwds["sock"]
        elif host and not ({"sock", "sock_fd", "ssh_config"} & {k for k, v in kwds.items() if v}):
            cls = CountingSocket if interval else QuietSocket
            sock = open_socket(host, port, kwds.get("timeout"), kwds.get("bind_addr"), cls)
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
            session.connect(*o.args, **kwds)
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
        sock = getattr(getattr(session, "_transport", None), "sock", None)
    shutdown = getattr(sock, "shutdown", None)
    if shutdown is not None:
        try:
            shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def host_key_policy(reactor: INetconfReactor, options: ConnectOptions, port: Any) -> Optional[HostKeyPolicy]:
    """The host-key policy of an SSH connect (either transport); None when
    ``hostkey_verify`` is false."""
    if not options.session_kwds.get("hostkey_verify", True):
        return None
    return HostKeyPolicy(
        reactor,
        port,
        known_hosts=options.known_hosts,
        accept_new=options.accept_new,
        user_cb=options.unknown_host_cb,
        pinned=bool(options.session_kwds.get("hostkey_b64")),
        shutting_down=runtime_for(reactor).shutting_down,
    )


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


class SocketConnector(_Connector):
    """NETCONF straight over a socket: TLS (``"tls"``) or a Unix socket (``"uds"``)."""

    _CLASSES = {"tls": "TwistedTLSSession", "uds": "TwistedUnixSocketSession"}

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


def new_router(reactor: INetconfReactor, options: ConnectOptions, handoff: Handoff) -> NotificationRouter:
    """A session's notification router, with the buffer size *options* ask for."""
    size = options.notification_buffer
    return NotificationRouter(reactor, NotificationQueue(reactor, size), size, handoff)


def new_manager(
    session: Any,
    device_handler: Any,
    reactor: INetconfReactor,
    listener: DeferredReplyListener,
    notifications: NotificationRouter,
    options: ConnectOptions,
) -> Manager:
    """The :class:`Manager` of a connected session (any transport)."""
    return Manager(
        session,
        device_handler,
        reactor=reactor,
        listener=listener,
        notifications=notifications,
        raise_mode=options.raise_mode,
        **options.manager_params,
    )


def open_manager(connector: _Connector) -> "Deferred[Manager]":
    """The connect path shared by every transport.

    The session is built and connected on the reactor's pool, wrapped in a
    :class:`Manager` on the reactor. Cancelling the Deferred closes the session once it
    is up (quietly: nobody is waiting for that close).
    """
    reactor = connector.reactor
    runtime = runtime_for(reactor)
    options = connector.options
    try:
        session_class = connector.session_class()
        device_handler = make_device_handler(options.device_params, options.ignore_errors)
        connector.prepare(device_handler)
        if hasattr(device_handler, "add_additional_netconf_params"):
            device_handler.add_additional_netconf_params(options.nc_params)
        handoff = Handoff(reactor)  # replies and notifications, in wire order
        notifications = new_router(reactor, options, handoff)
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
            connector.connect_session(session)
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
        return new_manager(session, device_handler, reactor, listener, notifications, options)

    result: "Deferred[Manager]" = Deferred(lambda _: cancelled.append(True))
    inner: "Deferred[Manager]" = runtime.run(blocking_connect).addCallback(connected)

    def deliver(r: Any) -> None:
        if result.called:
            if isinstance(r, Manager):
                # Cancelled while connecting: close the session nobody will use. Its
                # outcome concerns nobody either (the session may well be gone already).
                r.close_session(timeout=0).addErrback(
                    lambda f: log.debug("closing a session whose connect was cancelled: %s", f.value)
                )
            return
        result.errback(r) if isinstance(r, Failure) else result.callback(r)

    inner.addBoth(deliver)
    return result


# -- ncclient's connect functions (``ncclient_twisted.manager`` offers them) ----------


def connect_ssh(*args: Any, reactor: Optional[INetconfReactor] = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect over SSH; ncclient's arguments (see ``ncclient.manager.connect_ssh``).

    Extra keywords:

    - ``reactor``;
    - ``known_hosts`` (a file of OpenSSH known_hosts lines read instead of
      ``~/.ssh/known_hosts``) and ``accept_new`` (store an unknown host's key there and
      go on, as OpenSSH's ``StrictHostKeyChecking=accept-new``); a key that differs from
      the stored one fails with :class:`HostKeyChangedError`. ``unknown_host_cb(host,
      fingerprint)`` runs on the reactor thread and may return a Deferred;
    - ``keepalive`` (seconds) and ``keepalive_count_max`` (default 3): after that many
      keepalives without an answer the session ends with :class:`KeepaliveTimeoutError`
      (on ``io="threads"`` this needs the socket connect opens itself: with ``sock``,
      ``sock_fd`` or ``ssh_config``, ``keepalive`` is paramiko's, as in ncclient);
    - in ``manager_params``, ``notification_buffer`` (how many notifications are kept
      before the oldest is dropped);
    - ``io``: ``"reactor"`` (the session is a Conch protocol on the reactor thread, one
      socket and no thread), ``"threads"`` (ncclient's session thread and paramiko's), or
      ``"auto"`` (the default: ``"reactor"``, unless the call needs ``"threads"``: see
      :func:`~ncclient_twisted.options.choose_io`).

    Every keyword is checked at the call (:class:`~ncclient_twisted.options.ConnectOptions`):
    one that nobody takes, or a value of the wrong kind, is a failed Deferred.
    """
    try:
        options = ConnectOptions.parse("ssh", TwistedSSHSession, args, kwds)
    except Exception:
        return fail()
    if options.io == "reactor":
        from ncclient_twisted.transport.reactor.connectors import ReactorSSHConnector

        if options.io_chosen and options.reads_ssh_config:
            return _after_ssh_config(options, reactor)
        return ReactorSSHConnector(options, reactor).connect()
    return SSHConnector(options, reactor).connect()


def _after_ssh_config(options: ConnectOptions, reactor: Optional[INetconfReactor]) -> "Deferred[Manager]":
    """``io="auto"`` with an ssh_config: its entry for the host is read first (on the
    pool), and a ``ProxyCommand`` there (which only the threads transport runs) picks
    ``io="threads"``; otherwise the reactor transport."""
    from ncclient_twisted.transport.reactor.connectors import ReactorSSHConnector
    from ncclient_twisted.transport.sshconfig import read_ssh_config

    resolved = resolve_reactor(reactor)

    def connect(entry: Any) -> "Deferred[Manager]":
        if entry is not None and entry.has_proxy_command:
            log.debug("the ssh_config entry of %s has a ProxyCommand: io='threads'", options.host)
            return SSHConnector(dataclasses.replace(options, io="threads"), resolved).connect()
        return ReactorSSHConnector(options, resolved).connect()

    d = runtime_for(resolved).run(read_ssh_config, options.session_kwds["ssh_config"], options.host)
    return d.addCallback(connect)


def _connect_socket(
    transport: str, args: Any, kwds: Any, reactor: Optional[INetconfReactor]
) -> "Deferred[Manager]":
    try:
        connector = SocketConnector.from_call(transport, args, kwds, reactor)
    except Exception:
        return fail()
    if connector.options.io == "reactor":
        from ncclient_twisted.transport.reactor.connectors import ReactorTLSConnector, ReactorUnixConnector

        cls = ReactorTLSConnector if transport == "tls" else ReactorUnixConnector
        return cls(connector.options, reactor).connect()
    return connector.connect()


def connect_tls(*args: Any, reactor: Optional[INetconfReactor] = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect over TLS (RFC 7589, mutual X.509); see ``ncclient.manager.connect_tls``.

    ncclient's arguments: ``host``, ``port`` (6513), ``certfile`` and ``keyfile`` (the
    client's certificate and key, PEM), ``ca_certs`` (the CAs that may sign the server's
    certificate), ``check_hostname``, ``server_hostname``, ``timeout``; ``protocol``
    defaults to ``ssl.PROTOCOL_TLS_CLIENT``. Also ``sock`` (a connected socket) and
    ``bind_addr``. Fails with ncclient's ``TLSError`` when the connection or the handshake
    fails or the server rejects our certificate, with ``NotImplementedError`` when the
    installed ncclient has no TLS transport.
    """
    return _connect_socket("tls", args, kwds, reactor)


def connect_uds(*args: Any, reactor: Optional[INetconfReactor] = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect over a Unix domain socket; see ``ncclient.manager.connect_uds``.

    ncclient's arguments: ``path`` and ``timeout``. Fails with ncclient's
    ``UnixSocketError`` when the socket cannot be connected, with ``NotImplementedError``
    when the installed ncclient has no Unix-socket transport.
    """
    return _connect_socket("uds", args, kwds, reactor)


def connect(*args: Any, reactor: Optional[INetconfReactor] = None, **kwds: Any) -> "Deferred[Manager]":
    """Connect as ``ncclient.manager.connect`` does; a Deferred of a :class:`Manager`.

    Only the SSH transport (ncclient's default) is supported here: ``use_libssh`` and
    the Junos local (``ioproc``) transport fail with ``NotImplementedError``.
    """
    return connect_ssh(*args, reactor=reactor, **kwds)
