"""One (client, scenario) run, in a process of its own.

Usage, from the repository's root: ``python -m benchmarks._worker SPEC.json RESULT.json``. The spec names the
client, the scenario (with its arguments), the parameters, the server's connect
arguments and the server's process ids (to measure its CPU while timed). The result is
``{"ok": true, "metrics": {...}}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, Dict

from benchmarks._catalog import CLIENTS_BY_NAME, Client, Params

Metrics = Dict[str, float]


def _count(client: Client, scenario: str, p: Params) -> int:
    if scenario == "sequential":
        return p.sequential_slow if client.slow else p.sequential
    if scenario == "inflight":
        return p.inflight
    return 0


def _run_reactor(client: Client, scenario: str, spec: Dict[str, Any], p: Params) -> Metrics:
    from twisted.internet import defer
    from twisted.internet import reactor as global_reactor
    from twisted.python.failure import Failure

    from benchmarks._clients import make_deferred_client
    from benchmarks._scenarios_reactor import SCENARIOS

    reactor: Any = global_reactor
    outcome: Dict[str, Any] = {}

    async def main() -> Metrics:
        c = make_deferred_client(client.name, reactor, spec["connect_kwargs"], p.op_timeout)
        try:
            return await SCENARIOS[scenario](
                reactor, c, p, _count(client, scenario, p), spec["server_pids"],
                **spec["args"],
            )
        finally:
            c.shutdown()

    def done(result: object) -> None:
        outcome["result"] = result
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(main()).addBoth(done))
    reactor.run()
    result = outcome["result"]
    if isinstance(result, Failure):
        result.raiseException()
    metrics: Metrics = result
    return metrics


def _run_threads(client: Client, scenario: str, spec: Dict[str, Any], p: Params) -> Metrics:
    from benchmarks._clients import make_blocking_client, make_handle_client
    from benchmarks._scenarios_threads import BLOCKING_SCENARIOS, HANDLE_SCENARIOS

    if client.family == "blocking":
        c: Any = make_blocking_client(client.name, spec["connect_kwargs"], p.op_timeout)
        fn = BLOCKING_SCENARIOS[scenario]
    else:
        c = make_handle_client(client.name, spec["connect_kwargs"], p.op_timeout)
        fn = HANDLE_SCENARIOS[scenario]
    metrics: Metrics = fn(c, p, _count(client, scenario, p), spec["server_pids"], **spec["args"])
    return metrics


def _require_patched_ncclient() -> None:
    from ncclient.operations.rpc import RPCReplyListener

    if not hasattr(RPCReplyListener, "forget"):  # patch 0001's seam: the series is in
        raise RuntimeError("this python's ncclient is not patched (upstream/ncclient): %s"
                           % sys.executable)


def run(spec: Dict[str, Any]) -> Metrics:
    client = CLIENTS_BY_NAME[spec["client"]]
    if client.patched:
        _require_patched_ncclient()
    params = Params.from_json(spec["params"])
    runner = _run_reactor if client.family == "reactor" else _run_threads
    return runner(client, spec["scenario"], spec, params)


def main(argv: Any) -> int:
    spec_path, out_path = argv[1], argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    try:
        out: Dict[str, Any] = {"ok": True, "metrics": run(spec)}
    except BaseException:
        out = {"ok": False, "error": traceback.format_exc(limit=8)}
    with open(out_path, "w") as f:
        json.dump(out, f)
    sys.stdout.flush()
    # Sessions a failed run left behind must not keep the process alive.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
