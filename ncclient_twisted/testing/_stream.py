# Twisted is only partly annotated:
# mypy: allow-untyped-calls
"""
NETCONF straight over a byte stream: TLS (RFC 7589) and Unix sockets.

The same NETCONF session as over SSH, on a Twisted protocol instead of a
Conch channel.  Over TLS the session starts once the handshake is done and
the client certificate verified; its common name is the username (a simple
cert-to-name mapping).  Over a Unix socket the username is the peer's
login name (``SO_PEERCRED``) where the platform tells it.

``twisted.internet.ssl`` needs pyOpenSSL (``pip install twisted[tls]``); it
is imported only when a TLS server is built.
"""

from __future__ import annotations

import getpass
import socket
import struct
from typing import Any, Callable, Optional, cast

from twisted.internet.interfaces import IHandshakeListener, IOpenSSLContextFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from ._certificates import Certificates
from ._ssh import SessionHandle

#: Creates the NETCONF session: ``opener(channel, username, source_host)``.
StreamOpener = Callable[[Any, str, Optional[str]], SessionHandle]


class StreamChannel:
    """The :class:`~._session.Channel` interface over a Twisted transport."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: "NetconfStreamProtocol") -> None:
        self._protocol = protocol

    def write(self, data: bytes) -> None:
        transport: Any = self._protocol.transport
        if transport is not None and not self._protocol.lost:
            transport.write(data)

    @property
    def tls(self) -> bool:
        return bool(self._protocol.factory.tls)

    def close(self) -> None:
        self._protocol.loseConnection()

    def abort(self) -> None:
        transport: Any = self._protocol.transport
        if transport is not None and not self._protocol.lost:
            transport.abortConnection()


@implementer(IHandshakeListener)
class NetconfStreamProtocol(Protocol):
    """One NETCONF session on a stream; over TLS it starts after the handshake."""

    factory: "NetconfStreamFactory"

    def __init__(self) -> None:
        self.session: Optional[SessionHandle] = None
        self.lost = False

    def connectionMade(self) -> None:
        self.factory.on_made(self)
        if not self.factory.tls:
            self._open()

    def handshakeCompleted(self) -> None:
        self._open()

    def _open(self) -> None:
        if self.session is not None or self.lost:
            return
        transport: Any = self.transport
        try:
            username = self.factory.username_of(transport)
        except Exception:
            transport.abortConnection()
            return
        peer = getattr(transport.getPeer(), "host", None)
        self.session = self.factory.opener(StreamChannel(self), username, peer)
        self.session.start()

    def dataReceived(self, data: bytes) -> None:
        if self.session is not None:
            self.session.data_received(data)

    def loseConnection(self) -> None:
        transport: Any = self.transport
        if transport is not None and not self.lost:
            transport.loseConnection()

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost = True
        try:
            if self.session is not None:
                self.session.connection_lost()
        finally:
            self.factory.on_lost(self)


class NetconfStreamFactory(Factory):
    """Builds :class:`NetconfStreamProtocol` for one server and one transport."""

    protocol = NetconfStreamProtocol  # type: ignore[assignment]
    noisy = False

    def __init__(
        self,
        *,
        tls: bool,
        opener: StreamOpener,
        on_made: Callable[[Any], None],
        on_lost: Callable[[Any], None],
    ) -> None:
        self.tls = tls
        self.opener = opener
        self.on_made = on_made
        self.on_lost = on_lost

    def username_of(self, transport: Any) -> str:
        return certificate_username(transport) if self.tls else unix_peer_username(transport)


def certificate_username(transport: Any) -> str:
    """The common name of the verified client certificate."""
    cert = transport.getPeerCertificate()
    if cert is None:
        raise ValueError("no client certificate")
    from cryptography.x509.oid import NameOID

    names = cert.to_cryptography().subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise ValueError("the client certificate has no common name")
    return str(names[0].value)


def unix_peer_username(transport: Any) -> str:
    """The login name of the process at the other end of a Unix socket."""
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if so_peercred is not None:
        try:
            import pwd

            sock = transport.getHandle()
            creds = sock.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
            _, uid, _ = struct.unpack("3i", creds)
            return pwd.getpwuid(uid).pw_name
        except (OSError, KeyError, ImportError, AttributeError):
            pass
    return getpass.getuser()


def tls_factory(certificates: Certificates, wrapped: NetconfStreamFactory) -> Any:
    """A TLS server factory around *wrapped*: the server certificate, and client
    certificates required and verified against the CA."""
    from twisted.protocols.tls import TLSMemoryBIOFactory

    return TLSMemoryBIOFactory(cast(Any, _ServerContext(certificates)), False, cast(Any, wrapped))


@implementer(IOpenSSLContextFactory)
class _ServerContext:
    """A pyOpenSSL server context: our certificate, client certificates required."""

    def __init__(self, certificates: Certificates) -> None:
        from OpenSSL import SSL

        context = SSL.Context(SSL.TLS_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        context.use_certificate_file(certificates.server_cert_file)
        context.use_privatekey_file(certificates.server_key_file)
        context.check_privatekey()
        context.load_verify_locations(certificates.ca_file)
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, None)
        context.set_session_id(b"ncclient-twisted-testing")
        self._context = context

    def getContext(self) -> Any:
        return self._context
