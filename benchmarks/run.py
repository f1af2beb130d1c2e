#!/usr/bin/env python
"""ncclient_twisted side by side with its peers, against the same NETCONF servers.

    .venv/bin/python -m benchmarks.run            # everything (what `make bench` runs)
    .venv/bin/python -m benchmarks.run --quick    # a smoke run, small sizes, one run each
    .venv/bin/python -m benchmarks.run --only sequential,idle --clients ours,ncclient
    .venv/bin/python -m benchmarks.run --patched-python /tmp/ncclient-patched/bin/python \
        --only sequential,inflight --servers embedded --runs 1 --output /tmp/patched.md

Every (server, scenario, client, run) is one worker process (``_worker.py``) with a
hard timeout, against a server started fresh for it. The report (markdown) is printed
and written to ``benchmarks/RESULTS.md`` (``RESULTS.quick.md`` for ``--quick``); the raw
figures go next to it as JSON. See README.md for what is measured and how to read it.

With ``--patched-python`` (or ``NCCLIENT_PATCHED_PYTHON``: the python of a virtualenv
made by ``upstream/apply-and-test --venv PATH``), the clients of ``PATCHED_CLIENTS`` run
too, their workers with that python, and the report gains a section on them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmarks import _report, _servers, _sysinfo
from benchmarks._catalog import (
    CLIENTS,
    CLIENTS_BY_NAME,
    DEFAULT,
    LATENESS_SCENARIOS,
    PATCHED_CLIENTS,
    QUICK,
    SCENARIOS,
    Params,
    runs_for,
    scenario_jobs,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

HEADLINE: Dict[str, str] = {
    "sequential": "median_ms",
    "inflight": "rpc_per_s",
    "fanout": "rpc_per_s",
    "idle": "wakeups_per_session_s",
    "connect": "seconds",
    "burst": "lateness_max_ms",
}
SERVER_NOTES: Dict[str, str] = {
    "netconfd": (
        "yuma123 `netconfd` behind a private OpenSSH `sshd` on 127.0.0.1 "
        "(`tests/support/netconfd.py`), started fresh for every run. Its sshd sets `SHLVL` so "
        "that bash does not source `~/.bashrc` for each session's subsystem command."
    ),
    "embedded": (
        "`ncclient_twisted.testing` (Twisted Conch) on 127.0.0.1, in a process of its "
        "own, started fresh for every run."
    ),
}


@dataclass(frozen=True)
class Job:
    server: str
    scenario: str
    job_id: str
    args: Dict[str, Any]
    client: str
    run: int
    runs: int
    #: The worker's python (another virtualenv's for a patched client).
    python: str = sys.executable


# -- command line ----------------------------------------------------------------------


def _csv(text: str) -> List[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one run each")
    ap.add_argument("--runs", type=int,
                    help="runs per figure (default 5 against netconfd, 3 against the "
                    "embedded server; quick 1)")
    ap.add_argument("--idle-runs", type=int,
                    help="runs of the idle scenario (default 3 against netconfd, 1 "
                    "against the embedded server)")
    ap.add_argument("--only", type=_csv, default=[],
                    help="scenarios: %s, lateness" % ", ".join(SCENARIOS))
    ap.add_argument("--clients", type=_csv, default=[],
                    help="clients: %s" % ", ".join(c.name for c in CLIENTS + PATCHED_CLIENTS))
    ap.add_argument("--patched-python", metavar="PATH",
                    default=os.environ.get("NCCLIENT_PATCHED_PYTHON") or None,
                    help="the python of a virtualenv with the patched ncclient "
                    "(upstream/apply-and-test --venv): runs %s too"
                    % ", ".join(c.name for c in PATCHED_CLIENTS))
    ap.add_argument("--servers", type=_csv, default=list(_servers.SERVER_KINDS),
                    help="servers: %s (default: those available)"
                    % ", ".join(_servers.SERVER_KINDS))
    ap.add_argument("--timeout", type=float, help="hard timeout of one worker, seconds")
    ap.add_argument("--output", help="markdown report path (default benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)
    unknown = set(args.only) - set(SCENARIOS) - {"lateness"}
    unknown |= set(args.clients) - set(CLIENTS_BY_NAME)
    unknown |= set(args.servers) - set(_servers.SERVER_KINDS)
    if unknown:
        ap.error("unknown names: %s" % ", ".join(sorted(unknown)))
    if not args.patched_python and any(CLIENTS_BY_NAME[c].patched for c in args.clients):
        ap.error("the patched clients need --patched-python")
    return args


def build_params(args: argparse.Namespace) -> Params:
    p = QUICK if args.quick else DEFAULT
    if args.runs is not None:  # an explicit count holds for every server
        p = replace(p, runs=args.runs, secondary_runs=args.runs)
    if args.idle_runs is not None:
        p = replace(p, idle_runs=args.idle_runs, secondary_idle_runs=args.idle_runs)
    if args.timeout is not None:
        p = replace(p, worker_timeout=args.timeout)
    return p


def selection(args: argparse.Namespace) -> Tuple[List[str], List[str]]:
    scenarios = list(SCENARIOS)
    clients = [c.name for c in CLIENTS + (PATCHED_CLIENTS if args.patched_python else ())]
    if args.only:
        wanted = set(args.only)
        if "lateness" in wanted:
            wanted |= set(LATENESS_SCENARIOS)
        scenarios = [s for s in SCENARIOS if s in wanted]
        if set(args.only) == {"lateness"}:
            clients = [c for c in clients if CLIENTS_BY_NAME[c].reactor]
    if args.clients:
        clients = [c for c in clients if c in args.clients]
    return scenarios, clients


def plan(servers: Sequence[str], scenarios: Sequence[str], clients: Sequence[str],
         p: Params, patched_python: Optional[str] = None) -> List[Job]:
    """Every run of every (server, scenario, client); the clients take turns per run."""
    jobs = []
    # Without a patched python, a patched client's worker finds no series and says so.
    pythons = {c: patched_python if CLIENTS_BY_NAME[c].patched and patched_python
               else sys.executable for c in clients}
    for server in servers:
        for scenario in scenarios:
            runs = runs_for(scenario, p, server)
            for job_id, job_args in scenario_jobs(scenario, p):
                for run in range(runs):
                    for client in clients:
                        if scenario in CLIENTS_BY_NAME[client].scenarios:
                            jobs.append(Job(server, scenario, job_id, job_args, client, run,
                                            runs, pythons[client]))
    return jobs


# -- running ------------------------------------------------------------------------------


def _tail(path: str, n: int = 2000) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def run_worker(job: Job, server: _servers.Server, p: Params, tmp: str) -> Dict[str, Any]:
    spec_path = os.path.join(tmp, "spec.json")
    out_path = os.path.join(tmp, "out.json")
    log_path = os.path.join(tmp, "worker.log")
    for path in (out_path,):
        if os.path.exists(path):
            os.unlink(path)
    spec = {
        "client": job.client,
        "scenario": job.scenario,
        "args": job.args,
        "params": p.to_json(),
        "connect_kwargs": server.connect_kwargs,
        "server_pids": server.pids,
    }
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [job.python, "-m", "benchmarks._worker", spec_path, out_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            cwd=ROOT, start_new_session=True,
        )
        try:
            proc.wait(p.worker_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {"ok": False, "timeout": True,
                    "error": "worker killed after %g s\n%s" % (p.worker_timeout,
                                                                 _tail(log_path))}
    try:
        with open(out_path) as f:
            outcome: Dict[str, Any] = json.load(f)
            return outcome
    except (OSError, ValueError):
        return {"ok": False, "error": "worker exited with %s and no result\n%s"
                % (proc.returncode, _tail(log_path))}


def run_job(job: Job, p: Params, tmp: str) -> Dict[str, Any]:
    try:
        server = _servers.start(job.server)
    except Exception as e:  # a server that does not start fails this run only
        return {"ok": False, "error": "server did not start: %s" % e}
    try:
        return run_worker(job, server, p, tmp)
    finally:
        server.stop()


def _progress(i: int, total: int, job: Job, outcome: Dict[str, Any], secs: float,
              t0: float) -> None:
    if outcome.get("ok"):
        metric = HEADLINE[job.scenario]
        shown = "%s=%.4g" % (metric, outcome["metrics"].get(metric, float("nan")))
    else:
        lines = (outcome.get("error") or "").strip().splitlines()
        shown = "FAILED: " + (lines[-1] if lines else "?")
    sys.stderr.write("[%3d/%d %5.0fs] %-8s %-10s %-22s run %d/%d: %s (%.1fs)\n" % (
        i, total, time.monotonic() - t0, job.server, job.job_id, job.client,
        job.run + 1, job.runs, shown, secs))
    sys.stderr.flush()


def execute(jobs: Sequence[Job], p: Params) -> _report.Results:
    results: _report.Results = {}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nctw-bench-") as tmp:
        for i, job in enumerate(jobs, 1):
            started = time.monotonic()
            outcome = run_job(job, p, tmp)
            _progress(i, len(jobs), job, outcome, time.monotonic() - started, t0)
            per_server = results.setdefault(job.server, {})
            per_server.setdefault(job.job_id, {}).setdefault(job.client, []).append(outcome)
    return results


# -- the report -------------------------------------------------------------------------


def preamble(p: Params, argv: Sequence[str], took: float, quick: bool) -> str:
    cmd = " ".join(["python -m benchmarks.run"] + list(argv))
    return "\n".join([
        "# ncclient_twisted benchmarks" + (" (quick smoke run)" if quick else ""),
        "",
        "Generated by `%s` on %s; the whole run took %.1f min."
        % (cmd, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), took / 60),
        "Every figure is the median of %d runs (idle: %d) against netconfd and of %d runs "
        "(idle: %d) against the embedded server; each run is a fresh process against a "
        "fresh server. See `benchmarks/README.md` for what each scenario measures."
        % (p.runs, p.idle_runs, p.secondary_runs, p.secondary_idle_runs),
        "",
        "- Requests are `get-config` of `running`; each client parses replies as its API "
        "does.",
        "- ncclient sync, ncclient async_mode and both deferToThread peers make %d "
        "sequential requests instead of %d: ncclient's session loop writes on a 100 ms "
        "tick, so each request takes ~100 ms." % (p.sequential_slow, p.sequential),
        "- Fan-out: %d sessions are connected first (not timed), warmed with one request "
        "each, then %d requests per session are launched at once; RPC/s exclude connecting."
        % (p.fanout_sessions, p.fanout_per_session),
        "- Idle: %g s with every session open and nothing sent. Wake-ups are voluntary + "
        "involuntary context switches summed over the process's threads "
        "(`/proc/self/task/*/status`); CPU from `getrusage`; threads and RSS per session "
        "are (after connecting - before) / sessions." % p.idle_seconds,
        "- Reactor lateness: a %g ms `LoopingCall`; each call's delay past the slot it was "
        "scheduled for. An idle reactor already shows up to ~1 ms (epoll's millisecond "
        "timeout); 'idle reactor late p99' in the details is that floor."
        % (p.lateness_interval * 1000),
        "- client CPU % and server CPU % (details) are per cent of one core over the timed "
        "window (server: sshd with its per-session children and netconfd, or the "
        "embedded server's process; from `/proc/*/task/*/schedstat`). The machine's "
        "cores are shared by both.",
        "- n/a: the scenario does not apply to that client (see the details' notes).",
    ])


#: Beside the patched clients in their section: the same clients on released ncclient.
PATCHED_PEERS: Tuple[str, ...] = ("ours-reactor", "ncclient", "netconf_client",
                                  "netconf_client-futures")
_NC = ("netconf_client", "netconf_client-futures")


def _patched_targets(p: Params) -> List[_report.Target]:
    """Issue #24's targets for ours on the patched ncclient (those of io=reactor, R1-R2)."""
    t = functools.partial(_report.Target, client="ours-patched")
    return [
        t("P1. sequential latency ≤ 0.8× netconf_client's (best of its two APIs)",
          "sequential", "median_ms", "<=", 0.8, _NC, "min", " ms"),
        t("P2. %d in flight ≥ 2× netconf_client's futures" % p.inflight, "inflight",
          "rpc_per_s", ">=", 2.0, ("netconf_client-futures",), "max", " RPC/s"),
    ]


#: What the worker's python is asked: its ncclient's version and which seams of the
#: series (upstream/ncclient) it has, found by name as ncclient_twisted._compat does.
_PROBE = """
import ncclient, ncclient.operations.rpc as r, ncclient.transport.session as s
seams = [("0001", r.RPCReplyListener, "forget"), ("0002", s.Session, "_wakeup"),
         ("0005", s.Session, "add_end_callback"), ("0006", r.RPCReplyListener, "for_session"),
         ("0007", s.Session, "set_notification_sink"), ("0008", r.RPC, "result"),
         ("0009", s.Session, "set_message_id_factory")]
print(ncclient.__version__, " ".join(n for n, c, a in seams if hasattr(c, a)))
"""


def _patched_ncclient(python: str) -> str:
    """Which ncclient *python* imports, and the patches of the series found in it."""
    try:
        out = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True,
                             timeout=60, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError) as e:
        return "an ncclient not probed (%s)" % e
    return "ncclient %s, patches found by name: %s (0003 and 0004 add none to look for)" % (
        out[0], ", ".join(out[1:]) or "none")


def patched_section(results: _report.Results, p: Params, clients: Sequence[str],
                    jobs: Sequence[str], python: str) -> str:
    """The patched clients beside the same clients on released ncclient, and their targets."""
    shown = [c for c in clients if CLIENTS_BY_NAME[c].patched or c in PATCHED_PEERS]
    parts = ["## The patched ncclient (upstream/ncclient, issue #24)",
             "Clients marked *patched* run with %s, in its own virtualenv (`%s`); the others "
             "with this one's ncclient, in the same run." % (_patched_ncclient(python), python)]
    label = {c: CLIENTS_BY_NAME[c].label if CLIENTS_BY_NAME[c].patched
             else _report.SHORT_LABELS[c] for c in shown}
    for server, per_job in results.items():
        fig = _report.Figures(per_job)
        rows = [[label[c]] + [fig.cell(j, c, HEADLINE[j.split("-")[0]], 3, spread=True)
                              if j.split("-")[0] in CLIENTS_BY_NAME[c].scenarios else "n/a"
                              for j in jobs] for c in shown]
        headers = ["client"] + ["%s (%s)" % (j, HEADLINE[j.split("-")[0]]) for j in jobs]
        parts += ["### Server: %s\n\n%s" % (server, _report._table(headers, rows)),
                  _report._table(["Target", "ours, patched", "reference", "ratio", "threshold",
                                  "result"],
                                 [_report._judge(fig, t, clients) for t in _patched_targets(p)
                                  if t.job in jobs])]
    return "\n\n".join(parts) + "\n"


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    p = build_params(args)
    scenarios, clients = selection(args)
    server_notes: Dict[str, str] = {}
    servers: List[str] = []
    for kind in args.servers:
        why_not = _servers.available(kind)
        server_notes[kind] = SERVER_NOTES[kind] if why_not is None else why_not
        if why_not is None:
            servers.append(kind)
        else:
            sys.stderr.write("server %s not available: %s\n" % (kind, why_not))
    jobs = plan(servers, scenarios, clients, p, args.patched_python)
    sys.stderr.write("%d runs: servers %s, scenarios %s, clients %s\n" % (
        len(jobs), ",".join(servers), ",".join(scenarios), ",".join(clients)))
    t0 = time.monotonic()
    results = execute(jobs, p)
    took = time.monotonic() - t0
    job_ids = [j for s in scenarios for j, _ in scenario_jobs(s, p)]
    released = [c for c in clients if not CLIENTS_BY_NAME[c].patched]
    report = _report.render(results, p, released, job_ids, _sysinfo.collect(),
                            preamble(p, argv, took, args.quick), server_notes)
    if len(released) < len(clients):
        report += "\n" + patched_section(results, p, clients, job_ids, args.patched_python)
    output = args.output or os.path.join(
        HERE, "RESULTS.quick.md" if args.quick else "RESULTS.md")
    with open(output, "w") as f:
        f.write(report)
    with open(os.path.splitext(output)[0] + ".json", "w") as f:
        json.dump({"params": p.to_json(), "results": results, "took_s": took}, f, indent=1)
    sys.stdout.write(report)
    sys.stderr.write("report written to %s (took %.1f min)\n" % (output, took / 60))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
