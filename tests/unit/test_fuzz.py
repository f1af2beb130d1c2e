"""Property tests: arbitrary byte splits and mutations through the framing and the bridge.

Either the right reply reaches the right Deferred or a clear (typed) error does; every
Deferred fires exactly once; nothing hangs; nothing is left in the pending table.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Dict, List, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ncclient import NCClientError
from ncclient.transport.errors import NetconfFramingError
from ncclient.xml_ import to_ele
from twisted.internet.defer import CancelledError

from ncclient_twisted.bridge.gate import GATED_MESSAGE_MAX
from ncclient_twisted.transport.framing import (
    FrameDecoder,
    MalformedReplyError,
    frame_10,
    message_root,
)
from ncclient_twisted.transport.session import TwistedSSHSession
from tests.unit.test_bridge import NS, FakeSession, make

FUZZ = settings(
    max_examples=100,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
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

    _dispatch_message: Any = TwistedSSHSession._dispatch_message
    _reject: Any = TwistedSSHSession._reject

    def __init__(self, device_handler: Any) -> None:
        super().__init__()
        self._device_handler = device_handler
        self._gate = threading.Lock()  # as our sessions have (see bridge.gate)
        self._gate_max = GATED_MESSAGE_MAX

    def _dispatch_error(self, error: Exception) -> None:
        for listener in list(self._listeners):
            listener.errback(error)


def wired(timeout: float) -> Tuple[Any, WireSession, Any]:
    m, fake, reactor = make(timeout=timeout)
    session = WireSession(m._device_handler)
    for listener in list(fake._listeners):
        session.add_listener(listener)
    m._session = session
    session._end = fake._end
    return m, session, reactor


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
def test_bridge_routes_every_reply_to_its_request(data: Any, base11: bool) -> None:
    m, session, reactor = wired(timeout=5)
    requests = [m.get_config(source="running") for _ in range(data.draw(st.integers(1, 8)))]
    ids = [session.last_id(i) for i in range(len(requests))]
    outcomes: Dict[int, List[Any]] = {i: [] for i in range(len(requests))}
    for i, d in enumerate(requests):
        d.addBoth(outcomes[i].append)
    for i in data.draw(st.lists(st.integers(0, len(requests) - 1), max_size=3)):
        requests[i].cancel()  # random cancels
    stream, mutated = data.draw(wire(ids, base11))
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    decoder = FrameDecoder(session._dispatch_message, lambda: base11, invalid=session._reject)
    try:
        for piece in cut(stream, points):
            decoder.feed(piece)
    except NetconfFramingError as e:
        session.die(e)  # what the session loop does with a framing error
    reactor.advance(10)  # past every timeout

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


@FUZZ
@given(st.data())
def test_bridge_replies_in_any_order_all_arrive(data: Any) -> None:
    m, session, reactor = wired(timeout=5)
    requests = [m.get_config(source="running") for _ in range(data.draw(st.integers(1, 10)))]
    ids = [session.last_id(i) for i in range(len(requests))]
    order = data.draw(st.permutations(range(len(ids))))
    stream = b"".join(frame_10(reply(ids[i], ids[i])) for i in order)
    points = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    decoder = FrameDecoder(session._dispatch_message, lambda: False, invalid=session._reject)
    for piece in cut(stream, points):
        decoder.feed(piece)
    for i, d in enumerate(requests):
        r = d.result
        assert message_id(r.xml) == ids[i]
    assert m.pending_requests == 0


def test_reply_that_is_not_utf8_fails_its_request_and_the_session_goes_on() -> None:
    m, session, reactor = wired(timeout=5)
    broken, fine = m.get_config(source="running"), m.get_config(source="running")
    bad = reply(session.last_id(0), "x").replace(b"<token>x", b"<token>\xff\xfe")
    decoder = FrameDecoder(session._dispatch_message, lambda: False, invalid=session._reject)
    decoder.feed(frame_10(bad) + frame_10(reply(session.last_id(1), "ok")))
    error = broken.result
    broken.addErrback(lambda _: None)
    assert isinstance(error.value, MalformedReplyError) and "UTF-8" in str(error.value)
    assert fine.result.ok and m.pending_requests == 0
