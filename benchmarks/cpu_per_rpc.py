#!/usr/bin/env python
"""CPU time per request, thread by thread: where a client spends its CPU on one RPC.

    .venv/bin/python -m benchmarks.cpu_per_rpc [--requests 2000] [--repeat 3]
                                               [--server netconfd|embedded]

For ours and netconf_client's futures API, on one session: ``get-config`` requests one
after the other (``seq``) and all at once (``inflight``). For each thread of the client
process, the CPU it used during the requests (``/proc/self/task/*/schedstat``) divided
by the number of requests, in µs, grouped by role: the caller (the reactor thread for
ours), the session/reader thread, paramiko's transport thread. Each measurement runs in
its own process against a fresh server; the median over ``--repeat`` runs is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Sequence

from benchmarks import _servers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CLIENTS = ("ours", "netconf_client-futures")
MODES = ("seq", "inflight")
WARMUP = 20


def _role(t: threading.Thread) -> str:
    import paramiko

    if t is threading.main_thread():
        return "caller / reactor thread"
    if isinstance(t, paramiko.Transport):
        return "paramiko transport thread"
    return "session / reader thread"


def _thread_cpu_ns() -> Dict[int, Any]:
    out: Dict[int, Any] = {}
    for t in threading.enumerate():
        tid = t.native_id
        if tid is None:  # not started yet
            continue
        try:
            with open("/proc/self/task/%d/schedstat" % tid) as f:
                out[tid] = (_role(t), int(f.read().split()[0]))
        except OSError:
            continue
    return out


def _per_request(before: Dict[int, Any], after: Dict[int, Any], n: int) -> Dict[str, float]:
    roles: Dict[str, float] = {}
    for tid, (role, ns) in after.items():
        used = ns - before.get(tid, (role, 0))[1]
        roles[role] = roles.get(role, 0.0) + used / 1e3 / n
    return roles


def _measure_ours(kwargs: Dict[str, Any], mode: str, n: int) -> Dict[str, Any]:
    from twisted.internet import defer
    from twisted.internet import reactor as global_reactor

    from benchmarks._clients import OursClient

    reactor: Any = global_reactor
    client = OursClient(reactor, kwargs, 60.0)
    out: Dict[str, Any] = {}

    async def main() -> None:
        s = await client.connect()
        for _ in range(WARMUP):
            await client.get_config(s)
        before, t0 = _thread_cpu_ns(), time.perf_counter()
        if mode == "seq":
            for _ in range(n):
                await client.get_config(s)
        else:
            await defer.gatherResults([client.get_config(s) for _ in range(n)])
        out["wall_us"] = (time.perf_counter() - t0) / n * 1e6
        out["cpu_us"] = _per_request(before, _thread_cpu_ns(), n)
        await client.close(s)

    def done(result: object) -> None:
        if "cpu_us" not in out:
            out["error"] = str(result)
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(main()).addBoth(done))
    reactor.run()
    if "error" in out:
        raise RuntimeError(out["error"])
    return out


def _measure_netconf_client(kwargs: Dict[str, Any], mode: str, n: int) -> Dict[str, Any]:
    from benchmarks._clients import NetconfClientFutures

    client = NetconfClientFutures(kwargs, 60.0)
    s = client.connect()
    try:
        for _ in range(WARMUP):
            client.get_config(s)
        before, t0 = _thread_cpu_ns(), time.perf_counter()
        if mode == "seq":
            for _ in range(n):
                client.get_config(s)
        else:
            for h in [client.submit(s) for _ in range(n)]:
                client.wait(h, 60.0)
        wall = (time.perf_counter() - t0) / n * 1e6
        return {"wall_us": wall, "cpu_us": _per_request(before, _thread_cpu_ns(), n)}
    finally:
        client.close(s)


def child(client: str, mode: str, n: int, server_kind: str) -> None:
    server = _servers.start(server_kind)
    try:
        measure = _measure_ours if client == "ours" else _measure_netconf_client
        result = measure(server.connect_kwargs, mode, n)
    finally:
        server.stop()
    sys.stdout.write(json.dumps(result) + "\n")


def _run_child(client: str, mode: str, n: int, server: str) -> Dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu_per_rpc", "--child", client, mode, "--requests", str(n),
         "--server", server],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError("%s %s failed:\n%s" % (client, mode, out.stderr[-2000:]))
    result: Dict[str, Any] = json.loads(lines[-1])
    return result


def _median_of(results: List[Dict[str, Any]]) -> Dict[str, float]:
    roles = sorted({r for res in results for r in res["cpu_us"]})
    row = {r: statistics.median(res["cpu_us"].get(r, 0.0) for res in results) for r in roles}
    row["total CPU"] = statistics.median(sum(res["cpu_us"].values()) for res in results)
    row["wall"] = statistics.median(res["wall_us"] for res in results)
    return row


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", default="netconfd", choices=_servers.SERVER_KINDS)
    ap.add_argument("--child", nargs=2, metavar=("CLIENT", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.requests, args.server)
        return 0
    rows = []
    for mode in MODES:
        n = args.requests if mode == "seq" else min(args.requests, 500)
        for client in CLIENTS:
            runs = [_run_child(client, mode, n, args.server) for _ in range(args.repeat)]
            rows.append((mode, client, n, _median_of(runs)))
    columns = ["caller / reactor thread", "session / reader thread",
               "paramiko transport thread", "total CPU", "wall"]
    print("µs per request (median of %d runs, server %s)\n" % (args.repeat, args.server))
    print("| mode | client | requests | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "---|" * len(columns))
    for mode, client, n, row in rows:
        cells = ["%.0f" % row.get(c, 0.0) for c in columns]
        print("| %s | %s | %d | %s |" % (mode, client, n, " | ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
