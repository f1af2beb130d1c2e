"""One error vocabulary on both transports (issue #21, point 7).

For every way a session ends, against the embedded server: the requests pending at the
end fail with the cause (``SessionCloseError``, ``NetconfFramingError``,
``KeepaliveTimeoutError``; ``TransportError`` for our own ``close_session``), ``m.connected``
is already ``False`` when the first errback runs, and every later request fails at once with
a plain ``TransportError`` whose ``__cause__`` is the reason the session ended.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Type

import pytest
import pytest_twisted
from ncclient import operations
from ncclient.operations.rpc import RaiseMode
from ncclient.transport.errors import NetconfFramingError, SessionCloseError, TransportError
from twisted.internet import defer
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from ncclient_twisted import KeepaliveTimeoutError, manager
from ncclient_twisted.bridge.jobs import BuildJob
from ncclient_twisted.testing import Fault
from tests.support.helpers import Resources, bounded
from tests.support.logevents import LogEvents, log_events  # noqa: F401
from tests.support.transports import on_both_transports


@pytest.fixture
def server(server: Any, io: str) -> Any:
    return on_both_transports(server, io)


class Seen:
    """What a request's errback saw: the exception and ``m.connected`` at that moment."""

    def __init__(self, m: manager.Manager) -> None:
        self.m = m
        self.errors: List[BaseException] = []
        self.connected: List[bool] = []

    def watch(self, d: "defer.Deferred[Any]") -> "defer.Deferred[Any]":
        def errback(f: Failure) -> None:
            self.errors.append(f.value)
            self.connected.append(self.m.connected)

        return d.addCallbacks(lambda r: pytest.fail("answered: %r" % (r,)), errback)


Arrange = Callable[[Any], None]
Trigger = Callable[[Any, manager.Manager, Dict[str, Any]], Awaitable[None]]


class Case(NamedTuple):
    """One way a session ends."""

    #: How the fault is arranged before the pending requests are sent (or None).
    arrange: Optional[Arrange]
    #: What is done once they are sent.
    trigger: Trigger
    #: The class every pending request fails with.
    pending: Type[BaseException]
    #: The class ``when_closed()`` fires with (None: our own close, it fires with None).
    reason: Optional[type]
    #: Connect keywords.
    connect: Dict[str, Any] = {}


async def _nothing(server: Any, m: manager.Manager, ctx: Dict[str, Any]) -> None:
    return None


async def _kill_from_another_session(server: Any, m: manager.Manager, ctx: Dict[str, Any]) -> None:
    killer = await bounded(manager.connect(**server.connect_kwargs()))
    try:
        await bounded(killer.kill_session(m.session_id))
    finally:
        await bounded(killer.close_session())


async def _stop_answering(server: Any, m: manager.Manager, ctx: Dict[str, Any]) -> None:
    server.stop_answering()
    ctx["resume"] = server.resume_answering


async def _our_close(server: Any, m: manager.Manager, ctx: Dict[str, Any]) -> None:
    ctx["closing"] = m.close_session()
    assert not m.connected  # closing already


def _fault(kind: str, *args: Any, **kw: Any) -> Arrange:
    """Add ``Fault.<kind>(*args, **kw)``, made afresh for each test (a fault counts its hits)."""
    return lambda server: server.faults.add(getattr(Fault, kind)(*args, **kw))


CASES: Dict[str, Case] = {
    "server_closes_mid_reply": Case(
        _fault("close_mid_reply", "get", count=1), _nothing, SessionCloseError, SessionCloseError
    ),
    "tcp_reset": Case(_fault("reset", "get", count=1), _nothing, SessionCloseError, SessionCloseError),
    "framing_error": Case(
        _fault("bad_chunk_header", "get", count=1), _nothing, NetconfFramingError, NetconfFramingError
    ),
    "kill_session": Case(
        _fault("no_reply", "get"), _kill_from_another_session, SessionCloseError, SessionCloseError
    ),
    "keepalive_timeout": Case(
        None,
        _stop_answering,
        KeepaliveTimeoutError,
        KeepaliveTimeoutError,
        {"keepalive": 0.2, "keepalive_count_max": 2},
    ),
    "our_close_session": Case(_fault("no_reply", "get"), _our_close, TransportError, None),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest_twisted.ensureDeferred
async def test_session_end_error_vocabulary(server: Any, case: str, log_events: LogEvents) -> None:
    resources = Resources()
    arrange, trigger, pending_class, reason_class, kwargs = CASES[case]
    m = await bounded(manager.connect(**server.connect_kwargs(**kwargs)))
    ctx: Dict[str, Any] = {}
    try:
        m.timeout = None  # only the end of the session fails the pending requests
        assert (await bounded(m.get_config(source="running"))).ok
        closed = m.when_closed()
        if arrange is not None:
            arrange(server)
        seen = Seen(m)
        # The first request meets the fault; the two behind it wait for their replies.
        pending = [seen.watch(m.get()) for _ in range(3)]
        await trigger(server, m, ctx)
        await bounded(defer.DeferredList(pending))
        assert len(seen.errors) == 3
        assert [type(e) for e in seen.errors] == [pending_class] * 3, seen.errors
        assert seen.connected == [False] * 3  # False from the first errback on
        reason = await bounded(closed)
        if reason_class is None:
            assert reason is None
        else:
            assert type(reason) is reason_class
        # Logged once, the same on both transports; nothing for our own close.
        ended = [(level, text) for _, level, text in log_events.records() if " ended: " in text]
        if reason is None:
            assert ended == []
        else:
            expected = (LogLevel.info, "session %s with 127.0.0.1 ended: %r" % (m.session_id, reason))
            assert ended == [expected]
        if "closing" in ctx:
            await bounded(ctx["closing"].addErrback(lambda _: None))
        assert not m.connected and m.pending_requests == 0

        # Later requests: a plain TransportError at once, the reason as its cause; one
        # alone and a burst, through every operation path.
        received = server._core.engine.statistics.in_rpcs
        start = time.monotonic()
        later = [m.get(), m.get_config(source="running"), m.edit_config("<config/>", target="running")]
        later += [m.get() for _ in range(20)]
        for d in later:
            with pytest.raises(TransportError) as info:
                await bounded(d, 5)
            assert type(info.value) is TransportError, repr(info.value)
            assert info.value.__cause__ is reason
        # A request that raced the end past the manager's check reaches the session itself:
        # its build job fails the same way on both transports.
        job = BuildJob(m._listener, m._new_rpc, operations.Get, (), {}, RaiseMode.ALL)
        m._session.submit(job)
        with pytest.raises(TransportError) as info:
            await bounded(job.deferred, 5)
        assert type(info.value) is TransportError and info.value.__cause__ is reason
        assert time.monotonic() - start < 2  # wall time is the property: at once
        # None of them left the process: the server received nothing more.
        assert server._core.engine.statistics.in_rpcs == received
    finally:
        if "resume" in ctx:
            ctx["resume"]()
        await bounded(m.close_session().addErrback(lambda _: None))
    await resources.assert_released()
