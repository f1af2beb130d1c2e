"""The session's ordered path to the reactor: order kept, one wake-up per batch."""

from __future__ import annotations

import threading
from typing import Any, Callable, List

from ncclient_twisted.bridge.handoff import Handoff, batch


class QueueingReactor:
    """Collects callFromThread calls; the test runs them as the reactor would."""

    def __init__(self) -> None:
        self.calls: List[Callable[[], Any]] = []

    def callFromThread(self, f: Callable[..., Any], *args: Any) -> None:
        self.calls.append(lambda: f(*args))

    def run(self) -> None:
        calls, self.calls = self.calls, []
        for c in calls:
            c()


def test_calls_run_in_order_and_a_burst_costs_one_wakeup() -> None:
    reactor = QueueingReactor()
    h = Handoff(reactor)
    seen: List[Any] = []
    for i in range(5):
        h.call(seen.append, i)
    assert len(reactor.calls) == 1
    reactor.run()
    assert seen == [0, 1, 2, 3, 4]
    h.call(seen.append, 5)
    assert len(reactor.calls) == 1


def test_a_batch_holds_wakeups_until_it_ends_and_keeps_order_across_handoffs() -> None:
    reactor = QueueingReactor()
    replies, notifications = Handoff(reactor), Handoff(reactor)
    seen: List[Any] = []
    with batch():
        notifications.call(seen.append, "n1")
        replies.call(seen.append, "r1")
        notifications.call(seen.append, "n2")
        with batch():  # nested: the outer one flushes
            replies.call(seen.append, "r2")
        assert reactor.calls == []
    assert len(reactor.calls) == 2
    reactor.run()
    # one hand-off per session is what keeps wire order; two keep order within each
    assert seen == ["n1", "n2", "r1", "r2"]


def test_one_shared_handoff_keeps_wire_order_inside_a_batch() -> None:
    reactor = QueueingReactor()
    h = Handoff(reactor)
    seen: List[Any] = []
    with batch():
        for item in ("n1", "r1", "n2", "r2"):
            h.call(seen.append, item)
    assert len(reactor.calls) == 1
    reactor.run()
    assert seen == ["n1", "r1", "n2", "r2"]


def test_batches_are_per_thread() -> None:
    reactor = QueueingReactor()
    h = Handoff(reactor)
    seen: List[Any] = []
    with batch():
        t = threading.Thread(target=h.call, args=(seen.append, "other thread"))
        t.start()
        t.join(10)
        assert len(reactor.calls) == 1  # the other thread was not inside this batch
    reactor.run()
    assert seen == ["other thread"]
