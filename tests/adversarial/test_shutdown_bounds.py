"""The bounds a reactor shutdown relies on, as unit tests on a task.Clock (issue #21, point
3; the whole shutdown, in real processes, is ``test_shutdown.py``):

- a close already under way is bounded by a later ``close_session(timeout)`` (the one
  shutdown makes), not only by the timeout it started with;
- shutdown ends the connects under way on the pool, and waits for the sessions' closes
  at most SHUTDOWN_CLOSE_TIMEOUT + SHUTDOWN_CLOSE_GRACE from its start;
- a reactor session's close never waits for the reactor from another thread, and the
  manager closes it on the reactor (no pool hop).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List

from ncclient.devices.default import DefaultDeviceHandler
from ncclient.operations import TimeoutExpiredError
from twisted.internet import task
from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from ncclient_twisted.bridge.runtime import SHUTDOWN_CLOSE_GRACE, SHUTDOWN_CLOSE_TIMEOUT, Runtime
from ncclient_twisted.transport.reactor import session as reactor_session
from tests.support.bridge_fakes import FakeReactor, fake_manager


class CloseBoundTests(SynchronousTestCase):
    def test_a_close_under_way_is_bounded_by_a_later_shorter_timeout(self) -> None:
        m, s, clock = fake_manager(timeout=30)
        first = m.close_session()
        self.assertIn("close-session", s.sent[-1])
        self.assertNoResult(first)
        second = m.close_session(timeout=SHUTDOWN_CLOSE_TIMEOUT)
        clock.advance(SHUTDOWN_CLOSE_TIMEOUT)
        self.failureResultOf(first, TimeoutExpiredError)
        self.failureResultOf(second, TimeoutExpiredError)
        self.assertFalse(s.connected)  # the transport was closed all the same
        self.assertEqual(len(s.sent), 1)  # one close-session, not two
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_a_longer_timeout_does_not_lengthen_the_close(self) -> None:
        m, s, clock = fake_manager(timeout=30)
        d = m.close_session(timeout=1)
        later = m.close_session(timeout=10)
        clock.advance(1)
        self.failureResultOf(d, TimeoutExpiredError)
        self.failureResultOf(later, TimeoutExpiredError)  # the same outcome

    def test_a_reply_in_time_cancels_every_bound(self) -> None:
        m, s, clock = fake_manager(timeout=30)
        first = m.close_session()
        second = m.close_session(timeout=SHUTDOWN_CLOSE_TIMEOUT)
        s.reply(s.last_id())
        self.assertTrue(self.successResultOf(first).ok)
        self.assertTrue(self.successResultOf(second).ok)
        self.assertEqual(clock.getDelayedCalls(), [])


class ShutdownReactor(FakeReactor):
    """A Clock with shutdown triggers (called by the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.triggers: List[Any] = []

    def addSystemEventTrigger(self, phase: str, event: str, fn: Callable[..., Any], *args: Any) -> Any:
        self.triggers.append((phase, event, fn))
        return len(self.triggers)

    def removeSystemEventTrigger(self, trigger: Any) -> None:
        pass


class NeverCloses:
    """A manager whose close never ends (a peer that never lets go)."""

    def __init__(self) -> None:
        self.timeouts: List[Any] = []

    def close_session(self, timeout: Any = None) -> "Deferred[None]":
        self.timeouts.append(timeout)
        return Deferred()


class RuntimeShutdownTests(SynchronousTestCase):
    def test_shutdown_ends_the_connects_under_way(self) -> None:
        rt = Runtime(ShutdownReactor())
        ended: List[str] = []
        rt.track_connect(lambda: ended.append("a"))
        forget_b = rt.track_connect(lambda: ended.append("b"))
        forget_b()  # connected (or failed) before the shutdown
        self.assertIsNone(rt._close_all())
        self.assertEqual(ended, ["a"])
        # A connect that starts once shutdown has begun is ended at once.
        rt.track_connect(lambda: ended.append("c"))
        self.assertEqual(ended, ["a", "c"])

    def test_an_abort_that_fails_does_not_stop_the_others(self) -> None:
        rt = Runtime(ShutdownReactor())
        ended: List[str] = []
        rt.track_connect(lambda: 1 / 0)  # type: ignore[func-returns-value]
        rt.track_connect(lambda: ended.append("b"))
        rt._close_all()
        self.assertEqual(ended, ["b"])

    def test_shutdown_waits_for_the_closes_at_most_a_bound(self) -> None:
        reactor = ShutdownReactor()
        rt = Runtime(reactor)
        stuck = NeverCloses()
        rt.add(stuck)
        waited = rt._close_all()
        assert waited is not None
        self.assertEqual(stuck.timeouts, [SHUTDOWN_CLOSE_TIMEOUT])
        reactor.advance(SHUTDOWN_CLOSE_TIMEOUT + SHUTDOWN_CLOSE_GRACE - 0.01)
        self.assertNoResult(waited)
        reactor.advance(0.01)
        self.successResultOf(waited)

    def test_the_bound_counts_the_time_taken_to_send_the_close_sessions(self) -> None:
        reactor = ShutdownReactor()
        rt = Runtime(reactor)

        class SlowToClose(NeverCloses):
            def close_session(self, timeout: Any = None) -> "Deferred[None]":
                reactor.rightNow += 0.25  # the reactor's time building the request
                return super().close_session(timeout)

        for _ in range(2):
            rt.add(SlowToClose())
        waited = rt._close_all()
        assert waited is not None
        reactor.advance(SHUTDOWN_CLOSE_TIMEOUT + SHUTDOWN_CLOSE_GRACE - 0.5 - 0.01)
        self.assertNoResult(waited)
        reactor.advance(0.01)
        self.successResultOf(waited)

    def test_the_triggers_are_set_on_first_use_not_with_the_pool(self) -> None:
        from ncclient_twisted.bridge.runtime import runtime_for

        reactor = ShutdownReactor()
        rt = runtime_for(reactor)
        self.assertIsNone(rt._pool)
        phases = [(p, e) for p, e, _ in reactor.triggers]
        self.assertEqual(phases, [("before", "shutdown"), ("during", "shutdown")])


class ReactorSessionCloseTests(SynchronousTestCase):
    def test_close_from_another_thread_only_asks_the_reactor(self) -> None:
        clock = task.Clock()
        asked: List[Any] = []
        clock.callFromThread = lambda f, *a, **kw: asked.append(f)  # type: ignore[attr-defined]
        s = reactor_session.ReactorSession(DefaultDeviceHandler(), clock)
        s.hello.addErrback(lambda f: None)
        done = threading.Event()

        def close() -> None:
            s.close()  # would wait for ever if it waited for this (stopped) reactor
            done.set()

        t = threading.Thread(target=close)
        t.start()
        t.join(5)
        self.assertTrue(done.is_set())
        self.assertEqual(asked, [s._close_now])

    def test_the_manager_closes_a_reactor_session_on_the_reactor(self) -> None:
        m, s, clock = fake_manager(timeout=30)
        closed_here: List[bool] = []
        s.close_on_reactor = lambda: closed_here.append(True) or succeed(None)  # type: ignore[attr-defined]
        s.close = lambda: self.fail("closed on the pool")  # type: ignore[method-assign]
        d = m.close_session()
        s.reply(s.last_id())
        self.successResultOf(d)
        self.assertEqual(closed_here, [True])
