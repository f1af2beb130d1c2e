"""The connectors of the reactor transport (``io="reactor"``): sessions that are Twisted
protocols on the reactor thread, one socket each and no thread.

- :class:`ReactorSSHConnector`: NETCONF over SSH with Twisted Conch;
- :class:`ReactorTLSConnector`: NETCONF over TLS (RFC 7589, mutual X.509) with Twisted's
  TLS (``twisted[tls]``, that is pyOpenSSL);
- :class:`ReactorUnixConnector`: NETCONF over a Unix socket.

Each ``connect()`` is a Deferred of the same :class:`~ncclient_twisted.manager.Manager`
the threads transport gives, failing with ncclient's exception for the stage that failed.
Conch and pyOpenSSL are imported only when a connector of theirs is used.
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import socket
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from ncclient.manager import make_device_handler
from ncclient.transport.errors import SessionError, SSHError, TLSError, UnixSocketError
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
from twisted.python.failure import Failure

from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.handoff import ImmediateHandoff
from ncclient_twisted.bridge.hooks import ReactorHooks
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import resolve_reactor, runtime_for
from ncclient_twisted.manager import Manager
from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.transport.hostkeys import HostKeyPolicy
from ncclient_twisted.transport.keepalive import DeadPeerDetector
from ncclient_twisted.transport.limits import descriptor_limit_error
from ncclient_twisted.transport.threads.connectors import host_key_policy, new_manager, new_router
from ncclient_twisted.transport.threads.session import (
    DEFAULT_HELLO_TIMEOUT,
    HostResolutionError,
    hello_settle_time,
)

if TYPE_CHECKING:
    from ncclient_twisted.transport.reactor.ssh import (
        ClientTransport,
        HostKeyCheck,
        InteractiveHandler,
        ReactorSession,
    )
    from ncclient_twisted.transport.sshconfig import SSHConfigEntry

__all__ = ["ReactorSSHConnector", "ReactorTLSConnector", "ReactorUnixConnector"]

log = logging.getLogger("ncclient_twisted.manager")


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
    f.trap(defer.TimeoutError)
    return Failure(error(message))


class _ReactorConnector:
    """The connect path the reactor connectors share: the session and its listeners, the
    connection (:meth:`_open`, the transport's), the handshake and hello bounded by the
    connect's timeout, then the :class:`Manager`."""

    #: ncclient's exception for this transport's failures.
    error: Callable[[str], Exception] = SSHError
    #: What :meth:`_open`'s protocols are: their ``transport`` is aborted on failure.
    _protocols: List[Any]

    def __init__(self, options: ConnectOptions, reactor: Optional[INetconfReactor] = None) -> None:
        self.options = options
        self.reactor = resolve_reactor(reactor)

    @property
    def _timeout(self) -> float:
        timeout = self.options.session_kwds.get("timeout")
        return DEFAULT_HELLO_TIMEOUT if timeout is None else float(timeout)

    def _describe(self) -> str:
        return "the server"

    def _open(self, session: "ReactorSession", ready: "Deferred[None]") -> "Deferred[Any]":
        """Connect and start the stream or channel *session* runs on; *ready* fires once it
        can carry NETCONF (the TLS or SSH handshake done)."""
        raise NotImplementedError

    def _started(self, session: "ReactorSession") -> None:
        """After the hello: what the transport starts then (keepalives)."""

    def connect(self) -> "Deferred[Manager]":
        """A Deferred of the connected :class:`Manager`; cancelling it drops the connection.

        At most the pool's size of connects are in progress at once (see
        :class:`~ncclient_twisted.bridge.slots.ConnectSlots`), and each one's setup (its
        session, its socket) is reactor work like any other, done within the work budget
        (``WorkScheduler.call``): a caller's burst of a thousand connects costs the
        reactor little at the call. Neither wait counts in the connect's timeout.
        """
        from ncclient_twisted.transport.reactor.ssh import scheduler_for

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
                    self._begin(result, release, aborts, cancelling)
                except Exception:
                    release()
                    if not result.called:
                        result.errback(Failure())

            scheduler_for(self.reactor).call(begin)

        slot.addCallbacks(granted, lambda f: None)  # failed: cancelled while waiting
        return result

    def _begin(
        self,
        result: "Deferred[Manager]",
        release: Callable[[], None],
        aborts: List[Callable[[], None]],
        cancelling: List[bool],
    ) -> None:
        """Make the session and open its connection; *result* fires with the manager, or
        fails with ncclient's exception for the stage that failed."""
        from ncclient_twisted.transport.reactor.ssh import ReactorSession, abort_transport

        reactor = self.reactor
        o = self.options
        self._protocols = []
        connecting: List["Deferred[Any]"] = []
        device_handler = make_device_handler(o.device_params, o.ignore_errors)
        if hasattr(device_handler, "add_additional_netconf_params"):
            device_handler.add_additional_netconf_params(o.nc_params)
        handoff = ImmediateHandoff(reactor)
        notifications = new_router(reactor, o, handoff)
        hooks = ReactorHooks(runtime_for(reactor), notifications)
        hooks.max_message_size = o.max_message_size
        session = ReactorSession(device_handler, reactor, hooks)
        session.host = o.host
        listener = DeferredReplyListener.install(session, device_handler, reactor, handoff)

        def abort() -> None:
            for d in connecting:
                try:
                    d.cancel()
                except Exception:  # an older Twisted's connector that is no longer connecting
                    log.debug("cancelling a connect", exc_info=True)
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
            return new_manager(session, device_handler, reactor, listener, notifications, o)

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
                r.close_session(timeout=0).addErrback(lambda f: log.debug("closing: %s", f.value))
                return
            result.callback(r)

        d.addBoth(deliver)


class _Factory(protocol.Factory):
    def __init__(self, build: Callable[[], protocol.Protocol], made: List[Any]) -> None:
        self._build = build
        self._made = made

    def buildProtocol(self, addr: Any) -> protocol.Protocol:
        p = self._build()
        self._made.append(p)
        return p


class _PolicyCheck:
    """The host key check of one connect through *policy*; ``key_types``: those known
    for the host (read now), which the transport negotiates first."""

    def __init__(
        self, policy: HostKeyPolicy, host: str, pinned: Optional[str], known_hosts_file: Optional[str]
    ) -> None:
        self._policy = policy
        self._host = host
        self._pinned = pinned
        self._known_hosts_file = known_hosts_file
        self.key_types = policy.known_key_types(host, pinned, known_hosts_file)

    def __call__(self, blob: bytes) -> "Deferred[bool]":
        try:
            key = paramiko_key(blob)
        except Exception as e:
            return fail(SSHError("the server's host key cannot be read: %s" % type(e).__name__))
        return self._policy.check_key(self._host, key, self._pinned, self._known_hosts_file)


class ReactorSSHConnector(_ReactorConnector):
    """NETCONF over SSH: Twisted Conch (see :mod:`ncclient_twisted.transport.reactor.ssh`).

    ``sock`` (a connected socket: call home) is adopted by the reactor, and so is a
    duplicate of ``sock_fd`` (a connected socket's descriptor, which stays the caller's);
    without a ``host``, the host key is looked up under the peer's address. ``allow_agent``
    (default true, as in ncclient) offers the keys of the agent at ``$SSH_AUTH_SOCK``.
    ``bind_addr`` binds the socket to that local address; ``environment`` is sent as
    ``env`` requests before the subsystem request, and a server may refuse them silently
    (see :class:`~ncclient_twisted.transport.reactor.ssh.NetconfChannel`). ``ssh_config`` (a
    path, or ``True``: ``~/.ssh/config``) is read on the pool, and what ncclient takes
    from the host's entry applies (see :mod:`ncclient_twisted.transport.sshconfig`),
    except a ``ProxyCommand``: the connect fails with ``NotImplementedError`` (it needs a
    subprocess as the transport; ``io="threads"`` runs it).
    """

    transport = "ssh"
    error = SSHError
    #: ssh_config's ``ConnectTimeout``, once read (it applies without a ``timeout``).
    _config_timeout: Optional[int] = None

    @property
    def _timeout(self) -> float:
        if self.options.session_kwds.get("timeout") is None and self._config_timeout:
            return float(self._config_timeout)
        return super()._timeout

    def _describe(self) -> str:
        return "%s:%s" % (self.options.host, self.options.port)

    def _host_key_check(self, host: str, port: int, known_hosts_file: Optional[str] = None) -> "HostKeyCheck":
        o = self.options
        kwds = o.session_kwds
        policy = host_key_policy(self.reactor, o, port)
        if policy is None:
            return lambda blob: succeed(True)
        pinned = kwds.get("hostkey_b64")

        return _PolicyCheck(policy, host, pinned, known_hosts_file)

    def _open(self, session: "ReactorSession", ready: "Deferred[None]") -> "Deferred[Any]":
        o = self.options
        kwds = o.session_kwds
        if not (o.host or kwds.get("sock") is not None or kwds.get("sock_fd") is not None):
            return fail(SSHError("Missing host, socket or socket fd"))
        ssh_config = kwds.get("ssh_config")
        if ssh_config is None or ssh_config is False:
            return self._connect(session, ready, None)
        from ncclient_twisted.transport.sshconfig import read_ssh_config

        # Reading the file blocks (and paramiko's lookup may run a Match exec command or
        # resolve names to canonicalize one): on the pool, as key files are.
        reading = runtime_for(self.reactor).run(read_ssh_config, ssh_config, o.host)
        return reading.addCallback(lambda entry: self._connect(session, ready, entry))

    def _connect(
        self, session: "ReactorSession", ready: "Deferred[None]", config: "Optional[SSHConfigEntry]"
    ) -> "Deferred[Any]":
        """Load the keys, connect (or adopt the socket given) and start SSH, with what
        *config* (ssh_config's entry for the host, if any) says as ncclient applies it."""
        from ncclient_twisted.transport.reactor.ssh import (
            ClientTransport,
            connect_agent,
            default_key_files,
            load_private_keys,
        )

        o = self.options
        kwds = o.session_kwds
        host = o.host
        username = kwds.get("username")
        key_filename = kwds.get("key_filename")
        config_key_files: Sequence[str] = ()
        known_hosts_file: Optional[str] = None
        compression = False
        if config is not None:
            if config.has_proxy_command and kwds.get("sock") is None and kwds.get("sock_fd") is None:
                return fail(
                    NotImplementedError(
                        "the ssh_config entry of %s has a ProxyCommand, which io='reactor' does not "
                        "run (it needs a subprocess as the connection); use io='threads'" % host
                    )
                )
            host = config.hostname or host
            username = username or config.user
            if key_filename is None:
                config_key_files = config.identity_files
            self._config_timeout = config.connect_timeout
            known_hosts_file = config.user_known_hosts_file
            compression = config.compression
        port = int(o.port)
        username = username or getpass.getuser()
        password = kwds.get("password")
        reactor: Any = self.reactor

        agent_path = os.environ.get("SSH_AUTH_SOCK") if kwds.get("allow_agent", True) else None
        agent: List[Any] = [None]

        environment = environment_requests(kwds.get("environment"))
        auth_handler = interactive_handler(reactor, kwds.get("auth_handler"))

        def keys_loaded(private_keys: List[Any]) -> "Deferred[Any]":
            sock: Optional[socket.socket] = kwds.get("sock")  # call home: the connection accepted
            if sock is None and kwds.get("sock_fd") is not None:
                try:
                    sock = _socket_from_fd(kwds["sock_fd"])
                except Exception:
                    return fail()
            # Without a host (a socket given), host keys are filed under the peer's address.
            peer = _peer_host(sock) if sock is not None and not host else None
            check = self._host_key_check(host or peer or "", port, known_hosts_file)

            def build() -> "ClientTransport":
                return ClientTransport(
                    session,
                    username,
                    password,
                    private_keys,
                    check,
                    ready,
                    reactor.seconds,
                    agent[0],
                    environment,
                    compression,
                    auth_handler,
                )

            factory = _Factory(build, self._protocols)
            if sock is not None:
                return _adopt(reactor, sock, factory)
            endpoint = _tcp_endpoint(reactor, host, port, self._timeout, kwds.get("bind_addr"))
            return endpoint.connect(factory).addErrback(_connect_error, host, port)

        look_for_keys = bool(kwds.get("look_for_keys", True))
        if key_filename or config_key_files or (look_for_keys and default_key_files()):
            # Reading (and decrypting) key files may take long: on the pool.
            loading = runtime_for(self.reactor).run(
                load_private_keys, key_filename, password, look_for_keys, config_key_files
            )
        else:
            loading = succeed([])
        if agent_path:
            path = agent_path

            def with_agent(keys: List[Any]) -> "Deferred[List[Any]]":
                def found(connected: Any) -> List[Any]:
                    agent[0] = connected
                    return keys

                return connect_agent(reactor, path).addCallback(found)

            loading.addCallback(with_agent)
        return loading.addCallback(keys_loaded)

    def _started(self, session: "ReactorSession") -> None:
        o = self.options
        if not o.keepalive:
            return
        t: "ClientTransport" = self._protocols[-1]
        session.start_keepalive(
            DeadPeerDetector(
                o.keepalive,
                lambda: t.last_received,
                t.send_keepalive,
                o.keepalive_count_max,
                now=self.reactor.seconds,
                peer="%s port %s" % (o.host, o.port),
            )
        )


class ReactorTLSConnector(_ReactorConnector):
    """NETCONF over TLS (RFC 7589): ncclient's ``connect_tls`` arguments (``host``,
    ``port``, ``certfile``, ``keyfile``, ``ca_certs``, ``check_hostname``,
    ``server_hostname``, ``timeout``, ``protocol``: see :func:`tls_versions`; ``bind_addr``
    as on the threads transport) with Twisted's TLS, which needs ``twisted[tls]``."""

    transport = "tls"
    error = TLSError

    def _describe(self) -> str:
        return "%s:%s" % (self.options.host, self.options.session_kwds.get("port", 6513))

    def _tls_options(self) -> Any:
        kwds = self.options.session_kwds
        try:
            from twisted.internet import ssl
        except ImportError as e:  # pragma: no cover - twisted[tls] is in the test extra
            raise NotImplementedError("io='reactor' over TLS needs twisted[tls] (pyOpenSSL): %s" % e) from e
        certfile, keyfile, ca_certs = kwds.get("certfile"), kwds.get("keyfile"), kwds.get("ca_certs")
        if not certfile:
            raise TLSError("Missing client certificate file")
        try:
            cert_pem = open(certfile, "rb").read()
            key_pem = open(keyfile, "rb").read() if keyfile else cert_pem
            client = ssl.PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem)
        except OSError:
            raise TLSError("Private key / certificate pair not found") from None
        except Exception:
            raise TLSError("Bad client private key / certificate pair") from None
        if ca_certs:
            try:
                pems = open(ca_certs, "rb").read()
            except OSError:
                raise TLSError("CA certificate file not found") from None
            try:
                trust = ssl.trustRootFromCertificates(
                    [ssl.Certificate.loadPEM(b"-----BEGIN CERTIFICATE-----" + part)
                     for part in pems.split(b"-----BEGIN CERTIFICATE-----")[1:]]
                )  # fmt: skip
            except Exception:
                raise TLSError("Bad Certification Authority file") from None
        else:
            trust = ssl.platformTrust()
        versions = tls_versions(kwds.get("protocol"))
        if kwds.get("check_hostname", True):
            name = kwds.get("server_hostname") or self.options.host
            return ssl.optionsForClientTLS(
                name, trustRoot=trust, clientCertificate=client, extraCertificateOptions=versions
            )
        return ssl.CertificateOptions(
            privateKey=client.privateKey.original, certificate=client.original, trustRoot=trust, **versions
        )

    def _open(self, session: "ReactorSession", ready: "Deferred[None]") -> "Deferred[Any]":
        from twisted.internet.endpoints import wrapClientTLS

        from ncclient_twisted.transport.reactor.ssh import NetconfStreamProtocol

        o = self.options
        host = o.host
        if not host:
            return fail(TLSError("Missing host"))
        port = int(o.session_kwds.get("port") or 6513)
        try:
            options = self._tls_options()
        except Exception:
            return fail()
        factory = _Factory(lambda: NetconfStreamProtocol(session, ready, TLSError), self._protocols)
        if o.session_kwds.get("sock") is not None:  # call home: the connection accepted
            from twisted.protocols.tls import TLSMemoryBIOFactory

            tls = TLSMemoryBIOFactory(options, True, factory)
            return _adopt(self.reactor, o.session_kwds["sock"], tls)
        tcp = _tcp_endpoint(self.reactor, host, port, self._timeout, o.session_kwds.get("bind_addr"))
        endpoint = wrapClientTLS(options, tcp)
        return endpoint.connect(factory).addErrback(_connect_error, host, port, TLSError)


class ReactorUnixConnector(_ReactorConnector):
    """NETCONF over a Unix socket: ncclient's ``connect_uds`` arguments (``path``,
    ``timeout``)."""

    transport = "uds"
    error = UnixSocketError

    def _describe(self) -> str:
        return repr(self.options.session_kwds.get("path"))

    def _open(self, session: "ReactorSession", ready: "Deferred[None]") -> "Deferred[Any]":
        from ncclient_twisted.transport.reactor.ssh import NetconfStreamProtocol

        path = self.options.session_kwds.get("path") or (self.options.args[0] if self.options.args else None)
        if not path:
            return fail(UnixSocketError("Missing socket path"))
        endpoint = UNIXClientEndpoint(self.reactor, path, timeout=self._timeout)
        factory = _Factory(lambda: NetconfStreamProtocol(session, ready, UnixSocketError), self._protocols)

        def refused(f: Failure) -> Failure:
            f.trap(ConnectError)
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
        return Failure(HostResolutionError(None, "Could not resolve %s: %s" % (host, f.value)))
    if f.check(TimeoutError):  # the connect's timeout: said as the threads transport says it
        return Failure(error("Could not open socket to %s:%s (timed out)" % (host, port)))
    if f.check(ConnectError):
        return Failure(error("Could not open socket to %s:%s (%s)" % (host, port, f.value)))
    return f


def tls_versions(protocol: Any) -> Dict[str, Any]:
    """ncclient's TLS ``protocol`` (the ``ssl.PROTOCOL_*`` constant its ``SSLContext`` is
    made with) as the TLS versions Twisted's ``CertificateOptions`` allow.

    ``PROTOCOL_TLS_CLIENT`` (the threads transport's default), ``PROTOCOL_TLS`` and
    ``None``: Twisted's defaults, TLS 1.2 and up, as Python's (its context's minimum is
    TLS 1.2). ``PROTOCOL_TLSv1``, ``PROTOCOL_TLSv1_1``, ``PROTOCOL_TLSv1_2``: that version
    only (OpenSSL may refuse the older ones, on either transport). ``PROTOCOL_TLS_SERVER``
    is ``TLSError`` (a client cannot handshake with it: the threads transport's handshake
    fails), anything else ``ValueError`` (as ``ssl.SSLContext`` raises).
    """
    import ssl

    from twisted.internet.ssl import TLSVersion

    if protocol is None or protocol in (ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS):
        return {}
    for name, version in (
        ("PROTOCOL_TLSv1", TLSVersion.TLSv1_0),
        ("PROTOCOL_TLSv1_1", TLSVersion.TLSv1_1),
        ("PROTOCOL_TLSv1_2", TLSVersion.TLSv1_2),
    ):
        constant = getattr(ssl, name, None)
        if constant is not None and protocol == constant:
            newest = version
            if _maximum_is_excluded():  # older Twisted: the one after it is the bound
                versions = list(TLSVersion.iterconstants())
                newest = versions[versions.index(version) + 1]
            return {"insecurelyLowerMinimumTo": version, "lowerMaximumSecurityTo": newest}
    if protocol == ssl.PROTOCOL_TLS_SERVER:
        raise TLSError("protocol PROTOCOL_TLS_SERVER is for servers; a client uses PROTOCOL_TLS_CLIENT")
    raise ValueError("protocol must be one of ssl's PROTOCOL_* constants for a client, not %r" % (protocol,))


@functools.lru_cache(maxsize=1)
def _maximum_is_excluded() -> bool:
    """Whether this Twisted's ``lowerMaximumSecurityTo`` excludes the version it names
    (Twisted 22.10 does: TLS 1.2 as the maximum allowed no version at all), seen in the
    options of a context it makes."""
    from OpenSSL import SSL
    from twisted.internet.ssl import CertificateOptions, TLSVersion

    context = CertificateOptions(lowerMaximumSecurityTo=TLSVersion.TLSv1_2).getContext()
    return bool(context.set_options(0) & SSL.OP_NO_TLSv1_2)  # set_options returns them


def interactive_handler(reactor: Any, handler: Any) -> "Optional[InteractiveHandler]":
    """ncclient's ``auth_handler(title, instructions, prompt_list) -> answers`` (as paramiko's
    ``auth_interactive`` calls it), run on the pool as ncclient runs it in the connecting
    thread: it may block (read a terminal, fetch a one-time password)."""
    if handler is None:
        return None
    runtime = runtime_for(reactor)

    def answer(title: str, instructions: str, prompts: List[Tuple[str, bool]]) -> "Deferred[List[str]]":
        d: "Deferred[List[str]]" = runtime.run(handler, title, instructions, prompts)
        return d

    return answer


def environment_requests(environment: Any) -> List[Tuple[bytes, bytes]]:
    """ncclient's ``environment`` (names and values, text or bytes; checked by
    :class:`ConnectOptions`) as the (name, value) pairs of SSH ``env`` requests, text
    encoded as UTF-8 as paramiko does."""

    def encoded(text: Any) -> bytes:
        return text if isinstance(text, bytes) else str(text).encode("utf-8")

    return [(encoded(k), encoded(v)) for k, v in (environment or {}).items()]


def paramiko_key(blob: bytes) -> Any:
    """The paramiko key of an SSH public key *blob* (what the host-key policy compares)."""
    import paramiko
    from twisted.conch.ssh.common import getNS

    key_type, _ = getNS(blob)
    return paramiko.PKey.from_type_string(key_type.decode("ascii"), blob)
