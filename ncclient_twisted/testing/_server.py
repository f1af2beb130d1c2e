# Twisted Conch is only partly annotated:
# mypy: allow-untyped-calls
"""
The test server object: listening, stopping, its host key, the keyword arguments a
client connects with, and its sessions, data and notifications for tests.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence

from lxml import etree
from twisted.internet.defer import Deferred, DeferredList, fail, maybeDeferred, succeed
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import IDelayedCall, IReactorTCP, IReactorTime, IReactorUNIX
from twisted.python.failure import Failure

from ._capabilities import Options
from ._certificates import Certificates
from ._connections import Connections
from ._datastore import root_from_xml
from ._faults import Faults
from ._framing import DEFAULT_MAX_CHUNK
from ._host import ServerCore
from ._keys import (
    AuthorizedKeyInput,
    HostKeyInput,
    fingerprint_md5,
    fingerprint_sha256,
    load_host_key,
    public_b64,
)
from ._notifications import ChangedBy, EventTime, NotificationHub, config_change
from ._operations import RpcHandler
from ._schemas import SchemaInput
from ._session import Session
from ._ssh import build_factory
from ._stream import NetconfStreamFactory, tls_factory
from ._xml import XmlInput

#: Seconds :meth:`NetconfServer.stop` waits for a clean SSH disconnect
#: before aborting a connection.
STOP_GRACE = 2.0
#: Seconds :meth:`NetconfServer.call_home` waits for the TCP connection.
CALL_HOME_TIMEOUT = 10.0
#: The transports a server can call home with.
CALL_HOME_TRANSPORTS = ("ssh", "tls")


class NetconfServer:
    """
    A NETCONF server over SSH (and TLS, and a Unix socket) on the loopback
    interface, for tests.

    Create and start one with :func:`serve`; stop it with :meth:`stop`.

    :ivar host: the address it listens on.
    :ivar port: the TCP port it listens on for SSH (chosen by the OS by default).
    :ivar tls_port: the TCP port it listens on for TLS (None without ``tls``).
    :ivar unix_socket: the path of its Unix socket (None without one).
    :ivar users: username to password mapping.
    :ivar faults: faults applying to every session (see :class:`Fault`).
    :ivar clock: the clock used for confirmed-commit timeouts, fault delays
        and notification times.
    :ivar capabilities: the capability URIs of the server ``<hello>``.

    ``NetconfServer(reactor, **options)`` takes the keyword arguments of
    :func:`serve` (which documents them) and does not listen until
    :meth:`start`.
    """

    def __init__(
        self,
        reactor: IReactorTCP,
        *,
        users: Optional[Mapping[str, str]] = None,
        authorized_keys: Optional[Mapping[str, Iterable[AuthorizedKeyInput]]] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        host_key: Optional[HostKeyInput] = None,
        config: Optional[XmlInput] = None,
        state: Optional[XmlInput] = None,
        base_versions: Sequence[str] = ("1.0", "1.1"),
        writable_running: bool = True,
        candidate: bool = True,
        startup: bool = True,
        extra_capabilities: Iterable[str] = (),
        max_chunk_size: int = DEFAULT_MAX_CHUNK,
        clock: Optional[IReactorTime] = None,
        handlers: Optional[Mapping[str, RpcHandler]] = None,
        replay_log_size: int = 1000,
        interleave: bool = True,
        tls: Optional[Certificates] = None,
        tls_port: Optional[int] = 0,
        unix_socket: Optional[str] = None,
        schemas: Optional[Mapping[str, SchemaInput]] = None,
        xpath_local_names: bool = True,
    ) -> None:
        # The one definition of the server's options: serve() takes the same
        # keywords (it forwards them here) and documents them.
        if max_chunk_size < 1:
            raise ValueError("max_chunk_size must be positive")
        self._reactor = reactor
        self.host = host
        self.port = port
        self.users: Mapping[str, str] = dict(users) if users is not None else {"admin": "admin"}
        self._authorized_keys = {u: list(k) for u, k in (authorized_keys or {}).items()}
        self._host_key = load_host_key(host_key)
        self.clock: IReactorTime = clock if clock is not None else IReactorTime(reactor)
        self.faults = Faults()
        self._core = ServerCore(
            clock=self.clock,
            options=Options(
                base_versions=base_versions,
                writable_running=writable_running,
                candidate=candidate,
                startup=startup,
                extra_capabilities=extra_capabilities,
                interleave=interleave,
                schemas=schemas,
                xpath_local_names=xpath_local_names,
            ),
            max_chunk_size=max_chunk_size,
            faults=self.faults,
            hub=NotificationHub(self.clock, replay_log_size),
            handlers=handlers,
            config=config,
            state=state,
        )
        self.capabilities: List[str] = list(self._core.capabilities)
        self._tls = tls
        self.tls_port = tls_port if tls is not None else None
        self.unix_socket = unix_socket
        self._ports: List[Any] = []  # IListeningPort
        self._ssh_factory: Any = None
        self._tls_factory: Any = None
        self._connections = Connections()
        self._stopped: Optional["Deferred[None]"] = None
        self._stop_result: Optional[List["Deferred[None]"]] = None

    def __repr__(self) -> str:
        return "<NetconfServer %s:%d sessions=%d>" % (self.host, self.port, len(self._core.sessions))

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> "Deferred[NetconfServer]":
        """Start listening; fires with the server once it accepts connections."""
        if self._ports:
            return succeed(self)
        self._ssh_factory = factory = build_factory(
            reactor=IReactorTime(self._reactor),
            host_key=self._host_key,
            users=self.users,
            authorized_keys=self._authorized_keys,
            opener=self._core.open_session,
            on_made=self._connections.made,
            on_lost=self._connections.lost,
        )
        try:
            if self._tls is not None:
                self._tls_factory = tls_factory(self._tls, self._stream_factory(tls=True))
            port = self._listen_tcp(self.port, factory)
            self.port = port.getHost().port
            if self._tls_factory is not None:
                port = self._listen_tcp(self.tls_port or 0, self._tls_factory)
                self.tls_port = port.getHost().port
            if self.unix_socket is not None:
                unix: Any = IReactorUNIX(self._reactor)
                self._ports.append(unix.listenUNIX(self.unix_socket, self._stream_factory(tls=False)))
        except Exception:
            failure = Failure()
            ports, self._ports = self._ports, []
            stopped = DeferredList([maybeDeferred(p.stopListening) for p in ports])
            return stopped.addCallback(lambda _: fail(failure))
        return succeed(self)

    def _listen_tcp(self, port: int, factory: Any) -> Any:
        reactor: Any = self._reactor
        listening = reactor.listenTCP(port, factory, interface=self.host)
        self._ports.append(listening)
        return listening

    def _stream_factory(self, *, tls: bool) -> NetconfStreamFactory:
        return NetconfStreamFactory(
            tls=tls,
            opener=self._core.open_session,
            on_made=self._connections.made,
            on_lost=self._connections.lost,
        )

    def call_home(self, host: str, port: int, transport: str = "ssh") -> "Deferred[None]":
        """
        Call home (RFC 8071): open a TCP connection to a NETCONF client
        listening on *host*:*port*, then act as the SSH or TLS (*transport*)
        server on it.  Fires once the TCP connection is made (the client then
        runs the handshake), or fails if it cannot be made.  Each call opens
        one connection; call again to reconnect.
        """
        if transport not in CALL_HOME_TRANSPORTS:
            return fail(ValueError("transport must be 'ssh' or 'tls', not %r" % (transport,)))
        if not self._ports or self._stopped is not None:
            return fail(RuntimeError("the server is not running"))
        factory = self._ssh_factory if transport == "ssh" else self._tls_factory
        if factory is None:
            return fail(ValueError("this server has no TLS certificates (serve(tls=...))"))
        endpoint = HostnameEndpoint(self._reactor, host, port, timeout=CALL_HOME_TIMEOUT)
        return endpoint.connect(factory).addCallback(lambda _: None)

    def stop(self) -> "Deferred[None]":
        """
        Stop listening, drop every connection and cancel every timer.

        Returns a Deferred that fires once the port is closed and every
        connection is gone.  Calling it again returns a Deferred for the
        same completion.
        """
        if self._stopped is None:
            self._stopped = self._stop()
            self._stop_result = []
            self._stopped.addBoth(self._stop_done)
        if self._stop_result is None:
            return succeed(None)
        d: "Deferred[None]" = Deferred()
        self._stop_result.append(d)
        return d

    def _stop_done(self, result: object) -> None:
        waiters, self._stop_result = self._stop_result or [], None
        for d in waiters:
            d.callback(None)

    def _stop(self) -> "Deferred[None]":
        self._connections.refusing = True
        self._core.engine.stop()
        self._core.hub.stop()
        waits: List["Deferred[Any]"] = []
        for port in self._ports:
            waits.append(maybeDeferred(port.stopListening))
        waits.extend(self._connections.close_all())
        grace: Optional[IDelayedCall] = None
        if self._connections:
            grace = IReactorTime(self._reactor).callLater(STOP_GRACE, self._connections.abort_all)
        done = DeferredList(waits, consumeErrors=True)

        def finished(_: object) -> None:
            if grace is not None and grace.active():
                grace.cancel()
            for session in list(self._core.sessions.values()):
                session.connection_lost()

        return done.addCallback(finished)

    def stop_answering(self) -> None:
        """
        Stop reading from every open connection, as a hung device or a dead
        route would: TCP stays up (the kernel still acknowledges), but no SSH
        message is answered, keepalives included.  New connections are not
        affected.  :meth:`resume_answering` reads again.
        """
        self._connections.pause_all()

    def resume_answering(self) -> None:
        """Read again from the connections :meth:`stop_answering` paused."""
        self._connections.resume_all()

    @property
    def disconnect_reasons(self) -> List[tuple[int, str]]:
        """(reason code, description) of every SSH disconnect message clients sent, in
        order (SSH only; a client that just closes the socket sends none)."""
        factory = self._ssh_factory
        return list(factory.disconnect_reasons) if factory is not None else []

    # -- host key -----------------------------------------------------------------------

    @property
    def host_key(self) -> Any:
        """The public host key (a ``twisted.conch.ssh.keys.Key``)."""
        return self._host_key.public()

    @property
    def hostkey_b64(self) -> str:
        """Base64 public host key, for ncclient's ``hostkey_b64`` and known_hosts files."""
        return public_b64(self._host_key)

    @property
    def fingerprint(self) -> str:
        """MD5 colon-hex fingerprint, the form ncclient's ``unknown_host_cb`` receives."""
        return fingerprint_md5(self._host_key)

    @property
    def fingerprint_sha256(self) -> str:
        """OpenSSH ``SHA256:...`` fingerprint of the host key."""
        return fingerprint_sha256(self._host_key)

    @property
    def known_hosts_line(self) -> str:
        """A known_hosts line for this server (``[host]:port type base64``)."""
        return "[%s]:%d %s %s" % (self.host, self.port, self._host_key.sshType().decode(), self.hostkey_b64)

    # -- client helpers ---------------------------------------------------------------------

    def connect_kwargs(
        self,
        username: Optional[str] = None,
        password: Optional[str] = None,
        *,
        timeout: Optional[float] = 30.0,
        **extra: Any,
    ) -> Dict[str, Any]:
        """
        Keyword arguments for ``ncclient.manager.connect(**kw)``.

        The username defaults to the first configured user and the password
        to that user's password.  Host key checking, the SSH agent and
        ``~/.ssh`` keys are disabled.  *timeout* is ncclient's connect and
        RPC timeout (None for ncclient's defaults, which can block forever
        waiting for a hello).  *extra* is added as is (e.g.
        ``key_filename=...``, ``hostkey_verify=True``).
        """
        if username is None:
            username = next(iter(self.users), "admin")
        if password is None and "key_filename" not in extra:
            password = self.users.get(username)
        kwargs: Dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": username,
            "password": password,
            "hostkey_verify": False,
            "allow_agent": False,
            "look_for_keys": False,
        }
        if timeout is not None:
            kwargs["timeout"] = timeout
        kwargs.update(extra)
        return kwargs

    def tls_connect_kwargs(
        self,
        certificates: Optional[Certificates] = None,
        *,
        timeout: Optional[float] = 30.0,
        **extra: Any,
    ) -> Dict[str, Any]:
        """
        Keyword arguments for ``connect_tls(**kw)``: this server's TLS port and
        the client certificate, key and CA files of *certificates* (default:
        the ones the server was given).  *extra* is added as is.
        """
        if self.tls_port is None or self._tls is None:
            raise ValueError("this server does not serve TLS (serve(tls=...))")
        certs = certificates if certificates is not None else self._tls
        kwargs: Dict[str, Any] = {"host": self.host, "port": self.tls_port}
        kwargs.update(certs.client_kwargs())
        if timeout is not None:
            kwargs["timeout"] = timeout
        kwargs.update(extra)
        return kwargs

    def uds_connect_kwargs(self, *, timeout: Optional[float] = 30.0, **extra: Any) -> Dict[str, Any]:
        """Keyword arguments for ``connect_uds(**kw)``: this server's Unix socket."""
        if self.unix_socket is None:
            raise ValueError("this server has no Unix socket (serve(unix_socket=...))")
        kwargs: Dict[str, Any] = {"path": self.unix_socket}
        if timeout is not None:
            kwargs["timeout"] = timeout
        kwargs.update(extra)
        return kwargs

    # -- sessions, data, notifications ----------------------------------------------------------

    @property
    def sessions(self) -> Mapping[int, Session]:
        """The live sessions, by session-id (a read-only live view)."""
        return MappingProxyType(self._core.sessions)

    @property
    def locks(self) -> Dict[str, Optional[int]]:
        """The session-id holding the lock of each datastore (None: unlocked)."""
        return {name: ds.lock_owner for name, ds in self._core.engine.datastores.items()}

    @property
    def confirmed_commit_pending(self) -> bool:
        """True while a confirmed commit waits for its confirmation."""
        return self._core.engine.pending is not None

    def get_config(self, datastore: str = "running") -> etree._Element:
        """A copy of a datastore's content, as a ``<data>`` element."""
        return self._core.engine.datastores[datastore].copy()

    def set_config(self, config: Optional[XmlInput], datastore: str = "running") -> None:
        """
        Replace a datastore's content (a ``<config>``/``<data>`` wrapper or a
        single top-level element; None empties it).  Changing running emits
        a ``netconf-config-change`` notification (changed by the server).
        """
        engine = self._core.engine
        engine.datastores[datastore].replace(root_from_xml(config))
        if datastore == "running":
            candidate = engine.datastores.get("candidate")
            if candidate is not None and not engine.candidate_dirty_by:
                candidate.replace(engine.running.copy())
            self._core.hub.publish(config_change(ChangedBy(), "running"))
        elif datastore == "candidate":
            engine.candidate_dirty_by.clear()

    def on_datastore_change(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(datastore name)`` after each change of a datastore's content
        (edit-config, commit, copy-config, delete-config, :meth:`set_config`...)."""
        for datastore in self._core.engine.datastores.values():
            datastore.listeners.append(lambda ds: callback(ds.name))

    def set_state(self, state: Optional[XmlInput]) -> None:
        """Replace the state data that ``<get>`` merges into the running config."""
        self._core.engine.set_state(state)

    def publish(self, notification: XmlInput, event_time: EventTime = None) -> None:
        """
        Publish an event on the NETCONF stream: deliver it to every
        subscriber whose filter selects it, and keep it in the replay log.

        *notification* is the event element (``<link-down xmlns=...>``) or a
        whole ``<notification>``; *event_time* is epoch seconds, a datetime
        or RFC 3339 text (default: now, per the server clock).
        """
        self._core.hub.publish(notification, event_time)

    def publish_many(self, notifications: Iterable[XmlInput]) -> int:
        """
        Publish a burst of events (times: now), each as :meth:`publish` would, but
        written to each subscriber in one go (one SSH write for the whole burst).
        Returns how many events were published.
        """
        return self._core.hub.publish_many(notifications)

    @property
    def dynamic_subscriptions(self) -> Dict[int, int]:
        """RFC 8639 subscriptions in force: ``{subscription id: session id}``."""
        return {i: s.session.session_id for i, s in self._core.hub.dynamic.by_id.items()}

    def suspend_subscription(
        self, ident: int, reason: str = "ietf-subscribed-notifications:insufficient-resources"
    ) -> None:
        """Suspend a dynamic subscription (sends ``subscription-suspended``)."""
        self._core.hub.dynamic.suspend(ident, reason)

    def resume_subscription(self, ident: int) -> None:
        """Resume a suspended subscription (sends ``subscription-resumed``)."""
        self._core.hub.dynamic.resume(ident)

    def terminate_subscription(
        self, ident: int, reason: str = "ietf-subscribed-notifications:filter-unavailable"
    ) -> None:
        """End a dynamic subscription (sends ``subscription-terminated``)."""
        self._core.hub.dynamic.terminate(ident, reason)
