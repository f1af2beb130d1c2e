"""What is measured: the scenarios, their parameters, the clients and who runs what.

This module imports nothing heavy: the driver uses it to plan, the workers to look up
their parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Dict, List, Tuple

__all__ = [
    "Params", "DEFAULT", "QUICK", "Client", "CLIENTS", "PATCHED_CLIENTS", "SCENARIOS",
    "scenario_jobs",
]


@dataclass(frozen=True)
class Params:
    """Sizes and bounds of the scenarios (every loop is bounded in count and time)."""

    sequential: int = 200
    #: ncclient's session loop writes on a 100 ms tick: its peers do fewer sequential calls.
    sequential_slow: int = 30
    warmup: int = 5
    inflight: int = 500
    #: Bursts of ``inflight`` requests measured, after one burst of warm-up (one burst
    #: is over in ~50 ms: a single one varied by 2x from run to run).
    inflight_rounds: int = 3
    fanout_sessions: int = 100
    fanout_per_session: int = 10
    idle_sizes: Tuple[int, ...] = (50, 200)
    idle_seconds: float = 10.0
    connect_sessions: int = 50
    #: The connect burst: sessions opened at once on the project's bounded pool.
    burst_sessions: int = 200
    #: Threads a blocking client uses to open many sessions before a timed window.
    connect_threads: int = 50
    #: Interval of the LoopingCall that measures the reactor's lateness.
    lateness_interval: float = 0.001
    #: Bound on any single RPC, connect or close inside a worker.
    op_timeout: float = 60.0
    runs: int = 5
    #: Runs of the idle scenario (10 s each, plus connecting up to 200 sessions).
    idle_runs: int = 3
    #: Runs against the secondary server (the embedded one), to bound the total time.
    secondary_runs: int = 3
    secondary_idle_runs: int = 1
    #: Hard timeout of one worker process.
    worker_timeout: float = 240.0

    def to_json(self) -> Dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Dict[str, object]) -> "Params":
        data = dict(data)
        data["idle_sizes"] = tuple(data["idle_sizes"])  # type: ignore[arg-type]
        return cls(**data)  # type: ignore[arg-type]


DEFAULT = Params()
QUICK = replace(
    DEFAULT,
    sequential=50,
    sequential_slow=10,
    warmup=2,
    inflight=100,
    inflight_rounds=1,
    fanout_sessions=20,
    fanout_per_session=5,
    idle_sizes=(10, 20),
    idle_seconds=2.0,
    connect_sessions=10,
    runs=1,
    idle_runs=1,
    secondary_runs=1,
    secondary_idle_runs=1,
    worker_timeout=90.0,
)

#: Scenario ids, in the order they run and are reported. "idle" runs once per size.
SCENARIOS: Tuple[str, ...] = ("sequential", "inflight", "fanout", "idle", "connect", "burst")
#: ``--only lateness`` selects the scenarios the reactor's lateness is measured in.
LATENESS_SCENARIOS: Tuple[str, ...] = ("fanout", "connect", "burst")


@dataclass(frozen=True)
class Client:
    name: str
    label: str
    #: "reactor" (Deferreds), "blocking" (threads) or "handles" (submit, then wait).
    family: str
    scenarios: Tuple[str, ...]
    #: Its sequential run is capped at Params.sequential_slow.
    slow: bool = False
    #: Whether it runs inside a Twisted reactor (its lateness is measured).
    reactor: bool = False
    notes: Dict[str, str] = field(default_factory=dict)
    #: Runs with the python of a virtualenv holding ncclient patched by
    #: upstream/ncclient/*.patch (``benchmarks.run --patched-python``), not this one.
    patched: bool = False


_NO_BURST: Tuple[str, ...] = ("sequential", "inflight", "fanout", "connect")
_HANDLES: Tuple[str, ...] = ("sequential", "inflight", "fanout")
_SAME_AS_NCCLIENT = {"idle": "same sessions as ncclient sync"}
_THREAD_EACH = "one thread per request"
_SESSION_THREAD = "one thread per session"

CLIENTS: Tuple[Client, ...] = (
    Client("ours", "ncclient_twisted", "reactor", SCENARIOS, reactor=True),
    Client("ours-reactor", "ncclient_twisted io=reactor", "reactor", SCENARIOS, reactor=True),
    Client("ncclient", "ncclient sync", "blocking",
           ("sequential", "inflight", "fanout", "idle", "connect"), slow=True,
           notes={"inflight": _THREAD_EACH, "fanout": _THREAD_EACH, "connect": _SESSION_THREAD}),
    Client("ncclient-async", "ncclient async_mode", "handles", _HANDLES, slow=True,
           notes=dict(_SAME_AS_NCCLIENT, connect="same as ncclient sync")),
    Client("d2t-default", "deferToThread (default pool)", "reactor", _NO_BURST, slow=True,
           reactor=True, notes=dict(_SAME_AS_NCCLIENT)),
    Client("d2t-100", "deferToThreadPool (K=100)", "reactor", _NO_BURST, slow=True,
           reactor=True, notes=dict(_SAME_AS_NCCLIENT)),
    Client("netconf_client", "netconf_client Manager", "blocking",
           ("sequential", "fanout", "idle", "connect"),
           notes={"inflight": "sync Manager is not safe from several threads on one session",
                  "fanout": "one thread per session, 10 sequential calls each",
                  "connect": _SESSION_THREAD}),
    Client("netconf_client-futures", "netconf_client futures", "handles", _HANDLES,
           notes={"idle": "same sessions as netconf_client", "connect": "same as netconf_client"}),
)

#: The clients run with the patched ncclient, reported in a section of their own (not
#: among the peers of CLIENTS' targets).
PATCHED_CLIENTS: Tuple[Client, ...] = (
    Client("ours-patched", "ncclient_twisted io=reactor, patched ncclient", "reactor",
           SCENARIOS, reactor=True, patched=True),
    Client("ncclient-patched", "ncclient sync, patched ncclient", "blocking", ("sequential",),
           patched=True),
)

CLIENTS_BY_NAME: Dict[str, Client] = {c.name: c for c in CLIENTS + PATCHED_CLIENTS}


def scenario_jobs(scenario: str, params: Params) -> List[Tuple[str, Dict[str, object]]]:
    """The (job id, job arguments) pairs one scenario is made of."""
    if scenario == "idle":
        return [("idle-%d" % n, {"sessions": n}) for n in params.idle_sizes]
    return [(scenario, {})]


#: The server every figure is measured against first, with the full number of runs.
PRIMARY_SERVER = "netconfd"


def runs_for(scenario: str, params: Params, server: str) -> int:
    if server == PRIMARY_SERVER:
        return params.idle_runs if scenario == "idle" else params.runs
    return params.secondary_idle_runs if scenario == "idle" else params.secondary_runs
