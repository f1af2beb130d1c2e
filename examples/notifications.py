"""Notifications: subscribe to a stream and print events as they arrive.

    NETCONF_PASSWORD=admin python examples/notifications.py --stream NETCONF --count 10

With ``--replay-from 2024-01-01T00:00:00Z`` the device first replays the events it kept
since then (where the stream has a replay log), then ``replayComplete`` arrives and the
live events follow. It stops after ``--count`` events, or with Ctrl-C.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from twisted.internet import defer, task

from ncclient_twisted import manager

import _connection  # examples/_connection.py: the connection options


async def main(reactor: Any, argv: List[str]) -> None:
    p = _connection.parser(__doc__.splitlines()[0])
    p.add_argument("--stream", default="NETCONF")
    p.add_argument("--count", type=int, default=0, help="stop after this many events (0: never)")
    p.add_argument("--replay-from", default=None, help="RFC 3339 time to replay from")
    args = p.parse_args(argv)

    async with await manager.connect(**_connection.connect_kwargs(args)) as m:
        await m.create_subscription(stream_name=args.stream, start_time=args.replay_from)
        print("subscribed to", args.stream, flush=True)
        seen = 0
        async for n in m.notifications():
            if n.is_replay_complete:
                print("replay complete", flush=True)
                continue
            seen += 1
            print(n.event_time, n.event_tag, flush=True)
            if seen == args.count:
                break
        dropped = m.notifications_dropped
        print("%d events; last event time %s; %d dropped" % (seen, m.last_event_time, dropped))


def run(argv: Optional[List[str]] = None) -> None:
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    run()
