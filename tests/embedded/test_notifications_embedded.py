"""Notifications end to end against the embedded server: bursts, overflow, replay, filters,
interleaving, session loss, and RFC 8639 subscriptions."""

from __future__ import annotations

from typing import Any, List

import pytest
import pytest_twisted
from ncclient.operations import RPCError
from ncclient.transport.errors import SessionCloseError, TransportError
from twisted.internet import defer

from ncclient_twisted import InterleaveError, Notification, SubscriptionTerminatedError, testing
from tests.support.transports import connect, on_both_transports


@pytest.fixture
def server(server: Any, io: str) -> Any:
    return on_both_transports(server, io)

WAIT = 30
EV = "urn:example:events"


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


async def bounded(d: "defer.Deferred[Any]", seconds: float = WAIT) -> Any:
    return await d.addTimeout(seconds, reactor())


def ev(i: int, kind: str = "tick") -> str:
    return '<%s xmlns="%s"><n>%d</n></%s>' % (kind, EV, i, kind)


def n_of(n: Notification) -> int:
    return int(n.event.findtext("{%s}n" % EV))


@pytest_twisted.ensureDeferred
async def test_a_burst_reaches_a_callback_none_lost_in_order(server: Any) -> None:
    count = 20_000
    m = await connect(server)
    try:
        await bounded(m.create_subscription())
        seen: List[int] = []
        done: "defer.Deferred[None]" = defer.Deferred()

        def got(n: Notification) -> None:
            seen.append(n_of(n))
            if len(seen) == count:
                done.callback(None)

        m.add_notification_callback(got)
        server.publish_many(ev(i) for i in range(count))
        await bounded(done, 120)
        assert seen == list(range(count))
        assert m.notifications_dropped == 0
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_a_burst_of_100000_within_the_buffer_is_kept_whole(server: Any) -> None:
    count = 100_000
    m = await connect(server, manager_params={"notification_buffer": count})
    try:
        await bounded(m.create_subscription())
        server.publish_many(ev(i) for i in range(count))
        await bounded(m.get_config("running"), 120)  # the reply follows the burst on the wire
        got = [n_of(await bounded(m.take_notification())) for _ in range(count)]
        assert got == list(range(count))
        assert m.notifications_dropped == 0
        assert await bounded(m.take_notification(block=False)) is None
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_overflow_drops_the_oldest_and_counts_exactly(server: Any) -> None:
    m = await connect(server, manager_params={"notification_buffer": 100})
    try:
        await bounded(m.create_subscription())
        server.publish_many(ev(i) for i in range(1000))
        await bounded(m.get_config("running"))  # the reply follows the burst on the wire
        assert m.notifications_dropped == 900
        kept = [n_of(await bounded(m.take_notification())) for _ in range(100)]
        assert kept == list(range(900, 1000))
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_replay_then_complete_with_the_async_iterator(server: Any) -> None:
    now = reactor().seconds()
    for i in range(5):
        server.publish(ev(i), event_time=now - 100 + i)
    m = await connect(server)
    try:
        start = "1970-01-01T00:00:00Z"
        stop = rfc3339(now + 0.5)
        await bounded(m.create_subscription(start_time=start, stop_time=stop))
        kinds: List[str] = []

        async def read() -> None:
            async for n in m.notifications():
                if n.is_replay_complete:
                    kinds.append("replayComplete")
                elif n.is_notification_complete:
                    kinds.append("notificationComplete")
                else:
                    kinds.append(str(n_of(n)))

        await bounded(defer.ensureDeferred(read()))
        assert kinds == ["0", "1", "2", "3", "4", "replayComplete", "notificationComplete"]
        assert m.last_event_time is not None and m.last_event_time.startswith(rfc3339(now - 96)[:19])
    finally:
        await bounded(m.close_session())


def rfc3339(seconds: float) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest_twisted.ensureDeferred
async def test_filter_selects_events(server: Any) -> None:
    m = await connect(server)
    try:
        await bounded(m.create_subscription(filter=("subtree", '<alarm xmlns="%s"/>' % EV)))
        server.publish(ev(1, "tick"))
        server.publish(ev(2, "alarm"))
        n = await bounded(m.take_notification())
        assert n.event_tag == "{%s}alarm" % EV and n_of(n) == 2
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_rpcs_interleave_with_a_notification_stream(server: Any) -> None:
    m = await connect(server)
    try:
        await bounded(m.create_subscription())
        got: List[int] = []
        m.add_notification_callback(lambda n: got.append(n_of(n)))
        for i in range(20):
            server.publish(ev(i))
            reply = await bounded(m.get_config("running"))
            assert reply.ok
        assert got == list(range(20))
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_without_interleave_other_rpcs_fail_clearly_and_close_works() -> None:
    s = await testing.serve(reactor(), interleave=False)
    try:
        m = await connect(s)
        await bounded(m.create_subscription())
        try:
            await bounded(m.get_config("running"))
            raise AssertionError("expected InterleaveError")
        except InterleaveError as e:
            assert "interleave" in str(e)
        assert m.pending_requests == 0
        s.publish(ev(1))
        assert n_of(await bounded(m.take_notification())) == 1
        await bounded(m.close_session())
    finally:
        await s.stop()


@pytest_twisted.ensureDeferred
async def test_session_loss_mid_stream_ends_iterators_and_fails_waiters(server: Any) -> None:
    m = await connect(server)
    await bounded(m.create_subscription())
    seen: List[int] = []

    async def read() -> None:
        async for n in m.notifications():
            seen.append(n_of(n))
            if len(seen) == 3:
                next(iter(server.sessions.values())).disconnect()

    reading = defer.ensureDeferred(read())
    server.publish_many(ev(i) for i in range(3))
    try:
        await bounded(reading)
        raise AssertionError("async for should raise what ended the session")
    except (SessionCloseError, TransportError):
        pass
    assert seen == [0, 1, 2]
    try:
        await bounded(m.take_notification())
        raise AssertionError("expected the session's end")
    except (SessionCloseError, TransportError):
        pass
    assert isinstance(await bounded(m.when_closed()), (SessionCloseError, TransportError))


# -- RFC 8639 -------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_establish_subscription_events_suspend_resume_terminate(server: Any) -> None:
    m = await connect(server)
    try:
        sub = await bounded(m.establish_subscription(stream="NETCONF"))
        assert server.dynamic_subscriptions == {sub.id: next(iter(server.sessions))}
        server.publish(ev(1))
        assert n_of(await bounded(sub.take_notification())) == 1
        server.suspend_subscription(sub.id)
        n = await bounded(sub.take_notification())
        assert (n.state_change, sub.state) == ("subscription-suspended", "suspended")
        server.resume_subscription(sub.id)
        assert (await bounded(sub.take_notification())).state_change == "subscription-resumed"
        assert sub.state == "active"
        server.terminate_subscription(sub.id, "ietf-subscribed-notifications:filter-unavailable")
        assert (await bounded(sub.take_notification())).state_change == "subscription-terminated"
        assert await bounded(sub.when_ended()) == "ietf-subscribed-notifications:filter-unavailable"
        try:
            await bounded(sub.take_notification())
            raise AssertionError("expected SubscriptionTerminatedError")
        except SubscriptionTerminatedError:
            pass
        assert m.subscriptions == {}
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_two_subscriptions_on_one_session_each_gets_its_own(server: Any) -> None:
    m = await connect(server)
    admin = await connect(server)
    try:
        a = await bounded(m.establish_subscription(filter=("xpath", "/e:alarm"), namespaces={"e": EV}))
        b = await bounded(m.establish_subscription(filter=("subtree", '<tick xmlns="%s"/>' % EV)))
        assert a.id != b.id
        push = '<push-update xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-push"><id>%d</id></push-update>'
        server.publish(push % b.id)
        server.publish(push % a.id)
        assert (await bounded(a.take_notification())).subscription_id == a.id
        assert (await bounded(b.take_notification())).subscription_id == b.id
        # kill-subscription from another session: the server terminates it, routed by id
        await bounded(admin.kill_subscription(a.id))
        assert (await bounded(a.take_notification())).state_change == "subscription-terminated"
        assert (a.state, b.state) == ("ended", "active")
        # b is now the only one: event records (no id) reach it
        server.publish(ev(5, "tick"))
        assert n_of(await bounded(b.take_notification())) == 5
        await bounded(b.modify(filter=("subtree", '<alarm xmlns="%s"/>' % EV)))
        assert (await bounded(b.take_notification())).state_change == "subscription-modified"
        await bounded(b.cancel())
        assert (b.state, b.reason, m.subscriptions) == ("ended", "deleted", {})
        assert server.dynamic_subscriptions == {}
    finally:
        await bounded(admin.close_session())
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_subscription_replay_and_stop_time_end_the_iterator(server: Any) -> None:
    now = reactor().seconds()
    for i in range(3):
        server.publish(ev(i), event_time=now - 10 + i)
    m = await connect(server)
    try:
        sub = await bounded(
            m.establish_subscription(replay_start_time=rfc3339(now - 60), stop_time=rfc3339(now + 0.5))
        )
        got: List[str] = []
        async for n in sub:
            got.append(n.state_change or str(n_of(n)))
        assert got == ["0", "1", "2", "replay-completed", "subscription-completed"]
        assert sub.state == "ended"
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_bad_subscription_requests_get_rpc_errors(server: Any) -> None:
    m = await connect(server)
    try:
        for d in (
            m.establish_subscription(stream="nope"), m.delete_subscription(999), m.kill_subscription(999)
        ):
            try:
                await bounded(d)
                raise AssertionError("expected RPCError")
            except RPCError as e:
                assert e.tag == "invalid-value"
        assert m.subscriptions == {} and m.pending_requests == 0
        assert m.connected
    finally:
        await bounded(m.close_session())
