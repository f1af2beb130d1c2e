"""Run ``ncclient_twisted.testing``'s embedded NETCONF server in this process.

Prints one line, the JSON ``connect_kwargs`` of the server, once it listens; stops on
SIGTERM/SIGINT (Twisted's handlers stop the reactor, and the server with it).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from twisted.internet import defer


def main(reactor: Any) -> "defer.Deferred[None]":
    from ncclient_twisted import testing

    async def run() -> None:
        server = await testing.serve(reactor, users={"admin": "admin"})
        reactor.addSystemEventTrigger("before", "shutdown", server.stop)
        sys.stdout.write(json.dumps(server.connect_kwargs(timeout=None)) + "\n")
        sys.stdout.flush()
        await defer.Deferred()  # until the reactor stops

    return defer.ensureDeferred(run())


if __name__ == "__main__":
    from twisted.internet import task

    task.react(main)
