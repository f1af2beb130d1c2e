"""ManagerService's state machine: named states, one table of transitions, a second start
ignored with a warning (as Twisted's ClientService), events a state does not take ignored."""

from __future__ import annotations

from ncclient.transport.errors import AuthenticationError, SessionCloseError
from twisted.logger import LogLevel

from ncclient_twisted.service import State
from tests.support.logevents import LogEvents, log_events  # noqa: F401
from tests.support.service_fakes import fake_service, result_of


def test_each_state_in_turn() -> None:
    svc, connect, clock = fake_service()
    assert svc.state is State.STOPPED
    svc.startService()
    assert svc.state is State.CONNECTING
    m = connect.succeed()
    assert svc.state is State.CONNECTED and svc.manager is m
    m.lose(SessionCloseError(b""))
    assert svc.state is State.WAITING and svc.manager is None
    clock.advance(2.0)
    assert svc.state is State.CONNECTING and len(connect.calls) == 2
    connect.fail(AuthenticationError("no"))
    assert svc.state is State.WAITING and svc.failures == 2  # the end counted too
    result_of(svc.stopService())
    assert svc.state is State.STOPPED
    assert "stopped" in repr(svc) and "secret" not in repr(svc)


def test_a_second_start_is_ignored_with_a_warning(log_events: LogEvents) -> None:
    svc, connect, _ = fake_service()
    svc.startService()
    svc.startService()
    assert len(connect.calls) == 1
    warnings = log_events.messages("ncclient_twisted.service", LogLevel.warn)
    assert warnings == ["ManagerService for 192.0.2.1 port 830: duplicate startService call ignored"]
    connect.succeed()
    svc.startService()
    assert len(connect.calls) == 1 and svc.state is State.CONNECTED
    result_of(svc.stopService())


def test_stop_while_connecting_cancels_the_attempt() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    attempt = connect.calls[0]
    result_of(svc.stopService())
    assert attempt.called  # cancelled
    assert svc.manager is None and svc.state is State.STOPPED
    clock.advance(100)
    assert len(connect.calls) == 1


def test_stop_while_waiting_cancels_the_retry() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    connect.fail(AuthenticationError("no"))
    assert svc.state is State.WAITING and clock.getDelayedCalls()
    result_of(svc.stopService())
    assert not clock.getDelayedCalls()
    clock.advance(100)
    assert len(connect.calls) == 1 and svc.state is State.STOPPED


def test_stop_while_connected_closes_the_session_and_its_end_starts_nothing() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    m = connect.succeed()
    result_of(svc.stopService())
    assert m.closed_by_us == 1 and svc.state is State.STOPPED
    clock.advance(100)
    assert len(connect.calls) == 1


def test_stop_when_stopped_and_restart() -> None:
    svc, connect, _ = fake_service()
    assert result_of(svc.stopService()) is None
    assert svc.state is State.STOPPED
    svc.startService()
    assert svc.state is State.CONNECTING and len(connect.calls) == 1
    result_of(svc.stopService())


def test_events_a_state_does_not_take_are_ignored() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    svc._handle("retry_due")  # no timer runs while connecting
    svc._handle("session_ended", None)  # no session yet
    assert svc.state is State.CONNECTING and len(connect.calls) == 1
    result_of(svc.stopService())
    svc._handle("connected", object())
    assert svc.state is State.STOPPED and svc.manager is None


def test_a_waiter_that_stops_the_service_leaves_no_retry_timer() -> None:
    svc, connect, clock = fake_service()
    svc.startService()
    waiting = svc.when_connected(fail_after_failures=1)
    waiting.addErrback(lambda f: svc.stopService())
    connect.fail(AuthenticationError("no"))
    assert svc.state is State.STOPPED
    assert not clock.getDelayedCalls()
