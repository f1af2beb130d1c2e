"""The scenarios for clients without a reactor.

Blocking clients get their concurrency from threads: every thread is created and
waiting before the timed window opens, and released together. Submit-and-wait clients
(ncclient ``async_mode``, netconf_client futures) submit every request from the main
thread, then wait for each.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Sequence

from benchmarks._catalog import Params
from benchmarks._clients import BlockingClient, HandleClient
from benchmarks._measure import Window, idle_metrics, latency_metrics, rate_metrics, snapshot

__all__ = ["BLOCKING_SCENARIOS", "HANDLE_SCENARIOS"]

Metrics = Dict[str, float]


class _Released:
    """Threads created up front that run together once :meth:`go` is called."""

    def __init__(self, jobs: Sequence[Callable[[], Any]]) -> None:
        self._start = threading.Event()
        self.errors: List[BaseException] = []
        self._threads = [
            threading.Thread(target=self._run, args=(job,), daemon=True) for job in jobs
        ]
        self.results: List[Any] = []
        self._lock = threading.Lock()
        for t in self._threads:
            t.start()

    def _run(self, job: Callable[[], Any]) -> None:
        self._start.wait()
        try:
            result = job()
        except BaseException as e:  # reported after the join
            with self._lock:
                self.errors.append(e)
            return
        with self._lock:
            self.results.append(result)

    def go(self, timeout: float) -> None:
        self._start.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            raise TimeoutError("threads still running after %.0f s" % timeout)
        if self.errors:
            raise self.errors[0]


def _connect_many(client: BlockingClient, n: int, p: Params) -> List[Any]:
    with ThreadPoolExecutor(max_workers=min(n, p.connect_threads)) as pool:
        return list(pool.map(lambda _: client.connect(), range(n)))


def _close_many(client: BlockingClient, sessions: Sequence[Any], p: Params) -> None:
    def close(s: Any) -> None:
        try:
            client.close(s)
        except Exception:
            pass

    if sessions:
        with ThreadPoolExecutor(max_workers=min(len(sessions), p.connect_threads)) as pool:
            list(pool.map(close, sessions))


def _warm(client: BlockingClient, sessions: Sequence[Any], p: Params) -> None:
    with ThreadPoolExecutor(max_workers=min(len(sessions), p.connect_threads)) as pool:
        list(pool.map(client.get_config, sessions))


# -- shared by both kinds ------------------------------------------------------------


def sequential(client: BlockingClient, p: Params, n: int, pids: Sequence[int],
               **extra: Any) -> Metrics:
    s = client.connect()
    try:
        for _ in range(p.warmup):
            client.get_config(s)
        times: List[float] = []
        window = Window(pids)
        for _ in range(n):
            t0 = time.perf_counter()
            client.get_config(s)
            times.append(time.perf_counter() - t0)
        window.close()
    finally:
        client.close(s)
    return latency_metrics(times, window)


def connect(client: BlockingClient, p: Params, n: int, pids: Sequence[int],
            **extra: Any) -> Metrics:
    threads = _Released([client.connect] * p.connect_sessions)
    window = Window(pids)
    try:
        threads.go(p.op_timeout)
    finally:
        window.close()
        _close_many(client, threads.results, p)
    return dict(seconds=window.seconds, sessions=float(p.connect_sessions), **window.usage())


def idle(client: BlockingClient, p: Params, n: int, pids: Sequence[int],
         sessions: int = 0, **extra: Any) -> Metrics:
    baseline = snapshot()
    t0 = time.monotonic()
    opened = _connect_many(client, sessions, p)  # the pool's threads are gone after this
    connect_s = time.monotonic() - t0
    try:
        time.sleep(0.5)
        start = snapshot()
        time.sleep(p.idle_seconds)
        end = snapshot(end=True)
    finally:
        _close_many(client, opened, p)
    return dict(idle_metrics(baseline, start, end, sessions), connect_s=connect_s)


def _fanout(client: BlockingClient, p: Params, pids: Sequence[int],
            timed: Callable[[List[Any]], Callable[[], None]]) -> Metrics:
    """Connect and warm the sessions, then time ``timed(sessions)()``."""
    t0 = time.monotonic()
    sessions = _connect_many(client, p.fanout_sessions, p)
    connect_s = time.monotonic() - t0
    try:
        _warm(client, sessions, p)
        run = timed(sessions)
        window = Window(pids)
        run()
        window.close()
    finally:
        _close_many(client, sessions, p)
    requests = p.fanout_sessions * p.fanout_per_session
    return dict(rate_metrics(requests, window), connect_s=connect_s)


# -- blocking: threads -----------------------------------------------------------------


def blocking_inflight(client: BlockingClient, p: Params, n: int, pids: Sequence[int],
                      **extra: Any) -> Metrics:
    s = client.connect()
    try:
        for _ in range(p.warmup):
            client.get_config(s)
        _Released([lambda: client.get_config(s)] * n).go(p.op_timeout)  # warm-up burst
        bursts = [_Released([lambda: client.get_config(s)] * n) for _ in range(p.inflight_rounds)]
        window = Window(pids)
        for threads in bursts:
            threads.go(p.op_timeout)
        window.close()
    finally:
        client.close(s)
    return rate_metrics(n * p.inflight_rounds, window)


def blocking_fanout(client: BlockingClient, p: Params, n: int, pids: Sequence[int],
                    **extra: Any) -> Metrics:
    per = p.fanout_per_session
    def timed(sessions: List[Any]) -> Callable[[], None]:
        if client.thread_safe:  # one thread per request
            jobs = [(lambda s=s: client.get_config(s)) for s in sessions for _ in range(per)]
        else:  # one thread per session, its requests one after the other
            jobs = [(lambda s=s: [client.get_config(s) for _ in range(per)]) for s in sessions]
        threads = _Released(jobs)
        return lambda: threads.go(p.op_timeout)

    return _fanout(client, p, pids, timed)


# -- submit, then wait -----------------------------------------------------------------


def _submit_all(client: HandleClient, sessions: Sequence[Any], per: int,
                timeout: float) -> None:
    handles = [client.submit(s) for s in sessions for _ in range(per)]
    deadline = time.monotonic() + timeout
    for h in handles:
        client.wait(h, max(0.001, deadline - time.monotonic()))


def handle_inflight(client: HandleClient, p: Params, n: int, pids: Sequence[int],
                    **extra: Any) -> Metrics:
    s = client.connect()
    try:
        for _ in range(p.warmup):
            client.get_config(s)
        _submit_all(client, [s], n, p.op_timeout)  # warm-up burst
        window = Window(pids)
        for _ in range(p.inflight_rounds):
            _submit_all(client, [s], n, p.op_timeout)
        window.close()
    finally:
        client.close(s)
    return rate_metrics(n * p.inflight_rounds, window)


def handle_fanout(client: HandleClient, p: Params, n: int, pids: Sequence[int],
                  **extra: Any) -> Metrics:
    def timed(sessions: List[Any]) -> Callable[[], None]:
        return lambda: _submit_all(client, sessions, p.fanout_per_session, p.op_timeout)

    return _fanout(client, p, pids, timed)


Scenario = Callable[..., Metrics]
BLOCKING_SCENARIOS: Dict[str, Scenario] = {
    "sequential": sequential,
    "inflight": blocking_inflight,
    "fanout": blocking_fanout,
    "connect": connect,
    "idle": idle,
}
HANDLE_SCENARIOS: Dict[str, Scenario] = {
    "sequential": sequential,
    "inflight": handle_inflight,
    "fanout": handle_fanout,
}
