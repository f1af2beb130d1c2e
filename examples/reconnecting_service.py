"""A reconnecting service: keep one device's session up and print its events, for ever.

    NETCONF_PASSWORD=admin python examples/reconnecting_service.py --host 192.0.2.1

``ManagerService`` connects, and reconnects with backoff whenever the session ends (the
device restarts, the network fails, keepalives go unanswered). On each new session
``resubscribe()`` re-creates the subscription, asking for a replay from the last event
received, so events logged while the session was down are not lost where the device
keeps a replay log. ``--events N`` stops after N events (for tests); Ctrl-C stops it.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from twisted.internet import defer, task

from ncclient_twisted import ManagerService, resubscribe

import _connection  # examples/_connection.py: the connection options


async def main(reactor: Any, argv: List[str]) -> None:
    p = _connection.parser(__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=0, help="stop after this many events (0: never)")
    p.add_argument("--keepalive", type=float, default=30.0, help="seconds between keepalives")
    args = p.parse_args(argv)

    kwargs = _connection.connect_kwargs(args)
    kwargs["keepalive"] = args.keepalive  # notices a device that went away silently
    service = ManagerService(kwargs, prepare_connection=resubscribe(), name=args.host)
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)  # Ctrl-C

    seen = sessions = 0
    try:
        while service.running and (args.events == 0 or seen < args.events):
            m = await service.when_connected()  # subscribed already (prepare_connection)
            sessions += 1
            print("connected: session-id", m.session_id, flush=True)
            try:
                async for n in m.notifications():  # raises what ended the session
                    seen += 1
                    print(n.event_time, n.event_tag, flush=True)
                    if seen == args.events:
                        break
            except Exception as reason:  # the device went away: the service reconnects
                print("session ended (%s); reconnecting" % (type(reason).__name__,), flush=True)
    finally:
        await service.stopService()
    print("%d events over %d sessions" % (seen, sessions), flush=True)


def run(argv: Optional[List[str]] = None) -> None:
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    run()
