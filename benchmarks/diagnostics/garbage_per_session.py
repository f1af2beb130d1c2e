"""Diagnostic, not part of any report: the cyclic garbage one session leaves in the client
(issue #25), by type, counted with ``gc.DEBUG_SAVEALL``. The server is ``ncclient-twisted
serve`` in another process, so only the client's garbage counts.

    .venv/bin/python -m benchmarks.diagnostics.garbage_per_session [--io reactor|threads]
        [--case ok|bad-password|bad-hostkey] [--sessions 20] [TypeName ...]

``ok``: connect, get-config, close-session; ``bad-password`` and ``bad-hostkey``: a connect
that fails (authentication, a host key not in known_hosts). Each *TypeName* (a class's
``__qualname__``) prints what in the garbage refers to two of its instances.
"""

from __future__ import annotations

import argparse
import gc
from typing import Any, List

from twisted.internet import defer, task

from benchmarks import fleet
from benchmarks.diagnostics._common import by_type, print_per_session, served_device
from ncclient_twisted import manager


def _show_referrers(garbage: List[Any], wanted: List[str]) -> None:
    ids = {id(o) for o in garbage}
    owners = {}  # an instance's __dict__ -> the instance
    for o in garbage:
        try:
            owners[id(vars(o))] = o
        except (TypeError, ReferenceError):  # no __dict__; a dead weakref.proxy
            pass
    for name in wanted:
        for o in [o for o in garbage if type(o).__qualname__ == name][:2]:
            print("== %s %s" % (name, repr(o)[:120]))
            for r in gc.get_referrers(o):
                if id(r) not in ids:
                    continue
                if isinstance(r, dict) and id(r) in owners:  # an attribute: say whose, and which
                    keys = [k for k, v in r.items() if v is o]
                    print("   <- %s.%s" % (type(owners[id(r)]).__qualname__, ",".join(map(str, keys))))
                else:
                    print("   <- %s %s" % (type(r).__qualname__, repr(r)[:120]))


async def main(reactor: Any, args: argparse.Namespace) -> None:
    password = "wrong" if args.case == "bad-password" else fleet.PASSWORD
    # bad-hostkey: the known_hosts file is empty, the server's key is refused
    with served_device(known=args.case != "bad-hostkey") as (host, port, known_hosts):

        async def one_session() -> None:
            try:
                m = await manager.connect(
                    host=host, port=port, username=fleet.USERNAME, password=password, io=args.io,
                    known_hosts=known_hosts, allow_agent=False, look_for_keys=False, timeout=30,
                )
            except Exception:
                if args.case == "ok":
                    raise
                return
            await m.get_config(source="running")
            await m.close_session()

        for _ in range(2):  # imports and first-use caches are not garbage
            await one_session()
        await task.deferLater(reactor, 0.3, lambda: None)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        for _ in range(args.sessions):
            await one_session()
        await task.deferLater(reactor, 0.3, lambda: None)  # threads reaped, closes done
        gc.collect()
        garbage = list(gc.garbage)
        gc.set_debug(0)
        gc.garbage.clear()
        print("io=%s case=%s: cyclic garbage per session: %.1f objects"
              % (args.io, args.case, len(garbage) / args.sessions))
        print_per_session(by_type(garbage), args.sessions)
        _show_referrers(garbage, args.types)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--io", choices=("reactor", "threads"), default="reactor")
    parser.add_argument("--case", choices=("ok", "bad-password", "bad-hostkey"), default="ok")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("types", nargs="*", metavar="TypeName")
    options = parser.parse_args()
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, options)))
