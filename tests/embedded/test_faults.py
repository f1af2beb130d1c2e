"""The fault matrix (docs/guarantees.md): every bad case, against the embedded server.

Each test checks what the caller's Deferred gets (a typed exception), that nothing waits
past the configured timeout, whether the session survives, and that no thread or file
descriptor is left behind.
"""

from __future__ import annotations

import socket
import time
from typing import Any, AsyncIterator, List, Optional, Tuple

import pytest
import pytest_twisted
from ncclient.operations import TimeoutExpiredError
from ncclient.transport.errors import (
    AuthenticationError,
    NetconfFramingError,
    SessionCloseError,
    SessionError,
    SSHError,
    SSHUnknownHostError,
    TransportError,
)
from ncclient.xml_ import XMLError
from twisted.internet import defer, protocol

from ncclient_twisted import manager, testing
from ncclient_twisted.testing import Fault
from ncclient_twisted.transport.errors import HostResolutionError
from ncclient_twisted.transport.framing import MalformedReplyError
from tests.support.helpers import Resources, bounded, child_server, pause, reactor
from tests.support.transports import connect, on_both_transports


@pytest.fixture
def server(server: Any, io: str) -> Any:
    return on_both_transports(server, io)

#: The request timeout of the tests that wait for one.
SHORT = 0.5


@pytest_twisted.async_yield_fixture
async def server10(io: str) -> AsyncIterator[Any]:
    s = await testing.serve(reactor(), users={"admin": "admin"}, base_versions=("1.0",))
    yield on_both_transports(s, io)
    await s.stop()


@pytest.fixture
def resources(server: testing.NetconfServer, server10: testing.NetconfServer) -> Resources:
    """Threads and descriptors once the servers listen; checked by :func:`released`."""
    return Resources()


async def released(m: Optional[manager.Manager], resources: Resources) -> None:
    """Close *m* (if given, whatever its state) and check nothing is left behind."""
    if m is not None:
        await bounded(m.close_session().addErrback(lambda _: None))
        assert not m.connected and m.pending_requests == 0
    await resources.assert_released()


async def get_ends_the_session(server: Any, resources: Resources, fault: Any, error: type) -> None:
    """With *fault* added, a ``get`` fails with *error*, the session ends with it, and
    nothing is left behind."""
    server.faults.add(fault)
    m = await connect(server)
    await fails_with(m.get(), error, 5)
    assert isinstance(await bounded(m.when_closed()), error)
    await released(m, resources)


async def fails_with(d: "defer.Deferred[Any]", exc: Any, within: float) -> BaseException:
    """*d* fails with *exc* in less than *within* seconds; the exception."""
    start = time.monotonic()
    with pytest.raises(exc) as info:
        await bounded(d, within + 5)
    elapsed = time.monotonic() - start
    assert elapsed < within, "took %.2f s" % elapsed  # wall time is the property: at once
    return info.value


async def survives(m: manager.Manager) -> None:
    """The session goes on: the next request is answered."""
    assert m.connected
    assert (await bounded(m.get_config(source="running"))).ok


# -- the connection ---------------------------------------------------------------------


@pytest.mark.parametrize("base", ["1.1", "1.0"])
@pytest_twisted.ensureDeferred
async def test_server_closes_mid_reply(server: Any, server10: Any, resources: Resources, base: str) -> None:
    s = server if base == "1.1" else server10
    s.faults.add(Fault.close_mid_reply("get", count=1))
    m = await connect(s)
    broken = m.get()
    others = [m.get_config(source="running") for _ in range(3)]  # answered after: never
    await fails_with(broken, SessionCloseError, 5)
    for d in others:
        await fails_with(d, TransportError, 1)
    assert isinstance(await bounded(m.when_closed()), SessionCloseError)
    await fails_with(m.get(), TransportError, 1)  # later requests fail at once
    await released(m, resources)


@pytest_twisted.ensureDeferred
async def test_tcp_reset(server: Any, resources: Resources) -> None:
    await get_ends_the_session(server, resources, Fault.reset("get", count=1), SessionCloseError)


@pytest_twisted.ensureDeferred
async def test_server_stops_answering_without_fin(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.stop_answering("get", count=1))
    m = await connect(server)
    m.timeout = SHORT
    await fails_with(m.get(), TimeoutExpiredError, SHORT + 1)
    await fails_with(m.get_config(source="running"), TimeoutExpiredError, SHORT + 1)
    assert m.connected and m.pending_requests == 0  # nothing tells us the link is dead
    start = time.monotonic()
    # close-session goes unanswered: it times out, and the transport is closed anyway.
    with pytest.raises(TimeoutExpiredError):
        await bounded(m.close_session())
    assert time.monotonic() - start < SHORT + 3  # wall time is the property: no hang
    assert not m.connected
    for session in list(server.sessions.values()):
        session.disconnect()  # the server's end, which never read our close
    await released(m, resources)


@pytest_twisted.ensureDeferred
async def test_kill_session_of_us_by_another_session(server: Any, resources: Resources) -> None:
    killer = await connect(server)
    victim = await connect(server, timeout=None)
    server.faults.add(Fault.no_reply("get", count=1))
    pending = victim.get()
    await bounded(killer.kill_session(victim.session_id))
    await fails_with(pending, TransportError, 5)
    assert isinstance(await bounded(victim.when_closed()), SessionCloseError)
    await bounded(killer.close_session())
    await released(victim, resources)


# -- framing ----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_malformed_chunk_header(server: Any, resources: Resources) -> None:
    await get_ends_the_session(server, resources, Fault.bad_chunk_header("get", count=1), NetconfFramingError)


@pytest_twisted.ensureDeferred
async def test_chunk_size_that_claims_less(server: Any, resources: Resources) -> None:
    # The chunk ends 10 bytes early; what follows is not a chunk header.
    fault = Fault.lying_chunk_size("get", -10, count=1)
    await get_ends_the_session(server, resources, fault, NetconfFramingError)


@pytest_twisted.ensureDeferred
async def test_chunk_size_that_claims_more(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.lying_chunk_size("get", 10, count=1))
    m = await connect(server)
    m.timeout = SHORT
    # The decoder waits for 10 more bytes: the request times out...
    await fails_with(m.get(), TimeoutExpiredError, SHORT + 1)
    # ...and the next reply's first bytes complete the lie: the rest is not framing.
    m.timeout = 5
    await fails_with(m.get_config(source="running"), NetconfFramingError, 5)
    await released(m, resources)


@pytest_twisted.ensureDeferred
async def test_end_of_message_marker_inside_a_chunk(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.eom_in_reply("get", count=1))
    m = await connect(server)
    reply = await bounded(m.get())  # chunks are counted, not searched: no harm
    assert reply.ok and "]]>]]>" in reply.xml
    await survives(m)
    await released(m, resources)


@pytest_twisted.ensureDeferred
async def test_end_of_message_marker_inside_a_base10_reply(server10: Any, resources: Resources) -> None:
    server10.faults.add(Fault.eom_in_reply("get", count=1))
    m = await connect(server10)
    # base:1.0 cuts the message at the marker: the first part is a broken reply to our
    # request (a clear error at once), the second part a fragment that is dropped.
    error = await fails_with(m.get(), MalformedReplyError, 5)
    assert isinstance(error, XMLError)
    await survives(m)
    assert m.replies_dropped == 1
    await released(m, resources)


GREETING = "h\u00f6st \u20ac \U0001f600"


def greet(session: Any, op: Any) -> bytes:
    """A custom RPC whose reply carries non-ASCII text."""
    return ('<data><greeting xmlns="urn:example:greet">%s</greeting></data>' % GREETING).encode()


@pytest.mark.parametrize(
    "base, cuts",
    [
        ("1.0", (-6, -5, -4, -3, -2, -1)),  # all through ]]>]]>
        ("1.1", (1, 2, 3, 4, -4, -3, -2, -1)),  # in the chunk header and the end of chunks
    ],
)
@pytest_twisted.ensureDeferred
async def test_reply_split_in_odd_places(resources: Resources, base: str, cuts: Tuple[int, ...]) -> None:
    from ncclient.xml_ import new_ele, to_ele

    s = await testing.serve(reactor(), users={"a": "a"}, base_versions=(base,), handlers={"greet": greet})
    try:
        # Every byte a piece of its own, then the cuts. (Multi-byte UTF-8 characters cut
        # in two are in test_fuzz.py: this server escapes them.)
        s.faults.add(Fault.split_reply("greet", range(1, 400), seconds=0.001, count=1))
        s.faults.add(Fault.split_reply("greet", cuts, seconds=0.02, count=1))
        m = await connect(s)
        replies = await bounded(defer.gatherResults([m.dispatch(new_ele("greet")) for _ in range(3)]))
        for r in replies:
            assert r.ok and to_ele(r.xml).findtext(".//{urn:example:greet}greeting") == GREETING
        await bounded(m.close_session())
    finally:
        await s.stop()
    await released(None, resources)


# -- content ----------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["1.1", "1.0"])
@pytest_twisted.ensureDeferred
async def test_message_that_is_not_xml(server: Any, server10: Any, resources: Resources, base: str) -> None:
    s = server if base == "1.1" else server10
    s.faults.add(Fault.not_xml("get", count=1))
    m = await connect(s)
    m.timeout = SHORT
    # It cannot be told which request it answers: dropped, and the request times out.
    await fails_with(m.get(), TimeoutExpiredError, SHORT + 1)
    m.timeout = 5
    await survives(m)
    assert m.replies_dropped == 1
    await released(m, resources)


class _Fetches(protocol.Factory):
    """A TCP listener that counts connections (an external entity must never be fetched)."""

    def __init__(self) -> None:
        self.connections = 0

    def buildProtocol(self, addr: Any) -> protocol.Protocol:
        self.connections += 1
        return protocol.Protocol()


@pytest.mark.parametrize("kind", ["billion-laughs", "internal-entity", "external-entity", "external-dtd"])
@pytest.mark.parametrize("huge_tree", [False, True])
@pytest_twisted.ensureDeferred
async def test_dtd_and_entities_are_refused(
    server: Any, resources: Resources, kind: str, huge_tree: bool
) -> None:
    fetches = _Fetches()
    port = reactor().listenTCP(0, fetches, interface="127.0.0.1")
    try:
        url = "http://127.0.0.1:%d/entity" % port.getHost().port
        server.faults.add(Fault.dtd("get", kind, url=url, count=1))
        server.faults.add(Fault.dtd("get-config", kind, url="file:///etc/hostname", count=1))
        m = await connect(server)
        m.huge_tree = huge_tree
        for d in (m.get(), m.get_config(source="running")):
            error = await fails_with(d, MalformedReplyError, 5)
            assert "document type declaration" in str(error)
        # That nothing happens is the point: a fetch would have connected while the reply
        # was parsed, before its error reached us; these turns let the listener see it.
        await pause(0.2)
        assert fetches.connections == 0
        await survives(m)
    finally:
        await port.stopListening()
    await released(m, resources)


@pytest.mark.parametrize(
    "depth, huge_tree, ok", [(300, False, False), (300, True, True), (3000, True, False)]
)
@pytest_twisted.ensureDeferred
async def test_very_deep_tree(
    server: Any, resources: Resources, depth: int, huge_tree: bool, ok: bool
) -> None:
    server.faults.add(Fault.deep_reply("get", depth, count=1))
    m = await connect(server)
    m.huge_tree = huge_tree
    if ok:
        assert (await bounded(m.get())).ok
    else:
        error = await fails_with(m.get(), MalformedReplyError, 5)
        assert "depth" in str(error)
        assert ("huge_tree=True" in str(error)) == (not huge_tree)
    await survives(m)
    await released(m, resources)


@pytest_twisted.ensureDeferred
async def test_text_node_too_large_without_huge_tree(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.large_reply("get", 11_000_000, text=True, count=2))
    m = await connect(server)
    error = await fails_with(m.get(), MalformedReplyError, 10)
    assert "huge_tree=True" in str(error)
    await survives(m)
    m.huge_tree = True
    assert len((await bounded(m.get())).xml) > 11_000_000
    await released(m, resources)


# -- replies nobody asked for -------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_unknown_and_duplicate_replies(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.unknown_message_id("get-config", before=True, count=1))
    server.faults.add(Fault.duplicate_reply("get", count=1))
    m = await connect(server)
    assert (await bounded(m.get_config(source="running"))).ok
    assert (await bounded(m.get())).ok
    await survives(m)
    assert m.replies_dropped == 2
    await released(m, resources)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault.unknown_message_id, id="unknown-message-id-instead-of-the-reply"),
        pytest.param(Fault.no_message_id, id="reply-without-message-id"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_a_reply_naming_no_request_is_dropped(server: Any, resources: Resources, fault: Any) -> None:
    server.faults.add(fault("get", count=1))
    m = await connect(server)
    m.timeout = SHORT
    await fails_with(m.get(), TimeoutExpiredError, SHORT + 1)
    await survives(m)
    assert m.replies_dropped == 1
    await released(m, resources)


@pytest_twisted.ensureDeferred
async def test_notification_before_any_subscription(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.unsolicited_notification("get", count=1))
    m = await connect(server)
    assert (await bounded(m.get())).ok
    n = await bounded(m.take_notification(timeout=5))  # kept, as ncclient keeps it
    assert n is not None and "unsolicited" in n.notification_xml
    await survives(m)
    await released(m, resources)


@pytest_twisted.ensureDeferred
async def test_notification_that_does_not_parse(server: Any, resources: Resources) -> None:
    m = await connect(server)
    await bounded(m.create_subscription())
    # ncclient parses notifications without huge_tree: 300 levels are too deep for it.
    server.publish('<deep xmlns="urn:example:deep">%s%s</deep>' % ("<a>" * 300, "</a>" * 300))
    server.publish('<fine xmlns="urn:example:fine"/>')
    n = await bounded(m.take_notification(timeout=5))
    assert n is not None and "urn:example:fine" in n.notification_xml  # the bad one dropped
    await survives(m)
    await released(m, resources)


# -- the hello ----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_hello_without_base_capability(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.hello_without_base(count=1))
    error = await fails_with(manager.connect(**server.connect_kwargs()), SessionError, 5)
    assert "base:1.0" in str(error)
    await resources.assert_released()


@pytest_twisted.ensureDeferred
async def test_no_hello(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.no_hello(count=1))
    kw = server.connect_kwargs(timeout=SHORT)
    error = await fails_with(manager.connect(**kw), SessionError, SHORT + 2)
    assert "timed out" in str(error)
    await resources.assert_released()


@pytest_twisted.ensureDeferred
async def test_late_hello(server: Any, resources: Resources) -> None:
    server.faults.add(Fault.delay_hello(0.3, count=1))
    m = await connect(server)
    await survives(m)
    await released(m, resources)


# -- connecting ---------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_authentication_failure(server: Any, resources: Resources) -> None:
    await fails_with(manager.connect(**server.connect_kwargs(password="wrong")), AuthenticationError, 10)
    await resources.assert_released()


@pytest_twisted.ensureDeferred
async def test_host_key_mismatch(server: Any, resources: Resources) -> None:
    import base64

    from twisted.conch.ssh import keys

    other_b64 = base64.b64encode(keys.Key(testing.generate_key()).public().blob()).decode()
    kw = server.connect_kwargs(hostkey_verify=True, hostkey_b64=other_b64)
    await fails_with(manager.connect(**kw), SSHUnknownHostError, 10)
    await resources.assert_released()


@pytest_twisted.ensureDeferred
async def test_connection_refused(resources: Resources, io: str) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kw = dict(host="127.0.0.1", port=port, username="u", password="p", hostkey_verify=False, io=io)
    error = await fails_with(manager.connect(**kw), SSHError, 5)
    assert "refused" in str(error).lower()
    await resources.assert_released()


@pytest_twisted.ensureDeferred
async def test_dns_failure(resources: Resources, io: str) -> None:
    kw = dict(host="no-such-host.invalid", username="u", password="p", hostkey_verify=False, io=io)
    error = await fails_with(manager.connect(**kw), HostResolutionError, 10)
    assert isinstance(error, SSHError) and isinstance(error, socket.gaierror)
    await resources.assert_released()


@pytest_twisted.ensureDeferred
async def test_connect_timeout(resources: Resources, io: str) -> None:
    # A listener whose backlog is full: the kernel drops further SYNs, connect() hangs.
    listener = socket.socket()
    fillers: List[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        for _ in range(8):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(listener.getsockname())
            fillers.append(f)
        host, port = listener.getsockname()
        kw = dict(
            host=host, port=port, username="u", password="p", hostkey_verify=False, timeout=1, io=io
        )
        error = await fails_with(manager.connect(**kw), SSHError, 3)
        assert "timed out" in str(error)
    finally:
        for f in fillers:
            f.close()
        listener.close()
    await resources.assert_released()


# -- size ---------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_100_mb_reply_with_and_without_huge_tree(resources: Resources) -> None:
    from twisted.internet import task

    size = 100 * 1024 * 1024
    # One text node of 100 MB: lxml refuses it without huge_tree, accepts it with.
    setup = "s.faults.add(Fault.large_reply('get', %d, text=True, count=2))" % size
    async with child_server(setup) as kw:
        ticks: List[float] = []
        loop = task.LoopingCall(lambda: ticks.append(reactor().seconds()))
        loop.start(0.01)
        try:
            m = await bounded(manager.connect(**kw))
            error = await fails_with(m.get(), MalformedReplyError, 40)
            assert "huge_tree=True" in str(error)
            assert m.connected  # the session goes on
            m.huge_tree = True
            reply = await bounded(m.get(), 40)
            assert reply.ok and len(reply.xml) > size
            del reply
            await bounded(m.close_session())
        finally:
            loop.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert max(gaps) < 1.0, max(gaps)  # framed and parsed off the reactor
    await released(None, resources)
