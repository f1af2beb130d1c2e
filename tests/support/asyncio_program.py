"""Run by tests/embedded/test_asyncio_reactor.py in a child process: ncclient_twisted in an asyncio program.

Installs Twisted's asyncio reactor on a fresh event loop, starts the embedded server in
that reactor, and drives the manager from asyncio coroutines through
``Deferred.asFuture``. Prints one JSON object with what it saw, then exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any, Dict, List

from twisted.internet import asyncioreactor

loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
asyncioreactor.install(loop)

from ncclient.operations import RPCError  # noqa: E402
from twisted.internet import defer, reactor  # noqa: E402

from ncclient_twisted import Notification, manager, testing  # noqa: E402

CONFIG = (
    '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<system xmlns="urn:example:system"><hostname>aio</hostname></system></config>'
)
EVENT = '<link-down xmlns="urn:example:events"><if>eth%d</if></link-down>'
seen: Dict[str, Any] = {}
left_open: List[Any] = []


async def twisted_style(m: Any, server: Any) -> List[str]:
    """A Twisted coroutine (awaits Deferreds): ``async with`` and ``async for`` work here."""
    async with m.locked("candidate"):
        await m.edit_config(target="candidate", config=CONFIG)
        await m.commit()
    await m.create_subscription()
    for i in range(3):
        server.publish(EVENT % i)
    tags = []
    async for n in m.notifications():
        tags.append(n.event_tag)
        if len(tags) == 3:
            break
    return tags


async def main() -> None:
    server = await testing.serve(reactor, users={"admin": "admin"}).asFuture(loop)
    seen["loop_is_reactors"] = reactor._asyncioEventloop is asyncio.get_running_loop()
    m = await manager.connect(**server.connect_kwargs()).asFuture(loop)
    reply = await m.get_config(source="running").asFuture(loop)
    seen["get_config_ok"] = reply.ok

    replies = await asyncio.gather(*(m.get().asFuture(loop) for _ in range(20)))
    seen["gathered"] = sum(r.ok for r in replies)

    try:
        await m.rpc("no-such-operation").asFuture(loop)
    except RPCError as e:
        seen["rpc_error_tag"] = e.tag

    # asyncio's timeout cancels the future, the Deferred and so the request.
    server.faults.add(testing.Fault.no_reply("get", count=1))
    try:
        await asyncio.wait_for(m.get().asFuture(loop), timeout=0.5)
    except asyncio.TimeoutError:
        seen["wait_for_timed_out"] = True
    seen["pending_after_timeout"] = m.pending_requests
    seen["still_works"] = (await m.get_config(source="running").asFuture(loop)).ok

    # The Twisted-style helpers, from asyncio: wrap the Twisted coroutine.
    seen["twisted_style"] = await defer.ensureDeferred(twisted_style(m, server)).asFuture(loop)

    # Callbacks run on the reactor thread, which is the loop's thread: feed an asyncio.Queue.
    queue: "asyncio.Queue[Notification]" = asyncio.Queue()

    def on_notification(n: Notification) -> None:
        seen["callback_on_loop_thread"] = threading.current_thread() is threading.main_thread()
        queue.put_nowait(n)

    handle = m.add_notification_callback(on_notification)
    server.publish(EVENT % 9)
    n = await asyncio.wait_for(queue.get(), timeout=10)
    handle.remove()
    seen["callback_event"] = n.event_tag

    # A second session left open: reactor shutdown must close it.
    m2 = await manager.connect(**server.connect_kwargs()).asFuture(loop)
    left_open.append(m2)
    seen["second_connected"] = m2.connected
    await m.close_session().asFuture(loop)
    seen["closed"] = not m.connected


def start() -> None:
    task = loop.create_task(main())

    def done(t: "asyncio.Task[None]") -> None:
        if t.exception() is not None:
            seen["error"] = repr(t.exception())
        reactor.stop()

    task.add_done_callback(done)


reactor.callWhenRunning(start)
reactor.run()
seen["left_open_closed_at_shutdown"] = [not m.connected for m in left_open]
seen["threads_left"] = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
print(json.dumps(seen))
sys.exit(1 if "error" in seen else 0)
