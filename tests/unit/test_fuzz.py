"""Property tests: arbitrary byte splits and mutations through the framing and the bridge.

Either the right reply reaches the right Deferred or a clear (typed) error does; every
Deferred fires exactly once; nothing hangs; nothing is left in the pending table.

The framing tests need no session. The bridge tests feed the bytes to a session on both
transports (the ``io`` fixture): io="threads", our session's dispatch behind the framing
decoder; io="reactor", a real ``ReactorSession`` (its hello exchanged, its requests
written to a fake link) on a ``task.Clock``, its work budget's clock moved by amounts
Hypothesis picks, so the work is spread over reactor turns as it comes.
"""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any, Dict, List, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ncclient import NCClientError
from ncclient.manager import make_device_handler
from ncclient.transport.errors import NetconfFramingError
from ncclient.xml_ import to_ele
from twisted.internet.defer import CancelledError

from ncclient_twisted.bridge.gate import GATED_MESSAGE_MAX
from ncclient_twisted.bridge.handoff import ImmediateHandoff
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.manager import Manager
from ncclient_twisted.notifications import NotificationQueue
from ncclient_twisted.subscriptions import NotificationRouter
from ncclient_twisted.transport.framing import (
    EOM,
    FrameDecoder,
    MalformedReplyError,
    frame_10,
    message_root,
)
from ncclient_twisted.transport.reactor import scheduler as reactor_scheduler
from ncclient_twisted.transport.reactor import session as reactor_session
from ncclient_twisted.transport.threads.ssh import ThreadedSSHSession
from tests.support.bridge_fakes import CAPS, NS, FakeReactor, FakeSession, InlineRuntime, fake_manager
from tests.support.transport_fakes import FakeLink, FakeTime

FUZZ = settings(
    max_examples=100,
    deadline=2000,
    # The io fixture is a string (the transport's name): nothing to reset between examples.
    suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture
    ],
    derandomize=False,
)

# -- framing ------------------------------------------------------------------------------

text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=60,
)


def messages(base11: bool) -> "st.SearchStrategy[List[str]]":
    body = text.map(lambda t: "<m>%s</m>" % t)
    if not base11:  # base:1.0 cannot carry its own marker
        body = body.filter(lambda m: "]]>]]>" not in m)
    return st.lists(body, min_size=1, max_size=6)


@st.composite
def chunked(draw: Any, message: bytes) -> bytes:
    """*message* in base:1.1 chunks of sizes Hypothesis picks."""
    out: List[bytes] = []
    i = 0
    while i < len(message):
        n = draw(st.integers(1, max(1, len(message) - i)))
        out.append(b"\n#%d\n%s" % (n, message[i : i + n]))
        i += n
    return b"".join(out) + b"\n##\n"


def cut(data: bytes, points: List[int]) -> List[bytes]:
    bounds = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def decode(pieces: List[bytes], base11: bool) -> Tuple[List[str], List[Exception]]:
    got: List[str] = []
    errors: List[Exception] = []
    decoder = FrameDecoder(got.append, lambda: base11, invalid=errors.append)
    for piece in pieces:
        decoder.feed(piece)
    return got, errors


@FUZZ
@given(st.data(), st.booleans())
def test_any_split_of_valid_framing_gives_the_messages(data: Any, base11: bool) -> None:
    msgs = data.draw(messages(base11))
    if base11:
        stream = b"".join(data.draw(chunked(m.encode())) for m in msgs)
    else:
        stream = b"".join(frame_10(m.encode()) for m in msgs)
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    got, errors = decode(cut(stream, points), base11)
    assert got == [m.strip() for m in msgs] and errors == []


@FUZZ
@given(st.data(), st.booleans())
def test_mutated_framing_gives_messages_or_a_framing_error(data: Any, base11: bool) -> None:
    msgs = data.draw(messages(base11))
    if base11:
        stream = bytearray(b"".join(data.draw(chunked(m.encode())) for m in msgs))
    else:
        stream = bytearray(b"".join(frame_10(m.encode()) for m in msgs))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(stream) - 1))
        op = data.draw(st.sampled_from(["flip", "drop", "insert"]))
        if op == "flip":
            stream[i] = data.draw(st.integers(0, 255))
        elif op == "drop":
            del stream[i]
        else:
            stream.insert(i, data.draw(st.sampled_from(list(b"\n#0123456789]>x\xff"))))
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    got: List[str] = []
    errors: List[Exception] = []
    decoder = FrameDecoder(got.append, lambda: base11, invalid=errors.append)
    try:
        for piece in cut(bytes(stream), points):
            decoder.feed(piece)
    except NetconfFramingError:
        pass  # the only exception the decoder may raise
    assert all(isinstance(m, str) for m in got)
    assert all(isinstance(e, MalformedReplyError) for e in errors)
    assert len(got) + len(errors) <= len(stream)


@FUZZ
@given(st.binary(max_size=300))
def test_message_root_takes_anything(raw: bytes) -> None:
    try:
        tag, attrs = message_root(raw.decode("utf-8", "replace"))
    except MalformedReplyError:
        return
    assert isinstance(tag, str) and isinstance(attrs, dict)


# -- the bridge ---------------------------------------------------------------------------


class WireSession(FakeSession):
    """The fake session, with our session's real dispatch (message_root, rejects)."""

    _dispatch_message: Any = ThreadedSSHSession._dispatch_message
    _reject: Any = ThreadedSSHSession._reject

    def __init__(self, device_handler: Any) -> None:
        super().__init__()
        self._device_handler = device_handler
        self._gate = threading.Lock()  # as our sessions have (see bridge.gate)
        self._gate_max = GATED_MESSAGE_MAX

    def _dispatch_error(self, error: Exception) -> None:
        for listener in list(self._listeners):
            listener.errback(error)


class Wired:
    """A manager on a session of one transport, and the bytes its session reads.

    ``feed(piece)`` gives the session a read; ``settle()`` lets its reactor run what is
    due now; ``ids`` are the message-ids of the requests as written, in order."""

    def __init__(self, m: Manager, reactor: FakeReactor) -> None:
        self.m, self.reactor = m, reactor

    def feed(self, piece: bytes) -> None:
        raise NotImplementedError

    def settle(self) -> None:
        self.reactor.advance(0)

    @property
    def ids(self) -> List[str]:
        raise NotImplementedError


class ThreadsWired(Wired):
    """io="threads": our session's dispatch behind the framing decoder, as its session
    loop drives it (a framing error ends the session)."""

    def __init__(self, timeout: float, base11: bool) -> None:
        m, session, reactor = fake_manager(timeout=timeout, new_session=WireSession)
        super().__init__(m, reactor)
        self.session = session
        self._decoder = FrameDecoder(session._dispatch_message, lambda: base11, invalid=session._reject)

    def feed(self, piece: bytes) -> None:
        if self.session.ended:
            return  # the loop reads no more
        try:
            self._decoder.feed(piece)
        except NetconfFramingError as e:
            self.session.die(e)  # what the session loop does with a framing error

    @property
    def ids(self) -> List[str]:
        return [message_id(x) for x in self.session.sent]


class ReactorWired(Wired):
    """io="reactor": a real ``ReactorSession`` on a fake link, its hello exchanged (base
    1.1 or 1.0 as drawn); the work budget's clock moves by *ticks* in turn at each look."""

    def __init__(self, timeout: float, base11: bool, ticks: List[float]) -> None:
        reactor = FakeReactor()
        now = FakeTime()
        step = itertools.count()

        def moving() -> float:
            now.t += ticks[next(step) % len(ticks)]
            return now.t

        dh = make_device_handler(None, None)
        handoff = ImmediateHandoff(reactor)
        scheduler = reactor_scheduler.WorkScheduler(reactor, moving)
        session = reactor_session.ReactorSession(dh, reactor, scheduler=scheduler)
        listener = DeferredReplyListener.install(session, dh, reactor, handoff)
        self.link = FakeLink()
        session.channel_opened(self.link)
        session.channel_ready()
        caps = [c for c in CAPS if base11 or not c.endswith("base:1.1")]
        hello = "<hello %s><capabilities>%s</capabilities><session-id>7</session-id></hello>" % (
            NS, "".join("<capability>%s</capability>" % c for c in caps)
        )
        session.data_received(hello.encode() + EOM)
        reactor.advance(0)
        assert session.hello.called and session.connected
        m = Manager(
            session,  # type: ignore[arg-type]
            dh,
            timeout=timeout,
            reactor=reactor,
            listener=listener,
            notifications=NotificationRouter(reactor, NotificationQueue(reactor, 3), 3, handoff),
            runtime=InlineRuntime(reactor),
        )
        super().__init__(m, reactor)
        self.session = session

    def feed(self, piece: bytes) -> None:
        if self.session.ended:
            return  # the connection is dropped: nothing more is read
        self.session.data_received(piece)

    @property
    def ids(self) -> List[str]:
        sent = b"".join(self.link.written[1:]).decode()  # after our hello
        return MSGID.findall(sent)


def wired(io: str, data: Any, timeout: float, base11: bool = False) -> Wired:
    if io == "threads":
        return ThreadsWired(timeout, base11)
    slices = [0.0, reactor_scheduler.WORK_SLICE / 3, reactor_scheduler.WORK_SLICE]
    ticks = data.draw(st.lists(st.sampled_from(slices), min_size=1, max_size=6), label="ticks")
    return ReactorWired(timeout, base11, ticks)


def reply(msgid: Optional[str], token: str) -> bytes:
    attr = ' message-id="%s"' % msgid if msgid is not None else ""
    return ("<rpc-reply %s%s><data><token>%s</token></data></rpc-reply>" % (NS, attr, token)).encode()


TYPED = (NCClientError, CancelledError)
MSGID = re.compile(r'message-id="([^"]*)"')


def message_id(xml: str) -> str:
    found = MSGID.search(xml)
    assert found is not None
    return found.group(1)


@st.composite
def wire(draw: Any, ids: List[str], base11: bool) -> Tuple[bytes, bool]:
    """Replies to some of *ids* (shuffled, duplicated, strays), framed; maybe mutated."""
    answered = draw(st.lists(st.sampled_from(ids), max_size=2 * len(ids)))
    answered += draw(st.lists(st.sampled_from(["stray-1", None]), max_size=2))
    answered = draw(st.permutations(answered))
    stream = bytearray()
    for msgid in answered:
        message = reply(msgid, msgid or "none")
        stream += draw(chunked(message)) if base11 else frame_10(message)
    mutated = draw(st.booleans()) and len(stream) > 0
    if mutated:
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(stream) - 1))
            stream[i] = draw(st.integers(0, 255))
    return bytes(stream), mutated


@FUZZ
@given(st.data(), st.booleans())
def test_bridge_routes_every_reply_to_its_request(io: str, data: Any, base11: bool) -> None:
    w = wired(io, data, timeout=5, base11=base11)
    m = w.m
    requests = [m.get_config(source="running") for _ in range(data.draw(st.integers(1, 8)))]
    w.settle()  # on the reactor transport, the requests are built and written in its turns
    ids = w.ids
    assert len(ids) == len(requests)
    outcomes: Dict[int, List[Any]] = {i: [] for i in range(len(requests))}
    for i, d in enumerate(requests):
        d.addBoth(outcomes[i].append)
    for i in data.draw(st.lists(st.integers(0, len(requests) - 1), max_size=3)):
        requests[i].cancel()  # random cancels
    stream, mutated = data.draw(wire(ids, base11))
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    for piece in cut(stream, points):
        w.feed(piece)
    w.settle()
    w.reactor.advance(10)  # past every timeout

    for i, fired in outcomes.items():
        assert len(fired) == 1, "request %d fired %d times" % (i, len(fired))
        result = fired[0]
        if hasattr(result, "value"):  # a Failure
            assert isinstance(result.value, TYPED), repr(result.value)
            result.trap(*TYPED)
            continue
        # A reply: the one to this request, never another's.
        assert message_id(result.xml) == ids[i]
        if not mutated:
            assert to_ele(result.xml).findtext(".//{%s}token" % NS[7:-1]) == ids[i]
    assert m.pending_requests == 0 and m._listener._id2rpc == {}
    assert not w.reactor.getDelayedCalls()  # nothing left to run, no timer left behind


@FUZZ
@given(st.data())
def test_bridge_replies_in_any_order_all_arrive(io: str, data: Any) -> None:
    w = wired(io, data, timeout=5)
    m = w.m
    requests = [m.get_config(source="running") for _ in range(data.draw(st.integers(1, 10)))]
    w.settle()
    ids = w.ids
    order = data.draw(st.permutations(range(len(ids))))
    stream = b"".join(frame_10(reply(ids[i], ids[i])) for i in order)
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    for piece in cut(stream, points):
        w.feed(piece)
    w.settle()
    for i, d in enumerate(requests):
        r = d.result
        assert message_id(r.xml) == ids[i]
    assert m.pending_requests == 0


@FUZZ
@given(st.data())
def test_reply_that_is_not_utf8_fails_its_request_and_the_session_goes_on(io: str, data: Any) -> None:
    w = wired(io, data, timeout=5)
    m = w.m
    broken, fine = m.get_config(source="running"), m.get_config(source="running")
    w.settle()
    ids = w.ids
    bad = reply(ids[0], "x").replace(b"<token>x", b"<token>\xff\xfe")
    w.feed(frame_10(bad) + frame_10(reply(ids[1], "ok")))
    w.settle()
    error = broken.result
    broken.addErrback(lambda _: None)
    assert isinstance(error.value, MalformedReplyError) and "UTF-8" in str(error.value)
    assert fine.result.ok and m.pending_requests == 0
    assert m.connected
