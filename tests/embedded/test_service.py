"""ManagerService against the embedded server, restarted on its port (netconfd:
tests/netconfd/test_service_netconfd.py).

Backoff runs on a task.Clock the test advances; the network runs on the real reactor.
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional, Tuple

import pytest_twisted
from twisted.application.service import MultiService
from twisted.internet import defer, task

from ncclient_twisted import KeepaliveTimeoutError, ManagerService, resubscribe, testing
from tests.support.helpers import bounded, reactor, wait_until
from tests.support.service_fakes import Policy

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
EVENT = '<link-down xmlns="urn:example:events"><if>%s</if></link-down>'


def pending_calls(clock: task.Clock) -> List[Any]:
    return list(clock.getDelayedCalls())


def session_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ncclient_twisted-session"]


def event_time(notification: Any) -> str:
    return str(notification.notification_ele.find("{%s}eventTime" % NOTIF_NS).text)


def note_last_event_time(m: Any, notification: Any) -> None:
    # Manager.last_event_time comes with another change; until then the test sets it, as
    # the manager will, from the notification taken.
    if not isinstance(getattr(type(m), "last_event_time", None), property):
        m.last_event_time = event_time(notification)


@pytest_twisted.ensureDeferred
async def test_service_through_embedded_server_restarts() -> None:
    server = await testing.serve(reactor(), users={"admin": "admin"})
    port = server.port
    clock = task.Clock()
    policy = Policy()
    hook_calls: List[Tuple[int, Optional[str]]] = []
    subscribe = resubscribe()

    def prepare(m: Any, last: Optional[str]) -> "defer.Deferred[Any]":
        hook_calls.append((m.session_id and int(m.session_id), last))
        return subscribe(m, last)

    svc = ManagerService(
        server.connect_kwargs(),
        prepare_connection=prepare,
        retry_policy=policy,
        clock=clock,
    )
    svc.startService()
    try:
        m0 = await bounded(svc.when_connected())
        assert m0.connected and hook_calls == [(1, None)]
        server.publish(EVENT % "eth0", event_time="2024-05-01T12:00:00Z")
        n0 = await bounded(m0.take_notification())
        note_last_event_time(m0, n0)
        seen = event_time(n0)

        # The device goes down: the session ends, the service waits policy(1) on its clock.
        failed = policy.next_failure()
        await bounded(server.stop())
        assert await bounded(failed) == 1
        assert svc.manager is None and not m0.connected
        assert [delayed.getTime() for delayed in pending_calls(clock)] == [1.0]
        # While it is down, attempts fail and back off: 2 s, then 4 s.
        failed = policy.next_failure()
        clock.advance(1.0)
        assert await bounded(failed) == 2
        assert [delayed.getTime() - clock.seconds() for delayed in pending_calls(clock)] == [2.0]

        # It comes back on the same port, its log holding the event we saw and one we missed.
        server = await testing.serve(reactor(), users={"admin": "admin"}, port=port)
        server.publish(EVENT % "eth0", event_time="2024-05-01T12:00:00Z")
        server.publish(EVENT % "eth1", event_time="2024-05-01T12:00:30Z")
        clock.advance(2.0)
        m1 = await bounded(svc.when_connected())
        assert m1 is not m0 and m1.connected and svc.failures == 0
        assert hook_calls[-1] == (1, seen)
        # Replayed from the last event time: the one seen again, then the one missed.
        replayed = [event_time(await bounded(m1.take_notification())) for _ in range(2)]
        assert replayed == ["2024-05-01T12:00:00.000000Z", "2024-05-01T12:00:30.000000Z"]
        assert (await bounded(m1.get_config(source="running"))).ok
    finally:
        await bounded(svc.stopService())
        await server.stop()
    assert not m1.connected
    assert await wait_until(lambda: not session_threads(), 5)


@pytest_twisted.ensureDeferred
async def test_service_replaces_a_hung_session_found_by_keepalive() -> None:
    server = await testing.serve(reactor(), users={"admin": "admin"})
    policy = Policy()
    svc = ManagerService(
        server.connect_kwargs(keepalive=0.2, keepalive_count_max=2), retry_policy=policy, clock=task.Clock()
    )
    svc.startService()
    try:
        m0 = await bounded(svc.when_connected())
        failed = policy.next_failure()
        server.stop_answering()  # hangs the open session; new connections still work
        await bounded(failed)
        assert isinstance(svc.last_error, KeepaliveTimeoutError)
        svc.clock.advance(1.0)
        m1 = await bounded(svc.when_connected())
        assert m1 is not m0 and (await bounded(m1.get())).ok
    finally:
        await bounded(svc.stopService())
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_stop_while_connecting_and_many_under_a_multiservice() -> None:
    servers = [await testing.serve(reactor(), users={"admin": "admin"}) for _ in range(3)]
    inventory = MultiService()
    for i, s in enumerate(servers):
        ManagerService(s.connect_kwargs(), name="dev%d" % i).setServiceParent(inventory)
    inventory.startService()
    try:
        ms = await bounded(
            defer.gatherResults([inventory.getServiceNamed("dev%d" % i).when_connected() for i in range(3)])
        )
        assert all(m.connected for m in ms)
    finally:
        await bounded(defer.maybeDeferred(inventory.stopService))
    assert not any(m.connected for m in ms)
    # Stopped in the middle of the handshake: the attempt is cancelled, no session is left.
    svc = ManagerService(servers[0].connect_kwargs())
    svc.startService()
    await bounded(svc.stopService())
    assert await wait_until(lambda: not servers[0].sessions and not session_threads(), 5)
    for s in servers:
        await s.stop()
