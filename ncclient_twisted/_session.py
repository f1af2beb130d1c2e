"""The SSH session: ncclient's ``SSHSession`` with a loop that wakes on work, not on a timer.

ncclient's ``Session.run`` looks at its send queue every ``TICK`` (0.1 s), so a request
waits up to 100 ms before it is written, and an idle session wakes ten times a second.
Here the session thread sleeps in ``select`` on the channel and on one end of a socket
pair; :meth:`send` writes a byte to the other end. Nothing of ncclient is changed: this
is a subclass that overrides ``run``, ``send``, ``close`` and ``_dispatch_message``.

paramiko's ``Transport`` polls its socket every 0.1 s as well. Our connect hands
ncclient a :class:`QuietSocket` whose read timeout is long (or the keepalive interval),
and whose ``close`` shuts the socket down first, so the transport thread wakes at once
when the session is closed.
"""

from __future__ import annotations

import logging
import queue
import selectors
import socket
import threading
from typing import Any, Callable, List, Optional

import ncclient.transport.parser as nc_parser
from ncclient.transport.errors import SessionCloseError, SessionError, SSHError, TransportError
from ncclient.transport.session import NetconfBase
from ncclient.transport.ssh import SSHSession

from ncclient_twisted._framing import EOM, FrameDecoder, MalformedReplyError, frame_11, message_root

__all__ = ["TwistedSSHSession", "QuietSocket", "open_socket", "HostResolutionError"]

log = logging.getLogger("ncclient_twisted.session")

READ_SIZE = 256 * 1024
#: How long paramiko's transport thread may sleep in ``recv`` with nothing to read.
IDLE_SOCKET_TIMEOUT = 60.0
#: Hello timeout used when the caller gives none (ncclient would wait forever).
DEFAULT_HELLO_TIMEOUT = 60.0
#: Bound on joining the session and transport threads when closing.
CLOSE_JOIN_TIMEOUT = 10.0
#: While paramiko's send window is full, how often the session thread looks again.
WINDOW_POLL = 0.005


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
        super().close()


class HostResolutionError(SSHError, socket.gaierror):
    """The host name did not resolve: ncclient's ``SSHError``, and the ``socket.gaierror``
    plain ncclient lets through."""


def open_socket(
    host: str, port: int, timeout: Optional[float], bind_addr: Optional[str]
) -> QuietSocket:
    """Connect a :class:`QuietSocket` with ``TCP_NODELAY`` to *host*:*port* (blocking).

    Its timeout is left to paramiko during the handshake (so paramiko's banner and
    handshake timeouts hold); call ``freeze_timeout`` once the session is up.
    """
    last: Optional[OSError] = None
    try:
        addresses = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise HostResolutionError(e.errno, "Could not resolve %s: %s" % (host, e.strerror)) from e
    for af, socktype, proto, _, sa in addresses:
        sock = QuietSocket(af, socktype, proto)
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
    raise SSHError("Could not open socket to %s:%s (%s)" % (host, port, last))


class TwistedSSHSession(SSHSession):
    """ncclient's ``SSHSession`` with a wake-on-send loop and an end-of-session hook.

    *on_end* callbacks run on the session thread once the loop has ended, with the
    exception that ended it, or ``None`` for a close we asked for.
    """

    def __init__(self, device_handler: Any) -> None:
        super().__init__(device_handler)
        self.name = "ncclient_twisted-session"
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._on_end: List[Callable[[Optional[Exception]], None]] = []
        self._ended = threading.Event()
        self.end_reason: Optional[Exception] = None
        self._decoder: Optional[FrameDecoder] = None
        self._out = b""
        # True while a wake-up byte is on its way: a burst of sends costs one syscall.
        self._wake_pending = False

    # -- hooks ---------------------------------------------------------------------

    def add_end_callback(self, fn: Callable[[Optional[Exception]], None]) -> None:
        """Call *fn(reason)* on the session thread when the session loop ends."""
        self._on_end.append(fn)

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    # -- sending -------------------------------------------------------------------

    def send(self, message: str) -> None:
        """Queue *message* and wake the session thread (any thread may call this)."""
        if not self.connected:
            raise TransportError("Not connected to NETCONF server")
        self._q.put(message)
        if not self._wake_pending:
            self._wake_pending = True
            self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending, or the session is gone

    def _take_queued(self) -> bytes:
        """All queued messages, framed, as one buffer (one write, one TCP segment)."""
        out: List[bytes] = []
        while True:
            try:
                msg = self._q.get_nowait()
            except queue.Empty:
                break
            data = msg.encode("utf-8")
            out.append(frame_11(data) if self._base == NetconfBase.BASE_11 else data + EOM)
        return b"".join(out)

    def _write_some(self) -> None:
        """Write what the channel's window takes now; the rest waits in ``_out``."""
        if not self._out:
            self._out = self._take_queued()
        while self._out and self._channel.send_ready():
            try:
                n = self._channel.send(self._out)
            except OSError as e:  # paramiko: "Socket is closed" (the server closed first)
                raise SessionCloseError(b"", self._out) from e
            if n <= 0:
                raise SessionCloseError(b"", self._out)
            self._out = self._out[n:]
            if not self._out:
                self._out = self._take_queued()

    # -- receiving -----------------------------------------------------------------

    def _transport_read(self) -> bytes:
        return bytes(self._channel.recv(READ_SIZE))

    def _feed(self, data: bytes) -> None:
        parser: Any = getattr(self, "parser")
        if type(parser) is nc_parser.DefaultXMLParser:
            if self._decoder is None:
                self._decoder = FrameDecoder(
                    self._dispatch_message,
                    lambda: self._base == NetconfBase.BASE_11,
                    invalid=self._reject,
                )
            self._decoder.feed(data)
            return
        # A device handler's own (SAX) parser: keep ncclient's behaviour, switch included.
        try:
            parser.parse(data)
        except nc_parser.SAXFilterXMLNotFoundError:
            self.parser = nc_parser.DefaultXMLParser(self)
            self.parser.parse(data)

    def _dispatch_message(self, raw: str) -> None:
        try:
            root = message_root(raw)
        except MalformedReplyError as e:
            if e.dtd:  # never handed to a parser that could expand or fetch it
                self._reject(e)
                return
            handled = self._device_handler.handle_raw_dispatch(raw)
            if isinstance(handled, str):
                try:
                    root = message_root(handled)
                except MalformedReplyError as again:
                    self._reject(again)
                    return
            elif isinstance(handled, Exception):
                self._dispatch_error(handled)
                return
            else:
                self._reject(e)
                return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.callback(root, raw)
            except Exception as e:
                # ncclient lets this end the session ("fail loudly"): a notification that
                # its parser refuses (too deep, not well-formed) would kill a long-lived
                # session. The message is dropped instead.
                log.error("%s dropped a message: %r", type(listener).__name__, e)

    def _reject(self, error: MalformedReplyError) -> None:
        """A message that cannot be parsed safely: its request (if known) fails with *error*."""
        with self._lock:
            listeners = list(self._listeners)
        rejected = False
        for listener in listeners:
            reject = getattr(listener, "reject", None)
            if reject is not None:
                reject(error)
                rejected = True
        if not rejected:
            log.error("dropping a message: %s", error)

    # -- the loop ------------------------------------------------------------------

    def run(self) -> None:
        reason: Optional[Exception] = None
        sel = selectors.DefaultSelector()
        try:
            sel.register(self._wake_r, selectors.EVENT_READ, None)
            self._transport_register(sel, selectors.EVENT_READ)
            while True:
                # Cleared before the queue is read: a message queued after this line
                # either is taken by _write_some or writes a new wake-up byte.
                self._wake_pending = False
                self._write_some()
                # Only while paramiko's window is full do we look again on a timer.
                events = sel.select(WINDOW_POLL if self._out else None)
                for key, _ in events:
                    if key.fileobj is self._wake_r:
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except (BlockingIOError, OSError):
                            pass
                        continue
                    data = self._transport_read()
                    if data:
                        self._feed(data)
                    elif self._closing.is_set():
                        return
                    else:
                        raise SessionCloseError(b"")
                if self._closing.is_set() and (self._channel is None or self._channel.closed):
                    return
        except Exception as e:
            reason = e
            log.warning("session ended: %r", e)
            self._dispatch_error(e)
        finally:
            sel.close()
            self._finish(reason)

    def _finish(self, reason: Optional[Exception]) -> None:
        if reason is None and not self._closing.is_set():
            reason = SessionCloseError(b"")
        self.end_reason = reason
        self._connected = False
        self._close_transport()
        self._ended.set()
        for fn in self._on_end:
            try:
                fn(reason)
            except Exception:
                log.exception("end-of-session callback failed")

    def _close_transport(self) -> None:
        transport = self._transport
        if transport is not None and transport.is_active():
            transport.close()
        if self._channel is not None:
            self._channel.close()
        for s in (self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass

    # -- connect and close ---------------------------------------------------------

    def _post_connect(self, timeout: Optional[float] = None) -> None:
        super()._post_connect(DEFAULT_HELLO_TIMEOUT if timeout is None else timeout)
        # ncclient leaves this check commented out; without a base capability there is
        # no framing both sides agree on (RFC 6241 section 8.1).
        caps = list(self._server_capabilities or ())
        if not any(c.split("?")[0].endswith((":base:1.0", ":base:1.1")) for c in caps):
            raise SessionError("server hello announces neither base:1.0 nor base:1.1")

    def close(self) -> None:
        """Close the channel and transport; join the threads with a bound (blocking)."""
        self._closing.set()
        self._connected = False
        self._wake()
        transport = self._transport
        if transport is not None and transport.is_active():
            transport.close()
        current = threading.current_thread()
        if self.is_alive() and self is not current:
            self.join(CLOSE_JOIN_TIMEOUT)
        if not self.is_alive() and not self._ended.is_set() and self.ident is None:
            # The loop never started (connect failed before the hello): end here.
            self._finish(None)
        if transport is not None and transport.is_alive() and transport is not current:
            transport.join(CLOSE_JOIN_TIMEOUT)
        if self._channel is not None:
            self._channel.close()
