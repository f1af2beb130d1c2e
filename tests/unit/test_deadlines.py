"""The manager's timeout: one timer for all its requests (Clock)."""

from __future__ import annotations

from typing import Any

from ncclient.operations import TimeoutExpiredError
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ncclient_twisted.bridge.deadlines import Deadlines


def timed_out(result: Any, timeout: float) -> Any:
    raise TimeoutExpiredError("timed out after %s" % timeout)


class DeadlinesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.deadlines = Deadlines(self.clock, timed_out)
        self.forgotten: list = []

    def request(self, timeout: float = 10) -> "Deferred[Any]":
        d: "Deferred[Any]" = Deferred(lambda _: self.forgotten.append(1))
        self.deadlines.add(d, timeout)
        return d

    def test_one_timer_for_many_requests_and_none_when_all_are_answered(self) -> None:
        ds = [self.request() for _ in range(100)]
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        for d in ds:
            d.callback("reply")
        self.assertEqual((self.clock.getDelayedCalls(), len(self.deadlines)), ([], 0))
        self.assertEqual(self.successResultOf(ds[0]), "reply")

    def test_each_times_out_at_its_own_deadline(self) -> None:
        first = self.request()
        self.clock.advance(4)
        second = self.request()
        self.clock.advance(5.9)
        self.assertNoResult(first)
        self.clock.advance(0.1)
        self.failureResultOf(first, TimeoutExpiredError)
        self.assertNoResult(second)
        self.assertEqual(self.forgotten, [1])  # its canceller ran: the request is forgotten
        self.clock.advance(4)
        self.failureResultOf(second, TimeoutExpiredError)
        self.assertEqual((self.clock.getDelayedCalls(), len(self.deadlines)), ([], 0))

    def test_answered_ones_in_front_do_not_delay_the_next_deadline(self) -> None:
        first = self.request()
        self.clock.advance(1)
        second = self.request()
        first.callback("reply")
        self.clock.advance(9.5)
        self.assertNoResult(second)
        self.clock.advance(0.5)
        self.failureResultOf(second, TimeoutExpiredError)

    def test_a_shorter_timeout_than_the_queue_gets_its_own_timer(self) -> None:
        long = self.request(10)
        short = self.request(1)
        self.clock.advance(1)
        self.failureResultOf(short, TimeoutExpiredError)
        self.assertNoResult(long)
        self.clock.advance(9)
        self.failureResultOf(long, TimeoutExpiredError)

    def test_cancel_is_not_a_timeout(self) -> None:
        from twisted.internet.defer import CancelledError

        d = self.request()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_a_slow_request_does_not_keep_the_answered_ones_behind_it(self) -> None:
        slow = self.request()
        for _ in range(5000):
            self.request().callback("a large reply")
        self.assertLess(len(self.deadlines), 1100)  # compacted: done entries dropped
        self.clock.advance(10)
        self.failureResultOf(slow, TimeoutExpiredError)
        self.assertEqual((self.clock.getDelayedCalls(), len(self.deadlines)), ([], 0))

    def test_many_expire_together_while_the_queue_is_compacted(self) -> None:
        waiting = [self.request() for _ in range(2000)]
        for d in waiting[1::2]:
            d.callback("reply")
        self.clock.advance(10)
        for d in waiting[0::2]:
            self.failureResultOf(d, TimeoutExpiredError)
        self.assertEqual((self.clock.getDelayedCalls(), len(self.deadlines)), ([], 0))
