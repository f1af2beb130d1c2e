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

import getpass
import importlib
import logging
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple, Type

from ncclient.manager import make_device_handler
from ncclient.transport.errors import SessionError, SSHError
from twisted.internet import defer, protocol
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.error import ConnectError, DNSLookupError, TimeoutError
from twisted.internet.interfaces import IStreamClientEndpoint, ITCPTransport
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.handoff import Handoff, ImmediateHandoff
from ncclient_twisted.bridge.hooks import BridgeHooks
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import resolve_reactor, runtime_for
from ncclient_twisted.manager import Manager
from ncclient_twisted.notifications import NotificationQueue
from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.subscriptions import NotificationRouter
from ncclient_twisted.transport.hooks import SessionHooks
from ncclient_twisted.transport.hostkeys import HostKeyPolicy
from ncclient_twisted.transport.keepalive import CountingSocket, DeadPeerDetector, send_keepalive
from ncclient_twisted.transport.session import (
    DEFAULT_HELLO_TIMEOUT,
    IDLE_SOCKET_TIMEOUT,
    HostResolutionError,
    QuietSocket,
    TwistedSSHSession,
    WakeOnSendSession,
    hello_settle_time,
    open_socket,
)

if TYPE_CHECKING:
    from ncclient_twisted.transport.conch import ClientTransport, HostKeyCheck

__all__ = [
    "SSHConnector",
    "ReactorSSHConnector",
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
        o = self.options
        if not o.session_kwds.get("hostkey_verify", True):
            return None
        policy = HostKeyPolicy(
            self.reactor,
            o.port,
            known_hosts=o.known_hosts,
            accept_new=o.accept_new,
            user_cb=o.unknown_host_cb,
            pinned=bool(o.session_kwds.get("hostkey_b64")),
            shutting_down=runtime_for(self.reactor).shutting_down,
        )
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
        try:
            session.connect(*o.args, **kwds)
        except BaseException:
            if opened and sock is not None:
                sock.close()
            raise
        if sock is not None:
            sock.freeze_timeout(IDLE_SOCKET_TIMEOUT)


def _socket_session_class(name: str) -> Type[WakeOnSendSession]:
    try:
        sockets = importlib.import_module("ncclient_twisted.transport.sockets")
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


class ReactorSSHConnector:
    """NETCONF over SSH on the reactor thread (``io="reactor"``): Twisted Conch, one
    socket, no thread per session (see :mod:`ncclient_twisted.transport.conch`).

    Not yet (refused by :class:`ConnectOptions` at the call): ``sock``, ``sock_fd``,
    ``ssh_config``, ``bind_addr``, ``environment``; ``allow_agent`` is ignored.
    """

    transport = "ssh"

    def __init__(self, options: ConnectOptions, reactor: Optional[INetconfReactor] = None) -> None:
        self.options = options
        self.reactor = resolve_reactor(reactor)

    def _endpoint(self, host: str, port: int, timeout: Optional[float]) -> IStreamClientEndpoint:
        t = 30.0 if timeout is None else timeout
        r: Any = self.reactor
        if isIPAddress(host):
            return TCP4ClientEndpoint(r, host, port, timeout=t)
        if isIPv6Address(host):
            return TCP6ClientEndpoint(r, host, port, timeout=t)
        return HostnameEndpoint(r, host, port, timeout=t)

    def _host_key_check(self, host: str, port: int) -> "HostKeyCheck":
        o = self.options
        kwds = o.session_kwds
        if not kwds.get("hostkey_verify", True):
            return lambda blob: succeed(True)
        policy = HostKeyPolicy(
            self.reactor,
            port,
            known_hosts=o.known_hosts,
            accept_new=o.accept_new,
            user_cb=o.unknown_host_cb,
            pinned=bool(kwds.get("hostkey_b64")),
        )
        pinned = kwds.get("hostkey_b64")

        def check(blob: bytes) -> "Deferred[bool]":
            try:
                key = paramiko_key(blob)
            except Exception as e:
                return fail(SSHError("the server's host key cannot be read: %s" % type(e).__name__))
            return policy.check_key(host, key, pinned)

        return check

    def connect(self) -> "Deferred[Manager]":
        """A Deferred of the connected :class:`Manager`; cancelling it drops the connection."""
        # Imported here: Conch's SSH client is only loaded by those who use it (old Twisted
        # releases warn on import with a newer cryptography).
        from ncclient_twisted.transport.conch import (
            ClientTransport,
            ReactorSession,
            default_key_files,
            load_private_keys,
        )

        reactor = self.reactor
        o = self.options
        kwds = o.session_kwds
        try:
            host = o.host
            if not host:
                raise SSHError("no host given")
            port = int(o.port)
            device_handler = make_device_handler(o.device_params, o.ignore_errors)
            if hasattr(device_handler, "add_additional_netconf_params"):
                device_handler.add_additional_netconf_params(o.nc_params)
            handoff = ImmediateHandoff()
            notifications = NotificationRouter(
                reactor, NotificationQueue(reactor, o.notification_buffer), o.notification_buffer, handoff
            )
            hooks = SessionHooks()
            hooks.notifications = notifications
            session = ReactorSession(device_handler, reactor, hooks)
            session.host = host
            listener = DeferredReplyListener.install(session, device_handler, reactor, handoff)
            check = self._host_key_check(host, port)
            username = kwds.get("username") or getpass.getuser()
            password = kwds.get("password")
        except Exception:
            return fail()
        timeout = kwds.get("timeout")
        ready: "Deferred[None]" = Deferred()
        connecting: List["Deferred[Any]"] = []
        transports: List["ClientTransport"] = []

        def cancel(_: Any) -> None:
            for d in connecting:
                d.cancel()
            for t in transports:
                tcp = ITCPTransport(t.transport, None)
                if tcp is not None:
                    tcp.abortConnection()

        result: "Deferred[Manager]" = Deferred(cancel)

        def keys_loaded(private_keys: List[Any]) -> "Deferred[Any]":
            def build() -> "ClientTransport":
                t = ClientTransport(session, username, password, private_keys, check, ready, reactor.seconds)
                transports.append(t)
                return t

            d = self._endpoint(host, port, timeout).connect(_Factory(build))
            connecting.append(d)
            return d.addErrback(_connect_error, host, port)

        # ncclient's bounds: the connect's timeout for the SSH handshake and for the
        # hello exchange (60 s when none is given: ncclient's hello default).
        bound = DEFAULT_HELLO_TIMEOUT if timeout is None else timeout

        def handshake_done(_: Any) -> "Deferred[Any]":
            return ready.addTimeout(bound, reactor).addErrback(
                _timed_out, SSHError, "SSH handshake with %s:%s timed out" % (host, port)
            )

        def hello_done(_: Any) -> "Deferred[Any]":
            return session.hello.addTimeout(bound, reactor).addErrback(
                _timed_out, SessionError, "Capability exchange timed out"
            )

        def settle(_: Any) -> "Deferred[Any]":
            # yuma123's netconfd may hold a request read together with the hello.
            return deferLater(reactor, hello_settle_time(session.server_capabilities), lambda: None)

        def connected(_: Any) -> Manager:
            if o.keepalive:
                t = transports[-1]
                session.start_keepalive(
                    DeadPeerDetector(
                        o.keepalive,
                        lambda: t.last_received,
                        t.send_keepalive,
                        o.keepalive_count_max,
                        now=reactor.seconds,
                        peer="%s port %s" % (host, port),
                    )
                )
            return Manager(
                session,
                device_handler,
                reactor=reactor,
                listener=listener,
                notifications=notifications,
                raise_mode=o.raise_mode,
                **o.manager_params,
            )

        key_filename = kwds.get("key_filename")
        look_for_keys = bool(kwds.get("look_for_keys", True))
        if key_filename or (look_for_keys and default_key_files()):
            # Reading (and decrypting) key files may take long: on the pool.
            loading = runtime_for(reactor).run(load_private_keys, key_filename, password, look_for_keys)
        else:
            loading = succeed([])
        connecting.append(loading)
        d = loading.addCallback(keys_loaded).addCallback(handshake_done).addCallback(hello_done)
        d.addCallback(settle).addCallback(connected)

        def deliver(r: Any) -> None:
            if isinstance(r, Failure):
                session.hello.addErrback(lambda f: None)  # if it failed too: reported here
                cancel(None)  # the connection, whatever stage it reached
                session.connection_lost(None)
                if not result.called:
                    result.errback(r)
                return
            if result.called:  # cancelled meanwhile
                r.close_session(timeout=0).addErrback(lambda f: log.debug("closing: %s", f.value))
                return
            result.callback(r)

        d.addBoth(deliver)
        return result


class _Factory(protocol.Factory):
    def __init__(self, build: Callable[[], "ClientTransport"]) -> None:
        self._build = build

    def buildProtocol(self, addr: Any) -> "ClientTransport":
        return self._build()


def _timed_out(f: Failure, error: Callable[[str], Exception], message: str) -> Failure:
    """ncclient's exception for a stage of the connect that timed out."""
    f.trap(defer.TimeoutError)
    return Failure(error(message))


def _connect_error(f: Failure, host: str, port: int) -> Failure:
    """ncclient's exceptions for a TCP connect that failed."""
    if f.check(DNSLookupError):
        return Failure(HostResolutionError(None, "Could not resolve %s: %s" % (host, f.value)))
    if f.check(ConnectError, TimeoutError):
        return Failure(SSHError("Could not open socket to %s:%s (%s)" % (host, port, f.value)))
    return f


def paramiko_key(blob: bytes) -> Any:
    """The paramiko key of an SSH public key *blob* (what the host-key policy compares)."""
    import paramiko
    from twisted.conch.ssh.common import getNS

    key_type, _ = getNS(blob)
    return paramiko.PKey.from_type_string(key_type.decode("ascii"), blob)


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
        notifications = NotificationRouter(
            reactor,
            NotificationQueue(reactor, options.notification_buffer),
            options.notification_buffer,
            handoff,
        )
    except Exception:
        return fail()

    cancelled: List[bool] = []

    def blocking_connect() -> Tuple[WakeOnSendSession, DeferredReplyListener]:
        # Built here, not on the reactor: creating a session (a thread, its locks and
        # conditions, a socket pair) costs the reactor milliseconds under load.
        hooks = BridgeHooks(runtime, notifications)
        session = session_class(device_handler, hooks)
        listener = DeferredReplyListener.install(session, device_handler, reactor, handoff)
        hooks.attach(listener)
        try:
            connector.connect_session(session)
        except BaseException:
            session.close()
            raise
        if cancelled:
            session.close()
        return session, listener

    def connected(built: Tuple[WakeOnSendSession, DeferredReplyListener]) -> Manager:
        session, listener = built
        return Manager(
            session,
            device_handler,
            reactor=reactor,
            listener=listener,
            notifications=notifications,
            raise_mode=options.raise_mode,
            **options.manager_params,
        )

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
      (this needs the socket connect opens itself: with ``sock``, ``sock_fd`` or
      ``ssh_config``, ``keepalive`` is paramiko's, as in ncclient);
    - in ``manager_params``, ``notification_buffer`` (how many notifications are kept
      before the oldest is dropped);
    - ``io``: ``"threads"`` (default: ncclient's session thread and paramiko's) or
      ``"reactor"`` (experimental: the session is a Conch protocol on the reactor thread;
      see :class:`ReactorSSHConnector` for what it does not do yet).

    Every keyword is checked at the call (:class:`~ncclient_twisted.options.ConnectOptions`):
    one that nobody takes, or a value of the wrong kind, is a failed Deferred.
    """
    try:
        options = ConnectOptions.parse("ssh", TwistedSSHSession, args, kwds)
    except Exception:
        return fail()
    if options.io == "reactor":
        return ReactorSSHConnector(options, reactor).connect()
    return SSHConnector(options, reactor).connect()


def _connect_socket(
    transport: str, args: Any, kwds: Any, reactor: Optional[INetconfReactor]
) -> "Deferred[Manager]":
    try:
        connector = SocketConnector.from_call(transport, args, kwds, reactor)
    except Exception:
        return fail()
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
