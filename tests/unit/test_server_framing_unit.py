"""Unit tests of RFC 6242 framing and of the session logic, without any network."""

from __future__ import annotations

from typing import List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock

from ncclient_twisted import testing
from ncclient_twisted.testing._framing import (
    EOM,
    Decoder,
    FramingError,
    encode_chunked,
    encode_eom,
)
from ncclient_twisted.testing._session import reply_open_tag

BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"

messages = st.lists(
    st.binary(min_size=1, max_size=300).filter(lambda b: EOM not in b and b.strip() == b and b.strip()),
    min_size=1,
    max_size=5,
)


def split(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points + [len(data)]:
        pieces.append(data[last:p])
        last = p
    return pieces


def drain(decoder: Decoder) -> List[bytes]:
    out = []
    while True:
        m = decoder.next_message()
        if m is None:
            return out
        out.append(m)


def test_encode_eom() -> None:
    assert encode_eom(b"<a/>") == b"<a/>]]>]]>"


def test_encode_chunked_single_and_multiple() -> None:
    assert encode_chunked(b"<a/>") == b"\n#4\n<a/>\n##\n"
    assert encode_chunked(b"abcdefghij", 4) == b"\n#4\nabcd\n#4\nefgh\n#2\nij\n##\n"
    with pytest.raises(ValueError):
        encode_chunked(b"")


@settings(max_examples=60, deadline=None)
@given(messages, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_eom_decoder_handles_any_split(msgs: List[bytes], cuts: List[int]) -> None:
    data = b"".join(encode_eom(m) for m in msgs)
    decoder = Decoder(chunked=False)
    got: List[bytes] = []
    for piece in split(data, cuts):
        decoder.feed(piece)
        got += drain(decoder)
    assert got == msgs


@settings(max_examples=60, deadline=None)
@given(
    messages,
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    st.integers(min_value=1, max_value=64),
)
def test_chunked_decoder_handles_any_split(msgs: List[bytes], cuts: List[int], chunk: int) -> None:
    data = b"".join(encode_chunked(m, chunk) for m in msgs)
    decoder = Decoder(chunked=True)
    got: List[bytes] = []
    for piece in split(data, cuts):
        decoder.feed(piece)
        got += drain(decoder)
    assert got == msgs


def test_switch_from_eom_to_chunked_in_one_buffer() -> None:
    decoder = Decoder()
    decoder.feed(b"<hello/>]]>]]>\n#5\n<rpc/\n#1\n>\n##\n")
    assert decoder.next_message() == b"<hello/>"
    decoder.chunked = True
    assert decoder.next_message() == b"<rpc/>"
    assert decoder.next_message() is None


def test_eom_strips_whitespace_between_messages() -> None:
    decoder = Decoder()
    decoder.feed(b"<a/>]]>]]>\n  <?xml version='1.0'?><b/>]]>]]>")
    assert drain(decoder) == [b"<a/>", b"<?xml version='1.0'?><b/>"]


def test_eom_delimiter_split_across_feeds() -> None:
    decoder = Decoder()
    for piece in (b"<a/>]", b"]>]", b"]", b">"):
        decoder.feed(piece)
        if piece != b">":
            assert decoder.next_message() is None
    assert decoder.next_message() == b"<a/>"


@pytest.mark.parametrize(
    "data",
    [
        b"<rpc/>",  # no chunk header at all
        b"\n#0\n",  # zero chunk size
        b"\n#01\nx",  # leading zero
        b"\n#abc\n",  # not a number
        b"\n#4294967296\n",  # too large
        b"\n#12345678901\n",  # too many digits
        b"\n##\n",  # end of chunks without a chunk
        b"\n#2\nab\n##x",  # bad end marker
        b"\n#2\nabc",  # chunk longer than announced
        b"\n#-1\n",
    ],
)
def test_chunked_framing_errors(data: bytes) -> None:
    decoder = Decoder(chunked=True)
    decoder.feed(data)
    with pytest.raises(FramingError):
        drain(decoder)


def test_chunked_incomplete_header_waits() -> None:
    decoder = Decoder(chunked=True)
    for piece in (b"\n", b"#", b"12", b"3"):
        decoder.feed(piece)
        assert decoder.next_message() is None


def test_reply_open_tag_copies_attributes() -> None:
    rpc = etree.fromstring(
        '<rpc xmlns="%s" xmlns:ex="urn:ex" message-id="7" user="a&amp;b" ex:trace="t&quot;1"/>' % BASE_NS
    )
    tag = reply_open_tag(rpc)
    reply = etree.fromstring(tag + b"</rpc-reply>")
    assert reply.tag == "{%s}rpc-reply" % BASE_NS
    assert dict(reply.attrib) == {"message-id": "7", "user": "a&b", "{urn:ex}trace": 't"1'}
    bogus = etree.fromstring(reply_open_tag(rpc, "other") + b"</rpc-reply>")
    assert bogus.get("message-id") == "other"


class FakeChannel:
    """Records what a session writes."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def messages(self) -> List[bytes]:
        """Split what was written: hello (EOM) then the rest."""
        return [m for m in self.data.split(EOM) if m]


def make_session(**kwargs: object) -> "tuple[testing.NetconfServer, testing.Session, FakeChannel]":
    clock = Clock()
    server = testing.NetconfServer(MemoryReactorClock(), clock=clock, **kwargs)  # type: ignore[arg-type]
    channel = FakeChannel()
    session = server._core.open_session(channel, "admin", "127.0.0.1")  # type: ignore[arg-type]
    session.start()
    return server, session, channel


HELLO_10 = (
    '<hello xmlns="%s"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability>'
    "</capabilities></hello>]]>]]>" % BASE_NS
).encode()


def test_session_without_network_hello_and_rpc() -> None:
    server, session, channel = make_session(config="<top xmlns='urn:ex'><a>1</a></top>")
    hello = etree.fromstring(channel.messages()[0])
    assert hello.findtext("{%s}session-id" % BASE_NS) == str(session.session_id)
    # A request before the client hello is not answered; it must be the hello.
    session.data_received(HELLO_10[:10])
    assert len(channel.messages()) == 1
    session.data_received(HELLO_10[10:] + b'<rpc xmlns="%s" message-id="5"><get-config><source><running/>'
        b'</source></get-config></rpc>]]>]]>' % BASE_NS.encode())
    assert session.base_version == "1.0"
    reply = etree.fromstring(channel.messages()[1])
    assert reply.get("message-id") == "5"
    assert reply.find(".//{urn:ex}a").text == "1"  # type: ignore[union-attr]


def test_session_closes_when_first_message_is_not_hello() -> None:
    server, session, channel = make_session()
    session.data_received(b'<rpc xmlns="%s" message-id="1"><get/></rpc>]]>]]>' % BASE_NS.encode())
    assert channel.closed
    assert session.closed
    assert server.sessions == {}


def test_session_closes_on_hello_with_session_id() -> None:
    server, session, channel = make_session()
    session.data_received(
        b'<hello xmlns="%s"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability>'
        b"</capabilities><session-id>4</session-id></hello>]]>]]>" % BASE_NS.encode()
    )
    assert channel.closed


def test_session_closes_without_common_base_version() -> None:
    server, session, channel = make_session(base_versions=("1.1",))
    session.data_received(HELLO_10)
    assert channel.closed


def test_late_hello_holds_requests_until_sent() -> None:
    clock = Clock()
    server = testing.NetconfServer(MemoryReactorClock(), clock=clock)
    server.faults.add(testing.Fault.delay_hello(5.0))
    channel = FakeChannel()
    session = server._core.open_session(channel, "admin", None)  # type: ignore[arg-type]
    session.start()
    assert channel.data == b""
    session.data_received(HELLO_10 + b'<rpc xmlns="%s" message-id="1"><get/></rpc>]]>]]>' % BASE_NS.encode())
    assert channel.data == b""
    clock.advance(5)
    msgs = channel.messages()
    assert etree.fromstring(msgs[0]).tag == "{%s}hello" % BASE_NS
    assert etree.fromstring(msgs[1]).get("message-id") == "1"


def test_session_end_releases_locks() -> None:
    server, session, channel = make_session()
    session.data_received(HELLO_10 + b'<rpc xmlns="%s" message-id="1"><lock><target><candidate/></target>'
        b'</lock></rpc>]]>]]>' % BASE_NS.encode())
    assert server.locks["candidate"] == session.session_id
    session.connection_lost()
    assert server.locks["candidate"] is None
    fired: List[Optional[object]] = []
    session.when_closed().addCallback(fired.append)
    assert fired == [None]
