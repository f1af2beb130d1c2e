"""The session loop of the threads transport: :class:`WakeOnSendSession` wakes on work, not on
a timer.

ncclient's ``Session.run`` looks at its send queue every ``TICK`` (0.1 s), so a request
waits up to 100 ms before it is written, and an idle session wakes ten times a second.
Here the session thread sleeps in ``select`` on the transport and on one end of a socket
pair; :meth:`~WakeOnSendSession.send` writes a byte to the other end. Nothing of ncclient
is changed: :class:`WakeOnSendSession` is a mixin placed before one of ncclient's session
classes; it overrides ``run``, ``send``, ``close`` and ``_dispatch_message`` and leaves
the transport to small hooks (:class:`~.ssh.ThreadedSSHSession`; TLS and Unix-socket
sessions in :mod:`.sockets`).

paramiko's ``Transport`` polls its socket every 0.1 s as well. Our connect hands
ncclient a :class:`~.tcp.QuietSocket` whose read timeout is long (or the keepalive
interval), and whose ``close`` shuts the socket down first, so the transport thread wakes
at once when the session is closed.
"""

from __future__ import annotations

import collections
import queue
import selectors
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Optional, Protocol, Union, cast

import ncclient.transport.parser as nc_parser
from ncclient.capabilities import Capabilities
from ncclient.transport.errors import SessionCloseError, SessionError, TransportError
from ncclient.transport.session import NetconfBase, Session
from twisted.logger import Logger, LogLevel

from ncclient_twisted.transport.capabilities import shared_capabilities
from ncclient_twisted.transport.dispatch import MessageDispatch
from ncclient_twisted.transport.ended import not_connected, session_closed
from ncclient_twisted.transport.framing import EOM, FrameDecoder, announces_base, frame_11
from ncclient_twisted.transport.hello import DEFAULT_HELLO_TIMEOUT, hello_settle_time
from ncclient_twisted.transport.limits import descriptor_limit_error
from ncclient_twisted.transport.session_hooks import SessionHooks

if TYPE_CHECKING:
    from ncclient_twisted.transport.keepalive import DeadPeerDetector

__all__ = ["WakeOnSendSession"]


log = Logger(namespace=__name__)


class Job(Protocol):
    """Work for the session thread (see :meth:`WakeOnSendSession.submit`)."""

    def run(self) -> None: ...

    def fail(self, reason: Exception) -> None: ...

READ_SIZE = 256 * 1024


#: Bound on joining the session and transport threads when closing.
CLOSE_JOIN_TIMEOUT = 10.0
#: While paramiko's send window is full, how often the session thread looks again.
WINDOW_POLL = 0.005
#: At most this many requests are built per turn of the session loop (then it reads).
MAX_JOBS_PER_TURN = 256
#: The largest framed message a caller's thread writes itself (see ``send``); larger
#: ones are always written by the session thread.
DIRECT_WRITE_MAX = 16 * 1024
#: Queued messages are joined into one write up to this size (one more message at most).
WRITE_BATCH = 256 * 1024


class WakeOnSendSession(MessageDispatch, Session):
    """The transport-independent part of our sessions: ncclient's ``Session``; put it
    before one of ncclient's session classes.

    It needs from the transport ncclient's hooks ``_transport_register``,
    ``_transport_read`` (here: ``b""`` at end of stream, ``None`` when nothing could be
    read after all), ``_transport_write`` (``None`` when it would block) and
    ``_send_ready``, and ours: :meth:`_select_timeout`, :meth:`_transport_closed`,
    :meth:`_interrupt_transport`, :meth:`_close_transport` and :meth:`_reap_transport`.

    *on_end* callbacks run on the session thread once the loop has ended, with the
    exception that ended it, or ``None`` for a close we asked for. *hooks* is how the
    layer above takes part (see :class:`~ncclient_twisted.transport.session_hooks.SessionHooks`).
    """

    #: ncclient's message parser (set by its ``connect``).
    parser: Any
    # ncclient's Session's (declared for the type checker).
    _client_capabilities: Any
    _server_capabilities: Any
    #: The manager submits a request only while others are in flight (see ``submit``).
    submit_always = False

    def __init__(self, device_handler: Any, hooks: Optional[SessionHooks] = None) -> None:
        super().__init__(device_handler)
        if isinstance(self._client_capabilities, Capabilities):
            # ncclient parsed them for this session: a copy that shares its parse with
            # the other sessions' of the same list takes their place (issue #25).
            self._client_capabilities = shared_capabilities(self._client_capabilities)
        hooks = hooks if hooks is not None else SessionHooks()
        self._write_now = hooks.write_now
        self._wake_later = hooks.wake_later
        self._gate = hooks.gate
        self._gate_max = hooks.gate_max
        self._batch = hooks.batch
        self._notifications = hooks.notifications
        self._drop_notification_queue()
        self._max_message_size = hooks.max_message_size
        self._keepalive: Optional[DeadPeerDetector] = None
        self.name = "ncclient_twisted-session"
        try:
            self._wake_r, self._wake_w = socket.socketpair()
        except OSError as e:
            raise (descriptor_limit_error(e) or e) from e
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._on_end: List[Callable[[Optional[Exception]], None]] = []
        self._ended = threading.Event()
        self.end_reason: Optional[Exception] = None
        self._decoder: Optional[FrameDecoder] = None
        #: Updated by whichever thread reads or writes (the GIL keeps each addition whole).
        self.bytes_received = 0
        self.bytes_sent = 0
        # A memoryview once the session thread writes: what the transport took is cut
        # off without copying the rest (one SSH packet, 32 KiB, at a time).
        self._out: Union[bytes, memoryview] = b""
        #: Held while writing: by the session thread, or by a caller writing directly.
        self._write_lock = threading.Lock()
        # Requests to build on this thread (see submit): the caller counts what it
        # submits, the session thread what it has run, each its own counter.
        self._jobs: Deque[Job] = collections.deque()
        self._jobs_submitted = 0
        self._jobs_done = 0
        # True while a wake-up byte is on its way: a burst of sends costs one syscall.
        self._wake_pending = False

    # -- hooks ---------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    # -- the transport (overridden per transport) -------------------------------------

    def _transport_read(self) -> Optional[bytes]:
        raise NotImplementedError

    def _transport_write(self, data: bytes) -> Optional[int]:
        raise NotImplementedError

    def _send_ready(self) -> bool:
        raise NotImplementedError

    def _can_write_now(self, size: int) -> bool:
        """Whether *size* bytes can be written from a caller's thread at once, without
        waiting (a window, a key exchange). Transports that cannot be written from
        another thread than the session's say False (the default)."""
        return False

    def _select_timeout(self, sel: selectors.BaseSelector) -> Optional[float]:
        """How long the loop may sleep; called each turn, may change *sel*'s interests."""
        return None

    def _transport_closed(self) -> bool:
        """Whether the transport is gone (the loop ends if we are closing)."""
        return True

    def _interrupt_transport(self) -> None:
        """Make the transport end (any thread; must not block for long)."""

    def _close_transport(self) -> None:
        """Release the transport (session thread, once the loop has ended)."""

    def _reap_transport(self) -> None:
        """After the session thread is joined: join the transport's own threads."""

    # -- sending -------------------------------------------------------------------

    def send(self, message: str) -> None:
        """Send *message* (any thread may call this).

        When nothing else is in flight (``write_now``) and the message is small, the
        caller's thread writes it: a request one at a time then costs no wake-up of the
        session thread. Otherwise it is queued and the session thread woken; it writes
        everything queued in one go.
        """
        if not self.connected:
            raise TransportError("Not connected to NETCONF server")
        if self._write_now() and self._write_lock.acquire(blocking=False):
            try:
                if self._write_directly(message):
                    return
            finally:
                self._write_lock.release()
        self._q.put(message)
        self._request_wake()

    def _request_wake(self) -> None:
        """Wake the session thread unless a wake-up is already on its way (a burst of
        sends or jobs costs one); the hooks' ``wake_later`` may take it on."""
        if self._wake_pending:
            return
        self._wake_pending = True
        if not self._wake_later(self):
            self.wake()

    def wake(self) -> None:
        """Wake the session thread now (a byte on its socket pair)."""
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending, or the session is gone

    def submit(self, job: "Job") -> None:
        """Run ``job.run()`` on the session thread, in the order submitted (call it from
        one thread: the manager's). Once the session has ended, ``job.fail(reason)``
        is called instead."""
        self._jobs_submitted += 1
        self._jobs.append(job)
        if self._ended.is_set():
            self._fail_jobs(later=True)
            return
        self._request_wake()

    @property
    def jobs_outstanding(self) -> bool:
        """Whether a submitted job has not run yet (a later request must not overtake it)."""
        return self._jobs_done != self._jobs_submitted

    def _run_jobs(self) -> None:
        gate = self._gate
        for _ in range(MAX_JOBS_PER_TURN):
            try:
                job = self._jobs.popleft()
            except IndexError:
                return
            try:
                if gate is None:
                    job.run()
                else:
                    with gate:
                        job.run()
            except Exception:
                log.failure("a request could not be built", level=LogLevel.error)
            finally:
                self._jobs_done += 1
        self.wake()  # more to build: after this turn's reads and writes

    def _fail_jobs(self, later: bool = False) -> None:
        """Fail the jobs not run: with the reason the session ended, or (*later*: made
        after the end) with ``TransportError`` caused by it."""
        reason = not_connected(self.end_reason) if later else self.end_reason or session_closed()
        while True:
            try:
                job = self._jobs.popleft()
            except IndexError:
                return
            try:
                job.fail(reason)
            finally:
                self._jobs_done += 1

    def _frame(self, message: str) -> bytes:
        data = message.encode("utf-8")
        frame = frame_11(data) if self._base == NetconfBase.BASE_11 else data + EOM
        self.bytes_sent += len(frame)
        return frame

    def _write_directly(self, message: str) -> bool:
        """Write *message* now, on this thread (the write lock held); False to queue it.

        Only when nothing queued or half-written would go out after it. A write that
        fails leaves the message to the session thread, which meets the same error and
        ends the session with it.
        """
        if self._out or not self._q.empty():
            return False
        data = self._frame(message)
        if len(data) > DIRECT_WRITE_MAX or not self._can_write_now(len(data)):
            return False
        try:
            n = self._transport_write(data)
        except Exception as e:
            log.debug("direct write failed ({error!r}): left to the session thread", error=e)
            return False
        if n is None or n <= 0:
            return False
        if n < len(data):
            self._out = data[n:]  # the session thread writes the rest, before anything else
            self.wake()
        return True

    def _take_queued(self) -> memoryview:
        """The queued messages, framed, as one buffer (one write, one TCP segment), up to
        WRITE_BATCH: a backlog of 100 MB is never joined (nor copied) in one piece."""
        out: List[bytes] = []
        size = 0
        while size < WRITE_BATCH:
            try:
                msg = self._q.get_nowait()
            except queue.Empty:
                break
            out.append(self._frame(msg))
            size += len(out[-1])
        if not out:
            return memoryview(b"")
        return memoryview(out[0] if len(out) == 1 else b"".join(out))

    def _write_some(self) -> None:
        """Write what the transport takes now; the rest waits in ``_out``."""
        with self._write_lock:
            self._write_locked()

    def _write_locked(self) -> None:
        if not self._out:
            self._out = self._take_queued()
        while self._out and self._send_ready():
            try:
                # (paramiko's Channel.send and socket.send take a memoryview as well.)
                n = self._transport_write(cast(bytes, self._out))
            except (OSError, EOFError) as e:
                # paramiko: "Socket is closed", or EOFError from its packetizer: the
                # server closed first.
                raise SessionCloseError(b"", bytes(self._out)) from e
            if n is None:
                return
            if n <= 0:
                raise SessionCloseError(b"", bytes(self._out))
            self._out = self._out[n:]
            if not self._out:
                self._out = self._take_queued()

    # -- receiving -----------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        # Whatever this read completes reaches the reactor with one wake-up per hand-off.
        with self._batch():
            self._feed_parser(data)

    def _feed_parser(self, data: bytes) -> None:
        self.bytes_received += len(data)
        parser: Any = self.parser
        if type(parser) is nc_parser.DefaultXMLParser:
            if self._decoder is None:
                self._decoder = FrameDecoder(
                    self._dispatch_message,
                    lambda: self._base == NetconfBase.BASE_11,
                    invalid=self._reject,
                    max_size=self._max_message_size,
                    deliver_large=self._dispatch_large,
                )
            self._decoder.feed(data)
            return
        # A device handler's own (SAX) parser: keep ncclient's behaviour, switch included.
        try:
            parser.parse(data)
        except nc_parser.SAXFilterXMLNotFoundError:
            parser = self.parser = nc_parser.DefaultXMLParser(self)
            parser.parse(data)

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
                if self._jobs:
                    self._run_jobs()
                self._write_some()
                timeout = self._select_timeout(sel)
                if self._keepalive is not None:
                    timeout = self._keepalive.timeout(timeout)
                events = sel.select(timeout)
                for key, mask in events:
                    if key.fileobj is self._wake_r:
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except (BlockingIOError, OSError):
                            pass
                        continue
                    if not mask & selectors.EVENT_READ:
                        continue
                    data = self._transport_read()
                    if data:
                        self._feed(data)
                    elif data is None:
                        continue
                    elif self._closing.is_set():
                        return
                    else:
                        raise SessionCloseError(b"")
                if self._closing.is_set() and self._transport_closed():
                    return
                if self._keepalive is not None:
                    self._keepalive.check()
        except Exception as e:
            reason = e
            log.info(
                "session {session_id} with {host} ended: {reason!r}",
                session_id=self.id, host=getattr(self, "_host", None), reason=e,
            )
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
        for s in (self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass
        self._ended.set()
        self._fail_jobs()
        callbacks, self._on_end = self._on_end, []
        for fn in callbacks:
            try:
                fn(reason)
            except Exception:
                log.failure("end-of-session callback failed", level=LogLevel.error)
        self._release_after_end()

    def _release_after_end(self) -> None:
        """As the base's (:meth:`MessageDispatch._release_after_end`), and ncclient's
        parser (its callbacks are this session's)."""
        super()._release_after_end()
        self.parser = None

    # -- connect and close ---------------------------------------------------------

    def _post_connect(self, timeout: Optional[float] = None) -> None:
        # The next class in the MRO (ncclient's Session) has it; mypy sees only object.
        post_connect: Any = cast(Any, super())._post_connect
        post_connect(DEFAULT_HELLO_TIMEOUT if timeout is None else timeout)
        server = getattr(self, "_server_capabilities", None)
        if isinstance(server, Capabilities):
            # As the client's (ncclient's _post_connect parses the hello itself).
            server = self._server_capabilities = shared_capabilities(server)
        # ncclient leaves this check commented out; without a base capability there is
        # no framing both sides agree on (RFC 6241 section 8.1).
        caps = [str(c) for c in (server or ())]
        if not announces_base(caps):
            raise SessionError("server hello announces neither base:1.0 nor base:1.1")
        settle = hello_settle_time(server)
        if settle:
            # On the connect (pool) thread, never the reactor: see hello_settle_time.
            time.sleep(settle)

    def mark_closing(self) -> None:
        """Say that the session is being closed on purpose (its end is then no error)."""
        self._closing.set()

    def use_keepalive(self, detector: "DeadPeerDetector") -> None:
        """Have the session loop drive *detector* (before ``connect``)."""
        self._keepalive = detector

    @property
    def keepalive(self) -> "Optional[DeadPeerDetector]":
        """The dead-peer detector the loop drives, if any."""
        return self._keepalive

    def close(self) -> None:
        """Close the transport; join the threads with a bound (blocking)."""
        self._closing.set()
        self._connected = False
        self.wake()
        self._interrupt_transport()
        # The concrete class is a thread (ncclient's Session is one); mypy sees the mixin only.
        if self.is_alive() and cast(threading.Thread, self) is not threading.current_thread():
            self.join(CLOSE_JOIN_TIMEOUT)
        if not self.is_alive() and not self._ended.is_set() and self.ident is None:
            # The loop never started (connect failed before the hello): end here.
            self._finish(None)
        self._reap_transport()
