"""The reactor transport's session (``transport.reactor.reactor_session.ReactorSession``) on a task.Clock:
a burst is worked through a slice per reactor turn, requests in submission order, and
what arrived before the end is handled before the end."""

from __future__ import annotations

from typing import Any, List

import pytest
from ncclient.devices.default import DefaultDeviceHandler
from ncclient.transport.errors import SessionCloseError
from ncclient.transport.notify import Notification
from ncclient.transport.session import SessionListener
from twisted.internet import task

from ncclient_twisted.transport.dispatch import UNUSED_QUEUE
from ncclient_twisted.transport.framing import EOM
from ncclient_twisted.transport.reactor import scheduler as reactor_scheduler
from ncclient_twisted.transport.reactor import session as reactor_session
from ncclient_twisted.transport.session_hooks import SessionHooks
from tests.support.transport_fakes import FakeLink, FakeTime

NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


class Recorder(SessionListener):
    def __init__(self) -> None:
        self.ids: List[str] = []

    def callback(self, root: Any, raw: str) -> None:
        self.ids.append(root[1].get("message-id"))

    def errback(self, ex: Exception) -> None:
        pass


class Job:
    def __init__(self, log: List[str], name: str) -> None:
        self.log, self.name = log, name

    def run(self) -> None:
        self.log.append("ran " + self.name)

    def fail(self, reason: Exception) -> None:
        self.log.append("failed %s: %s" % (self.name, type(reason).__name__))


def reply(n: int) -> bytes:
    return ('<rpc-reply xmlns="%s" message-id="%d"><ok/></rpc-reply>' % (NS, n)).encode() + EOM


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(reactor_scheduler, "WORK_SLICE", 0.0)  # one item a turn
    clock = task.Clock()
    s = reactor_session.ReactorSession(DefaultDeviceHandler(), clock)
    s.clock = clock
    s.recorder = Recorder()
    s.add_listener(s.recorder)
    s.hello.addErrback(lambda f: None)  # no hello in these tests
    return s


def next_turn(clock: task.Clock) -> None:
    """Run what is due now, but not what that schedules (Clock.advance would)."""
    due = [c for c in clock.getDelayedCalls() if c.getTime() <= clock.seconds()]
    for call in due:
        clock.calls.remove(call)
        call.func(*call.args, **call.kw)


def test_a_burst_of_replies_takes_one_slice_a_turn(session: Any) -> None:
    session.data_received(b"".join(reply(n) for n in range(5)))
    for turn in range(5):
        assert len(session.clock.getDelayedCalls()) == 1  # the rest: next turn
        next_turn(session.clock)
        assert session.recorder.ids == [str(n) for n in range(turn + 1)]
    assert not session.clock.getDelayedCalls()


def test_sessions_of_a_reactor_share_the_slice_round_robin(session: Any) -> None:
    other = reactor_session.ReactorSession(DefaultDeviceHandler(), session.clock)
    other.hello.addErrback(lambda f: None)
    other.add_listener(session.recorder)
    session.data_received(reply(1) + reply(2))
    other.data_received(reply(10) + reply(20))
    next_turn(session.clock)
    assert session.recorder.ids == ["1"]  # one item a turn for all sessions together
    while session.clock.getDelayedCalls():
        next_turn(session.clock)
    assert session.recorder.ids == ["1", "10", "2", "20"]


def test_jobs_run_in_order_after_the_messages_before_them(session: Any) -> None:
    log: List[str] = []
    session.data_received(reply(1) + reply(2))
    session.submit(Job(log, "a"))
    session.submit(Job(log, "b"))
    assert session.jobs_outstanding
    while session.clock.getDelayedCalls():
        session.clock.advance(0)
    assert session.recorder.ids == ["1", "2"] and log == ["ran a", "ran b"]
    assert not session.jobs_outstanding


def test_the_end_handles_what_arrived_first_and_fails_the_jobs_left(session: Any) -> None:
    log: List[str] = []
    ends: List[Any] = []
    session.add_end_callback(ends.append)
    session.data_received(reply(1) + reply(2) + reply(3))
    session.submit(Job(log, "a"))
    session.connection_lost(None)
    assert session.recorder.ids == ["1", "2", "3"]
    assert log == ["failed a: SessionCloseError"]
    assert len(ends) == 1 and isinstance(ends[0], SessionCloseError)
    session.submit(Job(log, "late"))
    # After the end: a plain TransportError (as on the threads transport), the reason its cause.
    assert log[-1] == "failed late: TransportError"


def test_a_close_we_asked_for_ends_with_no_error(session: Any) -> None:
    ends: List[Any] = []
    session.add_end_callback(ends.append)
    session.mark_closing()
    session.connection_lost(None)
    assert ends == [None] and not session.connected


def test_a_close_the_peer_never_completes_is_aborted_after_a_bound(session: Any) -> None:
    link = FakeLink()
    session.channel_opened(link)
    session.channel_ready()
    closed = session._close_now()
    assert link.drops == [False] and not closed.called
    session.clock.advance(reactor_session.CLOSE_ABORT_AFTER)
    assert link.drops == [False, True]
    session.connection_lost(None)  # what the abort brings
    assert closed.called and session.ended


def test_a_close_that_completes_is_not_aborted(session: Any) -> None:
    link = FakeLink()
    session.channel_opened(link)
    session.channel_ready()
    closed = session._close_now()
    session.connection_lost(None)
    session.clock.advance(reactor_session.CLOSE_ABORT_AFTER)
    assert link.drops == [False] and closed.called
    assert not session.clock.getDelayedCalls()


class Costly(SessionListener):
    """A listener each message costs *cost* seconds of the fake clock."""

    def __init__(self, now: FakeTime, cost: float) -> None:
        self.now, self.cost = now, cost
        self.ids: List[str] = []

    def callback(self, root: Any, raw: str) -> None:
        self.now.t += self.cost
        self.ids.append(root[1].get("message-id"))

    def errback(self, ex: Exception) -> None:
        pass


@pytest.fixture
def timed() -> Any:
    """(clock, fake time, make_session): sessions sharing one scheduler on the fake time."""
    clock, now = task.Clock(), FakeTime()
    scheduler = reactor_scheduler.WorkScheduler(clock, now)

    def make() -> reactor_session.ReactorSession:
        s = reactor_session.ReactorSession(DefaultDeviceHandler(), clock, scheduler=scheduler)
        s.hello.addErrback(lambda f: None)
        return s

    return clock, now, make


def test_work_in_short_pieces_never_waits_for_a_turn(timed: Any) -> None:
    clock, now, make = timed
    s = make()
    costly = Costly(now, 0.0001)
    s.add_listener(costly)
    for n in range(200):  # 0.1 ms of work every 0.4 ms, as sequential requests bring
        s.data_received(reply(n))
        assert not clock.getDelayedCalls(), n
        now.t += 0.0003
    assert len(costly.ids) == 200


def test_busy_work_with_pauses_between_never_waits_for_a_turn(timed: Any) -> None:
    # Sequential requests to a fast server: most of the time is the client's work, but
    # each reply comes after a pause in which the reactor was free (it polled).
    clock, now, make = timed
    s = make()
    costly = Costly(now, reactor_scheduler.WORK_SLICE * 0.6)
    s.add_listener(costly)
    for n in range(100):
        s.data_received(reply(n))
        assert not clock.getDelayedCalls(), n
        now.t += reactor_scheduler.IDLE_GAP
    assert len(costly.ids) == 100


def test_a_burst_yields_to_the_reactor_after_the_slice(timed: Any) -> None:
    clock, now, make = timed
    s = make()
    costly = Costly(now, reactor_scheduler.WORK_SLICE * 0.26)
    s.add_listener(costly)
    for n in range(8):  # back to back: two slices of work, a slice used after four
        s.data_received(reply(n))
    assert len(costly.ids) == 4 and len(clock.getDelayedCalls()) == 1
    next_turn(clock)
    assert costly.ids == [str(n) for n in range(8)] and not clock.getDelayedCalls()


class Answer(SessionListener):
    """Sends *count* requests for each message, noting the link's flushes after each."""

    def __init__(self, session: reactor_session.ReactorSession, link: FakeLink, count: int) -> None:
        self.session, self.link, self.count = session, link, count
        self.flushes: List[int] = []

    def callback(self, root: Any, raw: str) -> None:
        for _ in range(self.count):
            self.session.send("<rpc/>")
            self.flushes.append(self.link.flushes)

    def errback(self, ex: Exception) -> None:
        pass


def test_an_answer_to_a_reply_is_flushed_at_once_and_the_rest_when_the_work_ends(timed: Any) -> None:
    clock, now, make = timed
    s, link = make(), FakeLink()
    s.channel_opened(link)
    s.channel_ready()
    answer = Answer(s, link, 3)
    s.add_listener(answer)
    s.data_received(reply(1))
    assert answer.flushes == [1, 1, 1]  # the first at once
    assert link.flushes == 2  # the two others together, when the reply's work ended
    assert not clock.getDelayedCalls()


class SendJob:
    def __init__(self, session: reactor_session.ReactorSession) -> None:
        self.session = session

    def run(self) -> None:
        self.session.send("<rpc/>")

    def fail(self, reason: Exception) -> None:
        raise AssertionError(reason)


def test_a_callers_burst_of_requests_is_left_to_the_reactors_next_poll(timed: Any) -> None:
    clock, now, make = timed
    s, link = make(), FakeLink()
    s.channel_opened(link)
    s.channel_ready()
    for _ in range(3):
        s.submit(SendJob(s))
    assert len(link.written) == 4 and link.flushes == 0  # the hello and three requests


def test_a_session_waiting_for_a_turn_reads_nothing_more_until_it_has_caught_up(timed: Any) -> None:
    clock, now, make = timed
    s, link = make(), FakeLink()
    s.channel_opened(link)
    s.channel_ready()
    costly = Costly(now, reactor_scheduler.WORK_SLICE * 0.6)
    s.add_listener(costly)
    s.data_received(reply(1) + reply(2) + reply(3))
    assert costly.ids == ["1", "2"] and link.paused == [True]
    next_turn(clock)
    assert costly.ids == ["1", "2", "3"] and link.paused == [True, False]


def test_calls_run_within_the_budget_in_order_and_a_failing_one_stops_nothing(timed: Any) -> None:
    clock, now, make = timed
    scheduler = make().scheduler
    ran: List[int] = []

    def costly(n: int) -> Any:
        def call() -> None:
            now.t += reactor_scheduler.WORK_SLICE * 0.6
            ran.append(n)
            if n == 2:
                raise RuntimeError("a connect's setup that fails")

        return call

    for n in range(5):
        scheduler.call(costly(n))
    assert ran == [0, 1]  # the budget is used: the rest wait for a turn
    while clock.getDelayedCalls():
        next_turn(clock)
    assert ran == [0, 1, 2, 3, 4]


def test_a_subsystem_answer_after_the_connect_was_given_up_is_ignored(session: Any) -> None:
    # A cancelled connect ends the session while the server's answer to the subsystem
    # request may still be on its way (read in the same turn).
    link = FakeLink()
    session.channel_opened(link)
    session.connection_lost(None)
    session.channel_ready()
    assert link.written == [] and not session.connected


NOTIFICATION = (
    b'<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">'
    b"<eventTime>2024-01-01T00:00:00Z</eventTime><event xmlns='urn:example'/></notification>"
) + EOM


def test_with_a_notification_router_no_session_keeps_ncclients_queues(session: Any) -> None:
    router = Recorder()
    hooks = SessionHooks()
    hooks.notifications = router
    made = [reactor_session.ReactorSession(DefaultDeviceHandler(), session.clock, hooks) for _ in range(2)]
    for s in made:
        s.hello.addErrback(lambda f: None)
        assert s._q is s._notification_q is UNUSED_QUEUE
    with pytest.raises(RuntimeError):
        made[0]._notification_q.put("x")  # nothing reaches another session through it
    assert made[0].take_notification(False, None) is None
    made[0].channel_opened(FakeLink())
    assert router in made[0]._listeners  # the router, in the place of ncclient's handler
    made[0].data_received(NOTIFICATION)
    while session.clock.getDelayedCalls():
        session.clock.advance(0)
    assert router.ids == [None]
    made[0].connection_lost(None)


def test_without_a_router_ncclients_notification_queue_is_the_sessions_own(session: Any) -> None:
    assert session._q is UNUSED_QUEUE  # send writes to the link
    assert session._notification_q is not UNUSED_QUEUE
    session.channel_opened(FakeLink())
    session.data_received(NOTIFICATION)
    while session.clock.getDelayedCalls():
        session.clock.advance(0)
    n = session.take_notification(False, None)
    assert isinstance(n, Notification) and "urn:example" in n.notification_xml
    session.connection_lost(None)
