"""Many sessions in one process, on each transport: connect N sessions to embedded servers
in other processes, one ``get-config`` on each, then idle; threads, RSS and CPU per session.

    python -m benchmarks.scale --sessions 1000,5000 --io threads,reactor

Each (transport, N) runs in a fresh worker process (``python -m benchmarks.scale --worker``)
with its descriptor limit raised to the hard limit; the servers run in ``--servers`` other
processes (``benchmarks._serve_embedded``), the sessions spread over them. A run that fails
(e.g. the threads transport out of descriptors) is reported with its error. Writes
``benchmarks/SCALE.md`` (``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List

from benchmarks._measure import context_switches, cpu_seconds, rss_kib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Connects in progress at once.
CONCURRENCY = 200
IDLE_SECONDS = 10.0


def worker(io: str, count: int, servers: List[Dict[str, Any]], out: Dict[str, Any]) -> None:
    """Connect *count* sessions with *io*, one get-config each, idle, close; the figures
    go into *out* (``task.react`` ends the process when it is done)."""
    from twisted.internet import defer, task

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    out.update({"io": io, "sessions": count, "fd_limit": hard})

    async def run(reactor: Any) -> None:
        from ncclient_twisted import manager

        managers: List[Any] = []
        base_rss, base_threads = rss_kib(), threading.active_count()
        start = time.perf_counter()
        error = None
        try:
            for first in range(0, count, CONCURRENCY):
                batch = [
                    manager.connect(reactor=reactor, io=io, **dict(servers[i % len(servers)], timeout=120))
                    for i in range(first, min(count, first + CONCURRENCY))
                ]
                managers += await defer.gatherResults(batch, consumeErrors=True)
        except defer.FirstError as e:
            error = "%s: %s" % (type(e.subFailure.value).__name__, e.subFailure.value)
        except Exception as e:  # noqa: BLE001 - reported
            error = "%s: %s" % (type(e).__name__, e)
        out["connected"] = len(managers)
        out["connect_s"] = round(time.perf_counter() - start, 2)
        out["error"] = error
        if managers:
            added = threading.active_count() - base_threads
            out["threads_per_session"] = round(added / len(managers), 2)
            out["rss_kib_per_session"] = round((rss_kib() - base_rss) / len(managers), 1)
            start = time.perf_counter()
            replies = await defer.gatherResults([m.get_config(source="running") for m in managers])
            out["get_config_all_s"] = round(time.perf_counter() - start, 2)
            out["answered"] = sum(1 for r in replies if r.ok)
            cpu, switches = cpu_seconds(), context_switches()
            await task.deferLater(reactor, IDLE_SECONDS, lambda: None)
            idle_ms = (cpu_seconds() - cpu) * 1000
            out["idle_cpu_ms_per_session_s"] = round(idle_ms / len(managers) / IDLE_SECONDS, 4)
            out["idle_wakeups_per_s"] = round((context_switches() - switches) / IDLE_SECONDS, 1)
            await defer.gatherResults(
                [m.close_session(timeout=10).addErrback(lambda f: None) for m in managers]
            )

    task.react(lambda reactor: defer.ensureDeferred(run(reactor)))


def _start_servers(n: int) -> "tuple[List[subprocess.Popen[str]], List[Dict[str, Any]]]":
    procs, kwargs = [], []
    for _ in range(n):
        p = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._serve_embedded"], cwd=ROOT, stdout=subprocess.PIPE,
            text=True,
        )
        assert p.stdout is not None
        kwargs.append(json.loads(p.stdout.readline()))
        procs.append(p)
    return procs, kwargs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", default="1000", help="comma-separated session counts")
    p.add_argument("--io", default="threads,reactor", help="transports")
    p.add_argument("--servers", type=int, default=2, help="server processes")
    p.add_argument("--output", default=os.path.join(ROOT, "benchmarks", "SCALE.md"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        result: Dict[str, Any] = {}

        import atexit

        atexit.register(lambda: print(json.dumps(result), flush=True))
        worker(spec["io"], spec["count"], spec["servers"], result)
        return

    procs, servers = _start_servers(args.servers)
    rows: List[Dict[str, Any]] = []
    try:
        for count in (int(c) for c in args.sessions.split(",")):
            for io in args.io.split(","):
                spec = json.dumps({"io": io, "count": count, "servers": servers})
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.scale", "--worker", spec],
                    cwd=ROOT, capture_output=True, text=True, timeout=900,
                )
                lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                failed = {"io": io, "sessions": count, "error": done.stderr[-300:]}
                row = json.loads(lines[-1]) if lines else failed
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    _write(args.output, rows, args.servers)


def _write(path: str, rows: List[Dict[str, Any]], servers: int) -> None:
    from benchmarks._sysinfo import collect  # the machine's details, as the other reports

    cols = [
        ("sessions", "sessions"), ("io", "io"), ("connected", "connected"),
        ("connect_s", "s to connect"),
        ("threads_per_session", "threads / session"), ("rss_kib_per_session", "RSS KiB / session"),
        ("get_config_all_s", "s for one get-config on each"), ("answered", "answered"),
        ("idle_cpu_ms_per_session_s", "idle CPU ms / session / s"),
        ("idle_wakeups_per_s", "idle wake-ups / s (process)"), ("error", "error"),
    ]
    lines = [
        "# Many sessions in one process",
        "",
        "`python -m benchmarks.scale` (see its docstring): embedded servers in %d other processes, "
        "%d connects at a time, one `get-config` on each session, then %g s idle."
        % (servers, CONCURRENCY, IDLE_SECONDS),
        "",
        "| " + " | ".join(c[1] for c in cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(k, "")) for k, _ in cols) + " |")
    target = [r for r in rows if r.get("io") == "reactor" and r.get("sessions") == 10000]
    if target:
        r = target[0]
        checks = [
            ("all 10,000 connected and answered", r.get("connected") == 10000 and r.get("answered") == 10000),
            ("0 threads per session", r.get("threads_per_session") == 0),
            ("RSS per session ≤ 60 KiB", (r.get("rss_kib_per_session") or 1e9) <= 60),
            ("all connected within 30 s", (r.get("connect_s") or 1e9) <= 30),
        ]
        lines += ["", "Targets of io=reactor at 10,000 sessions (issue #15): "
                  + "; ".join("%s: **%s**" % (what, "met" if ok else "not met") for what, ok in checks) + "."]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += ["| %s | %s |" % (label, value) for label, value in collect()]
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
