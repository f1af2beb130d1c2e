"""The figures of docs/performance.md, generated from benchmarks/RESULTS.json.

``python docs/figures.py`` rewrites each block between ``<!-- figures: SERVER -->`` and
``<!-- figures: end -->`` in docs/performance.md; tests/unit/test_docs.py checks that the
page equals what this gives for the committed JSON, so no figure there is typed by hand.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.json"
PAGE = ROOT / "docs" / "performance.md"

REACTOR, THREADS = "ours-reactor", "ours"
PEERS = ("ncclient", "ncclient-async", "d2t-default", "d2t-100", "netconf_client", "netconf_client-futures")
LABELS = {
    "ncclient": "ncclient",
    "ncclient-async": "ncclient async_mode",
    "d2t-default": "deferToThread, default pool",
    "d2t-100": "deferToThread, 100 threads",
    "netconf_client": "netconf_client",
    "netconf_client-futures": "netconf_client futures",
}

#: (label, job, metrics, unit, digits, better, peers named besides the best one)
ROWS: Sequence[Tuple[str, str, Tuple[str, ...], str, int, str, Tuple[str, ...]]] = (
    ("sequential `get-config`, median", "sequential", ("median_ms",), "ms", 3, "lower", ("ncclient",)),
    ("500 requests in flight on one session", "inflight", ("rpc_per_s",), "RPC/s", 0, "higher", ()),
    ("fan-out, 100 sessions × 10 requests", "fanout", ("rpc_per_s",), "RPC/s", 0, "higher",
     ("d2t-100", "d2t-default")),
    ("reactor lateness during fan-out, p99 / max", "fanout", ("lateness_p99_ms", "lateness_max_ms"),
     "ms", 1, "", ("d2t-default",)),
    ("50 concurrent connects, all up", "connect", ("seconds",), "s", 3, "lower", ()),
    ("reactor lateness while 50 sessions connect, p99 / max", "connect",
     ("lateness_p99_ms", "lateness_max_ms"), "ms", 1, "", ()),
    ("idle, 200 sessions: CPU per session", "idle-200", ("cpu_ms_per_session_s",), "ms/s", 4, "lower",
     ("ncclient",)),
    ("idle, 200 sessions: threads per session", "idle-200", ("threads_per_session",), "", 2, "lower",
     ("ncclient",)),
)


def median(results: Dict[str, Any], job: str, client: str, metric: str) -> Optional[float]:
    """The median of *metric* over the successful runs, as benchmarks/_report.py takes it."""
    values = [o["metrics"][metric] for o in results.get(job, {}).get(client, [])
              if o.get("ok") and metric in o.get("metrics", {})]
    return float(statistics.median(values)) if values else None


def fmt(value: Optional[float], digits: int) -> str:
    if value is None:
        return "–"
    if digits == 0 or abs(value) >= 1000:
        return "{:,.0f}".format(value)
    return "%.*f" % (digits, value)


def cell(results: Dict[str, Any], job: str, client: str, metrics: Sequence[str], unit: str,
         digits: int) -> str:
    text = " / ".join(fmt(median(results, job, client, m), digits) for m in metrics)
    return (text + " " + unit).strip()


def ratio(value: float) -> str:
    return "%.2f×" % value if value >= 0.01 else "<0.01×"


def table(results: Dict[str, Any]) -> str:
    """The table of both transports beside the best peer, for one server's results."""
    lines = ["| | `io=\"reactor\"` (default) | `io=\"threads\"` | best peer | ratios (reactor / threads) |",
             "|---|---|---|---|---|"]
    for label, job, metrics, unit, digits, better, named in ROWS:
        ours = [cell(results, job, c, metrics, unit, digits) for c in (REACTOR, THREADS)]
        peers: List[str] = []
        ratios = ""
        if better:
            found = [(c, median(results, job, c, metrics[0])) for c in PEERS]
            present = [(c, v) for c, v in found if v is not None]
            if present:
                best, value = (min if better == "lower" else max)(present, key=lambda cv: cv[1])
                peers.append("%s (%s)" % (cell(results, job, best, metrics, unit, digits), LABELS[best]))
                named = tuple(c for c in named if c != best)
                mine = [median(results, job, c, metrics[0]) for c in (REACTOR, THREADS)]
                if value and all(v is not None for v in mine):
                    ratios = " / ".join(ratio(v / value) for v in mine if v is not None)
        peers += ["%s %s" % (LABELS[c], cell(results, job, c, metrics, unit, digits)) for c in named
                  if median(results, job, c, metrics[0]) is not None]
        if not better:
            floor = tuple("floor_" + m for m in metrics)
            if median(results, job, REACTOR, floor[0]) is not None:
                peers.append("an idle reactor in another process %s" % cell(
                    results, job, REACTOR, floor, unit, digits))
        lines.append("| %s | %s | %s | %s | %s |" % (label, ours[0], ours[1], "; ".join(peers), ratios))
    return "\n".join(lines)


BLOCK = re.compile(r"(<!-- figures: (\w+) -->\n)(.*?)(<!-- figures: end -->)", re.S)


def render(page: str, data: Dict[str, Any]) -> str:
    """*page* with each figures block replaced by the table of its server's results."""
    return BLOCK.sub(lambda m: m.group(1) + table(data["results"][m.group(2)]) + "\n" + m.group(4), page)


def main() -> None:
    data = json.loads(RESULTS.read_text())
    PAGE.write_text(render(PAGE.read_text(), data))


if __name__ == "__main__":
    sys.exit(main())
