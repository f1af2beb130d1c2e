"""Protocol-level behaviour: framing, hello, rpc/rpc-reply rules, custom RPCs."""

from __future__ import annotations

from typing import Any, List

import pytest
import pytest_twisted
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.transport.session import NetconfBase
from twisted.internet.task import deferLater

from ncclient_twisted import testing
from tests.support.server import (  # noqa: F401
    BASE10,
    BASE11,
    BASE_NS,
    CONFIG,
    TIMEOUT,
    Blocking,
    chunk,
    fast_ncclient,
    mtus,
    nc,
    reactor,
    rpc,
    running,
    xml_of,
)

GET_CONFIG = "<get-config><source><running/></source></get-config>"


def error_of(reply: bytes) -> etree._Element:
    root = etree.fromstring(reply)
    err = root.find("{%s}rpc-error" % BASE_NS)
    assert err is not None, reply
    return err


def field(err: etree._Element, name: str) -> str:
    return (err.findtext("{%s}%s" % (BASE_NS, name)) or "").strip()


@pytest_twisted.ensureDeferred
async def test_base11_chunked_framing_with_ncclient(nc: Blocking) -> None:
    big = "<config><top xmlns='urn:example:config'><interfaces>%s</interfaces></top></config>" % "".join(
        "<interface><name>if%d</name><mtu>%d</mtu></interface>" % (i, i) for i in range(300)
    )
    async with running(config=big, max_chunk_size=1000) as server:
        async with nc.connect(server) as m:
            assert m._session._base == NetconfBase.BASE_11
            assert server.sessions[int(m.session_id)].base_version == "1.1"
            reply = await nc.call(m.get_config, "running")
            assert len(mtus(reply)) == 300 and len(reply.xml) > 10_000


@pytest_twisted.ensureDeferred
async def test_long_reply_is_sent_in_several_chunks(nc: Blocking) -> None:
    async with running(config=CONFIG, max_chunk_size=64) as server:
        async with nc.raw(server) as c:

            def scenario() -> bytes:
                hello = c.hello()
                caps = [e.text for e in hello.iter("{%s}capability" % BASE_NS)]
                assert BASE11 in caps and hello.findtext("{%s}session-id" % BASE_NS)
                c.send(chunk(rpc(GET_CONFIG, "42"), 10))  # the request in 10-byte chunks
                return c.read_chunked()

            reply = etree.fromstring(await nc.call(scenario))
            assert reply.get("message-id") == "42"
            assert len(c.chunk_sizes) > 5 and max(c.chunk_sizes) == 64


@pytest_twisted.ensureDeferred
async def test_base10_only_server(nc: Blocking) -> None:
    async with running(config=CONFIG, base_versions=("1.0",)) as server:
        assert BASE11 not in server.capabilities
        async with nc.connect(server) as m:
            assert m._session._base == NetconfBase.BASE_10
            assert server.sessions[int(m.session_id)].base_version == "1.0"
            assert mtus(await nc.call(m.get_config, "running")) == {"eth0": "1500", "eth1": "9000"}


@pytest_twisted.ensureDeferred
async def test_eom_framing_and_attribute_copy(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.raw(server) as c:

            def scenario() -> bytes:
                c.hello(capabilities=(BASE10,))  # base:1.0 only: end-of-message framing
                c.send(
                    b'<?xml version="1.0" encoding="UTF-8"?>\n<rpc xmlns="%s" xmlns:ex="urn:ex" '
                    b'message-id="101" '
                    b'user-id="fred&amp;co" ex:trace="abc"><get-config><source><running/></source>'
                    b'</get-config></rpc>'
                    b"]]>]]>" % BASE_NS.encode()
                )
                return c.read_eom()

            reply = etree.fromstring(await nc.call(scenario))
            assert reply.tag == "{%s}rpc-reply" % BASE_NS
            assert dict(reply.attrib) == {"message-id": "101", "user-id": "fred&co", "{urn:ex}trace": "abc"}
            assert reply.find("{%s}data" % BASE_NS) is not None


@pytest_twisted.ensureDeferred
async def test_request_split_into_tiny_packets_and_pipelining(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.raw(server) as c:

            def scenario() -> List[bytes]:
                c.hello()
                data = chunk(rpc(GET_CONFIG, "a"), 7) + b"".join(
                    chunk(rpc("<get/>", str(i)), 50) for i in range(20)
                )
                for start in range(0, len(data), 5):  # one SSH packet per 5 bytes
                    c.send(data[start:start + 5])
                return [c.read_chunked() for _ in range(21)]

            replies = [etree.fromstring(r) for r in await nc.call(scenario)]
            assert [r.get("message-id") for r in replies] == ["a"] + [str(i) for i in range(20)]


@pytest_twisted.ensureDeferred
async def test_missing_message_id(nc: Blocking) -> None:
    async with running() as server:
        async with nc.raw(server) as c:

            def scenario() -> bytes:
                c.hello()
                c.send(chunk(b'<rpc xmlns="%s" other="x"><get/></rpc>' % BASE_NS.encode()))
                return c.read_chunked()

            raw = await nc.call(scenario)
            assert etree.fromstring(raw).get("message-id") is None
            assert etree.fromstring(raw).get("other") == "x"
            err = error_of(raw)
            assert (field(err, "error-type"), field(err, "error-tag")) == ("rpc", "missing-attribute")
            assert err.findtext(".//{%s}bad-attribute" % BASE_NS) == "message-id"
            assert err.findtext(".//{%s}bad-element" % BASE_NS) == "rpc"


@pytest_twisted.ensureDeferred
async def test_malformed_xml_and_non_rpc(nc: Blocking) -> None:
    async with running() as server:
        async with nc.raw(server) as c:

            def scenario() -> List[bytes]:
                c.hello()
                c.send(chunk(b"<rpc message-id='1'><get></rpc>"))
                first = c.read_chunked()
                c.send(chunk(b"<foo xmlns='urn:x'/>"))
                second = c.read_chunked()
                c.send(chunk(rpc("<get/>", "3")))  # the session is still usable
                return [first, second, c.read_chunked()]

            malformed, foreign, ok = await nc.call(scenario)
            err = error_of(malformed)
            assert (field(err, "error-type"), field(err, "error-tag")) == ("rpc", "malformed-message")
            err = error_of(foreign)
            assert (field(err, "error-type"), field(err, "error-tag")) == ("protocol", "unknown-element")
            assert etree.fromstring(ok).get("message-id") == "3"


@pytest_twisted.ensureDeferred
async def test_client_framing_error_closes_session(nc: Blocking) -> None:
    async with running() as server:
        async with nc.raw(server) as c:

            def scenario() -> bytes:
                c.hello()
                c.send(b"\n#abc\n<rpc/>\n##\n")
                return c.read_until_closed()

            rest = await nc.call(scenario)
            message = rest[rest.index(b"<"):rest.rindex(b">") + 1]
            assert field(error_of(message), "error-tag") == "malformed-message"
            assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_first_message_must_be_hello(nc: Blocking) -> None:
    async with running() as server:
        async with nc.raw(server) as c:

            def scenario() -> bytes:
                c.server_hello()
                c.send(rpc("<get/>") + b"]]>]]>")
                return c.read_until_closed()

            assert await nc.call(scenario) == b""
            assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_unknown_operations(nc: Blocking) -> None:
    async with running() as server:
        async with nc.connect(server) as m:
            for op in ("<frobnicate xmlns='urn:example:x'/>", "<frobnicate xmlns='%s'/>" % BASE_NS):
                with pytest.raises(RPCError) as info:
                    await nc.call(m.dispatch, etree.fromstring(op))
                assert info.value.tag == "operation-not-supported"
                assert info.value.type == "protocol"
                assert info.value.severity == "error"


@pytest_twisted.ensureDeferred
async def test_close_session(nc: Blocking) -> None:
    async with running() as server:
        async with nc.connect(server) as m:
            session = server.sessions[int(m.session_id)]
            reply = await nc.call(m.close_session)
            assert reply.ok
            await session.when_closed().addTimeout(TIMEOUT, reactor)
            assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_custom_rpc_handlers(nc: Blocking) -> None:
    calls: List[Any] = []

    def reboot(session: testing.Session, op: etree._Element) -> None:
        calls.append((session.username, op.findtext("{urn:example:x}delay")))

    def status(session: testing.Session, op: etree._Element) -> Any:
        # A reply that is computed later.
        return deferLater(reactor, 0, lambda: "<status xmlns='urn:example:x'>up</status>")

    def broken(session: testing.Session, op: etree._Element) -> None:
        raise testing.NetconfError(
            "resource-denied", "no way", error_type="application", info={"bad-element": "x"}
        )

    handlers = {"{urn:example:x}reboot": reboot, "status": status, "{urn:example:x}broken": broken}
    async with running(handlers=handlers) as server:
        async with nc.connect(server) as m:
            reply = await nc.call(
                m.dispatch, etree.fromstring("<reboot xmlns='urn:example:x'><delay>5</delay></reboot>")
            )
            assert reply.ok and calls == [("admin", "5")]
            reply = await nc.call(m.dispatch, etree.fromstring("<status xmlns='urn:example:x'/>"))
            assert xml_of(reply).findtext("{urn:example:x}status") == "up"
            with pytest.raises(RPCError) as info:
                await nc.call(m.dispatch, etree.fromstring("<broken xmlns='urn:example:x'/>"))
            assert (info.value.tag, info.value.message) == ("resource-denied", "no way")
            assert "bad-element" in info.value.info
