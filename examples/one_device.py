"""One device: read the running configuration, change it under a lock, read it back.

    NETCONF_PASSWORD=admin python examples/one_device.py --host 192.0.2.1 --hostname lab-1

With the candidate datastore (``:candidate``) the change goes to the candidate under a
lock and is committed; otherwise it goes straight to running.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from twisted.internet import defer, task

from ncclient_twisted import manager

import _connection  # examples/_connection.py: the connection options

CONFIG = """<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
  <system xmlns="urn:example:system"><hostname>{hostname}</hostname></system>
</config>"""

FILTER = '<system xmlns="urn:example:system"/>'


async def main(reactor: Any, argv: List[str]) -> None:
    p = _connection.parser(__doc__.splitlines()[0])
    p.add_argument("--hostname", default="lab-1", help="the hostname to set")
    args = p.parse_args(argv)

    async with await manager.connect(**_connection.connect_kwargs(args)) as m:
        print("connected: session-id", m.session_id)
        before = await m.get_config(source="running", filter=("subtree", FILTER))
        print("before:", before.data_xml)

        config = CONFIG.format(hostname=args.hostname)
        if ":candidate" in m.server_capabilities:
            async with m.locked("candidate"):
                await m.edit_config(target="candidate", config=config)
                await m.commit()
        else:
            async with m.locked("running"):
                await m.edit_config(target="running", config=config)

        after = await m.get_config(source="running", filter=("subtree", FILTER))
        print("after:", after.data_xml)


def run(argv: Optional[List[str]] = None) -> None:
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    run()
