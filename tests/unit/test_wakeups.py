"""The reactor's wake-ups of session threads: put off to after its turn, done by one
thread of their own; only the first write of a turn is the reactor's (Clock)."""

from __future__ import annotations

import threading
from typing import List

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ncclient_twisted.bridge.wakeups import Waker


class FakeSession:
    def __init__(self) -> None:
        self.woken_on: List[threading.Thread] = []

    def wake(self) -> None:
        self.woken_on.append(threading.current_thread())


class WakerTests(SynchronousTestCase):
    def test_a_burst_on_the_reactor_is_woken_after_the_turn_by_the_waker_thread(self) -> None:
        clock = Clock()
        waker = Waker(clock, on_reactor_thread=lambda: True)
        a, b = FakeSession(), FakeSession()
        self.assertTrue(waker.claim_direct_write())  # a lone request: the reactor writes it
        self.assertFalse(waker.claim_direct_write())  # a second one in the same turn: a burst
        self.assertTrue(waker.defer(a) and waker.defer(b) and waker.defer(a))
        self.assertEqual((a.woken_on, b.woken_on), ([], []))
        clock.advance(0)  # the turn is over
        waker.stop()  # joins the waker thread once it has done what it was given
        self.assertEqual((len(a.woken_on), len(b.woken_on)), (1, 1))
        self.assertEqual(a.woken_on[0].name, "ncclient_twisted-waker")
        self.assertTrue(waker.claim_direct_write())  # a new turn

    def test_other_threads_wake_and_write_themselves(self) -> None:
        clock = Clock()
        waker = Waker(clock, on_reactor_thread=lambda: False)
        self.assertFalse(waker.defer(FakeSession()))
        self.assertTrue(waker.claim_direct_write() and waker.claim_direct_write())
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_stop_wakes_what_is_left(self) -> None:
        waker = Waker(Clock(), on_reactor_thread=lambda: True)
        s = FakeSession()
        waker.defer(s)
        waker.stop()
        self.assertEqual(len(s.woken_on), 1)

    def test_after_stop_callers_wake_sessions_themselves(self) -> None:
        waker = Waker(Clock(), on_reactor_thread=lambda: True)
        waker.stop()
        self.assertFalse(waker.defer(FakeSession()))


def test_in_burst_once_the_turn_has_written_or_put_off_a_wake_up() -> None:
    clock = Clock()
    waker = Waker(clock, on_reactor_thread=lambda: True)
    assert not waker.in_burst()
    assert waker.claim_direct_write()
    assert waker.in_burst()
    clock.advance(0)  # a new turn
    assert not waker.in_burst()
    waker.defer(FakeSession())
    assert waker.in_burst()
    waker.stop()
    assert not Waker(clock, on_reactor_thread=lambda: False).in_burst()


def test_calls_from_the_reactor_run_on_the_waker_thread_in_order() -> None:
    waker = Waker(Clock(), on_reactor_thread=lambda: True)
    ran: List[object] = []
    for i in range(3):
        waker.call(lambda i=i: ran.append((i, threading.current_thread().name)))
    waker.stop()  # joins the thread once it has run what it was given
    assert ran == [(i, "ncclient_twisted-waker") for i in range(3)]
    waker.call(lambda: ran.append("after stop"))  # at once, on this thread
    assert ran[-1] == "after stop"
