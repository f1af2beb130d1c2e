"""An inventory: the same request to many devices at once, each failure reported apart.

    NETCONF_PASSWORD=admin python examples/inventory.py devices.yaml \\
        --known-hosts lab_known_hosts --parallel 50

``devices.yaml`` is an inventory as ``ncclient-twisted --inventory`` reads it (YAML or CSV,
see :mod:`ncclient_twisted.inventory`), e.g. what ``ncclient-twisted serve --inventory-out``
writes. Each device's ``credentials`` is a reference (``env:NETCONF_PASSWORD``, ``key:PATH``,
``agent``...), resolved before the reactor runs. One line per device, in the inventory's
order; the exit status is 1 when any device failed.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from twisted.internet import defer, task

from ncclient_twisted import inventory, manager


async def fetch(kwargs: Dict[str, Any], known_hosts: Optional[str], timeout: float) -> str:
    """Connect to one device and summarise its running configuration."""
    async with await manager.connect(**kwargs, known_hosts=known_hosts, timeout=timeout) as m:
        reply = await m.get_config(source="running")
    return "%d bytes of running config" % len(reply.data_xml)


async def main(reactor: Any, argv: List[str]) -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inventory", help="YAML or CSV inventory (the CLI's format)")
    p.add_argument("--known-hosts", help="known_hosts file (default: ~/.ssh/known_hosts)")
    p.add_argument("--parallel", type=int, default=50, help="connections at once")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = p.parse_args(argv)
    targets = inventory.load_inventory(args.inventory)
    # Resolved now, once: reading files and the environment is no work for the reactor.
    devices: List[Tuple[inventory.Target, Any]] = []
    for target in targets:
        try:
            devices.append((target, target.connect_kwargs()))
        except inventory.CredentialError as e:
            devices.append((target, e))

    started = time.monotonic()

    async def one(kwargs: Any) -> Tuple[bool, str]:
        if isinstance(kwargs, Exception):
            return False, "%s: %s" % (type(kwargs).__name__, kwargs)
        try:
            return True, await fetch(kwargs, args.known_hosts, args.timeout)
        except Exception as e:  # one device's failure does not stop the others
            return False, "%s: %s" % (type(e).__name__, e)

    # --parallel workers, each taking the next device once its last is done: a device
    # waiting for its turn is an item of the iterator, not a coroutine and a semaphore
    # wait made up front (with thousands of devices, those are most of what the garbage
    # collector scans, and its pauses are the reactor's).
    results: List[Tuple[bool, str]] = [(False, "not run")] * len(devices)
    waiting = iter(enumerate(devices))

    async def worker() -> None:
        for index, (_, kwargs) in waiting:
            results[index] = await one(kwargs)

    workers = max(1, min(args.parallel, len(devices)))
    await defer.gatherResults([defer.ensureDeferred(worker()) for _ in range(workers)])
    failed = 0
    for (target, _), (ok, text) in zip(devices, results):
        failed += not ok
        print("%-12s %-6s %s" % (target.name or target.address, "ok" if ok else "FAILED", text))
    print("%d devices, %d failed, %.2f s" % (len(devices), failed, time.monotonic() - started))
    if failed:
        raise SystemExit(1)  # task.react exits with this status


def run(argv: Optional[List[str]] = None) -> None:
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    run()
