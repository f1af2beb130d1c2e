"""A fleet job on every device (connect, ``get-config`` of running, close), side by side.

    python -m benchmarks.fleet                  # 500 and 2,000 devices, 50 and 200 at once, 2 rounds
    python -m benchmarks.fleet --quick          # 20 devices, 5 and 20 at once, 1 round
    python -m benchmarks.fleet --devices 500 --concurrency 200 --clients reactor,scrapli
    python -m benchmarks.fleet --profile 200    # one connect on io=reactor, under cProfile

The devices are embedded servers (``ncclient-twisted serve``, ``ncclient_twisted.testing``), one
port each, in ``--servers`` other processes (each serves an interleaved share). Every (size,
concurrency, round, client) is a worker process of its own (``python -m benchmarks.fleet
--worker``, the spec on standard input); the clients take turns in an order that rotates from
round to round. A worker imports its client before the timed window; the window is the whole
job; CPU is the worker's ``getrusage`` over the window (the CLI row: the CLI process's, start-up
included); peak RSS is the process's ``ru_maxrss``. Host keys are checked by every client (see
``CLIENTS``). Writes ``benchmarks/FLEET.md`` and ``FLEET.json`` (``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from benchmarks._measure import cpu_seconds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USERNAME = PASSWORD = "admin"
#: The environment variable the workers read the password from (not their command line).
PASSWORD_ENV = "NCCLIENT_TWISTED_PASSWORD"
#: Devices one ``ncclient-twisted serve`` may serve.
MAX_DEVICES_PER_SERVER = 1000
LATENESS_INTERVAL = 0.010
TIMEOUT = 120.0
#: name -> how it runs and checks host keys (shown in the report).
CLIENTS: Dict[str, str] = {
    "reactor": 'ours, `io="reactor"`: `manager.connect` on the reactor, as many coroutines as the '
               "concurrency each taking the next device (as `examples/inventory.py`); `known_hosts=FILE`",
    "threads": 'ours, `io="threads"`: the same with `io="threads"` (ncclient + paramiko in session '
               "threads, connects on our pool); `known_hosts=FILE`",
    "scrapli": "scrapli_netconf `AsyncNetconfDriver`, `transport=\"asyncssh\"`, as many asyncio tasks as "
               "the concurrency each taking the next device; "
               "asyncssh checks the key against the known_hosts lines imported once "
               "(`asyncssh.import_known_hosts`, passed as its `known_hosts`; scrapli's own "
               "`auth_strict_key` off, as it re-reads the file per connect and matches by host only)",
    "ncclient": "ncclient `manager.connect` in a `ThreadPoolExecutor` of the concurrency; "
                "`hostkey_verify=True` with the device's `hostkey_b64`",
    "cli": "`ncclient-twisted get-config --inventory FILE --out DIR --concurrency N --known-hosts FILE "
           "--quiet` (its own process; start-up included in its wall time and CPU)",
}
#: Clients whose reactor lateness is measured.
REACTOR_CLIENTS = ("reactor", "threads")
NORNIR_NOTE = (
    "nornir + nornir_netconf: not run. nornir_netconf 2.1.0 (the latest) requires ncclient<0.7 (installing "
    "it downgrades the ncclient our client is measured with to 0.6.19) and imports `Optional` from "
    "`nornir.core.task`, which nornir 3.4+ no longer has (ImportError with nornir 3.6); nornir<3.4 "
    "needs `pkg_resources` and pins mypy_extensions<0.5. Its tasks would be ncclient's sessions in "
    "nornir's thread pool, as the `ncclient` row."
)


# --- the workers ----------------------------------------------------------------------------

def _error(e: BaseException) -> str:
    return "%s: %s" % (type(e).__name__, str(e)[:200])


def _workers(spec: Dict[str, Any]) -> int:
    """How many workers take devices in turn: the concurrency (a device waiting for its turn is
    an item of an iterator, as in a thread pool, not a coroutine made up front)."""
    return max(1, min(spec["concurrency"], len(spec["devices"])))


def _record(out: Dict[str, Any], wall: float, cpu: float, ok: int, errors: List[str]) -> None:
    out.update(wall_s=round(wall, 3), cpu_s=round(cpu, 3), ok=ok, failed=len(errors),
               first_error=errors[0] if errors else None)


def _run_ours(io: str, spec: Dict[str, Any], password: str, out: Dict[str, Any]) -> None:
    from twisted.internet import defer, task

    from benchmarks._scenarios_reactor import LatenessMonitor
    from ncclient_twisted import manager

    # The transports' modules load before the window, as in the other benchmarks.
    from ncclient_twisted.transport.reactor import ssh_connector  # noqa: F401
    from ncclient_twisted.transport.threads import connectors  # noqa: F401

    if spec.get("freeze"):  # benchmarks.diagnostics.fleet_gc_pauses freeze
        import gc

        gc.collect()
        gc.freeze()  # what start-up made is never scanned again

    async def job(host: str, port: int) -> None:
        m = await manager.connect(
            host=host, port=port, username=spec["username"], password=password, io=io,
            known_hosts=spec["known_hosts"], allow_agent=False, look_for_keys=False, timeout=TIMEOUT,
        )
        try:
            reply = await m.get_config(source="running")
            if not reply.ok:
                raise RuntimeError("get-config: rpc-error")
        finally:
            await m.close_session()

    async def run(reactor: Any) -> None:
        errors: List[str] = []
        ok = 0
        waiting = iter(spec["devices"])

        async def counted(host: str, port: int) -> None:
            nonlocal ok
            try:
                await job(host, port)
                ok += 1
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(_error(e))

        async def worker() -> None:
            for host, port, _ in waiting:
                await counted(host, port)

        async def waiter(host: str, port: int, gate: defer.DeferredSemaphore) -> None:
            await gate.run(lambda: defer.ensureDeferred(counted(host, port)))

        def start() -> List["defer.Deferred[None]"]:
            if spec.get("shape") == "semaphore":
                # The other shape (benchmarks.diagnostics.fleet_gc_pauses semaphore): a
                # coroutine per device made up front, waiting in a semaphore's queue.
                gate = defer.DeferredSemaphore(spec["concurrency"])
                return [defer.ensureDeferred(waiter(h, p, gate)) for h, p, _ in spec["devices"]]
            return [defer.ensureDeferred(worker()) for _ in range(_workers(spec))]

        monitor = LatenessMonitor(reactor, LATENESS_INTERVAL)
        wall, cpu = time.perf_counter(), cpu_seconds()
        monitor.start()
        await defer.gatherResults(start())
        lateness = monitor.stop()
        _record(out, time.perf_counter() - wall, cpu_seconds() - cpu, ok, errors)
        out["lateness_max_ms"] = round(lateness["lateness_max_ms"], 1)
        out["lateness_p99_ms"] = round(lateness["lateness_p99_ms"], 1)

    task.react(lambda reactor: defer.ensureDeferred(run(reactor)))


def _run_scrapli(spec: Dict[str, Any], password: str, out: Dict[str, Any]) -> None:
    import asyncio

    import asyncssh
    from scrapli_netconf.driver import AsyncNetconfDriver

    with open(spec["known_hosts"]) as f:
        known_hosts = asyncssh.import_known_hosts(f.read())

    async def job(host: str, port: int) -> None:
        conn = AsyncNetconfDriver(
            host=host, port=port, auth_username=spec["username"], auth_password=password,
            auth_strict_key=False, transport="asyncssh",
            transport_options={"asyncssh": {"known_hosts": known_hosts}},
            timeout_socket=TIMEOUT, timeout_transport=TIMEOUT, timeout_ops=TIMEOUT,
        )
        await conn.open()
        try:
            response = await conn.get_config(source="running")
            if response.failed:
                raise RuntimeError("get-config failed")
        finally:
            await conn.close()

    async def run() -> None:
        errors: List[str] = []
        ok = 0
        waiting = iter(spec["devices"])

        async def worker() -> None:
            nonlocal ok
            for host, port, _ in waiting:
                try:
                    await job(host, port)
                    ok += 1
                except Exception as e:  # noqa: BLE001 - counted and reported
                    errors.append(_error(e))

        wall, cpu = time.perf_counter(), cpu_seconds()
        await asyncio.gather(*(worker() for _ in range(_workers(spec))))
        _record(out, time.perf_counter() - wall, cpu_seconds() - cpu, ok, errors)

    asyncio.run(run())


def _run_ncclient(spec: Dict[str, Any], password: str, out: Dict[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ncclient import manager

    def job(host: str, port: int, hostkey_b64: str) -> None:
        with manager.connect(
            host=host, port=port, username=spec["username"], password=password, hostkey_verify=True,
            hostkey_b64=hostkey_b64, allow_agent=False, look_for_keys=False, timeout=TIMEOUT,
        ) as m:
            if not m.get_config(source="running").ok:
                raise RuntimeError("get-config: rpc-error")

    errors: List[str] = []
    ok = 0
    wall, cpu = time.perf_counter(), cpu_seconds()
    with ThreadPoolExecutor(spec["concurrency"]) as pool:
        futures = [pool.submit(job, h, p, k) for h, p, k in spec["devices"]]
        for future in futures:
            try:
                future.result()
                ok += 1
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(_error(e))
    _record(out, time.perf_counter() - wall, cpu_seconds() - cpu, ok, errors)


def _run_cli(spec: Dict[str, Any], password: str, out: Dict[str, Any]) -> None:
    import yaml

    with tempfile.TemporaryDirectory(prefix="fleet-cli-") as tmp:
        inventory = os.path.join(tmp, "inventory.yaml")
        devices = [{"name": "device-%d" % i, "host": h, "port": p}
                   for i, (h, p, _) in enumerate(spec["devices"])]
        with open(inventory, "w") as f:
            yaml.safe_dump({"defaults": {"username": spec["username"]}, "devices": devices}, f)
        out_dir = os.path.join(tmp, "out")
        cmd = [
            os.path.join(os.path.dirname(sys.executable), "ncclient-twisted"), "get-config",
            "--inventory", inventory, "--out", out_dir, "--concurrency", str(spec["concurrency"]),
            "--known-hosts", spec["known_hosts"], "--timeout", str(TIMEOUT), "--quiet",
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                              env=dict(os.environ, **{PASSWORD_ENV: password}))
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        written = len(os.listdir(out_dir)) if os.path.isdir(out_dir) else 0
        errors = [] if done.returncode == 0 else [
            "exit %d: %s" % (done.returncode, done.stderr.strip()[-200:])
        ]
        errors += ["missing reply"] * max(0, len(devices) - written - len(errors))
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        _record(out, wall, cpu, written, errors)
        out["peak_rss_mib"] = round(after.ru_maxrss / 1024, 1)


def worker(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Run *spec*'s client on its devices; the figures of the run (the CLI row measures its child)."""
    out: Dict[str, Any] = {"client": spec["client"], "devices": len(spec["devices"]),
                           "concurrency": spec["concurrency"]}
    password = os.environ.get(PASSWORD_ENV, PASSWORD)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    client = spec["client"]
    try:
        if client in REACTOR_CLIENTS:
            _run_ours(client, spec, password, out)
        elif client == "scrapli":
            _run_scrapli(spec, password, out)
        elif client == "ncclient":
            _run_ncclient(spec, password, out)
        elif client == "cli":
            _run_cli(spec, password, out)
        else:
            raise ValueError("unknown client %r" % client)
    except SystemExit:
        pass  # task.react's exit once the job is done
    except Exception as e:  # noqa: BLE001 - reported as the row's error
        out["error"] = _error(e)
    if "cpu_s" in out:
        devices = max(1, out["devices"])
        out["cpu_ms_per_device"] = round(1000 * out["cpu_s"] / devices, 2)
    if client == "cli":
        out["process_cpu_s"], out["process_wall_s"] = out.get("cpu_s"), out.get("wall_s")
    else:
        out["process_cpu_s"] = round(cpu_seconds(), 3)
        out["process_wall_s"] = round(_process_age(), 2)
        out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def _process_age() -> float:
    """Seconds since this process started (from /proc, in clock ticks)."""
    with open("/proc/self/stat") as f:
        started = int(f.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - started


# --- the driver ------------------------------------------------------------------------------

Device = Tuple[str, int, str]


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_servers(count: int, devices: int) -> Tuple[List["subprocess.Popen[str]"], List[Device], List[str]]:
    """*count* ``ncclient-twisted serve`` processes serving *devices* in all (interleaved);
    the devices and their known_hosts lines."""
    procs: List["subprocess.Popen[str]"] = []
    shares: List[List[Dict[str, Any]]] = []
    cli = os.path.join(os.path.dirname(sys.executable), "ncclient-twisted")
    sizes = [devices // count + (1 if i < devices % count else 0) for i in range(count)]
    try:
        for size in sizes:
            proc = subprocess.Popen(
                [cli, "serve", "--devices", str(size), "--json", "--exit-on-eof"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                preexec_fn=_raise_nofile,
            )
            procs.append(proc)
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("ncclient-twisted serve exited with %s" % proc.wait(30))
            shares.append(json.loads(line))
    except BaseException:
        stop_servers(procs)
        raise
    records = [shares[i % count][i // count] for i in range(devices)]
    return procs, [(r["host"], r["port"], r["hostkey_b64"]) for r in records], [
        r["known_hosts_line"] for r in records
    ]


def stop_servers(procs: Sequence["subprocess.Popen[str]"]) -> None:
    for proc in procs:
        if proc.stdin:
            proc.stdin.close()  # --exit-on-eof
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


def run_worker(client: str, devices: Sequence[Device], concurrency: int, known_hosts: str,
               timeout: float = 900) -> Dict[str, Any]:
    spec = {"client": client, "devices": list(devices), "concurrency": concurrency,
            "known_hosts": known_hosts, "username": USERNAME}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.fleet", "--worker"], input=json.dumps(spec), cwd=ROOT,
            capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **{PASSWORD_ENV: PASSWORD}),
        )
    except subprocess.TimeoutExpired:
        return {"client": client, "devices": len(devices), "concurrency": concurrency,
                "error": "timeout after %g s" % timeout}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if lines:
        return dict(json.loads(lines[-1]))
    return {"client": client, "devices": len(devices), "concurrency": concurrency,
            "error": "worker exited %d: %s" % (done.returncode, done.stderr.strip()[-300:])}


def run_fleet(clients: Sequence[str], sizes: Sequence[int], concurrencies: Sequence[int], rounds: int,
              servers: int, log: Callable[[str], None] = print) -> List[Dict[str, Any]]:
    """Every (size, concurrency, round, client) once, clients rotating from round to round."""
    servers = max(servers, -(-max(sizes) // MAX_DEVICES_PER_SERVER))
    procs, devices, lines = start_servers(servers, max(sizes))
    rows: List[Dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
            known_hosts = os.path.join(tmp, "known_hosts")
            with open(known_hosts, "w") as f:
                f.write("".join(line + "\n" for line in lines))
            for size in sizes:
                for concurrency in concurrencies:
                    for r in range(rounds):
                        k = r % len(clients)
                        for client in list(clients[k:]) + list(clients[:k]):
                            row = run_worker(client, devices[:size], min(concurrency, size), known_hosts)
                            row.update(round=r + 1, servers=servers)
                            rows.append(row)
                            log(json.dumps(row))
    finally:
        stop_servers(procs)
    return rows


# --- the report ------------------------------------------------------------------------------

def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a is not None and b else None


def _fmt(value: Any) -> str:
    return "" if value is None else str(value)


def _peer(rows: Sequence[Dict[str, Any]], row: Dict[str, Any], client: str) -> Optional[Dict[str, Any]]:
    for other in rows:
        if other.get("client") == client and all(
            other.get(k) == row.get(k) for k in ("devices", "concurrency", "round")
        ) and not other.get("error") and not other.get("failed"):
            return other
    return None


def targets(rows: Sequence[Dict[str, Any]]) -> List[Tuple[str, str]]:
    """(target, verdict with the figures) of issue #25, per round."""
    out: List[Tuple[str, str]] = []

    def verdict(checks: List[Tuple[bool, str]]) -> str:
        if not checks:
            return "not measured"
        met = sum(1 for ok, _ in checks if ok)
        word = "met" if met == len(checks) else "not met" if met == 0 else (
            "met in %d of %d rounds" % (met, len(checks)))
        return "**%s** (%s)" % (word, "; ".join(text for _, text in checks))

    cpu: List[Tuple[bool, str]] = []
    wall: List[Tuple[bool, str]] = []
    cli: List[Tuple[bool, str]] = []
    late: List[Tuple[bool, str]] = []
    for row in rows:
        if row.get("error") or row.get("failed"):
            continue
        key = (row.get("devices"), row.get("concurrency"))
        if row["client"] == "reactor" and key == (500, 200):
            s = _peer(rows, row, "scrapli")
            if s:
                r = _ratio(row["cpu_ms_per_device"], s["cpu_ms_per_device"])
                cpu.append((r is not None and r <= 0.8, "round %d: %s×" % (row["round"], r)))
                r = _ratio(row["wall_s"], s["wall_s"])
                wall.append((r is not None and r <= 1.0, "round %d: %s×" % (row["round"], r)))
        if row["client"] == "cli" and key == (500, 200):
            a = _peer(rows, row, "reactor")
            if a:
                r = _ratio(row["wall_s"], a.get("process_wall_s"))
                cli.append((r is not None and r <= 1.2, "round %d: %s× (%s× of its job window)"
                            % (row["round"], r, _ratio(row["wall_s"], a["wall_s"]))))
        if row["client"] == "reactor" and row.get("devices") == 2000:
            ms = row.get("lateness_max_ms")
            late.append((ms is not None and ms < 50, "round %d, %d at once: %s ms"
                         % (row["round"], row["concurrency"], ms)))
    out.append(("500 devices, 200 at once: reactor CPU per device ≤ 0.8× scrapli_netconf's", verdict(cpu)))
    out.append(("500 devices, 200 at once: reactor wall time ≤ scrapli_netconf's", verdict(wall)))
    out.append(("500 devices, 200 at once: CLI wall time ≤ 1.2× the reactor row's (both processes from start "
                "to exit)", verdict(cli)))
    out.append(("2,000 devices: reactor max lateness < 50 ms", verdict(late)))
    return out


COLUMNS = [
    ("round", "round"), ("client", "client"), ("ok", "ok"), ("wall_s", "wall s"),
    ("wall_vs_scrapli", "wall ÷ scrapli"), ("cpu_s", "client CPU s"),
    ("cpu_ms_per_device", "CPU ms / device"), ("cpu_vs_scrapli", "CPU ÷ scrapli"),
    ("process_wall_s", "process wall s"), ("process_cpu_s", "process CPU s"),
    ("peak_rss_mib", "peak RSS MiB"),
    ("lateness_max_ms", "reactor late max ms"), ("lateness_p99_ms", "late p99 ms"),
]


def write_report(path: str, rows: List[Dict[str, Any]], meta: Dict[str, Any]) -> None:
    from benchmarks._sysinfo import collect  # the machine's details, as the other reports

    for row in rows:
        s = _peer(rows, row, "scrapli")
        if s and not row.get("error"):
            row["wall_vs_scrapli"] = _ratio(row.get("wall_s"), s["wall_s"])
            row["cpu_vs_scrapli"] = _ratio(row.get("cpu_ms_per_device"), s["cpu_ms_per_device"])
    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    lines = [
        "# A fleet job: connect, get-config running, close, on every device",
        "",
        "`%s` (see `benchmarks/fleet.py`): embedded servers (`ncclient-twisted serve`, one port a "
        "device, host keys checked, password authentication) in %d other processes; each client in a "
        "worker process of its own; %d round(s), the clients' order rotating from round to round. "
        "Ratios are to scrapli_netconf in the same round and size. Load average before the run: %s."
        % (meta["command"], meta["servers"], meta["rounds"], meta["load_before"]),
        "",
    ]
    if meta.get("note"):
        lines += [meta["note"], ""]
    lines += ["## Targets (issue #25)", ""]
    lines += ["- %s: %s" % t for t in targets(rows)]
    sizes = sorted({(r.get("devices"), r.get("concurrency")) for r in rows})
    for devices, concurrency in sizes:
        lines += ["", "## %s devices, at most %s at once" % (devices, concurrency), "",
                  "| " + " | ".join(c[1] for c in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for row in rows:
            if (row.get("devices"), row.get("concurrency")) == (devices, concurrency):
                lines.append("| " + " | ".join(_fmt(row.get(k)) for k, _ in COLUMNS) + " |")
        failed = [r for r in rows if (r.get("devices"), r.get("concurrency")) == (devices, concurrency)
                  and (r.get("error") or r.get("failed"))]
        for r in failed:
            why = r.get("error") or "%s failed, first: %s" % (r.get("failed"), r.get("first_error"))
            lines.append("\n%s round %s: %s" % (r["client"], r.get("round"), why))
    lines += ["", "## The clients", ""]
    lines += ["- `%s`: %s" % (name, text) for name, text in CLIENTS.items()]
    lines += ["- %s" % NORNIR_NOTE]
    lines += [
        "", "Columns: *wall s* and *client CPU s* (user + system, `getrusage`) are the job's window in the "
        "worker, after its imports; for `cli` they are the whole CLI process (`RUSAGE_CHILDREN`), "
        "start-up included. *process wall s* / *process CPU s* are the worker's whole life (Python's "
        "start-up and the imports included; for `cli` the CLI process's). *reactor late* "
        "is a 10 ms `LoopingCall` on the client's reactor over the window (ours only).",
    ]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += ["| %s | %s |" % (label, value) for label, value in collect()]
    lines += ["| %s | %s |" % (name, _dist(name)) for name in ("scrapli_netconf", "asyncssh")] + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def _dist(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


# --- the profile of one connect --------------------------------------------------------------

#: (part, test on "file:function" of a cProfile entry), first match wins.
PARTS: List[Tuple[str, Callable[[str], bool]]] = [
    ("waiting in epoll", lambda k: "poll' of 'select.epoll" in k or "epollreactor.py:227" in k),
    ("socket system calls (send, recv, connect)", lambda k: "_socket.socket" in k or "untilConcludes" in k),
    ("logging (Twisted's logger, stdlib logging)",
     lambda k: "twisted/logger/" in k or "twisted/python/log.py" in k or "logging/" in k),
    ("key exchange and packet crypto (cryptography, hashlib, hmac, ciphers, Conch keys/_kex)",
     lambda k: any(m in k for m in ("cryptography", "hashlib", "hmac.py", "conch/ssh/keys.py", "_kex.py",
                                    "randbytes.py", "urandom", "SSHCiphers."))),
    ("Conch packet handling and SSH protocol", lambda k: "twisted/conch/" in k),
    ("our scheduler", lambda k: "transport/reactor/scheduler.py" in k),
    ("hello and capabilities", lambda k: "ncclient/capabilities.py" in k or "transport/hello.py" in k
     or "ncclient/transport/parser.py" in k),
    ("ncclient objects (manager, session, RPC, XML)", lambda k: "ncclient/" in k),
    ("ours (connect path, session, framing, manager)", lambda k: "ncclient_twisted/" in k),
    ("lxml", lambda k: "lxml" in k),
    ("Twisted reactor, Deferreds, TCP", lambda k: "twisted/" in k),
]


def _part(key: str) -> Optional[str]:
    return next((name for name, test in PARTS if test(key)), None)


def _grouped(stats: Any, per_call: float) -> Dict[str, float]:
    """cProfile's own time per part, less *per_call* (the profiler's own cost) for each call."""
    parts: Dict[str, float] = {}
    for (filename, _line, func), (_cc, nc, tottime, _ct, _callers) in stats.stats.items():
        name = _part("%s:%s" % (filename, func)) or OTHER
        parts[name] = parts.get(name, 0.0) + max(0.0, tottime - nc * per_call)
    return parts


def _calls_and_time(stats: Any) -> Tuple[int, float]:
    entries = stats.stats.values()
    return sum(e[1] for e in entries), sum(e[2] for e in entries)


def _profiler_cost(result: Dict[str, Any], cpu_connect: float, cpu_close: float) -> float:
    """cProfile's cost per call (s): its excess over the unprofiled CPU, over the calls it saw."""
    calls_c, time_c = _calls_and_time(result["connect"])
    calls_x, time_x = _calls_and_time(result["close"])
    count = len(result["plain"])
    excess = (time_c + time_x) - count * (cpu_connect + cpu_close)
    return max(0.0, excess / max(1, calls_c + calls_x))


OTHER = "other (standard library, builtins)"


def _connect_loop(count: int) -> Dict[str, Any]:
    """*count* connect + close cycles on io=reactor to one embedded server in another process
    (after 5 warm-up ones): the unprofiled times of each, then a second series under cProfile."""
    import cProfile
    import pstats

    from twisted.internet import defer, task

    from ncclient_twisted import manager
    from ncclient_twisted.transport.reactor import ssh_connector  # noqa: F401

    procs, devices, lines = start_servers(1, 1)
    result: Dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="fleet-profile-") as tmp:
            known_hosts = os.path.join(tmp, "known_hosts")
            with open(known_hosts, "w") as f:
                f.write(lines[0] + "\n")
            host, port, _ = devices[0]
            kw: Dict[str, Any] = dict(
                host=host, port=port, username=USERNAME, password=PASSWORD, io="reactor",
                known_hosts=known_hosts, allow_agent=False, look_for_keys=False, timeout=TIMEOUT,
            )

            async def run(reactor: Any) -> None:
                for _ in range(5):  # warm-up: imports, first-use caches
                    m = await manager.connect(**kw)
                    await m.close_session()
                plain: List[Tuple[float, ...]] = []
                for _ in range(count):  # unprofiled: wall, user and system CPU of each part
                    t, u, k = time.perf_counter(), *_user_sys()
                    m = await manager.connect(**kw)
                    t1, u1, k1 = time.perf_counter(), *_user_sys()
                    await m.close_session()
                    t2, u2, k2 = time.perf_counter(), *_user_sys()
                    plain.append((t1 - t, u1 - u, k1 - k, t2 - t1, u2 - u1, k2 - k1))
                result["plain"] = plain
                # CPU time, not wall: the waits for the server (epoll, and the server's run inside a
                # loopback send) are not the client's cost.
                p_connect = cProfile.Profile(time.process_time)
                p_close = cProfile.Profile(time.process_time)
                for _ in range(count):
                    p_connect.enable()
                    m = await manager.connect(**kw)
                    p_connect.disable()
                    p_close.enable()
                    await m.close_session()
                    p_close.disable()
                result["connect"] = pstats.Stats(p_connect)
                result["close"] = pstats.Stats(p_close)

            task.react(lambda reactor: defer.ensureDeferred(run(reactor)))
    except SystemExit:
        pass
    finally:
        stop_servers(procs)
    return result


def _user_sys() -> Tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def profile(count: int) -> str:
    """One connect on io=reactor, profiled: the markdown section for PROFILES.md."""
    return _profile_markdown(count, _connect_loop(count))


def _profile_markdown(count: int, result: Dict[str, Any]) -> str:
    import statistics

    plain = result["plain"]
    # Wall: the median. CPU: the mean (Linux splits a process's CPU into user and system by clock
    # ticks, so one connect's split is 0 or a tick; over many it evens out).
    average = [statistics.median if i in (0, 3) else statistics.fmean for i in range(6)]
    med = [1000 * average[i]([x[i] for x in plain]) for i in range(6)]
    lines = [
        "## One connect on io=reactor",
        "",
        "`python -m benchmarks.fleet --profile %d`: connects one after the other to one embedded server "
        "in another process (after 5 warm-up ones), each followed by `close_session`; password "
        "authentication, host key checked against a known_hosts file." % count,
        "",
        "Unprofiled, over %d: TCP connect to hello %.2f ms wall (median), client CPU %.2f ms user + %.2f ms "
        "system (mean); close %.2f ms wall, %.2f ms user + %.2f ms system." % ((count,) + tuple(med)),
    ]
    cpu_c, cpu_x = (med[1] + med[2]) / 1000, (med[4] + med[5]) / 1000
    per_call = _profiler_cost(result, cpu_c, cpu_x)
    connect, close = _grouped(result["connect"], per_call), _grouped(result["close"], per_call)
    raw_c = _calls_and_time(result["connect"])[1]
    # Scaled so that each column adds up to the unprofiled CPU (what is left of the profiler's cost
    # after the correction is spread in proportion).
    for parts, cpu in ((connect, cpu_c), (close, cpu_x)):
        scale = cpu * count / max(sum(parts.values()), 1e-12)
        for name in parts:
            parts[name] *= scale
    total_c, total_x = sum(connect.values()), sum(close.values())
    lines += [
        "",
        "Under cProfile with a CPU clock (`time.process_time`), each function's own CPU time, grouped "
        "into parts. cProfile's own cost per call swells the many small Python calls (%.1f ms a connect "
        "under it against %.2f ms without), so each function's time is less its calls × %.2f µs, the "
        "excess over the unprofiled CPU spread over all calls (not below 0), and the parts are then "
        "scaled to add up to the unprofiled CPU (ms per connect):"
        % (1000 * raw_c / count, med[1] + med[2], per_call * 1e6),
        "",
        "| part | connect ms | share | close ms | share |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(set(connect) | set(close), key=lambda n: -connect.get(n, 0.0)):
        c, x = connect.get(name, 0.0), close.get(name, 0.0)
        lines.append("| %s | %.3f | %.0f %% | %.3f | %.0f %% |" % (
            name, 1000 * c / count, 100 * c / max(total_c, 1e-9),
            1000 * x / count, 100 * x / max(total_x, 1e-9)))
    lines.append("| total | %.3f | | %.3f | |" % (1000 * total_c / count, 1000 * total_x / count))
    top = sorted(result["connect"].stats.items(), key=lambda kv: -(kv[1][2] - kv[1][1] * per_call))[:15]
    lines += ["", "The largest single items of the connect under cProfile (own CPU time less calls × "
              "%.2f µs, not scaled; per connect):" % (per_call * 1e6),
              "", "| function | calls | ms |", "|---|---|---|"]
    for (filename, line, func), (_cc, nc, tottime, _ct, _callers) in top:
        short = filename.split("site-packages/")[-1]
        if "/ncclient_twisted/" in short:
            short = "ncclient_twisted/" + short.split("/ncclient_twisted/", 1)[1]
        lines.append("| `%s:%d %s` | %.1f | %.3f |"
                     % (short, line, func, nc / count, 1000 * max(0.0, tottime - nc * per_call) / count))
    return "\n".join(lines) + "\n"


# --- command line ----------------------------------------------------------------------------

def _ints(text: str) -> List[int]:
    return [int(x) for x in text.split(",") if x]


def _shown(argv: Sequence[str]) -> List[str]:
    """*argv* without ``--note`` and ``--output`` (the report shows the note apart)."""
    shown: List[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--note", "--output"):
            skip = True
        elif not arg.startswith(("--note=", "--output=")):
            shown.append(arg)
    return shown


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--devices", help="comma-separated device counts (default 500,2000; --quick 20)")
    p.add_argument("--concurrency", help="comma-separated limits (default 50,200; --quick 5,20)")
    p.add_argument("--rounds", type=int, help="rounds (default 2; --quick 1)")
    p.add_argument("--clients", default=",".join(CLIENTS),
                   help="comma-separated, of: %s" % ", ".join(CLIENTS))
    p.add_argument("--servers", type=int, default=2, help="server processes")
    p.add_argument("--quick", action="store_true", help="small sizes, one round")
    p.add_argument("--note", help="a line for the report (e.g. the machine's load)")
    p.add_argument("--output", help="the report (default benchmarks/FLEET.md; --quick FLEET.quick.md)")
    p.add_argument("--profile", type=int, metavar="N", help="profile N sequential connects on io=reactor")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(sys.stdin.read()))), flush=True)
        return
    if args.profile:
        sys.stdout.write(profile(args.profile))
        return
    sizes = _ints(args.devices or ("20" if args.quick else "500,2000"))
    concurrencies = _ints(args.concurrency or ("5,20" if args.quick else "50,200"))
    rounds = args.rounds or (1 if args.quick else 2)
    clients = [c for c in args.clients.split(",") if c]
    unknown = set(clients) - set(CLIENTS)
    if unknown:
        p.error("unknown clients: %s" % ", ".join(sorted(unknown)))
    output = args.output or os.path.join(ROOT, "benchmarks", "FLEET.quick.md" if args.quick else "FLEET.md")
    load = "%.2f %.2f %.2f" % os.getloadavg()
    rows = run_fleet(clients, sizes, concurrencies, rounds, args.servers)
    command = "python -m benchmarks.fleet " + " ".join(_shown(argv if argv is not None else sys.argv[1:]))
    servers = max(args.servers, -(-max(sizes) // MAX_DEVICES_PER_SERVER))
    meta = {"command": command.strip(), "servers": servers,
            "rounds": rounds, "load_before": load, "load_after": "%.2f %.2f %.2f" % os.getloadavg(),
            "note": args.note, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    write_report(output, rows, meta)
    print("wrote %s" % output)


if __name__ == "__main__":
    main()
