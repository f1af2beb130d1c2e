"""ManagerService's own logic: a fake connect function and a task.Clock, no network."""

from __future__ import annotations

from typing import Any, List, Optional

from ncclient.transport.errors import AuthenticationError, SessionCloseError
from twisted.application.service import MultiService
from twisted.internet import defer, task
from twisted.internet.defer import CancelledError, Deferred

from ncclient_twisted import ManagerService, resubscribe
from tests.support.service_fakes import FakeConnect, FakeManager, fake_service, result_of, rpc_error


def test_connects_on_start_and_hands_out_the_manager() -> None:
    svc, connect, clock = fake_service()
    waiting = svc.when_connected()
    assert connect.calls == []
    svc.startService()
    assert len(connect.calls) == 1 and connect.kwargs[0]["host"] == "192.0.2.1"
    assert not waiting.called
    m = connect.succeed()
    assert result_of(waiting) is m
    assert result_of(svc.when_connected()) is m
    assert svc.manager is m and svc.failures == 0


def test_backoff_after_failures_with_the_policy_and_clock() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    for n in (1, 2, 3):
        connect.fail(AuthenticationError("denied"))
        assert svc.failures == n and isinstance(svc.last_error, AuthenticationError)
        clock.advance(2.0 ** n - 0.01)
        assert len(connect.calls) == n  # not yet
        clock.advance(0.01)
        assert len(connect.calls) == n + 1
    connect.succeed()
    assert svc.failures == 0
    assert "secret" not in repr(svc)


def test_reconnects_after_the_session_ends_and_passes_last_event_time() -> None:
    seen: List[Any] = []

    def prepare(m: Any, last: Optional[str]) -> None:
        seen.append((m.number, last))

    svc, connect, clock = fake_service(prepare_connection=prepare)
    svc.startService()
    m0 = connect.succeed()
    m0.last_event_time = "2024-01-01T00:00:05Z"
    m0.lose(SessionCloseError(b""))
    assert svc.manager is None and svc.failures == 1
    waiting = svc.when_connected()
    clock.advance(2.0)
    assert len(connect.calls) == 2
    m1 = connect.succeed()
    assert result_of(waiting) is m1
    assert seen == [(0, None), (1, "2024-01-01T00:00:05Z")]
    # A session without events keeps the older time for the next reconnect.
    m1.lose(SessionCloseError(b""))
    clock.advance(2.0)
    connect.succeed()
    assert seen[-1] == (2, "2024-01-01T00:00:05Z")


def test_failing_hook_closes_the_session_and_retries() -> None:
    calls: List[int] = []

    def prepare(m: Any, last: Optional[str]) -> Any:
        calls.append(m.number)
        if m.number == 0:
            raise rpc_error()
        return None

    svc, connect, clock = fake_service(prepare_connection=prepare)
    waiting = svc.when_connected()
    svc.startService()
    m0 = connect.succeed()
    assert m0.closed_by_us == 1 and not waiting.called and svc.failures == 1
    clock.advance(2.0)
    m1 = connect.succeed()
    assert result_of(waiting) is m1 and calls == [0, 1]


def test_async_hook_is_waited_for() -> None:
    gate: "Deferred[None]" = Deferred()

    async def prepare(m: Any, last: Optional[str]) -> None:
        await gate

    svc, connect, clock = fake_service(prepare_connection=prepare)
    waiting = svc.when_connected()
    svc.startService()
    m = connect.succeed()
    assert not waiting.called
    gate.callback(None)
    assert result_of(waiting) is m


def test_when_connected_fail_after_failures_and_cancel() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    d2 = svc.when_connected(fail_after_failures=2)
    plain = svc.when_connected()
    cancelled = svc.when_connected()
    cancelled.cancel()
    assert isinstance(result_of(cancelled).value, CancelledError)
    connect.fail(AuthenticationError("denied"))
    assert not d2.called
    clock.advance(2.0)
    connect.fail(AuthenticationError("denied again"))
    assert isinstance(result_of(d2).value, AuthenticationError)
    assert isinstance(result_of(svc.when_connected(fail_after_failures=1)).value, AuthenticationError)
    assert not plain.called
    clock.advance(4.0)
    m = connect.succeed()
    assert result_of(plain) is m


def test_stop_cancels_a_pending_connect_and_the_retry_timer() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    waiting = svc.when_connected()
    stopped = svc.stopService()
    assert connect.calls[0].called  # cancelled
    assert result_of(stopped) is None
    assert isinstance(result_of(waiting).value, CancelledError)
    svc2, connect2, clock2 = fake_service()
    svc2.startService()
    connect2.fail(AuthenticationError("denied"))
    assert clock2.getDelayedCalls()
    result_of(svc2.stopService())
    assert not clock2.getDelayedCalls()
    clock2.advance(100)
    assert len(connect2.calls) == 1


def test_stop_closes_the_session_and_does_not_reconnect() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    m = connect.succeed()
    assert result_of(svc.stopService()) is None
    assert m.closed_by_us == 1 and svc.manager is None
    assert not clock.getDelayedCalls()
    assert isinstance(result_of(svc.when_connected()).value, CancelledError)
    assert len(connect.calls) == 1


def test_a_session_that_comes_up_after_stop_is_closed() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    pending = connect.calls[0]
    svc.stopService()
    assert pending.called
    # The real connect closes a session that comes up after cancel(); nothing else to do.
    assert svc.manager is None


def test_resubscribe_replays_when_it_can() -> None:
    m = FakeManager(0)
    hook = resubscribe()
    result_of(hook(m, None))
    result_of(hook(m, "2024-01-01T00:00:05Z"))
    m.replay_refused = True
    result_of(hook(m, "2024-01-01T00:00:09Z"))
    assert m.subscriptions == [None, "2024-01-01T00:00:05Z", None]


def test_many_under_one_multiservice() -> None:
    clock = task.Clock()
    connects = [FakeConnect() for _ in range(3)]
    inventory = MultiService()
    for i, c in enumerate(connects):
        ManagerService({"host": "192.0.2.%d" % i}, connect=c, clock=clock, name="dev%d" % i).setServiceParent(
            inventory
        )
    inventory.startService()
    assert [len(c.calls) for c in connects] == [1, 1, 1]
    ms = [c.succeed() for c in connects]
    assert result_of(inventory.getServiceNamed("dev1").when_connected()) is ms[1]
    result_of(defer.maybeDeferred(inventory.stopService))
    assert [m.closed_by_us for m in ms] == [1, 1, 1]


def test_bad_connect_kwargs_are_a_failed_attempt() -> None:
    def connect(**kw: Any) -> Any:
        raise TypeError("unexpected keyword")

    clock = task.Clock()
    svc = ManagerService({"host": "x"}, connect=connect, clock=clock, retry_policy=lambda n: 1.0)
    d = svc.when_connected(fail_after_failures=1)
    svc.startService()
    assert isinstance(result_of(d).value, TypeError)
    svc.stopService()


def test_a_session_closed_by_its_user_is_replaced() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    m0 = connect.succeed()
    m0.close_session()
    assert svc.manager is None and svc.failures == 1 and svc.last_error is None
    clock.advance(2.0)
    m1 = connect.succeed()
    assert result_of(svc.when_connected()) is m1
