"""Call home (RFC 8071): devices connect to us, we run NETCONF over SSH or TLS on top.

::

    from ncclient_twisted import callhome

    def connected(m):            # a connected ncclient_twisted Manager
        m.get_config(source="running").addCallback(print)

    listener = callhome.listen(transport="ssh", on_connection=connected,
                               username="admin", password="admin", hostkey_verify=False)
    ...
    await listener.stop()

:func:`listen` opens a listening socket (SSH on 4334, TLS on 4335 by default) watched by
the reactor; each device that connects is accepted without blocking the reactor, and the
SSH or TLS handshake, authentication and hello run on the transport ``io`` picks (on the
reactor, or on the project's thread pool), with the keywords of
:func:`~ncclient_twisted.manager.connect_ssh` or :func:`~ncclient_twisted.manager.connect_tls`.
Each connected :class:`Manager` goes to the first :meth:`CallHomeListener.expect`
Deferred waiting for that device's address, else to *on_connection*, else it waits for an
``expect``. A device whose handshake fails
is logged, counted in :attr:`CallHomeListener.failures` and given to *on_error*; the
listener goes on.

Unlike ncclient's ``call_home`` (one blocking accept, then ``connect_ssh``), the listener
accepts any number of devices for as long as it runs.
"""

from __future__ import annotations

import collections
import socket
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple, cast

from twisted.internet.defer import CancelledError, Deferred, DeferredList, fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from zope.interface import implementer

from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.runtime import resolve_reactor
from ncclient_twisted.manager import Manager, connect_ssh, connect_tls
from ncclient_twisted.transport.threads.tcp import QuietSocket

__all__ = ["listen", "CallHomeListener", "DEFAULT_PORTS"]

log = Logger(namespace=__name__)

#: The IANA ports of RFC 8071: ``netconf-ch-ssh`` and ``netconf-ch-tls``.
DEFAULT_PORTS = {"ssh": 4334, "tls": 4335}
#: How many connections one wake-up of the reactor accepts at most.
ACCEPTS_PER_READ = 64
#: The keywords :func:`listen` sets itself for each device.
_RESERVED = frozenset({"host", "sock", "reactor"})

OnConnection = Callable[[Manager], Any]
OnError = Callable[[str, Failure], Any]


@implementer(IReadDescriptor)
class CallHomeListener:
    """A running call-home listener (see :func:`listen`).

    :ivar port: the TCP port it listens on.
    :ivar interface: the address it listens on (``""``: every IPv4 address).
    :ivar transport: ``"ssh"`` or ``"tls"``.
    :ivar connections: how many devices were handed over, connected.
    :ivar failures: how many devices failed their handshake (or connect).
    """

    def __init__(
        self,
        reactor: INetconfReactor,
        sock: socket.socket,
        transport: str,
        on_connection: Optional[OnConnection],
        on_error: Optional[OnError],
        connect_kwargs: Dict[str, Any],
    ) -> None:
        self._reactor = reactor
        self._socket = sock
        self.interface, self.port = sock.getsockname()[:2]
        self.transport = transport
        self._on_connection = on_connection
        self._on_error = on_error
        self._connect_kwargs = connect_kwargs
        self._connect = connect_ssh if transport == "ssh" else connect_tls
        self.connections = 0
        self.failures = 0
        self._handshakes: Set["Deferred[Manager]"] = set()
        self._waiting: List[tuple] = []  # (host or None, Deferred), oldest first
        self._unclaimed: Deque[Tuple[str, Manager]] = collections.deque()
        self._stopped: Optional["Deferred[None]"] = None

    def __repr__(self) -> str:
        return "<CallHomeListener %s %s:%d connections=%d failures=%d%s>" % (
            self.transport,
            self.interface,
            self.port,
            self.connections,
            self.failures,
            " stopped" if self._stopped is not None else "",
        )

    @property
    def listening(self) -> bool:
        return self._stopped is None

    # -- handing managers over -----------------------------------------------------

    def expect(self, host: Optional[str] = None) -> "Deferred[Manager]":
        """A Deferred of the next connected Manager from *host* (an IP address as the
        socket reports it, e.g. ``"192.0.2.1"``), or from any device if *host* is None.

        A device that connected before anyone expected it is handed over at once.
        Cancel the Deferred to stop waiting; :meth:`stop` fails it with
        ``CancelledError``.
        """
        for arrived in self._unclaimed:
            if host is None or arrived[0] == host:
                self._unclaimed.remove(arrived)
                return succeed(arrived[1])
        if self._stopped is not None:
            return fail(CancelledError("the call-home listener is stopped"))
        entry: tuple = ()

        def forget(d: "Deferred[Manager]") -> None:
            if entry in self._waiting:
                self._waiting.remove(entry)

        d: "Deferred[Manager]" = Deferred(forget)
        entry = (host, d)
        self._waiting.append(entry)
        return d

    def _deliver(self, host: str, m: Manager) -> None:
        if self._stopped is not None:
            m.close_session(timeout=0)
            return
        self.connections += 1
        log.info("call home from {host}: connected, session {session_id}", host=host, session_id=m.session_id)
        for entry in self._waiting:
            if entry[0] is None or entry[0] == host:
                self._waiting.remove(entry)
                entry[1].callback(m)
                return
        if self._on_connection is not None:
            try:
                self._on_connection(m)
            except Exception:
                log.failure("call home from {host}: on_connection failed", level=LogLevel.error, host=host)
            return
        self._unclaimed.append((host, m))

    def _failed(self, host: str, failure: Failure) -> None:
        if failure.check(CancelledError) and self._stopped is not None:
            return
        self.failures += 1
        kind = failure.type.__name__ if failure.type is not None else "Failure"
        log.warn(
            "call home from {host}: {kind}: {error}",
            host=host, kind=kind, error=failure.getErrorMessage(),
        )
        if self._on_error is not None:
            try:
                self._on_error(host, failure)
            except Exception:
                log.failure("call home from {host}: on_error failed", level=LogLevel.error, host=host)

    # -- accepting (IReadDescriptor) ---------------------------------------------------

    def fileno(self) -> int:
        return self._socket.fileno()

    def logPrefix(self) -> str:
        return "CallHomeListener"

    def doRead(self) -> None:
        if self._stopped is not None:
            return
        for _ in range(ACCEPTS_PER_READ):
            try:
                sock, address = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # EMFILE, ECONNABORTED...: try again on the next wake-up
                log.warn("call home: accept failed: {error}", error=e)
                return
            self._handshake(sock, str(address[0]))

    def _handshake(self, sock: socket.socket, host: str) -> None:
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        device_sock = QuietSocket.adopt(sock) if self.transport == "ssh" else sock
        d = self._connect(host=host, sock=device_sock, reactor=self._reactor, **self._connect_kwargs)
        self._handshakes.add(d)

        def done(result: Any) -> None:
            self._handshakes.discard(d)
            if isinstance(result, Failure):
                if result.check(CancelledError) and self._stopped is not None:
                    # stop() while the handshake runs on the pool: make it fail fast;
                    # the connect closes its session (and the socket) when it ends.
                    _shutdown(device_sock)
                else:
                    device_sock.close()
                self._failed(host, result)
            else:
                self._deliver(host, result)

        d.addBoth(done)

    def connectionLost(self, reason: Any = None) -> None:
        """The reactor is shutting down (or dropped us): stop listening."""
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket.fileno() != -1:
            cast(IReactorFDSet, self._reactor).removeReader(self)
            self._socket.close()

    # -- stopping ------------------------------------------------------------------

    def stop(self) -> "Deferred[None]":
        """Stop listening: close the socket, fail waiting :meth:`expect` Deferreds with
        ``CancelledError``, cancel handshakes in progress (each device's session is
        closed once its handshake ends) and close the managers nobody claimed.

        Managers already handed over are the application's: they stay connected.
        Fires once the unclaimed managers are closed; calling it again is harmless.
        """
        if self._stopped is None:
            self._stopped = self._stop()
        d: "Deferred[None]" = Deferred()

        def share(result: Any) -> Any:
            d.callback(None)
            return result

        self._stopped.addBoth(share)
        return d

    def _stop(self) -> "Deferred[None]":
        self._close_socket()
        waiting, self._waiting = self._waiting, []
        for _, d in waiting:
            d.errback(CancelledError("the call-home listener is stopped"))
        for d in list(self._handshakes):
            d.cancel()
        unclaimed, self._unclaimed = list(self._unclaimed), collections.deque()
        closes = [m.close_session(timeout=0) for _, m in unclaimed]
        return DeferredList(closes, consumeErrors=True).addCallback(lambda _: None)


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def listen(
    port: Optional[int] = None,
    *,
    transport: str = "ssh",
    interface: str = "",
    on_connection: Optional[OnConnection] = None,
    on_error: Optional[OnError] = None,
    reactor: Optional[INetconfReactor] = None,
    backlog: int = 128,
    **connect_kwargs: Any,
) -> CallHomeListener:
    """Listen for devices calling home (RFC 8071); a :class:`CallHomeListener`.

    - *port*: 4334 for SSH, 4335 for TLS by default; 0 lets the OS pick (``.port``).
    - *transport*: ``"ssh"`` or ``"tls"``.
    - *interface*: the address to listen on (``""``, the default: every IPv4 address;
      ``"::"`` for IPv6).
    - *on_connection(manager)*: called on the reactor with each connected
      :class:`~ncclient_twisted.manager.Manager` nobody :meth:`~CallHomeListener.expect`-s.
    - *on_error(host, failure)*: called on the reactor when a device's handshake fails.
    - *connect_kwargs*: what :func:`~ncclient_twisted.manager.connect_ssh` (``username``,
      ``password``, ``key_filename``, ``hostkey_verify``, ``timeout``, ``manager_params``,
      ...) or :func:`~ncclient_twisted.manager.connect_tls` (``certfile``, ``keyfile``,
      ``ca_certs``, ...) take, except ``host`` (the device's address) and ``sock``. For
      host-key checks the device's address is the host and ``port`` (default 830) picks
      the known_hosts entry.
      ``io="reactor"`` runs each device's session on the reactor thread (the accepted
      connection is adopted; no thread per device).

    Raises ``CannotListenError`` if the port cannot be bound, ``ValueError`` for a bad
    transport or keyword.
    """
    if transport not in DEFAULT_PORTS:
        raise ValueError("transport must be 'ssh' or 'tls', not %r" % (transport,))
    reserved = _RESERVED & set(connect_kwargs)
    if reserved:
        raise ValueError("call home sets %s itself" % ", ".join(sorted(reserved)))
    reactor = resolve_reactor(reactor)
    if port is None:
        port = DEFAULT_PORTS[transport]
    family = socket.AF_INET6 if ":" in interface else socket.AF_INET
    try:
        sock = socket.create_server((interface, port), family=family, backlog=backlog)
    except OSError as e:
        raise CannotListenError(interface, port, e) from e
    sock.setblocking(False)
    listener = CallHomeListener(reactor, sock, transport, on_connection, on_error, connect_kwargs)
    cast(IReactorFDSet, reactor).addReader(listener)
    return listener
