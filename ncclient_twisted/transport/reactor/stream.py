"""NETCONF straight over a stream on the reactor (TLS, RFC 7589; a Unix socket):
:class:`NetconfStreamProtocol`, the link of a :class:`~.session.ReactorSession`."""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ISSLTransport, ITCPTransport
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from ncclient_twisted.transport.reactor.session import ReactorSession
from ncclient_twisted.transport.reactor.transports import abort_transport, flush_now, pause_reading


class NetconfStreamProtocol(protocol.Protocol):
    """NETCONF straight over a stream (TLS, RFC 7589; a Unix socket) for a
    :class:`ReactorSession`. *ready* fires once the stream is up, or fails with
    *error(message)* (ncclient's ``TLSError``, ``UnixSocketError``)."""

    def __init__(
        self, session: ReactorSession, ready: "Deferred[None]", error: Callable[[str], Exception]
    ) -> None:
        self.session = session
        self.ready = ready
        self._error = error
        self._tls = False

    def connectionMade(self) -> None:
        tcp = ITCPTransport(self.transport, None)
        if tcp is not None:
            try:
                tcp.setTcpNoDelay(True)
            except OSError:
                pass  # a Unix socket (older Twisted says it is a TCP transport too)
        self._tls = ISSLTransport(self.transport, None) is not None
        self.session.channel_opened(self)
        self.session.channel_ready()
        if not self._tls and not self.ready.called:
            self.ready.callback(None)

    def dataReceived(self, data: bytes) -> None:
        if not self.ready.called:
            self.ready.callback(None)  # TLS: the handshake is done once data comes
        self.session.data_received(data)

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def flush(self) -> None:
        flush_now(self.transport)

    def pause_reading(self, paused: bool) -> None:
        pause_reading(self.transport, paused)

    def drop_connection(self, abort: bool = False) -> None:
        if self.transport is None:
            return
        if abort:
            abort_transport(self.transport)
        else:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.ready.called:
            what = "Unsuccessful TLS handshake" if self._tls else "Connection lost"
            cause = reason.value if reason.value is not None else "closed"
            self.ready.errback(Failure(self._error("%s: %s" % (what, _describe(cause)))))
        self.session.connection_lost(None)


def _describe(error: Any) -> str:
    """An OpenSSL error's reasons in words ("certificate verify failed", an alert...)."""
    args = getattr(error, "args", ())
    if args and isinstance(args[0], list):  # OpenSSL.SSL.Error: [(lib, func, reason), ...]
        return "; ".join(str(e[-1]) for e in args[0] if isinstance(e, tuple)) or repr(error)
    return str(error) or type(error).__name__
