"""An inventory: the same request to many devices at once, each failure reported apart.

    NETCONF_PASSWORD=admin python examples/inventory.py devices.json --parallel 50

``devices.json`` is a list of devices, each ``{"name": ..., "host": ..., "port": 830,
"username": ..., "hostkey": ...}`` (``port``, ``username`` and ``hostkey`` optional;
``password`` too, else ``NETCONF_PASSWORD``). One line per device, in the inventory's
order; the exit status is 1 when any device failed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from twisted.internet import defer, task

from ncclient_twisted import manager


async def fetch(device: Dict[str, Any], timeout: float) -> str:
    """Connect to one device and summarise its running configuration."""
    kwargs: Dict[str, Any] = dict(
        host=device["host"],
        port=int(device.get("port", 830)),
        username=device.get("username", "admin"),
        password=device.get("password", os.environ.get("NETCONF_PASSWORD")),
        timeout=timeout,
        allow_agent=False,
        look_for_keys=False,
    )
    if device.get("hostkey"):
        kwargs["hostkey_b64"] = device["hostkey"]
    async with await manager.connect(**kwargs) as m:
        reply = await m.get_config(source="running")
    return "%d bytes of running config" % len(reply.data_xml)


async def main(reactor: Any, argv: List[str]) -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inventory", help="JSON file: a list of devices")
    p.add_argument("--parallel", type=int, default=50, help="connections at once")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = p.parse_args(argv)
    with open(args.inventory) as f:
        devices: List[Dict[str, Any]] = json.load(f)

    limit = defer.DeferredSemaphore(args.parallel)
    started = time.monotonic()

    async def one(device: Dict[str, Any]) -> Tuple[bool, str]:
        await limit.acquire()
        try:
            return True, await fetch(device, args.timeout)
        except Exception as e:  # one device's failure does not stop the others
            return False, "%s: %s" % (type(e).__name__, e)
        finally:
            limit.release()

    results = await defer.gatherResults([defer.ensureDeferred(one(d)) for d in devices])
    failed = 0
    for device, (ok, text) in zip(devices, results):
        failed += not ok
        print("%-12s %-6s %s" % (device.get("name", device["host"]), "ok" if ok else "FAILED", text))
    print("%d devices, %d failed, %.2f s" % (len(devices), failed, time.monotonic() - started))
    if failed:
        raise SystemExit(1)  # task.react exits with this status


def run(argv: Optional[List[str]] = None) -> None:
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    run()
