"""Notifications benchmark: ncclient_twisted vs plain ncclient, side by side in one run.

    .venv/bin/python -m benchmarks.notifications            # ~2 min; writes benchmarks/NOTIFICATIONS.md
    .venv/bin/python -m benchmarks.notifications --quick    # smaller sizes, one run each

Servers: the embedded server (``ncclient_twisted.testing``) in a child process, with a
``burst`` RPC that publishes N events to every subscriber in one write, or one event
every *interval* seconds. Every measurement runs in its own worker process.

Figures:

- burst throughput: notifications per second from the first to the last one received,
  into a Python callback on the reactor thread (ours) and through ncclient's
  ``take_notification()`` loop in a thread (ncclient), same burst, same server;
- latency from the session thread's dispatch of a notification (its last byte read,
  the message parsed) to the callback on the reactor, p50/p99, during the burst and with
  paced events (one a millisecond);
- 200 subscribed sessions held idle: threads in the process and CPU per second, ours
  and ncclient's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from benchmarks._measure import median, percentile, thread_count
from benchmarks._sysinfo import collect

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

BENCH_NS = "urn:ncclient-twisted:bench"
EVENT = (
    '<tick xmlns="urn:ncclient-twisted:bench-events"><n>%d</n><payload>interface ge-0/0/%d changed '
    'state</payload></tick>'
)


# -- the server process ------------------------------------------------------------------


def serve(count: int) -> None:
    from twisted.internet import defer, reactor, task

    from ncclient_twisted import testing

    async def run() -> None:
        servers: List[Any] = []

        def burst_handler(server: Any) -> Any:
            def handle(session: Any, op: Any) -> None:
                n = int(op.findtext("{%s}count" % BENCH_NS) or "0")
                interval = float(op.findtext("{%s}interval" % BENCH_NS) or "0")
                if interval <= 0:
                    reactor.callLater(0, server.publish_many, (EVENT % (i, i % 48) for i in range(n)))
                else:
                    sent = iter(range(n))

                    def one() -> None:
                        i = next(sent, None)
                        if i is None:
                            loop.stop()
                        else:
                            server.publish(EVENT % (i, i % 48))

                    loop = task.LoopingCall(one)
                    reactor.callLater(0, loop.start, interval)
                return None

            return handle

        for _ in range(count):
            holder: Dict[str, Any] = {}
            s = await testing.serve(
                reactor, users={"admin": "admin"}, handlers={
                    "{%s}burst" % BENCH_NS: lambda s, op, h=holder: h["f"](s, op)
                }
            )
            holder["f"] = burst_handler(s)
            servers.append(s)
        sys.stdout.write(json.dumps([s.connect_kwargs(timeout=None) for s in servers]) + "\n")
        sys.stdout.flush()
        await defer.Deferred()

    task.react(lambda r: defer.ensureDeferred(run()))


def burst_rpc(count: int, interval: float = 0.0) -> str:
    return '<burst xmlns="%s"><count>%d</count><interval>%s</interval></burst>' % (BENCH_NS, count, interval)


# -- workers ------------------------------------------------------------------------------------


def ours_stream(
    kwargs: Dict[str, Any], count: int, interval: float, mode: str = "callback"
) -> Dict[str, Any]:
    """*mode*: ``callback`` (``add_notification_callback``) or ``aiter`` (``async for``)."""
    from twisted.internet import defer

    from ncclient_twisted import manager

    result: Dict[str, Any] = {}

    async def run(reactor: Any) -> None:
        m = await manager.connect(
            reactor=reactor, manager_params={"notification_buffer": count + 10}, **kwargs
        )
        await m.create_subscription()
        done: "defer.Deferred[None]" = defer.Deferred()
        stamps: List[float] = []
        lags: List[float] = []

        def got(n: Any) -> None:
            now = time.perf_counter()
            stamps.append(now)
            lags.append(now - n.received)
            if len(stamps) == count:
                done.callback(None)

        if mode == "callback":
            m.add_notification_callback(got)
            await m.dispatch(_element(burst_rpc(count, interval)))
            await done.addTimeout(300, reactor)
        else:
            await m.dispatch(_element(burst_rpc(count, interval)))
            timeout = reactor.callLater(300, m.close_session)
            async for n in m.notifications():
                got(n)
                if done.called:
                    break
            if timeout.active():
                timeout.cancel()
        result.update(_summary(stamps, lags))
        result["dropped"] = m.notifications_dropped
        await m.close_session()

    _react(run, result)
    return result


def ncclient_stream(kwargs: Dict[str, Any], count: int, interval: float) -> Dict[str, Any]:
    from ncclient import manager as nc_manager

    m = nc_manager.connect(**kwargs)
    m.create_subscription()
    m.dispatch(_element(burst_rpc(count, interval)))
    stamps: List[float] = []
    deadline = time.monotonic() + 300
    while len(stamps) < count and time.monotonic() < deadline:
        n = m.take_notification(block=True, timeout=5)
        if n is None:
            continue
        stamps.append(time.perf_counter())
    m.close_session()
    return _summary(stamps, [])


def ours_idle(kwargs_list: List[Dict[str, Any]], idle: float) -> Dict[str, Any]:
    from twisted.internet import defer, task

    from ncclient_twisted import manager

    result: Dict[str, Any] = {}

    async def run(reactor: Any) -> None:
        before = thread_count()
        managers = await defer.gatherResults(
            [manager.connect(reactor=reactor, **kw) for kw in kwargs_list], consumeErrors=True
        )
        await defer.gatherResults([m.create_subscription() for m in managers], consumeErrors=True)
        from ncclient_twisted.bridge.runtime import runtime_for

        pool = runtime_for(reactor)._pool
        start = _idle_start()
        await task.deferLater(reactor, idle, lambda: None)
        result.update(_idle_figures(start, before, len(managers)))
        result["pool_threads"] = len(pool.threads) if pool is not None else 0
        result["session_threads_per_session"] = (result["threads_added"] - result["pool_threads"]) / len(
            managers
        )
        await defer.gatherResults([m.close_session() for m in managers], consumeErrors=True)

    _react(run, result)
    return result


def ncclient_idle(kwargs_list: List[Dict[str, Any]], idle: float) -> Dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from ncclient import manager as nc_manager

    before = thread_count()
    with ThreadPoolExecutor(32) as pool:
        managers = list(pool.map(lambda kw: nc_manager.connect(**kw), kwargs_list))
        list(pool.map(lambda m: m.create_subscription(), managers))
    start = _idle_start()
    time.sleep(idle)  # the measured idle window itself
    result = _idle_figures(start, before, len(managers))
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda m: m.close_session(), managers))
    return result


def _idle_start() -> "tuple[float, float, int]":
    return time.process_time(), time.monotonic(), thread_count()


def _idle_figures(start: "tuple[float, float, int]", before: int, sessions: int) -> Dict[str, Any]:
    cpu0, wall0, threads = start
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return {
        "sessions": sessions,
        "threads_added": threads - before,
        "threads_per_session": (threads - before) / max(sessions, 1),
        "cpu_pct": 100.0 * cpu / wall,
        "cpu_ms_per_session_s": 1000.0 * cpu / wall / max(sessions, 1),
    }


def _react(run: Any, result: Dict[str, Any]) -> None:
    """Run *run(reactor)* under ``task.react``, printing *result* before react exits."""
    from twisted.internet import defer, task

    async def main(reactor: Any) -> None:
        await run(reactor)
        print(json.dumps(result), flush=True)

    task.react(lambda r: defer.ensureDeferred(main(r)))


def _summary(stamps: List[float], lags: List[float]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"received": len(stamps)}
    if len(stamps) > 1:
        out["rate"] = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    if lags:
        out["lag_p50_ms"] = 1000 * percentile(lags, 50)
        out["lag_p99_ms"] = 1000 * percentile(lags, 99)
    return out


def _element(xml: str) -> Any:
    from lxml import etree

    return etree.fromstring(xml)


WORKERS = {
    "ours_stream": ours_stream,
    "ncclient_stream": ncclient_stream,
    "ours_idle": ours_idle,
    "ncclient_idle": ncclient_idle,
}


# -- the orchestrator ---------------------------------------------------------------------------


class ServerProcess:
    def __init__(self, count: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.notifications", "--serve", str(count)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the server process did not start")
        self.kwargs: List[Dict[str, Any]] = json.loads(line)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_worker(name: str, *args: Any, timeout: float = 600) -> Dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.notifications", "--worker", name, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:] or ["exit %d" % out.returncode]}
    result: Dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def med(runs: List[Dict[str, Any]], key: str) -> Optional[float]:
    values = [r[key] for r in runs if key in r]
    return median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--idle", type=float, default=None)
    parser.add_argument("--output", default=os.path.join(HERE, "NOTIFICATIONS.md"))
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.serve:
        serve(opts.serve)
        return
    if opts.worker:  # the reactor workers print their result themselves (react exits)
        print(json.dumps(WORKERS[opts.worker](*json.loads(opts.args))))
        return

    runs = opts.runs or (1 if opts.quick else 3)
    count = opts.count or (20_000 if opts.quick else 100_000)
    idle = opts.idle or (3.0 if opts.quick else 10.0)
    paced = 1000 if opts.quick else 3000
    results: Dict[str, List[Dict[str, Any]]] = {
        k: [] for k in (
            "ours_burst", "reactor_burst", "reactor_aiter", "ours_aiter", "nc_burst", "ours_paced",
            "reactor_paced", "ours_idle", "reactor_idle", "nc_idle",
        )
    }
    server = ServerProcess(1)
    try:
        kw = server.kwargs[0]
        for i in range(runs):
            print("run %d/%d: burst of %d" % (i + 1, runs, count), flush=True)
            tkw, rkw = dict(kw, io="threads"), dict(kw, io="reactor")
            results["ours_burst"].append(run_worker("ours_stream", tkw, count, 0.0))
            results["reactor_burst"].append(run_worker("ours_stream", rkw, count, 0.0))
            results["ours_aiter"].append(run_worker("ours_stream", tkw, count, 0.0, "aiter"))
            results["reactor_aiter"].append(run_worker("ours_stream", rkw, count, 0.0, "aiter"))
            results["nc_burst"].append(run_worker("ncclient_stream", kw, count, 0.0))
            results["ours_paced"].append(run_worker("ours_stream", tkw, paced, 0.001))
            results["reactor_paced"].append(run_worker("ours_stream", rkw, paced, 0.001))
        for i in range(runs):
            print("run %d/%d: %d idle subscribed sessions for %gs" % (
                i + 1, runs, opts.sessions, idle
            ), flush=True)
            kws = [kw] * opts.sessions
            results["ours_idle"].append(run_worker("ours_idle", [dict(k, io="threads") for k in kws], idle))
            rkws = [dict(k, io="reactor") for k in kws]
            results["reactor_idle"].append(run_worker("ours_idle", rkws, idle))
            results["nc_idle"].append(run_worker("ncclient_idle", kws, idle))
    finally:
        server.stop()
    report = render(results, runs, count, paced, opts.sessions, idle)
    print(report)
    with open(opts.output, "w") as f:
        f.write(report)
    with open(os.path.splitext(opts.output)[0] + ".json", "w") as f:
        json.dump(results, f, indent=1)


def _met(value: Optional[float], threshold: float) -> str:
    if value is None:
        return "not measured"
    return "%.0f/s, %s" % (value, "met" if value >= threshold else "not met")


def render(
    results: Dict[str, List[Dict[str, Any]]], runs: int, count: int, paced: int, sessions: int, idle: float
) -> str:
    def fmt(v: Optional[float], pattern: str = "%.0f") -> str:
        return "n/a" if v is None else pattern % v

    ours_rate, nc_rate = med(results["ours_burst"], "rate"), med(results["nc_burst"], "rate")
    ratio = ours_rate / nc_rate if ours_rate and nc_rate else None
    lines = [
        "# Notifications benchmark",
        "",
        "`python -m benchmarks.notifications` (median of %d runs; every figure from its own worker"
        " process; the embedded server in a child process)." % runs,
        "",
        "## Burst of %d notifications from one session" % count,
        "",
        "| client | delivered into | notifications/s | dispatch→callback p50 | p99 | dropped |",
        "|---|---|---|---|---|---|",
        "| ncclient_twisted io=threads | callback on the reactor thread | %s | %s ms | %s ms | %s |" % (
            fmt(ours_rate), fmt(med(results["ours_burst"], "lag_p50_ms"), "%.1f"),
            fmt(med(results["ours_burst"], "lag_p99_ms"), "%.1f"), fmt(
                med(results["ours_burst"], "dropped")
            )),
        "| ncclient_twisted io=reactor | callback on the reactor thread | %s | %s ms | %s ms | %s |" % (
            fmt(med(results["reactor_burst"], "rate")),
            fmt(med(results["reactor_burst"], "lag_p50_ms"), "%.1f"),
            fmt(med(results["reactor_burst"], "lag_p99_ms"), "%.1f"),
            fmt(med(results["reactor_burst"], "dropped")),
        ),
        "| ncclient_twisted io=threads | `async for` on the reactor thread | %s | %s ms | %s ms | %s |" % (
            fmt(med(results["ours_aiter"], "rate")),
            fmt(med(results["ours_aiter"], "lag_p50_ms"), "%.1f"),
            fmt(med(results["ours_aiter"], "lag_p99_ms"), "%.1f"),
            fmt(med(results["ours_aiter"], "dropped")),
        ),
        "| ncclient_twisted io=reactor | `async for` on the reactor thread | %s | %s ms | %s ms | %s |" % (
            fmt(med(results["reactor_aiter"], "rate")),
            fmt(med(results["reactor_aiter"], "lag_p50_ms"), "%.1f"),
            fmt(med(results["reactor_aiter"], "lag_p99_ms"), "%.1f"),
            fmt(med(results["reactor_aiter"], "dropped")),
        ),
        "| ncclient %s | `take_notification()` loop in a thread | %s | | | |" % ("", fmt(nc_rate)),
        "",
        "io=reactor targets (#15): a burst into a callback ≥ 100,000/s: **%s**; through `async for`"
        " ≥ 60,000/s: **%s**." % (
            _met(med(results["reactor_burst"], "rate"), 100_000),
            _met(med(results["reactor_aiter"], "rate"), 60_000),
        ),
        "",
        "Ratio ours (io=threads) / ncclient: **%s×** (target ≥ 5×); ours absolute: **%s/s**"
        " (target ≥ 50,000/s)." % (fmt(ratio, "%.1f"), fmt(ours_rate)),
        "",
        "## Paced events (%d, one a millisecond)" % paced,
        "",
        "| client | dispatch→callback p50 | p99 |",
        "|---|---|---|",
        "| ncclient_twisted io=threads | %s ms | %s ms |" % (
            fmt(med(results["ours_paced"], "lag_p50_ms"), "%.3f"), fmt(
                med(results["ours_paced"], "lag_p99_ms"), "%.3f"
            )),
        "| ncclient_twisted io=reactor | %s ms | %s ms |" % (
            fmt(med(results["reactor_paced"], "lag_p50_ms"), "%.3f"), fmt(
                med(results["reactor_paced"], "lag_p99_ms"), "%.3f"
            )),
        "",
        "The latency is from the moment the session has the whole message (read, framed"
        " and parsed: `Notification.received`; on its thread with io=threads, on the reactor"
        " with io=reactor) to the callback running on the reactor thread.",
        "",
        "## %d subscribed sessions, idle for %g s" % (sessions, idle),
        "",
        "| client | threads added | of which idle connect-pool threads | threads per session | process CPU | "
        "CPU ms per session per s |",
        "|---|---|---|---|---|---|",
    ]
    for label, key in (
        ("ncclient_twisted io=threads", "ours_idle"),
        ("ncclient_twisted io=reactor", "reactor_idle"),
        ("ncclient", "nc_idle"),
    ):
        rs = results[key]
        per_session = med(rs, "session_threads_per_session") or med(rs, "threads_per_session")
        lines.append("| %s | %s | %s | %s | %s %% | %s |" % (
            label, fmt(med(rs, "threads_added")), fmt(med(rs, "pool_threads")) if key != "nc_idle" else "0",
            fmt(per_session, "%.1f"), fmt(med(rs, "cpu_pct"), "%.2f"), fmt(
                med(rs, "cpu_ms_per_session_s"), "%.4f"
            )))
    ours_cpu, nc_cpu = med(results["ours_idle"], "cpu_pct"), med(results["nc_idle"], "cpu_pct")
    if ours_cpu and nc_cpu:
        lines += ["", "Idle CPU ours / ncclient: 1/%.0f." % (nc_cpu / ours_cpu)]
    errors = ["%s: %s" % (k, r["error"]) for k, rs in results.items() for r in rs if "error" in r]
    if errors:
        lines += ["", "Errors:", ""] + ["- %s" % e for e in errors]
    lines += ["", "Subscriptions add no thread: a session's notifications go through its own session"
              " thread (ncclient's session thread and paramiko's transport thread: 2 per session) and"
              " one `callFromThread` per socket read. The connect pool's threads are idle after the"
              " connects (the pool is bounded, 32 by default).", "", "## Machine", "", "| | |", "|---|---|"]
    lines += ["| %s | %s |" % (k, v) for k, v in collect()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
