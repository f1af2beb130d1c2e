"""
One NETCONF session of the test server: hello exchange, framing, request pipeline,
notifications and fault injection (how replies are written, faults included, is in
``_replies``).  It talks to its SSH channel through the small :class:`Channel`
interface (``_interfaces``), so it can be driven without any network.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Callable, Deque, Dict, List, Optional, Sequence, Set, Tuple

from lxml import etree
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from . import _faults as F
from ._errors import NetconfError
from ._faults import Fault, Faults
from ._framing import EOM, Decoder, FramingError, encode_chunked
from ._interfaces import Channel, Host
from ._monitoring import Counters
from ._operation_state import Outcome
from ._replies import REPLY_END, emit_reply, reply_open_tag
from ._xml import BASE_1_0, BASE_1_1, first_child, localname, nc, text_of

_log = Logger()

_RPC = nc("rpc")
_CLOSE_SESSION = nc("close-session")
_HELLO = nc("hello")
# The base capabilities, and the ietf-netconf module's (its namespace ends in
# ":base:1.0", which some clients take for the base capability).
_BASE_CAPABILITY = re.compile(
    rb"<capability>urn:ietf:params:(?:netconf:base:1\.[01]|xml:ns:netconf:base:1\.0\?[^<]*)</capability>"
)


def _has_dtd(element: etree._Element) -> bool:
    """True if the document of *element* has a document type declaration."""
    docinfo = element.getroottree().docinfo
    doctype: str = getattr(docinfo, "doctype", "")  # not in lxml-stubs
    return bool(doctype) or docinfo.internalDTD is not None or docinfo.system_url is not None


class Session:
    """
    A live NETCONF session of a test server (see ``server.sessions``).

    :ivar session_id: the session-id sent in the server ``<hello>``.
    :ivar username: the SSH user.
    :ivar source_host: the client's IP address.
    :ivar environment: the environment variables the client sent (SSH ``env``
        requests, all accepted) before the ``netconf`` subsystem request.
    :ivar faults: faults applying to this session only (checked before the
        server's).
    :ivar base_version: ``"1.0"`` or ``"1.1"`` once the hellos are
        exchanged, else None.
    :ivar client_capabilities: the capabilities of the client ``<hello>``.
    :ivar closed: True once the session has ended.

    Besides these, :attr:`subscribed`, :meth:`when_closed` and
    :meth:`disconnect` are for tests; the other public methods are the
    session's interface to the SSH channel and to the operations.
    """

    def __init__(
        self,
        host: Host,
        channel: Channel,
        session_id: int,
        username: str,
        source_host: Optional[str] = None,
        transport: str = "ncm:netconf-ssh",
    ) -> None:
        self.session_id = session_id
        self.username = username
        self.source_host = source_host
        self.environment: Dict[str, str] = dict(getattr(channel, "environment", None) or {})
        #: The ietf-netconf-monitoring transport identity (``ncm:netconf-ssh``...).
        self.transport = transport
        #: When the session started (epoch seconds, per the server clock).
        self.login_time = host.clock.seconds()
        #: The RFC 6022 counters of this session (``/netconf-state/sessions``).
        self.counters = Counters()
        self.faults = Faults()
        self.base_version: Optional[str] = None
        self.client_capabilities: Tuple[str, ...] = ()
        self.closed = False
        self._host = host
        self._channel = channel
        self._decoder = Decoder(chunked=False)
        self._chunked = False
        self._hello_sent = False
        self._hello_received = False
        self._queue: Deque[bytes] = deque()
        self._busy = False
        self._closing = False
        self._timers: Set[IDelayedCall] = set()
        self._waiters: List["Deferred[None]"] = []
        self._hello_without_base = False

    def __repr__(self) -> str:
        return "<Session %d user=%r base=%s%s>" % (
            self.session_id,
            self.username,
            self.base_version,
            " closed" if self.closed else "",
        )

    # -- public API ------------------------------------------------------------

    def when_closed(self) -> "Deferred[None]":
        """A Deferred that fires (with None) once this session has ended."""
        if self.closed:
            return succeed(None)
        d: "Deferred[None]" = Deferred()
        self._waiters.append(d)
        return d

    @property
    def subscribed(self) -> bool:
        """True while a ``create-subscription`` of this session is in force."""
        return self.session_id in self._host.engine.hub.subscriptions

    def disconnect(self) -> None:
        """Drop this session's SSH connection at once (as a crashing device would)."""
        self._dropped()
        self._terminate()
        self._channel.abort()

    # -- interface to the operations ---------------------------------------------

    def kill(self) -> None:
        """Terminate for ``<kill-session>``: release everything, drop the connection."""
        self.disconnect()

    def close_gracefully(self) -> None:
        """Terminate after ``<close-session>``: release everything, close the channel."""
        self._terminate()
        self._channel.close()

    def send_notification(self, xml: bytes) -> None:
        """Send a serialised ``<notification>``."""
        if not self.closed and not self._closing and self._hello_sent:
            self._count_notifications(1)
            self._write(xml)

    def send_notifications(self, xmls: Sequence[bytes]) -> None:
        """Send serialised ``<notification>``s in one channel write."""
        if not self.closed and not self._closing and self._hello_sent:
            self._count_notifications(len(xmls))
            self._channel.write(b"".join(self._framed(x) for x in xmls))

    def _count_notifications(self, count: int) -> None:
        self.counters.out_notifications += count
        self._host.engine.statistics.out_notifications += count

    # -- interface to the channel ---------------------------------------------------

    def start(self) -> None:
        """The channel is open: send the hello (unless a hello fault says otherwise)."""
        fault = self._host.faults.take_hello()
        if fault is None:
            self._send_hello()
        elif fault.kind == F.DELAY_HELLO:
            self._later(fault.seconds, self._send_hello)
        elif fault.kind == F.HELLO_WITHOUT_BASE:
            self._hello_without_base = True
            self._send_hello()
        # NO_HELLO: stay silent.

    def data_received(self, data: bytes) -> None:
        """Bytes from the client."""
        if self.closed:
            return
        decoder = self._decoder
        decoder.feed(data)
        while not self.closed:
            try:
                message = decoder.next_message()
            except FramingError as exc:
                self._framing_error(exc)
                return
            if message is None:
                break
            if not message:
                continue  # stray delimiters or whitespace
            if not self._hello_received:
                self._client_hello(message)
            else:
                self._queue.append(message)
        self._pump()

    def connection_lost(self) -> None:
        """The channel (or the whole connection) is gone."""
        self._dropped()
        self._terminate()

    def _dropped(self) -> None:
        """Count a session that ends without ``<close-session>`` (RFC 6022 dropped-sessions)."""
        if not self.closed and self._hello_received:
            self._host.engine.statistics.dropped_sessions += 1

    # -- internals -----------------------------------------------------------------------

    def _later(self, seconds: float, func: Callable[[], None]) -> None:
        call: Optional[IDelayedCall] = None

        def run() -> None:
            assert call is not None
            self._timers.discard(call)
            func()

        call = self._host.clock.callLater(seconds, run)
        self._timers.add(call)

    def _terminate(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        for call in self._timers:
            if call.active():
                call.cancel()
        self._timers.clear()
        try:
            self._host.session_closed(self)
        finally:
            waiters, self._waiters = self._waiters, []
            for d in waiters:
                d.callback(None)

    def _write(self, payload: bytes) -> None:
        self._channel.write(self._framed(payload))

    def _framed(self, payload: bytes) -> bytes:
        if self._chunked:
            return encode_chunked(payload, self._host.max_chunk_size)
        return payload + EOM

    def _send_hello(self) -> None:
        if self.closed:
            return
        hello = self._host.hello_bytes(self.session_id)
        if self._hello_without_base:
            hello = _BASE_CAPABILITY.sub(b"", hello)
        self._channel.write(hello + EOM)
        self._hello_sent = True
        self._pump()

    def _client_hello(self, message: bytes) -> None:
        stats = self._host.engine.statistics
        stats.in_bad_hellos += 1  # until it turns out good
        try:
            hello = etree.fromstring(message, self._host.parser)
        except etree.XMLSyntaxError:
            _log.info("session {sid}: client hello is not XML; closing", sid=self.session_id)
            self.close_gracefully()
            return
        if _has_dtd(hello):
            _log.info("session {sid}: client hello has a DTD; closing", sid=self.session_id)
            self.close_gracefully()
            return
        if hello.tag not in (_HELLO, "hello"):
            _log.info(
                "session {sid}: expected <hello>, got {tag}; closing", sid=self.session_id, tag=hello.tag
            )
            self.close_gracefully()
            return
        if any(localname(e.tag) == "session-id" for e in hello.iter(etree.Element)):
            _log.info("session {sid}: client hello has a session-id; closing", sid=self.session_id)
            self.close_gracefully()
            return
        caps = tuple(text_of(c) for c in hello.iter(etree.Element) if localname(c.tag) == "capability")
        self.client_capabilities = caps
        versions = self._host.base_versions
        if self._hello_without_base:
            self.base_version = "1.0"
        elif "1.1" in versions and BASE_1_1 in caps:
            self.base_version = "1.1"
        elif "1.0" in versions and BASE_1_0 in caps:
            self.base_version = "1.0"
        else:
            _log.info("session {sid}: no common base version; closing", sid=self.session_id)
            self.close_gracefully()
            return
        self._hello_received = True
        stats.in_bad_hellos -= 1
        stats.in_sessions += 1
        self._chunked = self._decoder.chunked = self.base_version == "1.1"

    def _framing_error(self, exc: FramingError) -> None:
        _log.info("session {sid}: framing error {exc}; closing", sid=self.session_id, exc=exc)
        if self._hello_sent and self._hello_received:
            error = NetconfError("malformed-message", str(exc), error_type="rpc")
            self._count_bad_rpc()
            self._write(reply_open_tag(None) + error.to_xml() + REPLY_END)
        self._dropped()
        self.close_gracefully()

    def _pump(self) -> None:
        queue = self._queue
        while queue and not self._busy and self._hello_sent and not self._closing and not self.closed:
            self._process(queue.popleft())

    def _count_bad_rpc(self) -> None:
        stats = self._host.engine.statistics
        for counters in (self.counters, stats):
            counters.in_bad_rpcs += 1
            counters.out_rpc_errors += 1

    def _error_reply(self, rpc: Optional[etree._Element], error: NetconfError) -> None:
        self._count_bad_rpc()
        self._write(reply_open_tag(rpc) + error.to_xml() + REPLY_END)

    def _malformed(self, message: str) -> NetconfError:
        # malformed-message is new in base:1.1: a base:1.0 client gets operation-failed.
        tag = "malformed-message" if self.base_version == "1.1" else "operation-failed"
        return NetconfError(tag, message, error_type="rpc")

    def _process(self, message: bytes) -> None:
        try:
            rpc = etree.fromstring(message, self._host.parser)
        except etree.XMLSyntaxError as exc:
            self._error_reply(None, self._malformed("message is not well-formed XML: %s" % exc))
            return
        if _has_dtd(rpc):
            # RFC 6241 3: a NETCONF message must not contain a DTD.  Nothing of it is
            # run (its entities would otherwise end up stored, unexpanded).
            self._error_reply(
                rpc if rpc.get("message-id") is not None else None,
                self._malformed("a NETCONF message must not contain a document type declaration"),
            )
            return
        if rpc.tag != _RPC:
            self._error_reply(
                None,
                NetconfError(
                    "unknown-element",
                    "expected an <rpc> in the NETCONF base namespace",
                    error_type="protocol",
                    info=[("bad-element", localname(rpc.tag) if isinstance(rpc.tag, str) else "?")],
                ),
            )
            return
        if rpc.get("message-id") is None:
            self._error_reply(
                rpc,
                NetconfError(
                    "missing-attribute",
                    "the <rpc> element has no message-id attribute",
                    error_type="rpc",
                    info=[("bad-attribute", "message-id"), ("bad-element", "rpc")],
                ),
            )
            return
        op = first_child(rpc)
        if op is None:
            self._error_reply(
                rpc,
                NetconfError(
                    "missing-element",
                    "the <rpc> contains no operation",
                    error_type="protocol",
                    info=[("bad-element", "rpc")],
                ),
            )
            return
        name = localname(op.tag)
        host = self._host
        for counters in (self.counters, host.engine.statistics):
            counters.in_rpcs += 1
        if not host.engine.options.interleave and op.tag != _CLOSE_SESSION and self.subscribed:
            # RFC 5277 3.1: without :interleave, a session with a subscription in
            # force serves the notifications only.
            emit_reply(
                self,
                rpc,
                NetconfError(
                    "operation-failed",
                    "this session has a notification subscription in force and the server "
                    "does not support :interleave; only <close-session> is accepted",
                    error_type="protocol",
                    info=[("bad-element", name)],
                ).to_xml(),
                None,
                None,
            )
            return
        delay = self.faults.take(name, True) or host.faults.take(name, True)
        fault = self.faults.take(name, False) or host.faults.take(name, False)
        if fault is not None and fault.kind == F.RPC_ERROR and fault.error is not None:
            outcome = Outcome(fault.error.to_xml())
        else:
            outcome = host.engine.handle(self, op)
        body = outcome.body
        if isinstance(body, Deferred):
            self._busy = True
            body.addCallback(self._deferred_reply, rpc, outcome.after, delay, fault)
            return
        self._respond(rpc, body, outcome.after, delay, fault)

    def _deferred_reply(
        self,
        body: bytes,
        rpc: etree._Element,
        after: Optional[Callable[[], None]],
        delay: Optional[Fault],
        fault: Optional[Fault],
    ) -> None:
        self._busy = False
        self._respond(rpc, body, after, delay, fault)
        self._pump()

    def _respond(
        self,
        rpc: etree._Element,
        body: bytes,
        after: Optional[Callable[[], None]],
        delay: Optional[Fault],
        fault: Optional[Fault],
    ) -> None:
        if self.closed:
            return
        if delay is not None:
            self._busy = True

            def later() -> None:
                self._busy = False
                emit_reply(self, rpc, body, after, fault)
                self._pump()

            self._later(delay.seconds, later)
            return
        emit_reply(self, rpc, body, after, fault)
