"""NETCONF over SSH on the reactor thread (``io="reactor"``): Twisted Conch, no thread.

The SSH side is Conch's client: :class:`ClientTransport` (key exchange, host key through
the caller's :data:`HostKeyCheck`), :class:`UserAuth` (public keys, ``auth_handler``,
one password attempt, as ncclient and paramiko), an ``SSHConnection`` and one
:class:`NetconfChannel` on the ``netconf`` subsystem. The NETCONF side is
:class:`ReactorSession`, an ncclient ``Session`` that is never started as a thread: the
channel feeds it bytes in ``dataReceived``, it decodes the framing and hands each message
to its listeners (ncclient's, and ours), and ``send`` writes to the channel. ncclient's
operation classes, device handlers, capabilities and hello handling work on it unchanged.

Everything here runs on the reactor thread; :meth:`ReactorSession.close` may be called
from any thread.
"""

from __future__ import annotations

import collections
import logging
import time
import weakref
from typing import Any, Callable, Deque, List, Optional, Protocol, Sequence, Tuple, Union

from ncclient.capabilities import Capabilities
from ncclient.transport.errors import (
    AuthenticationError,
    SessionCloseError,
    SessionError,
    SSHError,
    TransportError,
)
from ncclient.transport.session import HelloHandler, NetconfBase, NotificationHandler, Session
from twisted.conch.ssh import keys
from twisted.conch.ssh.channel import SSHChannel
from twisted.conch.ssh.common import NS, getNS
from twisted.conch.ssh.connection import SSHConnection
from twisted.conch.ssh.transport import DISCONNECT_HOST_KEY_NOT_VERIFIABLE, SSHClientTransport
from twisted.conch.ssh.userauth import SSHUserAuthClient
from twisted.internet import protocol
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import ISSLTransport, ITCPTransport, IWriteDescriptor
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from ncclient_twisted.transport.dispatch import MessageDispatch
from ncclient_twisted.transport.ended import not_connected, session_closed
from ncclient_twisted.transport.framing import EOM, FrameDecoder, LargeMessage, announces_base, frame_11
from ncclient_twisted.transport.hooks import SessionHooks
from ncclient_twisted.transport.keepalive import KEEPALIVE_REQUEST, DeadPeerDetector, KeepaliveTimeoutError

__all__ = ["ReactorSession", "NetconfChannel", "UserAuth", "ClientTransport", "HostKeyCheck"]

log = logging.getLogger("ncclient_twisted.session")

#: ``check(key_blob) -> Deferred[bool]``: whether the server's host key is accepted (it
#: may fail with the error to report instead, e.g. ``HostKeyChangedError``). A check may
#: have ``key_types``: the key types known for the host, negotiated first.
HostKeyCheck = Callable[[bytes], "Deferred[bool]"]
#: The disconnect reason sent to a server whose host key was refused (OpenSSH's words).
HOST_KEY_DISCONNECT_REASON = b"host key verification failed"
#: The longest a session works on a burst in one reactor turn (seconds).
WORK_SLICE = 0.0005
#: A pause between two pieces of work this long (seconds) means the reactor was free in
#: between (it polled, ran its timers): the budget starts again. Work that comes as a
#: reply, then a wait for the server, then the next reply, never waits for a turn.
IDLE_GAP = 0.00005
#: Messages longer than this (characters) are parsed on the pool, not the reactor.
LARGE_MESSAGE = 256 * 1024
#: How long a close may wait for the connection to end before it is aborted (seconds).
CLOSE_ABORT_AFTER = 5.0
#: While the peer's SSH window is full, what is written waits in pieces of this size.
BACKLOG_PIECE = 256 * 1024


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

    def __init__(
        self,
        device_handler: Any,
        reactor: Any,
        hooks: Optional[SessionHooks] = None,
        scheduler: Optional["WorkScheduler"] = None,
    ) -> None:
        Session.__init__(self, Capabilities(device_handler.get_capabilities()))
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
        self._run_elsewhere = hooks.run_elsewhere
        #: A large message is being handled off the reactor: the rest waits for it.
        self._waiting_for_elsewhere = False
        self._channel: Optional[Link] = None
        #: Frames sent while held (see hold), or None.
        self._held: Optional[List[bytes]] = None
        self._decoder = FrameDecoder(
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

    # -- what the bridge asks of a session -------------------------------------------

    def add_end_callback(self, fn: Callable[[Optional[Exception]], None]) -> None:
        """Call *fn(reason)* when the session ends (``None``: a close we asked for)."""
        self._on_end.append(fn)

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
            log.debug("the close did not finish in %s s: aborting the connection", CLOSE_ABORT_AFTER)
            channel.drop_connection(abort=True)

    # -- from the channel ------------------------------------------------------------

    def channel_opened(self, channel: "Link") -> None:
        """The channel is open: from now on the server's hello may come (a server may
        send it before it answers the subsystem request)."""
        self._channel = channel
        self.add_listener(NotificationHandler(self._notification_q))
        hello = HelloHandler(self._hello_ok, self._hello_failed)
        self._hello_listener = hello
        self.add_listener(hello)

    def channel_ready(self) -> None:
        """The ``netconf`` subsystem is up: send our hello (end-of-message framed, always:
        the server's hello may have switched ``_base`` to 1.1 already)."""
        channel = self._channel
        if self.ended or channel is None:
            return  # the connect was given up meanwhile (cancelled, timed out)
        self._connected = True
        hello = HelloHandler.build(self._client_capabilities, self._device_handler)
        channel.write(hello.encode("utf-8") + EOM)

    def _hello_ok(self, session_id: Any, capabilities: Any) -> None:
        self.remove_listener(self._hello_listener)
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

    def _hello_failed(self, error: Exception) -> None:
        if not self.hello.called:
            self.hello.errback(Failure(error))
        channel = self._channel
        if channel is not None:
            channel.drop_connection()

    def data_received(self, data: bytes) -> None:
        try:
            self._decoder.feed(data)
        except Exception as e:
            self._fail(e)
            return
        self._scheduler.request(self, flush=True)

    def _fail(self, error: Exception) -> None:
        """A framing error (or a failure ncclient would let end the loop): the session
        ends with it, as on the threads transport."""
        log.debug("session ended by %r", error)
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
                log.exception("dropping a message at the end of the session")
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
            log.warning("session ended: %r", reason)
        jobs, self._jobs = self._jobs, collections.deque()
        for job in jobs:
            job.fail(reason or session_closed())
        if not self.hello.called:
            self.hello.errback(Failure(reason or SessionCloseError(b"")))
        for fn in self._on_end:
            try:
                fn(reason)
            except Exception:
                log.exception("end-of-session callback failed")
        waiters, self._closed_waiters = self._closed_waiters, []
        for d in waiters:
            d.callback(None)


class Worker(Protocol):
    """What a :class:`WorkScheduler` works: a session, or an SSH transport's reads."""

    queued: bool

    def work_until(self, deadline: float) -> bool: ...

    def pause_reading(self, paused: bool) -> None: ...


class WorkScheduler:
    """The reactor's sessions' burst work, WORK_SLICE seconds per reactor turn in all.

    A session with work asks :meth:`request`: while the budget is not used (and nobody
    is queued before it) it works at once; otherwise it is queued, and the next turn
    works through the queue, round robin, until the budget is used. The budget is
    WORK_SLICE seconds of work in a window of twice that, started again after a pause of
    IDLE_GAP: work that comes in pieces with pauses between (a reply, the next request,
    a wait for the server) never waits for a turn, a burst yields to timers and other
    connections every WORK_SLICE.

    What the sessions write while replies are handled (the requests a reply's callback
    makes) and in a turn goes on the wire without waiting for the reactor's next poll:
    a session's first write at once (the answer to a reply is on its way while the rest
    of the work is done), its later ones when the work ends (a burst of requests is
    still one more write per session).
    """

    def __init__(self, reactor: Any, now: Callable[[], float] = time.perf_counter) -> None:
        self._reactor = reactor
        #: The clock the work is timed by (seconds).
        self.now = now
        self._queue: Deque[Worker] = collections.deque()
        self._deadline = 0.0
        #: The current window's end, and the work done in it (seconds).
        self._window_end = 0.0
        self._used = 0.0
        #: When the last work ended: a pause of IDLE_GAP since means the reactor was free.
        self._last_end = 0.0
        self._scheduled = False
        #: How deep in work (replies, requests) the reactor thread is.
        self._depth = 0
        #: Whether what is written in that work is flushed (replies in hand, or a turn).
        self._eager = False
        #: The sessions that wrote in that work (what they send next is held till its end).
        self._wrote: List[ReactorSession] = []

    def request(self, session: Worker, flush: bool = False) -> None:
        """Work *session*'s messages and jobs (now, or queued for a coming turn); with
        *flush*, put what was written meanwhile on the wire when done (replies in hand)."""
        if session.queued:
            return  # its turn comes, in order
        now = self.now()
        outermost = not self._depth
        if outermost:  # else: within work, whose deadline holds
            # After work that overran its budget (one large request), only the window's
            # end starts a new one: a caller's loop of requests never pauses IDLE_GAP.
            idle = now - self._last_end >= IDLE_GAP and self._used <= WORK_SLICE
            if now >= self._window_end or idle:
                self._window_end, self._used = now + 2 * WORK_SLICE, 0.0
            self._deadline = now + WORK_SLICE - self._used
            self._eager = flush
        if not self._queue and now < self._deadline:
            self._depth += 1
            try:
                done = session.work_until(self._deadline)
            finally:
                self._depth -= 1
                if outermost:
                    self._flush()  # its writing is work too
                    self._last_end = self.now()
                    self._used += self._last_end - now
                    if self._used > WORK_SLICE:
                        # Overran (one job longer than the budget): the reactor polls
                        # before this scheduler works at once again.
                        self._window_end = max(self._window_end, self._last_end + WORK_SLICE)
            if done:
                return
        session.queued = True
        session.pause_reading(True)
        self._queue.append(session)
        self._schedule()

    def call(self, fn: Callable[[], None]) -> None:
        """Run *fn* (reactor work that is not a session's: a connect's setup) within the
        budget: now while it lasts, else in a coming turn, in order with the rest."""
        self.request(_Call(fn))

    def wrote(self, session: ReactorSession) -> None:
        """*session* has written to its channel: in work, what it sends next is held
        and written at the work's end, and (eager) this first write goes on the wire
        now. (Out of a reply's handling, in a caller's burst, what is written is left to
        the reactor's next poll: more may follow in this turn.)"""
        if not self._depth:
            return
        if self._eager:
            session.release(True)
        session.hold()
        self._wrote.append(session)

    def _flush(self) -> None:
        wrote, self._wrote = self._wrote, []
        for session in wrote:
            session.release(self._eager)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._reactor.callLater(0, self._turn)

    def _turn(self) -> None:
        self._scheduled = False
        start = self.now()
        deadline = self._deadline = start + WORK_SLICE
        queue = self._queue
        self._depth += 1
        self._eager = True
        try:
            while queue:  # at least one item a turn, however short the slice
                session = queue.popleft()
                if session.work_until(deadline):
                    session.queued = False
                    session.pause_reading(False)
                else:
                    queue.append(session)
                if self.now() >= deadline:
                    break
        finally:
            self._depth -= 1
            if not self._depth:
                self._flush()
                self._last_end = self.now()
                self._window_end, self._used = start + 2 * WORK_SLICE, self._last_end - start
        if queue:
            self._schedule()


class _Call:
    """:meth:`WorkScheduler.call`'s work: one call."""

    queued = False

    def __init__(self, fn: Callable[[], None]) -> None:
        self._fn: Optional[Callable[[], None]] = fn

    def work_until(self, deadline: float) -> bool:
        fn, self._fn = self._fn, None
        if fn is not None:
            try:
                fn()
            except Exception:
                log.exception("reactor work failed")
        return True

    def pause_reading(self, paused: bool) -> None:
        pass


_schedulers: "weakref.WeakKeyDictionary[Any, WorkScheduler]" = weakref.WeakKeyDictionary()


def scheduler_for(reactor: Any) -> WorkScheduler:
    """The :class:`WorkScheduler` of *reactor* (made on first use)."""
    try:
        return _schedulers[reactor]
    except KeyError:
        scheduler = _schedulers[reactor] = WorkScheduler(reactor)
        return scheduler


class NetconfChannel(SSHChannel):
    """The ``session`` channel running the ``netconf`` subsystem for a :class:`ReactorSession`.

    *environment* (name, value pairs) is sent as ``env`` requests before the subsystem
    request, without asking for a reply, as paramiko's ``update_environment`` does
    (ncclient's ``environment``): a server refuses what it does not accept (OpenSSH:
    what ``AcceptEnv`` does not name) silently, and the session goes on.

    (Its receive side keeps no buffer of its own: ``SSHChannel.buf`` is Conch's outgoing
    buffer, see the reactor transport notes.)
    """

    name = b"session"

    def __init__(
        self,
        session: ReactorSession,
        opened: "Deferred[None]",
        environment: Sequence[Tuple[bytes, bytes]] = (),
        **kw: Any,
    ) -> None:
        SSHChannel.__init__(self, **kw)
        self.session = session
        self._opened = opened
        self._environment = environment
        #: What waits for the peer's window, beyond what Conch holds (see write).
        self._backlog: Deque[bytes] = collections.deque()

    def write(self, data: bytes) -> None:
        """Conch's, except that what the peer's window cannot take yet waits here in
        pieces: Conch keeps it as one ``bytes``, copied whole on every write and every
        window adjust (a peer that stops reading with 100 MB queued cost the reactor
        0.1 s a time, and the copies grow as the square of the backlog)."""
        if self.buf or self._backlog or len(data) > self.remoteWindowLeft:
            if len(data) <= BACKLOG_PIECE:
                self._backlog.append(data)
            else:
                self._backlog.extend(data[i : i + BACKLOG_PIECE] for i in range(0, len(data), BACKLOG_PIECE))
            self._drain()
            return
        SSHChannel.write(self, data)

    def addWindowBytes(self, data: int) -> None:
        # Conch's sends what it holds through self.write, which would put it behind the
        # backlog: it is sent here, first.
        held, self.buf = self.buf, b""
        SSHChannel.addWindowBytes(self, data)
        if held:
            SSHChannel.write(self, held)
        self._drain()

    def _drain(self) -> None:
        """Hand Conch the backlog's pieces while the window takes them (Conch keeps the
        rest of the last one)."""
        backlog = self._backlog
        while backlog and not self.buf and self.remoteWindowLeft > 0:
            SSHChannel.write(self, backlog.popleft())

    def drop_connection(self, abort: bool = False) -> None:
        """Close the SSH connection this channel runs on (*abort*: at once, without
        waiting for what is still to be written)."""
        conn = self.conn
        if conn is None or conn.transport is None:
            return
        if abort:
            abort_transport(conn.transport.transport)
        else:
            conn.transport.loseConnection()

    def channelOpen(self, specificData: bytes) -> None:
        self.session.channel_opened(self)
        assert self.conn is not None
        for name, value in self._environment:
            self.conn.sendRequest(self, b"env", NS(name) + NS(value), wantReply=False)
        d = self.conn.sendRequest(self, b"subsystem", NS(b"netconf"), wantReply=True)
        assert d is not None  # wantReply=True
        d.addCallbacks(self._subsystem_started, self._subsystem_refused)

    def openFailed(self, reason: Any) -> None:
        if not self._opened.called:
            self._opened.errback(SSHError("the server refused the channel: %s" % (reason,)))

    def _subsystem_started(self, _: Any) -> None:
        self.session.channel_ready()
        if not self._opened.called:
            self._opened.callback(None)

    def _subsystem_refused(self, reason: Failure) -> None:
        if not self._opened.called:
            self._opened.errback(SSHError("the server refused the netconf subsystem"))
        self.drop_connection()

    def dataReceived(self, data: bytes) -> None:
        self.session.data_received(data)

    def flush(self) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None:
            flush_now(conn.transport.transport)

    def pause_reading(self, paused: bool) -> None:
        conn = self.conn
        if conn is not None and conn.transport is not None:
            pause_reading(conn.transport.transport, paused)

    def closed(self) -> None:
        self.session.connection_lost(None)
        self.drop_connection()


class NetconfConnection(SSHConnection):
    """Opens the NETCONF channel once the connection service runs."""

    def __init__(self, channel: Callable[["NetconfConnection"], NetconfChannel]) -> None:
        SSHConnection.__init__(self)
        self._channel = channel

    def serviceStarted(self) -> None:
        SSHConnection.serviceStarted(self)
        self.openChannel(self._channel(self))

    def ssh_GLOBAL_REQUEST(self, packet: bytes) -> Any:
        # OpenSSH announces its host keys (hostkeys-00@openssh.com) after authentication:
        # refusing it is what Conch does anyway, without logging it as unhandled.
        return SSHConnection.ssh_GLOBAL_REQUEST(self, packet)


#: ``handler(title, instructions, [(prompt, echo), ...])``, as paramiko's
#: ``auth_interactive`` and ncclient's ``auth_handler`` take it, already made to return a
#: Deferred of the answers (see :class:`UserAuth`).
InteractiveHandler = Callable[[str, str, List[Tuple[str, bool]]], "Deferred[List[str]]"]


class UserAuth(SSHUserAuthClient):
    """ncclient's (and paramiko's) authentication: public keys (key files, then the SSH
    agent's), then *auth_handler* over keyboard-interactive when given, then ONE password
    attempt; keyboard-interactive answered with the password (once) only where the server
    does not offer ``password``. :meth:`describe_failure` says what the server offered
    and what was tried, never a secret."""

    # Conch tries the methods a failure lists in this order, skipping those whose auth_*
    # returns false: keyboard-interactive comes before password for auth_handler (as in
    # ncclient), and declines when only the password would answer it and the server
    # takes the password itself.
    preferredOrder = [b"publickey", b"keyboard-interactive", b"password"]

    def __init__(
        self,
        username: str,
        connection: SSHConnection,
        password: Optional[str],
        private_keys: List[keys.Key],
        agent: Optional[AgentKeys] = None,
        auth_handler: Optional[InteractiveHandler] = None,
    ) -> None:
        SSHUserAuthClient.__init__(self, username.encode("utf-8"), connection)
        self._username = username
        self._password = password
        self._keys: List[Any] = list(private_keys) + (list(agent.keys) if agent is not None else [])
        self._agent = agent
        self._key: Optional[Any] = None
        self._password_tried = False
        self._auth_handler = auth_handler
        self._handler_tried = False
        self._kbd_password_tried = False
        #: Who answers the keyboard-interactive attempt under way: the handler or the password.
        self._kbd_by_handler = False
        #: The methods the server listed (all failures, in order) and those it lists now.
        self.offered: List[str] = []
        self._offered_now: List[bytes] = []
        #: The methods tried, in order (each once).
        self.tried: List[str] = []
        #: Whether the server took the password but wants it changed (expired).
        self.password_expired = False

    def _trying(self, method: str) -> None:
        if method not in self.tried:
            self.tried.append(method)

    def describe_failure(self) -> str:
        """Why nobody was let in: the user, the methods offered and those tried."""
        return "authentication failed for user %r: the server offers %s; tried %s" % (
            self._username,
            ", ".join(self.offered) or "nothing",
            ", ".join(self.tried) or "nothing (no key, password or auth_handler to try)",
        ) + ("; the password has expired (the server asks for a new one)" if self.password_expired else "")

    def ssh_USERAUTH_PK_OK_password(self, packet: bytes) -> None:
        # PASSWD_CHANGEREQ: nobody here can choose a new password (Conch would ask
        # getPassword twice more). Ask for the methods left, as after a failure.
        self.password_expired = True
        self.askForAuth(b"none", b"")

    def ssh_USERAUTH_FAILURE(self, packet: bytes) -> Any:
        methods = getNS(packet)[0]
        self._offered_now = [m for m in methods.split(b",") if m]
        for m in self._offered_now:
            name = m.decode("ascii", "replace")
            if name not in self.offered:
                self.offered.append(name)
        return SSHUserAuthClient.ssh_USERAUTH_FAILURE(self, packet)

    def getPublicKey(self) -> Optional[keys.Key]:
        if not self._keys:
            return None
        self._key = self._keys.pop(0)
        self._trying("publickey")
        if isinstance(self._key, bytes):  # the agent's: a public key blob
            return keys.Key.fromString(self._key)
        return self._key.public()

    def getPrivateKey(self) -> "Deferred[keys.Key]":
        assert isinstance(self._key, keys.Key)
        return succeed(self._key)

    def signData(self, publicKey: keys.Key, signData: bytes) -> "Optional[Deferred[bytes]]":
        if isinstance(self._key, bytes) and self._agent is not None:
            return self._agent.sign(self._key, signData)
        return SSHUserAuthClient.signData(self, publicKey, signData)

    def ssh_USERAUTH_SUCCESS(self, packet: bytes) -> None:
        if self._agent is not None:
            self._agent.close()
        SSHUserAuthClient.ssh_USERAUTH_SUCCESS(self, packet)

    def getPassword(self, prompt: Any = None) -> Optional["Deferred[bytes]"]:
        # One password attempt, as paramiko: a second one is what locks accounts.
        if self._password is None or self._password_tried:
            return None
        self._password_tried = True
        self._trying("password")
        return succeed(self._password.encode("utf-8"))

    def auth_keyboard_interactive(self) -> bool:
        if self._auth_handler is not None and not self._handler_tried:
            self._handler_tried = True
            self._kbd_by_handler = True
        elif (
            self._password is not None
            and not self._kbd_password_tried
            and b"password" not in self._offered_now
        ):
            # paramiko's fallback: only where the server does not take the password itself.
            self._kbd_password_tried = True
            self._kbd_by_handler = False
        else:
            return False
        self._trying("keyboard-interactive")
        return bool(SSHUserAuthClient.auth_keyboard_interactive(self))

    def getGenericAnswers(self, name: bytes, instruction: bytes, prompts: Any) -> "Deferred[List[str]]":
        if self._kbd_by_handler:
            assert self._auth_handler is not None
            prompt_list = [(p.decode("utf-8", "replace"), bool(echo)) for p, echo in prompts]
            d = self._auth_handler(
                name.decode("utf-8", "replace"), instruction.decode("utf-8", "replace"), prompt_list
            )

            def failed(f: Failure) -> Failure:
                # Its type only: the text of a handler's error may hold an answer.
                log.debug("auth_handler failed (%s): keyboard-interactive gives up", type(f.value).__name__)
                return f

            return d.addCallbacks(lambda answers: [str(a) for a in answers], failed)
        # As paramiko's fallback: one prompt gets the password, none gets nothing, more
        # than one (a second factor) fails the attempt.
        if len(prompts) > 1 or self._password is None:
            return fail(AuthenticationError("keyboard-interactive asks more than the password"))
        return succeed([self._password for _ in prompts])


class AgentKeys:
    """The keys of a connected SSH agent (``allow_agent``): their public blobs, and
    signing through the agent (the private keys never leave it)."""

    def __init__(self, client: Any, blobs: List[bytes]) -> None:
        self._client = client
        self.keys = blobs

    def sign(self, blob: bytes, data: bytes) -> "Deferred[bytes]":
        d: "Deferred[bytes]" = self._client.signData(blob, data)
        return d

    def close(self) -> None:
        if self._client.transport is not None:
            self._client.transport.loseConnection()


def connect_agent(reactor: Any, path: str) -> "Deferred[Optional[AgentKeys]]":
    """The SSH agent listening on *path* (``$SSH_AUTH_SOCK``) and its keys; ``None`` when
    it cannot be reached or lists no key (authentication goes on without it)."""
    from twisted.conch.ssh.agent import SSHAgentClient
    from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol

    client = SSHAgentClient()

    def listed(identities: List[Any]) -> Optional[AgentKeys]:
        blobs = [blob for blob, _comment in identities]
        if not blobs:
            abort_transport(client.transport)
            return None
        return AgentKeys(client, blobs)

    def unreachable(f: Failure) -> None:
        log.debug("the SSH agent at %s cannot be used: %s", path, f.value)
        if client.transport is not None:
            client.transport.loseConnection()
        return None

    d = connectProtocol(UNIXClientEndpoint(reactor, path, timeout=5), client)
    d.addCallback(lambda _: client.requestIdentities()).addCallback(listed)
    return d.addErrback(unreachable)


class ClientTransport(SSHClientTransport):
    """The SSH client transport of one session: its host key checked by *check_host_key*,
    then :class:`UserAuth`. *ready* fires once the NETCONF channel runs, or fails with
    ncclient's exception for the stage that failed. *environment*: see
    :class:`NetconfChannel`; *compression* asks for zlib, as paramiko's
    ``use_compression`` (ssh_config's ``Compression yes``); *auth_handler*: see
    :class:`UserAuth`."""

    def __init__(
        self,
        session: ReactorSession,
        username: str,
        password: Optional[str],
        private_keys: List[keys.Key],
        check_host_key: HostKeyCheck,
        ready: "Deferred[None]",
        now: Callable[[], float] = time.monotonic,
        agent: Optional[AgentKeys] = None,
        environment: Sequence[Tuple[bytes, bytes]] = (),
        compression: bool = False,
        auth_handler: Optional[InteractiveHandler] = None,
    ) -> None:
        self.session = session
        self._auth_handler = auth_handler
        self._user_auth: Optional[UserAuth] = None
        self._agent = agent
        self._environment = environment
        if compression:  # ssh_config's Compression: zlib first (the server may refuse it)
            self.supportedCompressions = [b"zlib", b"none"]
        self._now = now
        #: When data last came from the server (on *now*'s clock): what keepalives watch.
        self.last_received = now()
        self.connection: Optional[NetconfConnection] = None
        self._username = username
        self._password = password
        self._private_keys = private_keys
        self._check_host_key = check_host_key
        self.ready = ready
        self._stage = "key exchange"
        self._host_key_error: Optional[Failure] = None
        #: What was read and not yet handed to Conch (see dataReceived).
        self._pending: Deque[bytes] = collections.deque()
        self._scheduler = session.scheduler
        #: Whether the scheduler holds this transport in its queue.
        self.queued = False

    def connectionMade(self) -> None:
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            set_no_delay(True)  # small requests must not wait on Nagle
        key_types: Sequence[str] = getattr(self._check_host_key, "key_types", ())
        if key_types:
            # As OpenSSH and ncclient: a server with several host keys must show one that
            # known_hosts lists, not Conch's first choice (ECDSA before Ed25519).
            self.supportedPublicKeys = prefer_host_key_types(self.supportedPublicKeys, key_types)
        SSHClientTransport.connectionMade(self)

    def dataReceived(self, data: bytes) -> None:
        """What the socket brought is worked through within the reactor's work budget,
        as a session's messages are: a burst of handshakes (key exchange, signatures,
        hello) or of packets to decrypt yields to timers like any other work."""
        self.last_received = self._now()
        self._pending.append(data)
        self._scheduler.request(self, flush=True)

    def work_until(self, deadline: float) -> bool:
        """Hand what was read to Conch, a read at a time, until *deadline*; whether
        nothing is left."""
        pending = self._pending
        while pending:
            SSHClientTransport.dataReceived(self, pending.popleft())
            if self._scheduler.now() >= deadline:
                break
        return not pending

    def pause_reading(self, paused: bool) -> None:
        pause_reading(self.transport, paused)

    def send_keepalive(self) -> None:
        """``keepalive@openssh.com`` with want-reply: any answer, a refusal included,
        is data from the server."""
        connection = self.connection
        if connection is None:
            return
        d = connection.sendGlobalRequest(KEEPALIVE_REQUEST.encode("ascii"), b"", wantReply=True)
        if d is not None:
            d.addErrback(lambda f: None)

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> "Deferred[bool]":
        self._stage = "host key"

        def refused(f: Failure) -> Failure:
            self._host_key_error = f
            return f

        return self._check_host_key(hostKey).addErrback(refused)

    def sendDisconnect(self, reason: int, desc: bytes) -> None:
        """Send SSH's disconnect with *reason*; a refused host key's text is fixed, as
        OpenSSH's "host key verification failed"."""
        if reason == DISCONNECT_HOST_KEY_NOT_VERIFIABLE:
            # Conch's text for it embeds our error (the known_hosts path, the exception):
            # nothing local goes to the peer.
            desc = HOST_KEY_DISCONNECT_REASON
        SSHClientTransport.sendDisconnect(self, reason, desc)

    def connectionSecure(self) -> None:
        self._stage = "authentication"

        def channel(conn: NetconfConnection) -> NetconfChannel:
            self._stage = "subsystem"
            return NetconfChannel(self.session, self.ready, self._environment, conn=conn)

        self.connection = NetconfConnection(channel)
        self._user_auth = UserAuth(
            self._username,
            self.connection,
            self._password,
            self._private_keys,
            self._agent,
            self._auth_handler,
        )
        self.requestService(self._user_auth)

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        pending = self._pending
        if self.session.ended:
            pending.clear()  # given up (a cancelled connect, a close): nobody waits for it
        while pending:  # read before the end: the last replies, the server's close...
            try:
                SSHClientTransport.dataReceived(self, pending.popleft())
            except Exception:
                log.exception("dropping data read at the end of the connection")
                pending.clear()
        SSHClientTransport.connectionLost(self, reason)
        if self._agent is not None:
            self._agent.close()
        if not self.ready.called:
            if self._host_key_error is not None:
                error: Failure = self._host_key_error
            elif self._stage == "authentication":
                auth = self._user_auth
                why = auth.describe_failure() if auth is not None else "authentication failed"
                error = Failure(AuthenticationError(why))
            else:
                error = Failure(
                    SSHError("SSH connection lost during the %s: %s" % (self._stage, reason.value))
                )
            self.ready.errback(error)
        self.session.connection_lost(SessionCloseError(b"") if reason is not None else None)


def prefer_host_key_types(algorithms: Sequence[bytes], key_types: Sequence[str]) -> List[bytes]:
    """*algorithms* (host key algorithms, by preference) with those of *key_types* first,
    each group in its own order (OpenSSH's ``order_hostkeyalgs``)."""
    wanted: set[bytes] = set()
    for key_type in key_types:
        if key_type == "ssh-rsa":  # an RSA key signs with any of these
            wanted.update((b"rsa-sha2-512", b"rsa-sha2-256", b"ssh-rsa"))
        else:
            wanted.add(key_type.encode("ascii", "replace"))
    first = [a for a in algorithms if a in wanted]
    return first + [a for a in algorithms if a not in wanted]


#: The keys ncclient's ``look_for_keys`` tries, in its order (those that exist).
DEFAULT_KEY_FILES = ("~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ed25519")


def default_key_files() -> List[str]:
    """Those of ncclient's ``look_for_keys`` files that exist."""
    import os

    return [p for p in (os.path.expanduser(f) for f in DEFAULT_KEY_FILES) if os.path.exists(p)]


def load_private_keys(
    key_filename: Any, password: Optional[str], look_for_keys: bool, config_key_files: Sequence[str] = ()
) -> List[keys.Key]:
    """The private keys to offer, as ncclient would (blocking: decrypting a key may take
    long, so call it off the reactor). *password* is the passphrase of encrypted keys, as
    in ncclient. A key that cannot be read or decrypted (a *key_filename*, then
    *config_key_files*, ssh_config's ``IdentityFile``, then ``~/.ssh``) is skipped and
    logged at debug (its path, never the passphrase), as ncclient and OpenSSH skip it:
    authentication goes on with the next key, the agent and the password."""
    import os

    named = [key_filename] if isinstance(key_filename, (str, os.PathLike)) else list(key_filename or [])
    passphrase = password.encode("utf-8") if password else None
    found: List[keys.Key] = []
    for path in named:
        try:
            found.append(keys.Key.fromFile(os.path.expanduser(os.fspath(path)), passphrase=passphrase))
        except Exception as e:  # as ncclient: whatever stops a key file, the next one is tried
            log.debug("skipping the key file %s: it cannot be loaded (%s)", path, type(e).__name__)
    optional = [os.path.expanduser(p) for p in config_key_files]
    if look_for_keys:
        optional += [p for p in default_key_files() if p not in optional]
    for full in optional:
        path = full
        try:
            found.append(keys.Key.fromFile(full, passphrase=passphrase))
        except (OSError, keys.BadKeyError, keys.EncryptedKeyError, ValueError):
            log.debug("skipping %s: it cannot be loaded", path)
    return found


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


def flush_now(transport: Any) -> None:
    """Send what the socket under *transport* (TCP or Unix; under TLS) holds now, rather
    than when the reactor's next poll finds it writable: its ``doWrite``, as the reactor
    would call it. A closing connection is left to the reactor, and so is a write error
    (the reactor meets it again on that poll, and ends the connection)."""
    socket_transport: Any = transport
    for _ in range(3):  # the socket's transport, or TLS's, or none
        if IWriteDescriptor.providedBy(socket_transport):
            break
        socket_transport = getattr(socket_transport, "transport", None)
    else:
        return
    if getattr(socket_transport, "connected", False) and not getattr(socket_transport, "disconnecting", True):
        socket_transport.doWrite()


def pause_reading(transport: Any, paused: bool) -> None:
    """Pause (or resume) reading from *transport* (``IProducer``; TLS passes it on)."""
    if transport is None or getattr(transport, "disconnecting", False):
        return
    if paused:
        transport.pauseProducing()
    else:
        transport.resumeProducing()


def abort_transport(transport: Any) -> None:
    """Abort a TCP, TLS or Unix transport (lose it, where it cannot be aborted)."""
    abort_connection = getattr(transport, "abortConnection", None)
    if abort_connection is not None:
        abort_connection()
    elif transport is not None:
        transport.loseConnection()
