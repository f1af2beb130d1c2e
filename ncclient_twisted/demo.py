"""The demo: NETCONF on many embedded devices at once (``python -m ncclient_twisted.demo``).

It starts N embedded NETCONF servers (``ncclient_twisted.testing``) in a child process, so
the figures are the client's, then for every device, concurrently: connect, subscribe,
get-config, lock the candidate, edit-config, commit, unlock, wait for the
``netconf-config-change`` notification, close. It prints progress and a summary, and exits
0 when every device succeeded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from twisted.internet import defer, task

from ncclient_twisted import manager
from ncclient_twisted._runtime import runtime_for

USER, PASSWORD = "demo", "demo"
DEMO_NS = "urn:ncclient-twisted:demo"
CONFIG = (
    '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<system xmlns="%s"><hostname>device-%%d</hostname></system></config>' % DEMO_NS
)
#: Bound on each device's whole run.
DEVICE_TIMEOUT = 60.0


class Stats:
    def __init__(self, devices: int) -> None:
        self.devices = devices
        self.latencies: List[float] = []
        self.failures: List[str] = []
        self.done = 0

    async def timed(self, d: "defer.Deferred[Any]") -> Any:
        start = time.perf_counter()
        result = await d
        self.latencies.append(time.perf_counter() - start)
        return result


async def run_device(index: int, server: Dict[str, Any], stats: Stats) -> None:
    m = await manager.connect(
        host=server["host"],
        port=server["port"],
        username=USER,
        password=PASSWORD,
        hostkey_verify=True,
        hostkey_b64=server["hostkey_b64"],
        allow_agent=False,
        look_for_keys=False,
        manager_params={"timeout": 30},
    )
    try:
        await stats.timed(m.create_subscription())
        await stats.timed(m.get_config(source="running"))
        async with m.locked("candidate"):
            await stats.timed(m.edit_config(target="candidate", config=CONFIG % index))
            await stats.timed(m.commit())
        while True:  # bounded by the take_notification timeout
            n = await m.take_notification(timeout=10)
            if n is None:
                raise RuntimeError("no netconf-config-change notification within 10 s")
            if "netconf-config-change" in n.notification_xml:
                break
    finally:
        await m.close_session()


def start_servers(count: int) -> "tuple[subprocess.Popen[str], List[Dict[str, Any]]]":
    """Start *count* embedded servers in a child process; their addresses (blocking)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ncclient_twisted.demo", "--serve", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the server process did not start")
    return proc, json.loads(line)


def report(stats: Stats, wall: float, out: Any = sys.stdout) -> None:
    lat = sorted(stats.latencies)
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
    rows = [
        ("devices", "%d" % stats.devices),
        ("RPCs", "%d" % len(lat)),
        ("failures", "%d" % len(stats.failures)),
        ("RPC latency p50", "%.2f ms" % p50),
        ("RPC latency p99", "%.2f ms" % p99),
        ("RPCs/s", "%.0f" % (len(lat) / wall if wall else 0)),
        ("wall time", "%.2f s" % wall),
    ]
    width = max(len(k) for k, _ in rows)
    print("", file=out)
    for k, v in rows:
        print("%-*s  %s" % (width, k, v), file=out)
    for failure in stats.failures:
        print("FAILED " + failure, file=out)


async def client_main(reactor: Any, devices: int) -> int:
    proc, servers = await runtime_for(reactor).run(start_servers, devices)
    stats = Stats(devices)
    tty = sys.stdout.isatty()

    def progress() -> None:
        line = "devices done: %d/%d, failures: %d" % (stats.done, devices, len(stats.failures))
        if tty:
            sys.stdout.write("\r" + line)
            sys.stdout.flush()
        else:
            print(line, flush=True)

    async def one(i: int, server: Dict[str, Any]) -> None:
        try:
            await defer.ensureDeferred(run_device(i, server, stats)).addTimeout(
                DEVICE_TIMEOUT, reactor
            )
        except Exception as e:
            stats.failures.append("device-%d (port %s): %s: %s" % (i, server["port"], type(e).__name__, e))
        stats.done += 1
        if tty or stats.done % max(1, devices // 10) == 0 or stats.done == devices:
            progress()

    start = time.perf_counter()
    try:
        await defer.gatherResults(
            [defer.ensureDeferred(one(i, s)) for i, s in enumerate(servers)]
        )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        await runtime_for(reactor).run(proc.wait, 10)
    wall = time.perf_counter() - start
    if tty:
        print()
    report(stats, wall)
    return 1 if stats.failures else 0


async def serve_main(reactor: Any, count: int) -> None:
    """Child process: run *count* servers until standard input closes."""
    from ncclient_twisted import testing

    servers = await defer.gatherResults(
        [
            defer.ensureDeferred(testing.serve(reactor, users={USER: PASSWORD}))
            for _ in range(count)
        ]
    )
    print(
        json.dumps(
            [{"host": s.host, "port": s.port, "hostkey_b64": s.hostkey_b64} for s in servers]
        ),
        flush=True,
    )
    await runtime_for(reactor).run(sys.stdin.read)
    await defer.gatherResults([s.stop() for s in servers])


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ncclient_twisted.demo",
        description="NETCONF on N embedded devices at once, with ncclient_twisted.",
    )
    parser.add_argument("--devices", type=int, default=20, help="how many devices (20)")
    parser.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        task.react(lambda r: defer.ensureDeferred(serve_main(r, args.serve)))
        return
    if not 1 <= args.devices <= 1000:
        parser.error("--devices must be between 1 and 1000")

    async def run(reactor: Any) -> None:
        code = await client_main(reactor, args.devices)
        if code:
            raise SystemExit(code)

    task.react(lambda r: defer.ensureDeferred(run(r)))


if __name__ == "__main__":
    main()
