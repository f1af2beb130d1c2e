"""Diagnostic, not part of any report: the objects the garbage collector tracks for each open
session in the client (issue #25), by type: what each full collection scans while a fleet's
sessions are open. The server is ``ncclient-twisted serve`` in another process.

    .venv/bin/python -m benchmarks.diagnostics.live_objects_per_session [--io reactor|threads]
        [--sessions 50]

Each session connects and makes one ``get-config``; the count is the tracked objects with
all of them open, less those before, divided by their number.
"""

from __future__ import annotations

import argparse
import gc
from typing import Any, List

from twisted.internet import defer, task

from benchmarks import fleet
from benchmarks.diagnostics._common import by_type, print_per_session, served_device
from ncclient_twisted import manager


async def main(reactor: Any, args: argparse.Namespace) -> None:
    with served_device() as (host, port, known_hosts):

        async def session() -> Any:
            m = await manager.connect(
                host=host, port=port, username=fleet.USERNAME, password=fleet.PASSWORD, io=args.io,
                known_hosts=known_hosts, allow_agent=False, look_for_keys=False, timeout=30,
            )
            await m.get_config(source="running")
            return m

        for _ in range(3):  # imports and first-use caches are not the sessions'
            await (await session()).close_session()
        await task.deferLater(reactor, 0.3, lambda: None)
        gc.collect()
        before = by_type(gc.get_objects())
        managers: List[Any] = [await session() for _ in range(args.sessions)]
        await task.deferLater(reactor, 0.2, lambda: None)
        gc.collect()
        grown = by_type(gc.get_objects()) - before
        print("io=%s: objects tracked per open session: %.1f"
              % (args.io, sum(grown.values()) / args.sessions))
        print_per_session(grown, args.sessions)
        for m in managers:
            await m.close_session()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--io", choices=("reactor", "threads"), default="reactor")
    parser.add_argument("--sessions", type=int, default=50)
    options = parser.parse_args()
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, options)))
