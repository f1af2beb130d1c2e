"""The NETCONF session of the reactor transport: :class:`ReactorSession`, an ncclient ``Session``
on the reactor thread, never started as a thread.

Its link (an SSH channel, :mod:`.ssh`; a TLS or Unix stream, :mod:`.stream`) feeds it bytes
in ``data_received``; it decodes the framing and hands each message to its listeners
(ncclient's, and ours), and ``send`` writes to the link. ncclient's operation classes,
device handlers, capabilities and hello handling work on it unchanged. Its work (messages
to hand on, requests to build) is done a slice at a time by the reactor's
:class:`~ncclient_twisted.transport.reactor.scheduler.WorkScheduler`.

Everything here runs on the reactor thread; :meth:`ReactorSession.close` may be called
from any thread.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Deque, List, Optional, Protocol, Union

from ncclient.transport.errors import (
    SessionCloseError,
    SessionError,
    TransportError,
)
from ncclient.transport.session import HelloHandler, NetconfBase, NotificationHandler, Session
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from ncclient_twisted.transport.capabilities import shared_capabilities
from ncclient_twisted.transport.dispatch import UNUSED_QUEUE, MessageDispatch
from ncclient_twisted.transport.ended import not_connected, session_closed
from ncclient_twisted.transport.framing import EOM, FrameDecoder, LargeMessage, announces_base, frame_11
from ncclient_twisted.transport.hello import SharedHelloHandler
from ncclient_twisted.transport.keepalive import DeadPeerDetector, KeepaliveTimeoutError
from ncclient_twisted.transport.reactor.scheduler import WorkScheduler, scheduler_for
from ncclient_twisted.transport.session_hooks import SessionHooks

__all__ = ["ReactorSession"]


log = Logger(namespace=__name__)


#: Messages longer than this (characters) are parsed on the pool, not the reactor.
LARGE_MESSAGE = 256 * 1024
#: How long a close may wait for the connection to end before it is aborted (seconds).
CLOSE_ABORT_AFTER = 5.0


class Link(Protocol):
    """What a :class:`ReactorSession` runs over: an SSH channel, or a stream (TLS, a
    Unix socket)."""

    def write(self, data: bytes) -> None: ...

    def flush(self) -> None: ...

    def pause_reading(self, paused: bool) -> None: ...

    def drop_connection(self, abort: bool = False) -> None: ...


class ReactorSession(MessageDispatch, Session):
    """An ncclient ``Session`` on the reactor thread: bytes in from the channel, messages
    out to the listeners; never started as a thread.

    *hello* fires with the session once the hello exchange is done (or fails).
    """

    #: The manager hands every request to :meth:`submit` (built now while the reactor's
    #: work budget lasts, queued for a coming turn after), never builds one itself.
    submit_always = True
    #: Whether the session has ended (set once, in :meth:`connection_lost`).
    ended: bool

    def __init__(
        self,
        device_handler: Any,
        reactor: Any,
        hooks: Optional[SessionHooks] = None,
        scheduler: Optional["WorkScheduler"] = None,
    ) -> None:
        # ncclient's Capabilities, parsed once for all the sessions of the same list.
        Session.__init__(self, shared_capabilities(device_handler.get_capabilities()))
        self._device_handler = device_handler
        #: An ``IReactorTime`` and ``IReactorFromThreads`` provider.
        self._reactor = reactor
        # Work done a slice per reactor turn (see _work): requests to build, messages to
        # hand to the listeners.
        self._jobs: Deque[Any] = collections.deque()
        # (A message longer than LARGE_MESSAGE comes undecoded: it is decoded on the pool.)
        self._messages: Deque[Union[str, LargeMessage]] = collections.deque()
        self._scheduler = scheduler if scheduler is not None else scheduler_for(reactor)
        #: The reactor's :class:`WorkScheduler` (its transport's reads share it).
        self.scheduler = self._scheduler
        #: Whether the scheduler holds this session in its queue.
        self.queued = False
        hooks = hooks if hooks is not None else SessionHooks()
        self._notifications = hooks.notifications
        # ncclient's send queue is never used here (send writes to the link), nor its
        # notification queue when the hooks' router takes the notifications.
        self._q = UNUSED_QUEUE
        self._drop_notification_queue()
        self._run_elsewhere = hooks.run_elsewhere
        #: A large message is being handled off the reactor: the rest waits for it.
        self._waiting_for_elsewhere = False
        self._channel: Optional[Link] = None
        #: Frames sent while held (see hold), or None.
        self._held: Optional[List[bytes]] = None
        self.bytes_received = 0
        self.bytes_sent = 0
        self._decoder: Optional[FrameDecoder] = FrameDecoder(
            self._messages.append,
            lambda: self._base == NetconfBase.BASE_11,
            invalid=self._reject,
            max_size=hooks.max_message_size,
            deliver_large=self._messages.append,
            large=LARGE_MESSAGE,
        )
        self._on_end: List[Callable[[Optional[Exception]], None]] = []
        self._closing_on_purpose = False
        self._closed_waiters: List["Deferred[None]"] = []
        self.end_reason: Optional[Exception] = None
        self.ended = False
        self.host: Optional[str] = None
        self.hello: "Deferred[ReactorSession]" = Deferred()
        self._keepalive: Optional[DeadPeerDetector] = None
        self._keepalive_call: Any = None
        self._abort_call: Any = None
        self._hello_listener: Optional[HelloHandler] = None

    # -- what the bridge asks of a session -------------------------------------------

    def mark_closing(self) -> None:
        """Say that the session is being closed on purpose (its end is then no error)."""
        self._closing_on_purpose = True

    def start_keepalive(self, detector: DeadPeerDetector) -> None:
        """Drive *detector* on the reactor's clock: probe a silent peer, and end the
        session with ``KeepaliveTimeoutError`` when it stops answering."""
        self._keepalive = detector
        self._keepalive_call = self._reactor.callLater(detector.timeout(None), self._keepalive_tick)

    @property
    def keepalive(self) -> Optional[DeadPeerDetector]:
        """The dead-peer detector, if any."""
        return self._keepalive

    def _keepalive_tick(self) -> None:
        self._keepalive_call = None
        detector = self._keepalive
        if detector is None or self.ended:
            return
        try:
            detector.check()
        except KeepaliveTimeoutError as e:
            self._fail(e)
            return
        self._keepalive_call = self._reactor.callLater(detector.timeout(None), self._keepalive_tick)

    def send(self, message: str) -> None:
        """Write *message*, framed, to the channel (on the reactor thread)."""
        channel = self._channel
        if not self._connected or channel is None:
            raise TransportError("Not connected to NETCONF server")
        data = message.encode("utf-8")
        frame = frame_11(data) if self._base == NetconfBase.BASE_11 else data + EOM
        self.bytes_sent += len(frame)
        if self._held is not None:
            self._held.append(frame)  # written with the others when the work ends
            return
        channel.write(frame)
        self._scheduler.wrote(self)

    def pause_reading(self, paused: bool) -> None:
        """Stop (or resume) reading the socket while this session's work waits for a
        turn: what is not read yet costs the reactor nothing (its decryption included)
        until the session has caught up."""
        if self._channel is not None:
            self._channel.pause_reading(paused)

    def hold(self) -> None:
        """Keep what is sent from now on until :meth:`release` (the scheduler's work under
        way): a burst of requests is one write, one SSH packet per 32 KiB, not one each."""
        if self._held is None:
            self._held = []

    def release(self, flush: bool) -> None:
        """Write what was held; with *flush*, put it on the wire now (:func:`flush_now`)."""
        held, self._held = self._held, None
        channel = self._channel
        if channel is None:
            return
        if held:
            channel.write(b"".join(held))
        if flush:
            channel.flush()

    def close(self) -> None:
        """Close the channel and the SSH connection; from any thread. From another thread
        it only asks the reactor to, and never waits for it: at shutdown the reactor may
        be waiting for that very thread (a pool's)."""
        if self._reactor_thread():
            self._close_now()
        else:
            self._reactor.callFromThread(self._close_now)

    def close_on_reactor(self) -> "Deferred[None]":
        """Close the channel and the SSH connection (on the reactor thread); a Deferred
        that fires once the connection has ended (aborted after CLOSE_ABORT_AFTER)."""
        return self._close_now()

    def _reactor_thread(self) -> bool:
        from twisted.python import threadable

        return bool(threadable.isInIOThread())

    def _close_now(self) -> "Deferred[None]":
        self._closing_on_purpose = True
        if self.ended:
            return succeed(None)
        d: "Deferred[None]" = Deferred()
        self._closed_waiters.append(d)
        channel = self._channel
        if channel is not None:
            channel.drop_connection()
            # A peer that takes nothing more would keep a graceful close waiting for
            # ever (its buffers full): after a bound, the connection is aborted.
            self._abort_call = self._reactor.callLater(CLOSE_ABORT_AFTER, self._abort, channel)
        else:
            self.connection_lost(None)
        return d

    def _abort(self, channel: Link) -> None:
        self._abort_call = None
        if not self.ended:
            log.debug(
                "the close did not finish in {seconds} s: aborting the connection",
                seconds=CLOSE_ABORT_AFTER,
            )
            channel.drop_connection(abort=True)

    # -- from the channel ------------------------------------------------------------

    def channel_opened(self, channel: "Link") -> None:
        """The channel is open: from now on the server's hello may come (a server may
        send it before it answers the subsystem request)."""
        self._channel = channel
        self.add_listener(NotificationHandler(self._notification_q))
        hello = SharedHelloHandler(self._hello_ok, self._hello_failed)
        self._hello_listener = hello
        self.add_listener(hello)

    def channel_ready(self) -> None:
        """The ``netconf`` subsystem is up: send our hello (end-of-message framed, always:
        the server's hello may have switched ``_base`` to 1.1 already)."""
        channel = self._channel
        if self.ended or channel is None:
            return  # the connect was given up meanwhile (cancelled, timed out)
        self._connected = True
        hello = HelloHandler.build(self._client_capabilities, self._device_handler).encode("utf-8") + EOM
        self.bytes_sent += len(hello)
        channel.write(hello)

    def _hello_ok(self, session_id: Any, capabilities: Any) -> None:
        self._drop_hello_listener()
        self._id = session_id
        self._server_capabilities = capabilities
        caps = [str(c) for c in capabilities or ()]
        if not announces_base(caps):
            self._hello_failed(SessionError("server hello announces neither base:1.0 nor base:1.1"))
            return
        base11 = "urn:ietf:params:netconf:base:1.1"
        if base11 in capabilities and base11 in self._client_capabilities:
            self._base = NetconfBase.BASE_11
        if not self.hello.called:
            self.hello.callback(self)

    def _drop_hello_listener(self) -> None:
        """Stop listening for the hello (it came, or the session ended)."""
        hello, self._hello_listener = self._hello_listener, None
        if hello is not None:
            self.remove_listener(hello)

    def _hello_failed(self, error: Exception) -> None:
        if not self.hello.called:
            self.hello.errback(Failure(error))
        channel = self._channel
        if channel is not None:
            channel.drop_connection()

    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        decoder = self._decoder
        if decoder is None:
            return  # after the end (see _release_after_end): nobody would take the message
        try:
            decoder.feed(data)
        except Exception as e:
            self._fail(e)
            return
        self._scheduler.request(self, flush=True)

    def _fail(self, error: Exception) -> None:
        """A framing error (or a failure ncclient would let end the loop): the session
        ends with it, as on the threads transport."""
        log.debug("session ended by {error!r}", error=error)
        channel = self._channel
        self.connection_lost(error)
        if channel is not None:
            channel.drop_connection()

    # -- work a slice at a time ------------------------------------------------------
    # A burst (a thousand replies in one read, a thousand requests made in one turn, on
    # one session or a hundred) is worked through WORK_SLICE seconds per reactor turn,
    # for all the reactor's sessions together (WorkScheduler); the rest waits for the
    # next turn, so timers and other connections are served in between.

    def submit(self, job: Any) -> None:
        """Run ``job.run()`` (build and send a request) in a coming reactor turn, in the
        order submitted; ``job.fail(reason)`` instead once the session has ended."""
        if self.ended:
            job.fail(not_connected(self.end_reason))
            return
        self._jobs.append(job)
        self._scheduler.request(self)

    @property
    def jobs_outstanding(self) -> bool:
        """Whether a submitted job has not run yet (a later request must not overtake it)."""
        return bool(self._jobs)

    def _work(self) -> None:
        self._scheduler.request(self)

    def _dispatch_any(self, raw: Union[str, LargeMessage]) -> None:
        if isinstance(raw, LargeMessage):
            self._dispatch_large(raw)
        else:
            self._dispatch_message(raw)

    def _elsewhere(self, raw: Union[str, LargeMessage]) -> bool:
        """Hand a large message to the hooks' pool (its decoding and parse would hold the
        reactor); the session's other work waits for it, so the order of messages is kept."""
        done = self._run_elsewhere(lambda: self._dispatch_any(raw))
        if done is None:
            return False
        self._waiting_for_elsewhere = True

        def resume(result: Any) -> None:
            self._waiting_for_elsewhere = False
            if isinstance(result, Failure):
                self._fail(result.value)  # type: ignore[arg-type]
                return
            self._work()

        done.addBoth(resume)
        return True

    def work_until(self, deadline: float) -> bool:
        """Hand messages to the listeners, then build requests, until *deadline*
        (the scheduler's ``now()``); whether nothing is left."""
        messages, jobs = self._messages, self._jobs
        while messages or jobs:
            if self._waiting_for_elsewhere:
                return True  # resumed when the large message is done
            if messages:
                raw = messages.popleft()
                if len(raw) > LARGE_MESSAGE and self._elsewhere(raw):
                    return True
                try:
                    self._dispatch_any(raw)
                except Exception as e:
                    self._fail(e)
                    return True
            elif not self.ended:
                jobs.popleft().run()
            else:
                jobs.clear()
            if self._scheduler.now() >= deadline:
                return not (messages or jobs)
        return True

    def connection_lost(self, reason: Optional[Exception]) -> None:
        """The channel or the connection went away (*reason*: why, ``None``: no error)."""
        if self.ended:
            return
        # What arrived before the end is handled first (the reply to close-session...).
        messages = self._messages
        while messages:
            try:
                self._dispatch_any(messages.popleft())
            except Exception:
                log.failure("dropping a message at the end of the session", level=LogLevel.error)
        self.ended = True
        self._connected = False
        self._channel = None
        for call in (self._keepalive_call, self._abort_call):
            if call is not None and call.active():
                call.cancel()
        self._keepalive_call = self._abort_call = None
        if self._closing_on_purpose:
            reason = None
        elif reason is None:
            reason = SessionCloseError(b"")
        self.end_reason = reason
        if reason is not None and self._id is not None:
            # An end nobody asked for, of a session that was up: logged as the threads
            # transport logs it.
            log.info(
                "session {session_id} with {host} ended: {reason!r}",
                session_id=self._id, host=self.host, reason=reason,
            )
        jobs, self._jobs = self._jobs, collections.deque()
        for job in jobs:
            job.fail(reason or session_closed())
        if not self.hello.called:
            self.hello.errback(Failure(reason or SessionCloseError(b"")))
        for fn in self._on_end:
            try:
                fn(reason)
            except Exception:
                log.failure("end-of-session callback failed", level=LogLevel.error)
        waiters, self._closed_waiters = self._closed_waiters, []
        for d in waiters:
            d.callback(None)
        self._release_after_end()

    def _release_after_end(self) -> None:
        """As the base's (:meth:`MessageDispatch._release_after_end`), and the keepalive
        detector (its probe is the transport's) and the hello handler."""
        super()._release_after_end()
        self._keepalive = None
        self._drop_hello_listener()
