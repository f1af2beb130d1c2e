"""What ManagerService's tests share: a fake connect function the test answers, the fake
managers it returns, a retry policy that tells the test when it is asked."""

from __future__ import annotations

from typing import Any, List, Optional

from ncclient.operations import RPCError
from ncclient.xml_ import to_ele
from twisted.internet import defer, task
from twisted.internet.defer import Deferred

from ncclient_twisted import ManagerService
from tests.support.helpers import reactor


def rpc_error() -> RPCError:
    return RPCError(
        to_ele(
            '<rpc-error xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            "<error-type>protocol</error-type><error-tag>operation-failed</error-tag>"
            "<error-severity>error</error-severity></rpc-error>"
        )
    )



class FakeManager:
    def __init__(self, number: int) -> None:
        self.number = number
        self.connected = True
        self.closed_by_us = 0
        self.last_event_time: Optional[str] = None
        self.subscriptions: List[Optional[str]] = []
        self.replay_refused = False
        self._closed: List["Deferred[Any]"] = []

    def when_closed(self) -> "Deferred[Any]":
        d: "Deferred[Any]" = Deferred()
        self._closed.append(d)
        return d

    def lose(self, reason: Exception) -> None:
        self.connected = False
        for d in self._closed:
            d.callback(reason)

    def close_session(self, timeout: Optional[float] = None) -> "Deferred[Any]":
        self.closed_by_us += 1
        if self.connected:
            self.connected = False
            for d in self._closed:
                d.callback(None)
        return defer.succeed(None)

    def create_subscription(
        self, filter: Any = None, stream_name: Any = None, start_time: Any = None
    ) -> "Deferred[Any]":
        if start_time is not None and self.replay_refused:
            return defer.fail(rpc_error())
        self.subscriptions.append(start_time)
        return defer.succeed(None)



class FakeConnect:
    """Each call returns a Deferred the test fires (or fails) itself."""

    def __init__(self) -> None:
        self.calls: List[Deferred[Any]] = []
        self.kwargs: List[dict] = []
        self.managers: List[FakeManager] = []

    def __call__(self, **kw: Any) -> "Deferred[Any]":
        self.kwargs.append(kw)
        d: "Deferred[Any]" = Deferred(lambda d: None)
        self.calls.append(d)
        return d

    def succeed(self) -> FakeManager:
        m = FakeManager(len(self.managers))
        self.managers.append(m)
        self.calls[-1].callback(m)
        return m

    def fail(self, e: Exception) -> None:
        self.calls[-1].errback(e)



def fake_service(**kw: Any) -> "tuple[ManagerService, FakeConnect, task.Clock]":
    clock = task.Clock()
    connect = FakeConnect()
    kw.setdefault("retry_policy", lambda n: 2.0 ** n)
    svc = ManagerService({"host": "192.0.2.1", "password": "secret"}, connect=connect, clock=clock, **kw)
    return svc, connect, clock



def result_of(d: "Deferred[Any]") -> Any:
    out: List[Any] = []
    d.addBoth(out.append)
    assert out, "the Deferred has not fired"
    return out[0]


class Policy:
    """A retry policy (1 s, 2 s, 4 s ...) that tells the test each time it is asked."""

    def __init__(self) -> None:
        self.asked: List[int] = []
        self._waiting: List["defer.Deferred[int]"] = []

    def __call__(self, failures: int) -> float:
        self.asked.append(failures)
        waiting, self._waiting = self._waiting, []
        for d in waiting:  # once the service has scheduled its retry
            reactor().callLater(0, d.callback, failures)
        return 2.0 ** (failures - 1)

    def next_failure(self) -> "defer.Deferred[int]":
        d: "defer.Deferred[int]" = defer.Deferred()
        self._waiting.append(d)
        return d
