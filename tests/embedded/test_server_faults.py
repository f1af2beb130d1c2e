"""Fault injection, as observed by a plain ncclient client."""

from __future__ import annotations

import time
from typing import Any

import pytest
import pytest_twisted
from ncclient.operations.errors import OperationError, TimeoutExpiredError
from ncclient.operations.rpc import RPCError
from ncclient.transport.errors import SessionCloseError, SessionError

from ncclient_twisted.testing import Fault
from tests.support.server import CONFIG, TIMEOUT, Blocking, fast_ncclient, mtus, nc, reactor, running  # noqa: F401

SHORT = 0.5  # ncclient RPC timeout where a reply is expected never to come


def timed(func: Any, *args: Any, **kwargs: Any) -> Any:
    started = time.monotonic()
    result = func(*args, **kwargs)
    return result, time.monotonic() - started


@pytest_twisted.ensureDeferred
async def test_delay(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        fault = Fault.delay("get-config", 0.3)
        server.faults.add(fault)
        async with nc.connect(server) as m:
            reply, elapsed = await nc.call(timed, m.get_config, "running")
            assert reply.ok and elapsed >= 0.3  # the delay itself, in the server's reactor time
            assert (await nc.call(m.get)).ok
            assert fault.hits == 1  # other operations do not go through the fault
            m.timeout = 0.1
            with pytest.raises(TimeoutExpiredError):
                await nc.call(m.get_config, "running")
            assert fault.hits == 2 and fault in server.faults
            server.faults.remove(fault)
            m.timeout = TIMEOUT
            # Requests wait behind the delayed reply; then all is well.
            assert (await nc.call(m.get_config, "running")).ok


@pytest_twisted.ensureDeferred
async def test_no_reply_once(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        fault = Fault.no_reply("get", count=1)
        server.faults.add(fault)
        async with nc.connect(server) as m:
            m.timeout = SHORT
            with pytest.raises(TimeoutExpiredError):
                await nc.call(m.get)
            assert fault.hits == 1 and fault not in server.faults
            assert (await nc.call(m.get)).ok


@pytest.mark.parametrize("before", [False, True])
@pytest_twisted.ensureDeferred
async def test_unknown_message_id(nc: Blocking, before: bool) -> None:
    async with running(config=CONFIG) as server:
        server.faults.add(Fault.unknown_message_id("get", before=before))
        async with nc.connect(server) as m:
            session = server.sessions[int(m.session_id)]
            with pytest.raises(OperationError, match="Unknown 'message-id'"):
                await nc.call(m.get)
            # ncclient gives up on the session and closes it.
            await session.when_closed().addTimeout(TIMEOUT, reactor)


@pytest_twisted.ensureDeferred
async def test_duplicate_reply(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        server.faults.add(Fault.duplicate_reply("get-config", count=1))
        async with nc.connect(server) as m:
            session = server.sessions[int(m.session_id)]
            assert mtus(await nc.call(m.get_config, "running")) == {"eth0": "1500", "eth1": "9000"}
            # The second copy has a message-id ncclient no longer expects: it drops the session.
            await session.when_closed().addTimeout(TIMEOUT, reactor)
            await nc.call(m._session.join, TIMEOUT)
            assert not m.connected


@pytest.mark.parametrize("base_versions", [("1.0", "1.1"), ("1.0",)])
@pytest_twisted.ensureDeferred
async def test_close_mid_reply(nc: Blocking, base_versions: Any) -> None:
    async with running(config=CONFIG, base_versions=base_versions) as server:
        server.faults.add(Fault.close_mid_reply("get-config"))
        async with nc.connect(server) as m:
            with pytest.raises(SessionCloseError):
                await nc.call(m.get_config, "running")
            assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_bad_chunk_header(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        server.faults.add(Fault.bad_chunk_header("get"))
        async with nc.connect(server) as m:
            m.timeout = SHORT
            # ncclient waits for a chunk header that never becomes valid.
            with pytest.raises(TimeoutExpiredError):
                await nc.call(m.get)


@pytest.mark.parametrize("base_versions", [("1.0", "1.1"), ("1.0",)])
@pytest_twisted.ensureDeferred
async def test_not_xml(nc: Blocking, base_versions: Any) -> None:
    async with running(config=CONFIG, base_versions=base_versions) as server:
        fault = Fault.not_xml("get", count=1)
        server.faults.add(fault)
        async with nc.connect(server) as m:
            m.timeout = SHORT
            # ncclient cannot parse it, logs and drops it: the request times out.
            with pytest.raises(TimeoutExpiredError):
                await nc.call(m.get)
            m.timeout = TIMEOUT
            assert (await nc.call(m.get)).ok


@pytest_twisted.ensureDeferred
async def test_large_reply(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        server.faults.add(Fault.large_reply("get", size=1_000_000), Fault.large_reply("lock", size=10_000))
        async with nc.connect(server) as m:
            reply = await nc.call(m.get)
            assert len(reply.xml) > 1_000_000
            assert mtus(reply) == {"eth0": "1500", "eth1": "9000"}
            assert reply.data_ele.find("{urn:ncclient-twisted:testing:filler}filler") is not None
            lock = await nc.call(m.lock, "running")  # an <ok/> reply padded with a comment
            assert lock.ok and len(lock.xml) > 10_000


@pytest_twisted.ensureDeferred
async def test_rpc_error_for_any_operation(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        fault = Fault.rpc_error("edit-config", "resource-denied", "disk full", count=1)
        server.faults.add(fault)
        async with nc.connect(server) as m:
            change = "<config><top xmlns='urn:example:config'><hostname>x</hostname></top></config>"
            with pytest.raises(RPCError) as info:
                await nc.call(m.edit_config, target="running", config=change)
            assert (info.value.tag, info.value.message, info.value.type) == (
                "resource-denied", "disk full", "application"
            )
            assert "router1" in (await nc.call(m.get_config, "running")).xml  # not carried out
            server.faults.add(Fault.rpc_error(None))  # every operation
            with pytest.raises(RPCError):
                await nc.call(m.get)
            server.faults.clear()
            assert (await nc.call(m.get)).ok


@pytest_twisted.ensureDeferred
async def test_session_faults(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as broken, nc.connect(server) as fine:
            server.sessions[int(broken.session_id)].faults.add(Fault.no_reply("get"))
            broken.timeout = SHORT
            with pytest.raises(TimeoutExpiredError):
                await nc.call(broken.get)
            assert (await nc.call(fine.get)).ok


@pytest_twisted.ensureDeferred
async def test_no_hello(nc: Blocking) -> None:
    async with running() as server:
        server.faults.add(Fault.no_hello(count=1))
        with pytest.raises(SessionError, match="Capability exchange timed out"):
            async with nc.connect(server, timeout=SHORT):
                pass  # pragma: no cover
        async with nc.connect(server) as m:  # the fault was one-shot
            assert m.connected


@pytest_twisted.ensureDeferred
async def test_late_hello(nc: Blocking) -> None:
    async with running() as server:
        server.faults.add(Fault.delay_hello(0.3))
        started = time.monotonic()
        async with nc.connect(server) as m:
            assert time.monotonic() - started >= 0.3  # the delay itself
            assert (await nc.call(m.get)).ok


@pytest_twisted.ensureDeferred
async def test_disconnect_session_from_python(nc: Blocking) -> None:
    async with running() as server:
        async with nc.connect(server) as m:
            server.sessions[int(m.session_id)].disconnect()  # a crashing device
            assert server.sessions == {}
            await nc.call(m._session.join, TIMEOUT)
            assert not m.connected
