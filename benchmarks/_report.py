"""Turning the workers' results into the markdown report.

``Results`` is ``{server: {job: {client: [outcome, ...]}}}``; an outcome is
``{"ok": True, "metrics": {...}}`` or ``{"ok": False, "error": "..."}``. Every figure
shown is the median over a (job, client)'s successful runs.
"""

from __future__ import annotations

import functools
import operator
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from benchmarks._catalog import CLIENTS, CLIENTS_BY_NAME, Params

__all__ = ["Results", "render"]

Outcome = Dict[str, Any]
Results = Dict[str, Dict[str, Dict[str, List[Outcome]]]]

OURS = "ours"
PEERS: Tuple[str, ...] = tuple(c.name for c in CLIENTS if c.name != OURS)
SHORT_LABELS: Dict[str, str] = {
    "ours": "**ours**",
    "ours-reactor": "ours io=reactor",
    "ncclient": "ncclient sync",
    "ncclient-async": "ncclient async_mode",
    "d2t-default": "deferToThread default pool",
    "d2t-100": "deferToThread K=100",
    "netconf_client": "netconf_client Manager",
    "netconf_client-futures": "netconf_client futures",
}


# -- looking figures up ------------------------------------------------------------------


class Figures:
    """Medians (and spreads) of one server's results."""

    def __init__(self, results: Dict[str, Dict[str, List[Outcome]]]) -> None:
        self._results = results

    def runs(self, job: str, client: str) -> List[Outcome]:
        return self._results.get(job, {}).get(client, [])

    def values(self, job: str, client: str, metric: str) -> List[float]:
        return [
            o["metrics"][metric]
            for o in self.runs(job, client)
            if o.get("ok") and metric in o["metrics"]
        ]

    def median(self, job: str, client: str, metric: str) -> Optional[float]:
        vals = self.values(job, client, metric)
        return float(statistics.median(vals)) if vals else None

    def cell(self, job: str, client: str, metric: str, digits: int, spread: bool = False) -> str:
        if not _supports(client, job):
            return "n/a"
        runs = self.runs(job, client)
        vals = self.values(job, client, metric)
        if not runs:
            return "–"
        if not vals:
            if any(o.get("ok") for o in runs):
                return "n/a"  # runs fine, but this figure is not one of its own
            return "timeout" if any(o.get("timeout") for o in runs) else "error"
        text = _fmt(float(statistics.median(vals)), digits)
        if spread and len(vals) > 1:
            text += " [%s–%s]" % (_fmt(min(vals), digits), _fmt(max(vals), digits))
        failed = len(runs) - len(vals)
        return text + (" (%d failed)" % failed if failed else "")


def _supports(client: str, job: str) -> bool:
    return job.split("-")[0] in CLIENTS_BY_NAME[client].scenarios


def _fmt(value: float, digits: int) -> str:
    if digits == 0 or abs(value) >= 1000:
        return "{:,.0f}".format(value)
    if abs(value) < 10 ** -digits and value != 0:
        return "%.2g" % value
    return "%.*f" % (digits, value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# -- the main table -------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    job: str
    metric: str
    scenario: str
    label: str
    #: "lower" or "higher" is better; "" for a figure given for information.
    better: str
    digits: int


def main_rows(p: Params) -> List[Row]:
    fan = "%d×%d" % (p.fanout_sessions, p.fanout_per_session)
    rows = [
        Row("sequential", "median_ms", "1 sequential", "median ms/RPC", "lower", 3),
        Row("sequential", "p99_ms", "1 sequential", "p99 ms/RPC", "lower", 3),
        Row("inflight", "rpc_per_s", "2 in flight (%d)" % p.inflight, "RPC/s", "higher", 0),
        Row("fanout", "rpc_per_s", "3 fan-out " + fan, "RPC/s, connect excluded", "higher", 0),
        Row("fanout", "connect_s", "3 fan-out " + fan,
            "s to connect the %d sessions (info)" % p.fanout_sessions, "", 2),
    ]
    for n in p.idle_sizes:
        job, scen = "idle-%d" % n, "4 idle, %d sessions" % n
        rows += [
            Row(job, "wakeups_per_session_s", scen, "wake-ups /session/s", "lower", 3),
            Row(job, "cpu_ms_per_session_s", scen, "CPU ms /session/s", "lower", 4),
            Row(job, "threads_per_session", scen, "threads /session", "lower", 2),
            Row(job, "rss_kib_per_session", scen, "RSS KiB /session", "lower", 0),
        ]
    rows += [
        Row("fanout", "lateness_p99_ms", "5 reactor lateness, fan-out", "p99 ms", "lower", 2),
        Row("fanout", "lateness_max_ms", "5 reactor lateness, fan-out", "max ms", "lower", 2),
        Row("connect", "lateness_p99_ms",
            "5 reactor lateness, %d connects" % p.connect_sessions, "p99 ms", "lower", 2),
        Row("connect", "lateness_max_ms",
            "5 reactor lateness, %d connects" % p.connect_sessions, "max ms", "lower", 2),
        Row("fanout", "floor_lateness_p99_ms", "5 reactor lateness, fan-out",
            "an idle reactor in another process, p99 ms (info)", "", 2),
        Row("fanout", "floor_lateness_max_ms", "5 reactor lateness, fan-out",
            "an idle reactor in another process, max ms (info)", "", 2),
        Row("connect", "floor_lateness_p99_ms",
            "5 reactor lateness, %d connects" % p.connect_sessions,
            "an idle reactor in another process, p99 ms (info)", "", 2),
        Row("connect", "floor_lateness_max_ms",
            "5 reactor lateness, %d connects" % p.connect_sessions,
            "an idle reactor in another process, max ms (info)", "", 2),
        Row("connect", "seconds", "6 connect %d at once" % p.connect_sessions,
            "s until all up", "lower", 3),
        Row("burst", "lateness_p99_ms",
            "7 reactor lateness, %d connects at once" % p.burst_sessions, "p99 ms", "lower", 2),
        Row("burst", "lateness_max_ms",
            "7 reactor lateness, %d connects at once" % p.burst_sessions, "max ms", "lower", 2),
        Row("burst", "seconds", "7 connect %d at once" % p.burst_sessions,
            "s until all up (info)", "", 3),
    ]
    return rows


def _best_peer(fig: Figures, row: Row, peers: Sequence[str]) -> Optional[Tuple[str, float]]:
    vals = [(c, fig.median(row.job, c, row.metric)) for c in peers if _supports(c, row.job)]
    present = [(c, v) for c, v in vals if v is not None]
    if not present:
        return None
    pick = min if row.better == "lower" else max
    return pick(present, key=lambda cv: cv[1])


def main_table(fig: Figures, p: Params, clients: Sequence[str]) -> str:
    headers = ["Scenario", "Metric"] + [SHORT_LABELS[c] for c in clients]
    headers += ["best peer", "ours ÷ best peer"]
    out = []
    for row in main_rows(p):
        arrow = {"lower": " ↓", "higher": " ↑"}.get(row.better, "")
        cells = [row.scenario, row.label + arrow]
        cells += [fig.cell(row.job, c, row.metric, row.digits) for c in clients]
        best = _best_peer(fig, row, [c for c in clients if c != OURS]) if row.better else None
        ours = fig.median(row.job, OURS, row.metric)
        if best is None or ours is None:
            cells += [SHORT_LABELS[best[0]] if best else "", ""]
        else:
            ratio = ours / best[1] if best[1] else float("inf")
            cells += [SHORT_LABELS[best[0]], "%.2f×" % ratio]
        out.append(cells)
    return _table(headers, out)


# -- targets -----------------------------------------------------------------------------


_OPS: Dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    title: str
    job: str
    metric: str
    op: str
    threshold: float
    #: Compared with the best of these peers (a ratio); empty: ours' value itself.
    peers: Tuple[str, ...] = ()
    #: Which peer is "best": "min" or "max" of their figures.
    pick: str = "min"
    unit: str = ""
    #: The client judged.
    client: str = OURS


def targets(p: Params) -> List[Target]:
    d2t = ("d2t-default", "d2t-100")
    out = [
        Target("1. sequential latency ≤ 1.0× netconf_client's (best of its two APIs)",
               "sequential", "median_ms", "<=", 1.0,
               ("netconf_client", "netconf_client-futures"), "min", " ms"),
        Target("2. in-flight throughput ≥ 1.0× the best peer's", "inflight", "rpc_per_s",
               ">=", 1.0, PEERS, "max", " RPC/s"),
        Target("3. fan-out ≥ 2× the best deferToThread", "fanout", "rpc_per_s", ">=", 2.0,
               d2t, "max", " RPC/s"),
        Target("3. fan-out ≥ 10× deferToThread with the default pool", "fanout", "rpc_per_s",
               ">=", 10.0, ("d2t-default",), "max", " RPC/s"),
    ]
    for n in p.idle_sizes:
        job = "idle-%d" % n
        out += [
            Target("4. idle, %d sessions: ≤ 0.5 wake-ups /session/s" % n, job,
                   "wakeups_per_session_s", "<=", 0.5, unit=" /session/s"),
            Target("4. idle, %d sessions: CPU ≤ 1/20 of ncclient's" % n, job,
                   "cpu_ms_per_session_s", "<=", 0.05, ("ncclient",), "min",
                   " CPU ms/session/s"),
        ]
    for job, what in (("fanout", "fan-out"), ("connect", "%d connects" % p.connect_sessions)):
        out += [
            Target("5. reactor lateness p99 ≤ 2 ms during " + what, job, "lateness_p99_ms",
                   "<=", 2.0, unit=" ms"),
            Target("5. reactor lateness max ≤ 10 ms during " + what, job, "lateness_max_ms",
                   "<=", 10.0, unit=" ms"),
        ]
    out.append(Target("6. %d concurrent connects at least as fast as the best peer"
                      % p.connect_sessions, "connect", "seconds", "<=", 1.0, PEERS, "min", " s"))
    return out


REACTOR = "ours-reactor"


def reactor_targets(p: Params) -> List[Target]:
    """The targets of the reactor transport (``io="reactor"``, issue #15)."""
    nc = ("netconf_client", "netconf_client-futures")
    futures = ("netconf_client-futures",)
    t = functools.partial(Target, client=REACTOR)
    return [
        t("R1. sequential latency ≤ 0.8× netconf_client's (best of its two APIs)",
          "sequential", "median_ms", "<=", 0.8, nc, "min", " ms"),
        t("R2. %d in flight ≥ 2× netconf_client's futures" % p.inflight, "inflight",
          "rpc_per_s", ">=", 2.0, futures, "max", " RPC/s"),
        t("R3. fan-out ≥ 1.5× netconf_client's futures", "fanout", "rpc_per_s", ">=", 1.5,
          futures, "max", " RPC/s"),
        t("R3. fan-out ≥ 1.5× io=threads", "fanout", "rpc_per_s", ">=", 1.5, (OURS,), "max",
          " RPC/s"),
        t("R3. reactor lateness p99 ≤ 2 ms during fan-out", "fanout", "lateness_p99_ms", "<=",
          2.0, unit=" ms"),
        t("R3. reactor lateness max ≤ 10 ms during fan-out", "fanout", "lateness_max_ms", "<=",
          10.0, unit=" ms"),
        t("R4. %d concurrent connects ≥ 2× as fast as netconf_client" % p.connect_sessions,
          "connect", "seconds", "<=", 0.5, nc, "min", " s"),
        t("R4. reactor lateness max ≤ 15 ms during %d connects" % p.connect_sessions,
          "connect", "lateness_max_ms", "<=", 15.0, unit=" ms"),
    ]


def _judge(fig: Figures, t: Target, clients: Sequence[str]) -> List[str]:
    ours = fig.median(t.job, t.client, t.metric)
    if ours is None:
        return [t.title, "not measured", "", "", "%s %g" % (t.op, t.threshold), "–"]
    shown = _fmt(ours, 3) + t.unit
    if not t.peers:
        met = _OPS[t.op](ours, t.threshold)
        return [t.title, shown, "", "", "%s %g%s" % (t.op, t.threshold, t.unit), _met(met)]
    peers = [c for c in t.peers if c in clients and _supports(c, t.job)]
    vals = [(c, fig.median(t.job, c, t.metric)) for c in peers]
    present = [(c, v) for c, v in vals if v is not None]
    if not present:
        return [t.title, shown, "peers not measured", "", "%s %g×" % (t.op, t.threshold), "–"]
    name, ref = (min if t.pick == "min" else max)(present, key=lambda cv: cv[1])
    ratio = ours / ref if ref else float("inf")
    return [
        t.title,
        shown,
        "%s%s (%s)" % (_fmt(ref, 3), t.unit, SHORT_LABELS[name]),
        "%.3g×" % ratio,
        "%s %g×" % (t.op, t.threshold),
        _met(_OPS[t.op](ratio, t.threshold)),
    ]


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def targets_table(fig: Figures, p: Params, clients: Sequence[str]) -> str:
    headers = ["Target", "ours", "reference", "ratio", "threshold", "result"]
    table = _table(headers, [_judge(fig, t, clients) for t in targets(p)])
    if REACTOR in clients:
        headers[1] = "ours io=reactor"
        table += "\n\n" + _table(headers, [_judge(fig, t, clients) for t in reactor_targets(p)])
    return table


# -- details ------------------------------------------------------------------------------

#: Per job kind: (metric, header, digits); the first is shown with its spread.
DETAILS: Dict[str, List[Tuple[str, str, int]]] = {
    "sequential": [("median_ms", "median ms", 3), ("p99_ms", "p99 ms", 3),
                   ("count", "RPCs", 0), ("client_cpu_pct", "client CPU %", 0),
                   ("server_cpu_pct", "server CPU %", 0)],
    "inflight": [("rpc_per_s", "RPC/s", 0), ("seconds", "s", 3),
                 ("client_cpu_pct", "client CPU %", 0), ("server_cpu_pct", "server CPU %", 0)],
    "fanout": [("rpc_per_s", "RPC/s", 0), ("seconds", "s", 3), ("connect_s", "connect s", 2),
               ("launch_ms", "launch ms", 1),
               ("client_cpu_pct", "client CPU %", 0), ("server_cpu_pct", "server CPU %", 0),
               ("lateness_p50_ms", "late p50 ms", 2), ("lateness_p99_ms", "late p99 ms", 2),
               ("lateness_max_ms", "late max ms", 2),
               ("lateness_idle_p99_ms", "idle reactor late p99 ms", 2),
               ("floor_lateness_p99_ms", "other process late p99 ms", 2),
               ("floor_lateness_max_ms", "other process late max ms", 2)],
    "idle": [("wakeups_per_session_s", "wake-ups /session/s", 3),
             ("cpu_ms_per_session_s", "CPU ms /session/s", 4), ("cpu_pct", "process CPU %", 2),
             ("threads_per_session", "threads /session", 2),
             ("rss_kib_per_session", "RSS KiB /session", 0), ("threads", "threads", 0),
             ("connect_s", "connect s", 2)],
    "connect": [("seconds", "s until all up", 3), ("client_cpu_pct", "client CPU %", 0),
                ("server_cpu_pct", "server CPU %", 0), ("lateness_p50_ms", "late p50 ms", 2),
                ("lateness_p99_ms", "late p99 ms", 2), ("lateness_max_ms", "late max ms", 2),
                ("lateness_idle_p99_ms", "idle reactor late p99 ms", 2),
                ("floor_lateness_p99_ms", "other process late p99 ms", 2),
                ("floor_lateness_max_ms", "other process late max ms", 2)],
}
DETAILS["burst"] = DETAILS["connect"] + [("pool_size", "pool threads", 0)]


def details(fig: Figures, jobs: Sequence[str], clients: Sequence[str]) -> str:
    parts = []
    for job in jobs:
        cols = DETAILS[job.split("-")[0]]
        headers = ["client"] + [h for _, h, _ in cols] + ["runs ok", "note"]
        rows = []
        for c in clients:
            runs = fig.runs(job, c)
            if not _supports(c, job) or not runs:
                continue
            ok = sum(1 for o in runs if o.get("ok"))
            note = CLIENTS_BY_NAME[c].notes.get(job.split("-")[0], "")
            cells = [fig.cell(job, c, m, d, spread=(i == 0)) for i, (m, _, d) in enumerate(cols)]
            rows.append([SHORT_LABELS[c]] + cells + ["%d/%d" % (ok, len(runs)), note])
        if rows:
            parts.append("#### %s\n\n%s" % (job, _table(headers, rows)))
    return "\n\n".join(parts)


def failures(fig: Figures, jobs: Sequence[str], clients: Sequence[str]) -> str:
    lines = []
    for job in jobs:
        for c in clients:
            for i, o in enumerate(fig.runs(job, c)):
                if not o.get("ok"):
                    err = (o.get("error") or "").strip().splitlines()
                    lines.append("- %s / %s run %d: %s" % (job, c, i + 1, err[-1] if err else "?"))
    return "\n".join(lines)


# -- the whole report ----------------------------------------------------------------------


def render(
    results: Results,
    p: Params,
    clients: Sequence[str],
    jobs: Sequence[str],
    sysinfo: Sequence[Tuple[str, str]],
    preamble: str,
    server_notes: Dict[str, str],
) -> str:
    parts = [preamble, "## Machine\n\n" + _table(["", ""], [list(kv) for kv in sysinfo])]
    for server, note in server_notes.items():
        if server not in results:
            parts.append("## Server: %s\n\nNot measured: %s" % (server, note))
            continue
        fig = Figures(results[server])
        parts += [
            "## Server: %s\n\n%s" % (server, note),
            "### Results (median of the runs; ↓ lower is better, ↑ higher is better)\n\n"
            + main_table(fig, p, clients),
            "### Targets\n\n" + targets_table(fig, p, clients),
            "### Details (median [min–max] of the runs)\n\n" + details(fig, jobs, clients),
        ]
        failed = failures(fig, jobs, clients)
        if failed:
            parts.append("### Failed runs\n\n" + failed)
    return "\n\n".join(parts) + "\n"
