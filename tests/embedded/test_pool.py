"""The connect pool: a burst of 200 connects runs at most set_pool_size() handshakes at once
(io="threads": a pool thread each; io="reactor": a connect slot each, no thread)."""

from __future__ import annotations

import time
from typing import Any, List

import pytest
import pytest_twisted
from twisted.internet import defer, task

import ncclient_twisted
from ncclient_twisted import manager, testing
from ncclient_twisted.bridge.runtime import DEFAULT_POOL_SIZE, Runtime, runtime_for
from ncclient_twisted.bridge.wakeups import Waker

WAIT = 120
BURST = 200
POOL = 6


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


@pytest_twisted.ensureDeferred
async def test_a_burst_of_200_connects_runs_at_most_pool_size_handshakes(io: str) -> None:
    server = await testing.serve(reactor(), users={"admin": "admin"})
    ncclient_twisted.set_pool_size(POOL)
    in_handshake = [0]
    most = [0]
    lateness: List[float] = []
    last = [time.monotonic()]

    def unknown_host(host: str, fingerprint: str) -> "defer.Deferred[bool]":
        # Called on the reactor in the middle of each handshake, whose pool thread (or
        # connect slot) waits for the answer: how many run at once is how many are in use.
        in_handshake[0] += 1
        most[0] = max(most[0], in_handshake[0])

        def answer() -> bool:
            in_handshake[0] -= 1
            return True

        return task.deferLater(reactor(), 0.01, answer)

    def tick() -> None:
        now = time.monotonic()
        lateness.append(now - last[0] - 0.01)
        last[0] = now

    ticker = task.LoopingCall(tick)
    ticker.start(0.01)

    async def one() -> None:
        m = await manager.connect(
            io=io, **server.connect_kwargs(hostkey_verify=True, unknown_host_cb=unknown_host)
        )
        await m.close_session()

    try:
        await defer.gatherResults(
            [defer.ensureDeferred(one()) for _ in range(BURST)], consumeErrors=True
        ).addTimeout(WAIT, reactor())
    finally:
        ticker.stop()
        ncclient_twisted.set_pool_size(DEFAULT_POOL_SIZE)
        await server.stop()
    # Never more than the pool's size at once (how close it gets depends on the load).
    assert 0 < most[0] <= POOL, most[0]
    assert in_handshake[0] == 0
    slots = runtime_for(reactor()).connect_slots
    assert slots.held == 0 and slots.waiting == 0
    # The reactor kept running throughout (generous: 2 CPUs shared with the server and
    # 2 x POOL session threads).
    assert max(lateness) < 2.0, max(lateness)


def test_set_pool_size_resizes_a_running_pool() -> None:
    fake_reactor = task.Clock()
    fake_reactor.addSystemEventTrigger = lambda *a: None  # type: ignore[attr-defined]
    fake_reactor.removeSystemEventTrigger = lambda t: None  # type: ignore[attr-defined]
    ncclient_twisted.set_pool_size(3, reactor=fake_reactor)
    runtime = runtime_for(fake_reactor)
    try:
        pool = runtime._start()
        assert pool.max == 3
        ncclient_twisted.set_pool_size(7, reactor=fake_reactor)
        assert pool.max == 7 and runtime.pool_size == 7
        with pytest.raises(ValueError):
            ncclient_twisted.set_pool_size(0, reactor=fake_reactor)
    finally:
        runtime.stop()


def test_the_reactor_only_queues_work_the_waker_thread_hands_it_to_the_pool() -> None:
    # Twisted's pool starts threads (Thread.start waits for them to run) and coordinates
    # its workers under a lock on the calling thread: never the reactor's.
    import threading

    from twisted.internet.defer import Deferred

    fake_reactor = task.Clock()
    fake_reactor.addSystemEventTrigger = lambda *a: None  # type: ignore[attr-defined]
    fake_reactor.removeSystemEventTrigger = lambda t: None  # type: ignore[attr-defined]
    done = threading.Event()
    results: List[Any] = []
    fake_reactor.callFromThread = lambda f, *a: (results.append((f, a)), done.set())  # type: ignore[attr-defined]
    # The test's thread stands for the reactor's.
    runtime = Runtime(fake_reactor, waker=Waker(fake_reactor, on_reactor_thread=lambda: True))
    handed_over_on: List[str] = []
    pool = runtime._start()
    real = pool.callInThreadWithCallback

    def spy(*a: Any, **kw: Any) -> None:
        handed_over_on.append(threading.current_thread().name)
        real(*a, **kw)

    pool.callInThreadWithCallback = spy  # type: ignore[method-assign]
    try:
        d: Deferred[int] = runtime.run(lambda x: x + 1, 41)
        assert done.wait(WAIT)
        assert handed_over_on == ["ncclient_twisted-waker"]
        fire, (value,) = results[0]
        fire(value)
        assert d.result == 42
    finally:
        runtime.stop()


@pytest_twisted.ensureDeferred
async def test_a_reactor_connect_cancelled_while_it_waits_for_a_slot_gives_it_up() -> None:
    server = await testing.serve(reactor(), users={"admin": "admin"})
    ncclient_twisted.set_pool_size(1)
    slots = runtime_for(reactor()).connect_slots
    try:
        first = manager.connect(io="reactor", **server.connect_kwargs())
        second = manager.connect(io="reactor", **server.connect_kwargs())
        assert slots.held == 1 and slots.waiting == 1
        second.cancel()
        with pytest.raises(defer.CancelledError):
            await second
        assert slots.waiting == 0
        m = await first.addTimeout(WAIT, reactor())
        assert slots.held == 0
        await m.close_session()
    finally:
        ncclient_twisted.set_pool_size(DEFAULT_POOL_SIZE)
        await server.stop()
