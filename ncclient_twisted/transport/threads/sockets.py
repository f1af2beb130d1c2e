"""The TLS (RFC 7589) and Unix-socket sessions: ncclient's, with our wake-on-send loop.

Both run NETCONF straight over a socket. After the connect (blocking, on our pool) the
socket is made non-blocking: the session thread reads what ``select`` says is there,
writes what the kernel takes and, while output waits, also selects for writability.
A TLS record may be decrypted ahead of what was asked for; ``pending()`` bytes are read
at once, since ``select`` does not see them.

ncclient's ``TLSSession`` and ``UnixSocketSession`` appeared in ncclient 0.6.14; this
module cannot be imported with an older ncclient (``connect_tls`` and ``connect_uds``
then fail with ``NotImplementedError``).
"""

from __future__ import annotations

import selectors
import socket
import ssl
from typing import Any, Callable, Optional, Union

from ncclient.transport.errors import TLSError, UnixSocketError
from ncclient.transport.tls import DEFAULT_TLS_NETCONF_PORT, DEFAULT_TLS_TIMEOUT, TLSSession
from ncclient.transport.unixSocket import DEFAULT_TIMEOUT as DEFAULT_UDS_TIMEOUT
from ncclient.transport.unixSocket import UnixSocketSession

from ncclient_twisted.transport.threads.session import READ_SIZE, WakeOnSendSession
from ncclient_twisted.transport.threads.tcp import open_socket

__all__ = ["ThreadedTLSSession", "ThreadedUnixSocketSession"]

_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class SocketSession(WakeOnSendSession):
    """The loop's transport hooks for a session running on one socket (``_socket``)."""

    _socket: Optional[socket.socket]
    #: The error raised for a transport failure (ncclient's, per transport).
    _error: Callable[[str], Exception] = OSError

    def _transport_register(self, selector: selectors.BaseSelector, event: int) -> None:
        selector.register(self._socket, event)  # type: ignore[arg-type]

    def _transport_read(self) -> Optional[bytes]:
        sock: Any = self._socket
        try:
            data = sock.recv(READ_SIZE)
            if not data:
                return b""
            chunks = [data]
            pending = getattr(sock, "pending", None)
            while pending is not None and pending() > 0:
                chunks.append(sock.recv(READ_SIZE))
            return b"".join(chunks)
        except _WOULD_BLOCK:
            return None
        except OSError as e:
            if self._closing.is_set():
                return b""
            raise self._error("%s: %s" % (type(e).__name__, e)) from e

    def _transport_write(self, data: bytes) -> Optional[int]:
        sock: Any = self._socket
        try:
            return int(sock.send(data[:READ_SIZE]))
        except _WOULD_BLOCK:
            return None
        except OSError as e:
            raise self._error("%s: %s" % (type(e).__name__, e)) from e

    def _send_ready(self) -> bool:
        return True

    def _select_timeout(self, sel: selectors.BaseSelector) -> Optional[float]:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out else 0)
        key = sel.get_key(self._socket)  # type: ignore[arg-type]
        if key.events != events:
            sel.modify(self._socket, events)  # type: ignore[arg-type]
        return None

    def _transport_closed(self) -> bool:
        return self._socket is None

    def _interrupt_transport(self) -> None:
        sock = self._socket
        if sock is not None:
            try:
                # The plain socket's shutdown: SSLSocket.shutdown would drop its SSL
                # object under the session thread's feet.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def _close_transport(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def _start(self, sock: socket.socket, timeout: Optional[float]) -> None:
        """Hand the connected socket to the session loop and exchange hellos."""
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self._socket = sock
        self._connected = True
        self._post_connect(timeout)


class ThreadedTLSSession(SocketSession, TLSSession):
    """ncclient's ``TLSSession`` (RFC 7589) with a wake-on-send loop.

    :meth:`connect` takes ncclient's arguments, and ``sock=`` (a connected socket, for
    call home) and ``bind_addr=``; *protocol* defaults to ``ssl.PROTOCOL_TLS_CLIENT``,
    *timeout* bounds the connect, the handshake and the hello exchange each.
    Failures raise ncclient's ``TLSError`` with the reason (certificate verification,
    alert from the server, ...).
    """

    _error = TLSError

    def connect(
        self,
        host: Optional[str] = None,
        port: int = DEFAULT_TLS_NETCONF_PORT,
        keyfile: Optional[str] = None,
        certfile: Optional[str] = None,
        ca_certs: Optional[str] = None,
        protocol: Optional[int] = None,
        check_hostname: bool = True,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = DEFAULT_TLS_TIMEOUT,
        *,
        sock: Optional[socket.socket] = None,
        bind_addr: Optional[str] = None,
    ) -> None:
        if host is None:
            raise TLSError("Missing host")
        if certfile is None:
            raise TLSError("Missing client certificate file")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if protocol is None else protocol)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = check_hostname
        try:
            context.load_cert_chain(certfile=certfile, keyfile=keyfile)
        except ssl.SSLError:
            raise TLSError("Bad client private key / certificate pair") from None
        except OSError:
            raise TLSError("Private key / certificate pair not found") from None
        try:
            if ca_certs:
                context.load_verify_locations(cafile=ca_certs)
            else:
                context.load_default_certs()
        except ssl.SSLError:
            raise TLSError("Bad Certification Authority file") from None
        except OSError:
            raise TLSError("CA certificate file not found") from None
        if sock is None:
            sock = open_socket(host, port, timeout, bind_addr, error=TLSError)
        else:
            sock.settimeout(timeout)
        try:
            tls = context.wrap_socket(
                sock, do_handshake_on_connect=False, server_hostname=server_hostname or host
            )
        except (OSError, ValueError) as e:
            sock.close()
            raise TLSError("Could not start TLS with %s:%s: %s" % (host, port, e)) from e
        try:
            tls.do_handshake()
        except (OSError, ValueError) as e:
            tls.close()
            raise TLSError("Unsuccessful TLS handshake with %s:%s: %s" % (host, port, e)) from e
        self._host = host
        self._start(tls, timeout)


class ThreadedUnixSocketSession(SocketSession, UnixSocketSession):
    """ncclient's ``UnixSocketSession`` with a wake-on-send loop.

    *timeout* bounds the connect and the hello exchange each.
    """

    _error = UnixSocketError

    def connect(
        self,
        path: Union[str, bytes, None] = None,
        timeout: Optional[float] = DEFAULT_UDS_TIMEOUT,
    ) -> None:
        if not path:
            raise UnixSocketError("Missing socket path")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError as e:
            sock.close()
            raise UnixSocketError("Could not connect to %r: %s" % (path, e)) from e
        self._start(sock, timeout)

    @property
    def host(self) -> Optional[str]:
        return None
