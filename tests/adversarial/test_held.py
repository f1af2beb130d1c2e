"""What held in a long adversarial run (issue #21), kept at the issue's counts, on both
transports: stray replies, timeouts and connect cancels.

The other cases that held are tested elsewhere, on both transports as well: no secret in
anything logged at DEBUG (wrong password, encrypted key with a wrong passphrase):
tests/embedded/test_secrets.py; XML bombs and XXE refused with MalformedReplyError, the
session kept, nothing fetched: tests/embedded/test_faults.py::test_dtd_and_entities_are_refused.
"""

from __future__ import annotations

import gc
import random
import time
from typing import Any

import pytest
import pytest_twisted
from ncclient.operations import TimeoutExpiredError
from twisted.internet import defer

from ncclient_twisted import manager
from ncclient_twisted.testing import Fault
from tests.support.held import settle_connects, stray_replies, twisted_errors
from tests.support.helpers import Resources, bounded, pause, reactor, wait_until
from tests.support.transports import on_both_transports

STRAY_REPLIES = 50_000
TIMEOUTS = 5_000
CONNECT_CANCELS = 100


@pytest.fixture
def server(server: Any, io: str) -> Any:
    return on_both_transports(server, io)


def statistics(server: Any) -> Any:
    """The embedded server's ``/netconf-state/statistics`` counters (what the peer saw)."""
    return server._core.engine.statistics


@pytest_twisted.ensureDeferred
async def test_50000_stray_replies_are_dropped_and_the_session_kept(server: Any) -> None:
    m = await bounded(manager.connect(**server.connect_kwargs()))
    try:
        # Answered: the server has read our hello (and framing) before it writes the burst.
        assert (await bounded(m.get_config(source="running"))).ok
        (peer,) = server.sessions.values()
        sent = statistics(server).out_notifications
        rounds = 10
        for r in range(rounds):
            # A burst of replies nobody asked for, then a real request behind them: its
            # reply comes after the burst and must reach it, and only it.
            per_round = STRAY_REPLIES // rounds
            peer.send_notifications(stray_replies(r * per_round, per_round))
            reply = await bounded(m.get_config(source="running"), 60)
            assert reply.ok
        # send_notifications counts what it wrote as notifications: the peer sent them all.
        assert statistics(server).out_notifications - sent == STRAY_REPLIES
        assert m.replies_dropped == STRAY_REPLIES
        assert m.connected and m.pending_requests == 0
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_5000_timeouts_leave_nothing_pending(server: Any) -> None:
    server.faults.add(Fault.no_reply("get"))
    m = await bounded(manager.connect(**server.connect_kwargs()))
    try:
        received = statistics(server).in_rpcs
        # Long enough for every request to be written before its deadline on a loaded
        # machine (one cancelled before it is built is never sent).
        m.timeout = 3.0
        start = time.monotonic()
        requests = [m.get() for _ in range(TIMEOUTS)]
        results = await bounded(defer.DeferredList(requests, consumeErrors=True), 60)
        elapsed = time.monotonic() - start
        assert all(not ok and f.check(TimeoutExpiredError) for ok, f in results)
        assert elapsed < 30, "took %.1f s" % elapsed  # wall time is the property: no pile-up
        # The server got every one of them and answered none.
        assert await wait_until(lambda: statistics(server).in_rpcs - received == TIMEOUTS)
        # Nothing is left waiting: neither our table nor ncclient's RPC table.
        assert m.pending_requests == 0 and m._listener._id2rpc == {}
        server.faults.clear()
        m.timeout = 30
        assert (await bounded(m.get_config(source="running"))).ok
        assert m.connected and m.replies_dropped == 0
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_100_random_connect_cancels_leave_no_unhandled_error(server: Any) -> None:
    rng = random.Random(21)
    resources = Resources()
    # How long ten connects at once take here: the cancels land anywhere from before the
    # TCP connect to after the session is up.
    start = time.monotonic()
    warm = await bounded(defer.gatherResults([manager.connect(**server.connect_kwargs()) for _ in range(10)]))
    span = (time.monotonic() - start) * 1.2
    await bounded(defer.gatherResults([m.close_session() for m in warm]))
    cancelled = came_up = 0
    with twisted_errors() as errors:
        for _ in range(CONNECT_CANCELS // 10):
            ds = []
            for _ in range(10):
                d = manager.connect(**server.connect_kwargs())
                reactor().callLater(rng.uniform(0, span), d.cancel)
                ds.append(d)
            outcome = await settle_connects(ds)
            cancelled, came_up = cancelled + outcome[0], came_up + outcome[1]
        # What came up after its cancel is closed: the server has no session left, and the
        # closes are done here (their sockets and threads are gone).
        assert await wait_until(lambda: not server.sessions)
        await resources.assert_released()
        del ds
        gc.collect()  # a failed Deferred nobody handled is logged when it is collected
        await pause(0)
    assert cancelled + came_up == CONNECT_CANCELS
    assert cancelled >= 10, (cancelled, came_up)
    assert errors == []
    await resources.assert_released()
