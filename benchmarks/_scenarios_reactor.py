"""The scenarios for clients that run in a Twisted reactor (ours, deferToThread).

The reactor's lateness is measured with a 1 ms ``LoopingCall`` during the fan-out's
requests and while sessions connect: each call records how late it ran compared with
its slot on the 1 ms grid.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Dict, List, Sequence

from twisted.internet import defer, task

from benchmarks._catalog import Params
from benchmarks._clients import DeferredClient
from benchmarks._floor import FloorProbe
from benchmarks._measure import (
    Window,
    idle_metrics,
    latency_metrics,
    median,
    percentile,
    rate_metrics,
    snapshot,
)

__all__ = ["LatenessMonitor", "SCENARIOS"]

Metrics = Dict[str, float]


class LatenessMonitor:
    """How late a ``LoopingCall`` of *interval* seconds runs, in ms.

    A call's due time is the grid slot ``LoopingCall`` scheduled it for: the first slot
    after the previous call returned (slots missed while the reactor was blocked are
    skipped by ``LoopingCall``, so lateness is measured against the one it aimed at).
    """

    def __init__(self, reactor: Any, interval: float) -> None:
        self._reactor = reactor
        self._interval = interval
        self._due = 0.0
        self.samples: List[float] = []
        self._call = task.LoopingCall(self._tick)
        self._call.clock = reactor

    def start(self) -> None:
        self._call.start(self._interval, now=False)
        assert self._call.starttime is not None
        self._due = self._call.starttime + self._interval

    def _tick(self) -> None:
        now = self._reactor.seconds()
        self.samples.append(max(0.0, now - self._due) * 1000.0)
        # What LoopingCall._scheduleFrom will pick once we return.
        assert self._call.starttime is not None
        since_start = now - self._call.starttime
        self._due = now + (self._interval - since_start % self._interval)

    def stop(self) -> Metrics:
        if self._call.running:
            self._call.stop()
        samples = self.samples or [0.0]
        return {
            "lateness_p50_ms": median(samples),
            "lateness_p99_ms": percentile(samples, 99),
            "lateness_max_ms": max(samples),
            "lateness_samples": float(len(self.samples)),
        }


async def _gather(ds: Sequence["defer.Deferred[Any]"]) -> List[Any]:
    return list(await defer.gatherResults(list(ds), consumeErrors=True))


async def _connect(client: DeferredClient, n: int) -> List[Any]:
    return await _gather([client.connect() for _ in range(n)])


async def _close(client: DeferredClient, sessions: Sequence[Any]) -> None:
    await defer.DeferredList([client.close(s) for s in sessions], consumeErrors=True)


async def _baseline_lateness(reactor: Any, p: Params) -> float:
    """p99 lateness of the idle reactor over 0.2 s (what the timer itself costs)."""
    mon = LatenessMonitor(reactor, p.lateness_interval)
    mon.start()
    await task.deferLater(reactor, 0.2, lambda: None)
    return mon.stop()["lateness_p99_ms"]


async def sequential(reactor: Any, client: DeferredClient, p: Params, n: int,
                     pids: Sequence[int], **extra: Any) -> Metrics:
    [s] = await _connect(client, 1)
    try:
        for _ in range(p.warmup):
            await client.get_config(s)
        times: List[float] = []
        window = Window(pids)
        for _ in range(n):
            t0 = time.perf_counter()
            await client.get_config(s)
            times.append(time.perf_counter() - t0)
        window.close()
    finally:
        await _close(client, [s])
    return latency_metrics(times, window)


async def inflight(reactor: Any, client: DeferredClient, p: Params, n: int,
                   pids: Sequence[int], **extra: Any) -> Metrics:
    [s] = await _connect(client, 1)
    try:
        for _ in range(p.warmup):
            await client.get_config(s)
        await _gather([client.get_config(s) for _ in range(n)])  # warm-up burst
        window = Window(pids)
        for _ in range(p.inflight_rounds):
            await _gather([client.get_config(s) for _ in range(n)])
        window.close()
    finally:
        await _close(client, [s])
    return rate_metrics(n * p.inflight_rounds, window)


async def fanout(reactor: Any, client: DeferredClient, p: Params, n: int,
                 pids: Sequence[int], **extra: Any) -> Metrics:
    baseline = await _baseline_lateness(reactor, p)
    t0 = time.monotonic()
    sessions = await _connect(client, p.fanout_sessions)
    connect_s = time.monotonic() - t0
    try:
        await _gather([client.get_config(s) for s in sessions])  # warm-up
        floor = FloorProbe(p.lateness_interval)
        floor.start()
        # The window first: its /proc scan of the server tree (~25 ms with 100 sessions)
        # is the benchmark's own work, not the client's, and would be one late tick.
        window = Window(pids)
        monitor = LatenessMonitor(reactor, p.lateness_interval)
        monitor.start()
        floor.open()
        ds = [client.get_config(s) for s in sessions for _ in range(p.fanout_per_session)]
        launch_ms = 1000.0 * (time.monotonic() - window.start.wall)
        await _gather(ds)
        floor.close()
        window.close()
        lateness = monitor.stop()
        lateness.update(floor.stop())
    finally:
        await _close(client, sessions)
    requests = p.fanout_sessions * p.fanout_per_session
    return dict(rate_metrics(requests, window), connect_s=connect_s, launch_ms=launch_ms,
                lateness_idle_p99_ms=baseline, **lateness)


async def _connect_timed(reactor: Any, client: DeferredClient, p: Params, count: int,
                         pids: Sequence[int]) -> Metrics:
    """*count* connects launched at once, timed, with the reactor's lateness meanwhile."""
    baseline = await _baseline_lateness(reactor, p)
    floor = FloorProbe(p.lateness_interval)
    floor.start()
    window = Window(pids)  # first: its /proc scan is not the client's (see fanout)
    monitor = LatenessMonitor(reactor, p.lateness_interval)
    monitor.start()
    floor.open()
    sessions = await _connect(client, count)
    floor.close()
    window.close()
    lateness = monitor.stop()
    lateness.update(floor.stop())
    await _close(client, sessions)
    return dict(seconds=window.seconds, sessions=float(count),
                lateness_idle_p99_ms=baseline, **window.usage(), **lateness)


async def connect(reactor: Any, client: DeferredClient, p: Params, n: int,
                  pids: Sequence[int], **extra: Any) -> Metrics:
    return await _connect_timed(reactor, client, p, p.connect_sessions, pids)


async def burst(reactor: Any, client: DeferredClient, p: Params, n: int,
                pids: Sequence[int], **extra: Any) -> Metrics:
    """``burst_sessions`` connects launched at once; they run ``pool size`` at a time."""
    from ncclient_twisted.bridge.runtime import runtime_for

    metrics = await _connect_timed(reactor, client, p, p.burst_sessions, pids)
    return dict(metrics, pool_size=float(runtime_for(reactor).pool_size))


async def idle(reactor: Any, client: DeferredClient, p: Params, n: int,
               pids: Sequence[int], sessions: int = 0, **extra: Any) -> Metrics:
    await task.deferLater(reactor, 0.1, lambda: None)
    baseline = snapshot()
    t0 = time.monotonic()
    opened = await _connect(client, sessions)
    connect_s = time.monotonic() - t0
    try:
        await task.deferLater(reactor, 0.5, lambda: None)  # let the pool settle
        start = snapshot()
        await task.deferLater(reactor, p.idle_seconds, lambda: None)
        end = snapshot(end=True)
    finally:
        await _close(client, opened)
    return dict(idle_metrics(baseline, start, end, sessions), connect_s=connect_s)


Scenario = Callable[..., Awaitable[Metrics]]
SCENARIOS: Dict[str, Scenario] = {
    "sequential": sequential,
    "inflight": inflight,
    "fanout": fanout,
    "connect": connect,
    "burst": burst,
    "idle": idle,
}
