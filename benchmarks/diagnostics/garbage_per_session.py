"""Diagnostic, not part of any report: the cyclic garbage one io=reactor session leaves
(connect, get-config, close-session), by type, counted with ``gc.DEBUG_SAVEALL``.

    .venv/bin/python -m benchmarks.diagnostics.garbage_per_session
"""

from __future__ import annotations

import collections
import gc
from typing import Any

from twisted.internet import defer, task

from ncclient_twisted import manager, testing

SESSIONS = 20


async def one_session(server: testing.NetconfServer) -> None:
    m = await manager.connect(**server.connect_kwargs())
    await m.get_config(source="running")
    await m.close_session()


async def main(reactor: Any) -> None:
    server = await testing.serve(reactor)
    await one_session(server)  # imports and first-use caches are not garbage
    await task.deferLater(reactor, 0.2, lambda: None)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    for _ in range(SESSIONS):
        await one_session(server)
    await task.deferLater(reactor, 0.3, lambda: None)
    gc.collect()
    kinds = collections.Counter(
        "%s.%s" % (getattr(type(o), "__module__", "?"), getattr(type(o), "__qualname__", "?"))
        for o in gc.garbage
    )
    print("cyclic garbage per session: %.1f objects" % (len(gc.garbage) / SESSIONS))
    for kind, count in kinds.most_common(20):
        print("  %7.1f %s" % (count / SESSIONS, kind))
    gc.set_debug(0)
    gc.garbage.clear()
    await server.stop()


if __name__ == "__main__":
    task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
