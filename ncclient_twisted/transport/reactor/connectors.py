"""The connect path of the reactor transport (``io="reactor"``): sessions that are Twisted
protocols on the reactor thread, one socket each and no thread.

:class:`ReactorConnector` is what its connectors share (the session, the handshake and
hello bounded by the connect's timeout, then the assembly's
:class:`~ncclient_twisted.manager.Manager`);
:class:`ReactorUnixConnector` is NETCONF over a Unix socket; SSH is in :mod:`.ssh_connector`,
TLS in :mod:`.tls_connector`. Each ``connect()`` is a Deferred of the same ``Manager`` the
threads transport gives, failing with ncclient's exception for the stage that failed.
Conch and pyOpenSSL are imported only when a connector of theirs is used.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Callable, List, Optional

from ncclient.transport.errors import SessionError, SSHError, UnixSocketError
from twisted.internet import defer, protocol
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    UNIXClientEndpoint,
)
from twisted.internet.error import ConnectError, DNSLookupError, TimeoutError
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from ncclient_twisted._manager import Manager
from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.assembly import Assemble, Opened, open_manager, session_parts
from ncclient_twisted.bridge.handoff import ImmediateHandoff
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import resolve_reactor, runtime_for
from ncclient_twisted.bridge.runtime_hooks import ReactorHooks
from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.transport.errors import HostResolutionError
from ncclient_twisted.transport.hello import DEFAULT_HELLO_TIMEOUT, hello_settle_time
from ncclient_twisted.transport.limits import descriptor_limit_error
from ncclient_twisted.transport.reactor.scheduler import scheduler_for
from ncclient_twisted.transport.reactor.session import ReactorSession
from ncclient_twisted.transport.reactor.transports import abort_transport

__all__ = ["ReactorUnixConnector"]


log = Logger(namespace=__name__)


def _tcp_endpoint(
    reactor: Any, host: str, port: int, timeout: float, bind_addr: Optional[str] = None
) -> IStreamClientEndpoint:
    """An IP address is connected to as it is; a name is resolved (HostnameEndpoint).
    *bind_addr* (ncclient's): the local address the socket is bound to (any port)."""
    bind = (bind_addr, 0) if bind_addr else None
    if isIPAddress(host):
        return TCP4ClientEndpoint(reactor, host, port, timeout=timeout, bindAddress=bind)
    if isIPv6Address(host):
        return TCP6ClientEndpoint(reactor, host, port, timeout=timeout, bindAddress=bind)
    return HostnameEndpoint(reactor, host, port, timeout=timeout, bindAddress=bind)


def _timed_out(f: Failure, error: Callable[[str], Exception], message: str) -> Failure:
    """ncclient's exception for a stage of the connect that timed out."""
    if not f.check(defer.TimeoutError):
        # Returned, not re-raised (f.trap): a raise would give the error a traceback
        # whose frames hold the Failure, a cycle that keeps the whole failed session.
        return f
    return Failure(error(message))


class ReactorConnector:
    """The connect path the reactor connectors share: the session and its listeners, the
    connection (:meth:`_open`, the transport's), the handshake and hello bounded by the
    connect's timeout, then the :class:`Manager`."""

    #: ncclient's exception for this transport's failures.
    error: Callable[[str], Exception] = SSHError
    #: What :meth:`_open`'s protocols are: their ``transport`` is aborted on failure.
    _protocols: List[Any]
    #: The factories :meth:`_open` made (see :meth:`_factory`).
    _factories: List["_Factory"]

    def __init__(self, options: ConnectOptions, reactor: Optional[INetconfReactor] = None) -> None:
        self.options = options
        self.reactor = resolve_reactor(reactor)

    @property
    def _timeout(self) -> float:
        timeout = self.options.timeout
        return DEFAULT_HELLO_TIMEOUT if timeout is None else timeout

    def _describe(self) -> str:
        return "the server"

    def _open(self, session: "ReactorSession", ready: "Deferred[None]") -> "Deferred[Any]":
        """Connect and start the stream or channel *session* runs on; *ready* fires once it
        can carry NETCONF (the TLS or SSH handshake done)."""
        raise NotImplementedError

    def _started(self, session: "ReactorSession") -> None:
        """After the hello: what the transport starts then (keepalives)."""

    def _factory(self, build: Callable[[], protocol.Protocol]) -> "_Factory":
        """The protocol factory of :meth:`_open`: *build* makes its protocol."""
        factory = _Factory(build, self._protocols)
        self._factories.append(factory)
        return factory

    def _forget(self, _: Any = None) -> None:
        """The session has ended: the factories and this connector let go of it and of its
        protocols (nothing is left to abort)."""
        factories, self._factories = self._factories, []
        for factory in factories:
            factory.forget()
        del self._protocols[:]

    def connect(self) -> "Deferred[Manager]":
        """A Deferred of the connected :class:`Manager`; cancelling it drops the connection."""
        return open_manager(self)

    def open(self, assemble: Assemble) -> "Deferred[Manager]":
        """The session, connected and handed to *assemble*; cancelling the Deferred drops
        the connection.

        At most the pool's size of connects are in progress at once (see
        :class:`~ncclient_twisted.bridge.slots.ConnectSlots`), and each one's setup (its
        session, its socket) is reactor work like any other, done within the work budget
        (``WorkScheduler.call``): a caller's burst of a thousand connects costs the
        reactor little at the call. Neither wait counts in the connect's timeout.
        """
        aborts: List[Callable[[], None]] = []
        slot = runtime_for(self.reactor).connect_slots.acquire()

        #: Set while cancelling: what the aborts make fail (ConnectingCancelledError...)
        #: is not reported, the Deferred fails with CancelledError once they are done.
        cancelling: List[bool] = []

        def cancel(_: Any) -> None:
            cancelling.append(True)
            if not slot.called:
                slot.cancel()  # still waiting for a slot: its place is given up
            for abort in aborts:
                abort()

        result: "Deferred[Manager]" = Deferred(cancel)

        def granted(release: Callable[[], None]) -> None:
            def begin() -> None:
                if result.called:  # cancelled meanwhile
                    release()
                    return
                try:
                    self._begin(assemble, result, release, aborts, cancelling)
                except Exception:
                    release()
                    if not result.called:
                        result.errback(Failure())

            scheduler_for(self.reactor).call(begin)

        slot.addCallbacks(granted, lambda f: None)  # failed: cancelled while waiting
        return result

    def _begin(
        self,
        assemble: Assemble,
        result: "Deferred[Manager]",
        release: Callable[[], None],
        aborts: List[Callable[[], None]],
        cancelling: List[bool],
    ) -> None:
        """Make the session and open its connection; *result* fires with the manager, or
        fails with ncclient's exception for the stage that failed."""
        reactor = self.reactor
        o = self.options
        self._protocols = []
        self._factories = []
        connecting: List["Deferred[Any]"] = []
        handoff = ImmediateHandoff(reactor)
        device_handler, notifications = session_parts(o, reactor, handoff)
        hooks = ReactorHooks(runtime_for(reactor), notifications)
        hooks.max_message_size = o.max_message_size
        session = ReactorSession(device_handler, reactor, hooks)
        session.host = o.host
        listener = DeferredReplyListener.install(session, device_handler, reactor, handoff)
        session.add_end_callback(self._forget)

        def abort() -> None:
            for d in connecting:
                try:
                    d.cancel()
                except Exception as e:  # an older Twisted's connector that is no longer connecting
                    log.debug("cancelling a connect: {error!r}", error=e)
            for p in self._protocols:
                abort_transport(p.transport)

        aborts.append(abort)
        ready: "Deferred[None]" = Deferred()

        # (The bound is read once the connection is open: ssh_config may set it.)
        def handshake_done(_: Any) -> "Deferred[Any]":
            return ready.addTimeout(self._timeout, reactor).addErrback(
                _timed_out, self.error, "Handshake with %s timed out" % self._describe()
            )

        def hello_done(_: Any) -> "Deferred[Any]":
            return session.hello.addTimeout(self._timeout, reactor).addErrback(
                _timed_out, SessionError, "Capability exchange timed out"
            )

        def settle(_: Any) -> "Deferred[Any]":
            # yuma123's netconfd may hold a request read together with the hello.
            return deferLater(reactor, hello_settle_time(session.server_capabilities), lambda: None)

        def connected(_: Any) -> Manager:
            self._started(session)
            return assemble(Opened(session, device_handler, listener, notifications))

        opening = self._open(session, ready)
        connecting.append(opening)
        d = opening.addCallback(handshake_done).addCallback(hello_done)
        d.addCallback(settle).addCallback(connected)

        def deliver(r: Any) -> None:
            release()
            if isinstance(r, Failure):
                session.hello.addErrback(lambda f: None)  # if it failed too: reported here
                abort()  # the connection, whatever stage it reached
                session.connection_lost(None)
                if not result.called and not cancelling:
                    result.errback(r)
                return
            if result.called:  # cancelled meanwhile
                r.close_session(timeout=0).addErrback(lambda f: log.debug("closing: {error}", error=f.value))
                return
            result.callback(r)

        d.addBoth(deliver)


class _Factory(protocol.Factory):
    noisy = False  # no "Starting factory" line per connection

    def __init__(self, build: Callable[[], protocol.Protocol], made: List[Any]) -> None:
        self._build: Optional[Callable[[], protocol.Protocol]] = build
        self._made = made

    def buildProtocol(self, addr: Any) -> Optional[protocol.Protocol]:
        build = self._build
        if build is None:
            return None  # the session has ended (a late connection attempt): refused
        p = build()
        self._made.append(p)
        return p

    def forget(self) -> None:
        """The session has ended: drop what refers to it (*build* holds the session; the
        protocols hold it). Twisted's connector and its transport keep this factory in
        a cycle of theirs, which would otherwise keep the whole session."""
        self._build = None
        del self._made[:]


class ReactorUnixConnector(ReactorConnector):
    """NETCONF over a Unix socket: ncclient's ``connect_uds`` arguments (``path``,
    ``timeout``)."""

    transport = "uds"
    error = UnixSocketError

    def _describe(self) -> str:
        return repr(self.options.uds.path)

    def _open(self, session: "ReactorSession", ready: "Deferred[None]") -> "Deferred[Any]":
        from ncclient_twisted.transport.reactor.stream import NetconfStreamProtocol

        path = self.options.uds.path
        if not path:
            return fail(UnixSocketError("Missing socket path"))
        endpoint = UNIXClientEndpoint(self.reactor, path, timeout=self._timeout)
        factory = self._factory(lambda: NetconfStreamProtocol(session, ready, UnixSocketError))

        def refused(f: Failure) -> Failure:
            if not f.check(ConnectError):
                return f  # not re-raised: see _timed_out
            return Failure(UnixSocketError("Could not connect to %r: %s" % (path, f.value)))

        return endpoint.connect(factory).addErrback(refused)


def _adopt(reactor: Any, sock: socket.socket, factory: Any) -> "Deferred[None]":
    """Run *factory*'s protocol on the connected *sock* (the reactor takes a duplicate of
    its descriptor; ours is closed, without the shutdown a ``QuietSocket`` would do)."""
    try:
        reactor.adoptStreamConnection(sock.fileno(), sock.family, factory)
    except Exception:
        return fail()
    finally:
        socket.socket.close(sock)
    return succeed(None)


def _socket_from_fd(fd: Any) -> socket.socket:
    """ncclient's ``sock_fd``: a socket on a duplicate of the connected descriptor *fd*
    (the caller's stays open, as with ncclient's ``socket.fromfd``), of the family *fd*
    has (ncclient assumes IPv4)."""
    duplicate = os.dup(int(fd))
    try:
        return socket.socket(fileno=duplicate)
    except BaseException:
        os.close(duplicate)
        raise


def _peer_host(sock: socket.socket) -> Optional[str]:
    """The IP address *sock* is connected to (None for a Unix socket, or unconnected)."""
    try:
        peer = sock.getpeername()
    except OSError:
        return None
    return str(peer[0]) if isinstance(peer, tuple) else None


def _connect_error(f: Failure, host: str, port: int, error: Callable[[str], Exception] = SSHError) -> Failure:
    """ncclient's exceptions for a TCP connect that failed."""
    limit = descriptor_limit_error(getattr(f.value, "osError", None) or f.value, "reactor")
    if limit is not None:
        return Failure(limit)
    if f.check(DNSLookupError):
        # Twisted's resolver keeps no reason; getaddrinfo's for a name with no address
        # (EAI_NONAME) is what OpenSSH prints, and what the threads transport gives.
        return Failure(HostResolutionError.of(host, socket.EAI_NONAME, "Name or service not known"))
    if f.check(TimeoutError):  # the connect's timeout: said as the threads transport says it
        return Failure(error("Could not open socket to %s:%s (timed out)" % (host, port)))
    if f.check(ConnectError):
        return Failure(error("Could not open socket to %s:%s (%s)" % (host, port, f.value)))
    return f
