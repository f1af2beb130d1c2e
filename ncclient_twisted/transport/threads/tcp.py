"""The TCP socket the threads transport opens for paramiko and ncclient's TLS session:
:class:`QuietSocket`, which does not make its reader poll, and :func:`open_socket`."""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Optional, Type

from ncclient.transport.errors import SSHError

from ncclient_twisted.transport.errors import HostResolutionError
from ncclient_twisted.transport.limits import descriptor_limit_error

__all__ = ["QuietSocket", "CountingSocket", "open_socket"]


#: How long paramiko's transport thread may sleep in ``recv`` with nothing to read.
IDLE_SOCKET_TIMEOUT = 60.0


class QuietSocket(socket.socket):
    """A TCP socket for paramiko that does not make its transport thread poll.

    paramiko sets a 0.1 s timeout on the socket it is given and wakes on each expiry to
    check for shutdown and keepalives. Once :meth:`freeze_timeout` is called, timeouts
    set by paramiko are replaced by *idle_timeout*. :meth:`close` shuts the socket down
    before closing it, which wakes a thread blocked in ``recv`` on it.
    """

    _frozen_timeout: Optional[float] = None
    #: The last thread that read from the socket (paramiko's transport thread).
    _reader: Optional[threading.Thread] = None

    @classmethod
    def adopt(cls, sock: socket.socket) -> "QuietSocket":
        """A :class:`QuietSocket` taking over *sock*'s descriptor (*sock* is detached)."""
        quiet = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        quiet.setblocking(True)
        return quiet

    def freeze_timeout(self, idle_timeout: float) -> None:
        self._frozen_timeout = idle_timeout
        super().settimeout(idle_timeout)

    def settimeout(self, value: Optional[float]) -> None:
        if self._frozen_timeout is not None:
            value = self._frozen_timeout
        super().settimeout(value)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._reader = threading.current_thread()
        return super().recv(bufsize, flags)

    def close(self) -> None:
        """Shut the socket down (which wakes its reader); close it once nobody reads it.

        Closing the descriptor under a thread that is about to block in ``recv`` would
        leave that thread polling a dead descriptor (-1) until its timeout (60 s). So when
        another thread reads this socket, it is only shut down here: the reader wakes with
        end-of-file and closes it itself (paramiko's transport thread always does).
        """
        try:
            self.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        reader = self._reader
        if reader is not None and reader is not threading.current_thread() and reader.is_alive():
            # The shutdown wakes the reader, which closes the socket as it ends (paramiko
            # does). Closing the descriptor under it instead lets its next recv() land on
            # whatever socket reuses the number, and block there (paramiko issue #520).
            return
        self._reader = None  # the reader (paramiko's transport) holds this socket: a cycle
        super().close()


def open_socket(
    host: str,
    port: int,
    timeout: Optional[float],
    bind_addr: Optional[str],
    cls: Type[QuietSocket] = QuietSocket,
    error: Callable[[str], Exception] = SSHError,
) -> QuietSocket:
    """Connect a :class:`QuietSocket` with ``TCP_NODELAY`` to *host*:*port* (blocking).

    Its timeout is left to paramiko during the handshake (so paramiko's banner and
    handshake timeouts hold); call ``freeze_timeout`` once the session is up. On failure
    raises *error* (ncclient's ``SSHError`` by default).
    """
    last: Optional[OSError] = None
    try:
        addresses = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise HostResolutionError.of(host, e.errno, e.strerror or str(e)) from e
    for af, socktype, proto, _, sa in addresses:
        try:
            sock = cls(af, socktype, proto)
        except OSError as e:
            limit = descriptor_limit_error(e)
            if limit is not None:
                raise limit from e
            raise
        try:
            socket.socket.settimeout(sock, timeout)
            if bind_addr:
                sock.bind((bind_addr, 0))
            sock.connect(sa)
        except OSError as e:
            last = e
            sock.close()
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise error("Could not open socket to %s:%s (%s)" % (host, port, last))


class CountingSocket(QuietSocket):
    """A :class:`QuietSocket` that notes when data was last received from the peer."""

    last_received: float = 0.0

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        if data:
            self.last_received = time.monotonic()
        return data
