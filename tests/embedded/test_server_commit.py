"""Confirmed commit (RFC 6241 section 8.4), with the server on a task.Clock."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Tuple

import pytest
import pytest_twisted
from ncclient.operations.rpc import RPCError
from twisted.internet.task import Clock

from ncclient_twisted import testing
from tests.support.server import CONFIG, TIMEOUT, Blocking, fast_ncclient, mtus, nc, reactor, running  # noqa: F401

CHANGE = (
    '<config><top xmlns="urn:example:config"><interfaces>'
    "<interface><name>eth0</name><mtu>%d</mtu></interface>"
    "</interfaces></top></config>"
)
ORIGINAL = {"eth0": "1500", "eth1": "9000"}


def eth0(server: testing.NetconfServer, datastore: str = "running") -> str:
    return mtus(server.get_config(datastore))["eth0"]


@contextlib.asynccontextmanager
async def clocked() -> AsyncIterator[Tuple[testing.NetconfServer, Clock]]:
    clock = Clock()
    clock.advance(1_700_000_000)
    async with running(config=CONFIG, clock=clock) as server:
        yield server, clock
    assert clock.getDelayedCalls() == []


async def rpc_error(nc: Blocking, func: Any, *args: Any, **kwargs: Any) -> RPCError:
    with pytest.raises(RPCError) as info:
        await nc.call(func, *args, **kwargs)
    return info.value


@pytest_twisted.ensureDeferred
async def test_confirmed_commit_rolls_back_on_timeout(nc: Blocking) -> None:
    async with clocked() as (server, clock):
        async with nc.connect(server) as m:
            await nc.call(m.edit_config, target="candidate", config=CHANGE % 1400)
            assert (await nc.call(m.commit, confirmed=True, timeout="10")).ok
            assert eth0(server) == "1400" and server.confirmed_commit_pending
            clock.advance(9)
            assert eth0(server) == "1400"
            clock.advance(2)
            assert not server.confirmed_commit_pending
            assert mtus(await nc.call(m.get_config, "running")) == ORIGINAL
            assert mtus(await nc.call(m.get_config, "candidate")) == ORIGINAL


@pytest_twisted.ensureDeferred
async def test_confirming_commit_and_default_timeout(nc: Blocking) -> None:
    async with clocked() as (server, clock):
        async with nc.connect(server) as m:
            await nc.call(m.edit_config, target="candidate", config=CHANGE % 1400)
            await nc.call(m.commit, confirmed=True)  # default confirm-timeout: 600 s
            clock.advance(599)
            assert server.confirmed_commit_pending
            await nc.call(m.commit)  # the confirming commit
            assert not server.confirmed_commit_pending
            clock.advance(3600)
            assert eth0(server) == "1400"


@pytest_twisted.ensureDeferred
async def test_follow_up_confirmed_commit_extends(nc: Blocking) -> None:
    async with clocked() as (server, clock):
        async with nc.connect(server) as m:
            await nc.call(m.edit_config, target="candidate", config=CHANGE % 1400)
            await nc.call(m.commit, confirmed=True, timeout="10")
            clock.advance(5)
            await nc.call(m.edit_config, target="candidate", config=CHANGE % 1300)
            await nc.call(m.commit, confirmed=True, timeout="10")
            assert eth0(server) == "1300"
            clock.advance(8)
            assert eth0(server) == "1300"  # the timer was restarted
            clock.advance(3)
            assert eth0(server) == "1500"  # back to before the first confirmed commit


@pytest_twisted.ensureDeferred
async def test_session_end_rolls_back_unless_persist(nc: Blocking) -> None:
    async with clocked() as (server, clock):
        async with nc.connect(server) as a, nc.connect(server) as b:
            await nc.call(a.edit_config, target="candidate", config=CHANGE % 1400)
            await nc.call(a.commit, confirmed=True, timeout="100")
            err = await rpc_error(nc, b.commit)  # only a may confirm
            assert err.tag == "in-use"
            err = await rpc_error(nc, b.cancel_commit)
            assert err.tag == "operation-failed"
            closed = server.sessions[int(a.session_id)].when_closed()
            await nc.call(a.close_session)
            await closed.addTimeout(TIMEOUT, reactor)
            assert eth0(server) == "1500" and not server.confirmed_commit_pending

            await nc.call(b.edit_config, target="candidate", config=CHANGE % 1200)
            await nc.call(b.commit, confirmed=True, timeout="100", persist="token-1")
        # b's session is gone, the persistent confirmed commit stays.
        assert eth0(server) == "1200" and server.confirmed_commit_pending
        async with nc.connect(server) as c:
            err = await rpc_error(nc, c.commit, persist_id="wrong")
            assert err.tag == "invalid-value"
            await nc.call(c.commit, persist_id="token-1")
            assert not server.confirmed_commit_pending
        clock.advance(200)
        assert eth0(server) == "1200"


@pytest_twisted.ensureDeferred
async def test_cancel_commit(nc: Blocking) -> None:
    async with clocked() as (server, clock):
        async with nc.connect(server) as a, nc.connect(server) as b:
            err = await rpc_error(nc, a.cancel_commit)
            assert err.tag == "operation-failed"  # nothing pending
            await nc.call(a.edit_config, target="candidate", config=CHANGE % 1400)
            await nc.call(a.commit, confirmed=True, timeout="100")
            assert (await nc.call(a.cancel_commit)).ok
            assert eth0(server) == "1500" and not server.confirmed_commit_pending

            await nc.call(a.edit_config, target="candidate", config=CHANGE % 1100)
            await nc.call(a.commit, confirmed=True, persist="p")
            err = await rpc_error(nc, b.cancel_commit, persist_id="q")
            assert err.tag == "invalid-value"
            assert (await nc.call(b.cancel_commit, persist_id="p")).ok
            assert eth0(server) == "1500"
            assert eth0(server, "candidate") == "1500"


@pytest_twisted.ensureDeferred
async def test_stop_with_pending_confirmed_commit_leaves_no_timer(nc: Blocking) -> None:
    async with clocked() as (server, clock):
        async with nc.connect(server) as m:
            await nc.call(m.edit_config, target="candidate", config=CHANGE % 1400)
            await nc.call(m.commit, confirmed=True, timeout="100", persist="x")
        assert clock.getDelayedCalls() != []
    # clocked() asserts that stop() cancelled the timer.
