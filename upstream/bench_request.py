#!/usr/bin/env python3
"""Micro-benchmark: what ncclient's request and reply objects cost an asynchronous user.

    python upstream/bench_request.py                       # the ncclient this Python imports
    python upstream/bench_request.py --python A --python B # each interpreter in turn

No network: one ``ncclient.transport.Session`` whose ``send`` (overridden in a subclass)
keeps the message. Per request, in microseconds (the best of --repeat runs of N):

- ``request``: ``RPC(..., async_mode=True)`` and ``_request(<get-config>)``, as an
  asynchronous user makes one: message-id, registration, ``<rpc>`` wrapper, ``to_xml``;
- ``request+event``: the same and ``rpc.event`` read (what released ncclient always pays:
  it makes the ``Event`` in ``RPC.__init__``; patched, it is made on first use);
- ``request, counter ids``: as ``request`` with ``MessageIdCounter`` (patch 9; skipped
  when the ncclient has none);
- ``reply``: the reply delivered through the session's reply listener and parsed
  (``RPCReply.ok``).

Run it when the machine is quiet: the figures are CPU time on a shared machine. Python
3.9+, stdlib and ncclient only.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import timeit
from typing import Any, Callable, Dict, List, Optional, Sequence

REPLY = ('<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="%s">'
         '<data><top xmlns="urn:example"><a>1</a><b>two</b></top></data></rpc-reply>')


def measure(n: int, repeat: int) -> Dict[str, Any]:
    import ncclient
    import ncclient.transport
    from ncclient import manager
    from ncclient.capabilities import Capabilities
    from ncclient.operations import rpc as rpc_module
    from ncclient.operations.rpc import RPC, RPCReplyListener
    from ncclient.xml_ import new_ele, parse_root, sub_ele

    class KeepingSession(ncclient.transport.Session):
        def send(self, message: str) -> None:
            self.last = message

    device_handler = manager.make_device_handler({"name": "default"})
    caps = Capabilities(device_handler.get_capabilities())

    def new_session() -> Any:
        return KeepingSession(caps)

    def op() -> Any:
        node = new_ele("get-config")
        sub_ele(sub_ele(node, "source"), "running")
        return node

    def per_request(setup: Callable[[], Any], body: Callable[[Any], None]) -> float:
        best = None
        for _ in range(repeat):
            state = setup()
            t = timeit.timeit(functools.partial(body, state), number=n)
            best = t if best is None else min(best, t)
        assert best is not None
        return best / n * 1e6

    def request(session: Any) -> None:
        RPC(session, device_handler, async_mode=True)._request(op())

    def request_event(session: Any) -> None:
        r = RPC(session, device_handler, async_mode=True)
        r._request(op())
        assert r.event is not None  # made here, on first use, when patched

    out: Dict[str, Any] = {
        "ncclient": "%s (%s)" % (ncclient.__version__, ncclient.__file__),
        "python": sys.version.split()[0],
        "n": n,
        "us per request": {},
    }
    res = out["us per request"]
    res["op element alone"] = per_request(new_session, lambda s: op())
    res["request"] = per_request(new_session, request)
    res["request+event"] = per_request(new_session, request_event)
    counter = getattr(rpc_module, "MessageIdCounter", None)
    if counter is not None:
        def counted() -> Any:
            s = new_session()
            s.set_message_id_factory(counter())
            return s
        res["request, counter ids"] = per_request(counted, request)

    # replies: n requests made first (not timed), then their replies delivered and parsed
    def with_requests() -> Any:
        s = new_session()
        rpcs = [RPC(s, device_handler, async_mode=True) for _ in range(n)]
        listener = s.get_listener_instance(RPCReplyListener)
        replies = [REPLY % r.id for r in rpcs]
        return iter(list(zip(rpcs, replies))), listener

    def deliver(state: Any) -> None:
        pairs, listener = state
        r, raw = next(pairs)
        listener.callback(parse_root(raw), raw)
        assert r.reply.ok

    res["reply"] = per_request(with_requests, deliver)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20000, help="requests per run (default 20000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs; the best counts (default 5)")
    ap.add_argument("--python", action="append", default=[],
                    help="run under this interpreter instead (repeatable)")
    ap.add_argument("--json", action="store_true", help="print JSON (one object)")
    args = ap.parse_args(argv)
    if not args.python:
        result = measure(args.n, args.repeat)
        if args.json:
            print(json.dumps(result))
        else:
            print_table([result])
        return 0
    results: List[Dict[str, Any]] = []
    for python in args.python:
        proc = subprocess.run([python, __file__, "-n", str(args.n), "--repeat", str(args.repeat),
                               "--json"], check=True, stdout=subprocess.PIPE, text=True)
        results.append(json.loads(proc.stdout))
    print_table(results)
    return 0


def print_table(results: List[Dict[str, Any]]) -> None:
    for i, r in enumerate(results):
        print("[%d] ncclient %s, Python %s, N=%d" % (i + 1, r["ncclient"], r["python"], r["n"]))
    rows: List[str] = []
    for r in results:
        rows.extend(k for k in r["us per request"] if k not in rows)
    print("%-24s" % "us per request" + "".join("%12s" % ("[%d]" % (i + 1)) for i in range(len(results))))
    for row in rows:
        cells = []
        for r in results:
            v = r["us per request"].get(row)
            cells.append("%12s" % ("-" if v is None else "%.2f" % v))
        print("%-24s" % row + "".join(cells))


if __name__ == "__main__":
    sys.exit(main())
