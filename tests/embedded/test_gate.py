"""The session threads of one reactor take turns (one lock) for the Python work of a
message or a request; big messages and the application's own listeners go around it."""

from __future__ import annotations

from typing import Any, List, Optional

import pytest
import pytest_twisted
from ncclient.transport.session import SessionListener
from twisted.internet import defer

from ncclient_twisted.bridge.gate import GATED_MESSAGE_MAX
from ncclient_twisted.bridge.runtime import runtime_for
from tests.support.helpers import bounded, built_where
from tests.support.transport_fakes import FakeTransportSession, SettableHooks
from tests.support.transports import connect

NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


class RecordingGate:
    """A gate that remembers whether it is held."""

    def __init__(self) -> None:
        self.held = False
        self.entered = 0

    def __enter__(self) -> bool:
        assert not self.held, "the gate is not re-entered"
        self.held = True
        self.entered += 1
        return True

    def __exit__(self, *exc_info: Any) -> Optional[bool]:
        self.held = False
        return None


class Seen(SessionListener):
    """Records whether the gate was held when each message reached it."""

    def __init__(self, gate: RecordingGate, gated: bool) -> None:
        self.gate = gate
        self.gated = gated
        self.held: List[bool] = []

    def callback(self, root: Any, raw: str) -> None:
        self.held.append(self.gate.held)

    def errback(self, ex: Exception) -> None:
        pass


@pytest.fixture
def session() -> Any:
    s = FakeTransportSession(SettableHooks(gate=RecordingGate(), gate_max=GATED_MESSAGE_MAX))
    yield s
    s.close_wake_pipe()


def reply(body: str = "<ok/>") -> str:
    return '<rpc-reply xmlns="%s" message-id="1">%s</rpc-reply>' % (NS, body)


def test_our_listeners_get_a_message_under_the_gate_others_around_it(session: Any) -> None:
    ours, theirs = Seen(session._gate, gated=True), Seen(session._gate, gated=False)
    session.add_listener(ours)
    session.add_listener(theirs)
    session._dispatch_message(reply())
    assert (ours.held, theirs.held) == ([True], [False])


def test_a_big_message_is_dispatched_without_the_gate(session: Any) -> None:
    ours = Seen(session._gate, gated=True)
    session.add_listener(ours)
    session._dispatch_message(reply("<data>%s</data>" % ("x" * GATED_MESSAGE_MAX)))
    assert ours.held == [False]
    assert session._gate.entered == 0


def test_requests_are_built_under_the_gate(session: Any) -> None:
    held: List[bool] = []

    class Job:
        def run(self) -> None:
            held.append(session._gate.held)

        def fail(self, reason: Exception) -> None:
            raise AssertionError("not expected")

    for _ in range(3):
        session.submit(Job())
    session._run_jobs()
    assert held == [True, True, True]
    assert not session.jobs_outstanding


def test_without_a_gate_nothing_is_taken() -> None:
    gate = RecordingGate()
    session = FakeTransportSession(SettableHooks(gate=None, gate_max=GATED_MESSAGE_MAX))
    try:
        ours = Seen(gate, gated=True)
        session.add_listener(ours)
        session._dispatch_message(reply())
        assert ours.held == [False] and gate.entered == 0
    finally:
        session.close_wake_pipe()


# io="threads": the threads transport's gate (io="reactor" sessions have no thread to gate).


@pytest_twisted.ensureDeferred
async def test_the_sessions_of_a_reactor_share_its_gate(server: Any) -> None:
    from twisted.internet import reactor

    async with await connect(server, io="threads") as a, await connect(server, io="threads") as b:
        assert a._session._gate is b._session._gate is runtime_for(reactor).gate
        # Replies on both sessions at once, each routed to its request.
        ds = [m.get_config(source="running") for m in (a, b) for _ in range(20)]
        replies = await bounded(defer.gatherResults(ds))
        assert len(replies) == 40 and all(r.ok for r in replies)
        assert (a.pending_requests, b.pending_requests) == (0, 0)


@pytest_twisted.ensureDeferred
async def test_in_a_burst_only_the_first_request_is_built_by_the_reactor(server: Any) -> None:
    async with await connect(server, io="threads") as a, await connect(server, io="threads") as b:
        where_a, where_b = built_where(a), built_where(b)
        # Two sessions, one request each, in one turn: the first is built and written
        # by the reactor, the second would be queued anyway, so its session builds it.
        await bounded(defer.gatherResults([a.get_config(source="running"), b.get_config(source="running")]))
        assert (where_a, where_b) == (["caller"], ["session"])
        await bounded(b.get_config(source="running"))  # a new turn: alone again
        assert where_b == ["session", "caller"]
