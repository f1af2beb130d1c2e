"""asyncio: an asyncio program using ncclient_twisted through Twisted's asyncio reactor.

    NETCONF_PASSWORD=admin python examples/asyncio_client.py --host 192.0.2.1

Install ``twisted.internet.asyncioreactor`` on the asyncio loop before anything imports
the reactor; then every Deferred becomes an asyncio future with ``d.asFuture(loop)``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import List, Optional

from twisted.internet import asyncioreactor

import _connection  # examples/_connection.py: the connection options


async def main(argv: List[str]) -> None:
    from ncclient_twisted import manager  # imported once the reactor is installed

    args = _connection.parser(__doc__.splitlines()[0]).parse_args(argv)
    loop = asyncio.get_running_loop()

    m = await manager.connect(**_connection.connect_kwargs(args)).asFuture(loop)
    try:
        reply = await m.get_config(source="running").asFuture(loop)
        print("running config:", len(reply.data_xml), "bytes")

        # Ten requests in flight on one session, gathered by asyncio.
        replies = await asyncio.gather(*(m.get().asFuture(loop) for _ in range(10)))
        print("gathered", len(replies), "replies")

        # asyncio's timeouts cancel the future, which cancels the request.
        try:
            await asyncio.wait_for(m.get_config(source="running").asFuture(loop), timeout=10)
        except asyncio.TimeoutError:
            print("no reply within 10 s; the request is forgotten")
    finally:
        await m.close_session().asFuture(loop)
    print("closed")


def run(argv: Optional[List[str]] = None) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    from twisted.internet import reactor

    tasks: List["asyncio.Task[None]"] = []

    def start() -> None:
        t = loop.create_task(main(sys.argv[1:] if argv is None else argv))
        # Stopping the reactor runs Twisted's shutdown: sessions closed, threads stopped.
        t.add_done_callback(lambda _: reactor.stop())
        tasks.append(t)

    reactor.callWhenRunning(start)
    reactor.run()
    if tasks and not tasks[0].cancelled() and tasks[0].exception() is not None:
        raise SystemExit("failed: %r" % (tasks[0].exception(),))


if __name__ == "__main__":
    run()
