"""The caller's thread writes a lone small request itself; everything else is queued for
the session thread, in order (unit tests with a fake transport)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ncclient_twisted.transport.dispatch import UNUSED_QUEUE
from ncclient_twisted.transport.threads.session import DIRECT_WRITE_MAX
from tests.support.transport_fakes import FakeTransportSession, SettableHooks


@pytest.fixture
def session() -> Any:
    s = FakeTransportSession()
    yield s
    s.close_wake_pipe()


def frame(text: str) -> bytes:
    return b"\n#%d\n%s\n##\n" % (len(text.encode()), text.encode())


def test_a_lone_request_is_written_by_the_caller(session: Any) -> None:
    session.hooks.allowed = True
    session.send("<rpc/>")
    assert session.sent() == frame("<rpc/>")
    assert session.writers == [threading.current_thread()]
    assert session._q.empty() and session.wakes == 0


def test_with_requests_in_flight_it_is_queued_for_the_session_thread(session: Any) -> None:
    session.hooks.allowed = False
    session.send("<a/>")
    session.send("<b/>")
    assert session.writes == [] and session.wakes == 1  # one wake-up for the burst
    session._write_some()
    assert session.writes == [frame("<a/>") + frame("<b/>")]  # one write for both


def test_nothing_overtakes_what_is_queued(session: Any) -> None:
    session.hooks.allowed = False
    session.send("<first/>")
    session.hooks.allowed = True
    session.send("<second/>")  # the queue is not empty: queued behind the first
    session._write_some()
    assert session.sent() == frame("<first/>") + frame("<second/>")


def test_a_partial_write_leaves_the_rest_to_the_session_thread_first(session: Any) -> None:
    session.hooks.allowed = True
    session.take = 5
    session.send("<one/>")
    assert session.wakes == 1 and session._out
    session.take = None
    session.send("<two/>")  # half of <one/> is still out: queued
    session._write_some()
    assert session.sent() == frame("<one/>") + frame("<two/>")


def test_large_messages_and_busy_transports_go_through_the_session_thread(session: Any) -> None:
    session.hooks.allowed = True
    session.send("<x>%s</x>" % ("y" * DIRECT_WRITE_MAX))
    session.ready = False
    session._write_some()
    session.send("<small/>")
    assert len(session.writes) == 1 and session._q.qsize() == 1


def test_a_failed_direct_write_is_left_to_the_session_thread(session: Any) -> None:
    session.hooks.allowed = True
    session.fail = OSError("Socket is closed")
    session.send("<rpc/>")
    assert session._q.qsize() == 1 and session.wakes == 1


def test_the_session_thread_writing_means_the_caller_queues(session: Any) -> None:
    session.hooks.allowed = True
    with session._write_lock:  # as while the loop writes
        session.send("<rpc/>")
    assert session.writes == [] and session._q.qsize() == 1


def test_the_send_queue_is_the_sessions_and_with_a_router_not_the_notification_queue(session: Any) -> None:
    assert session._q is not UNUSED_QUEUE and session._notification_q is not UNUSED_QUEUE
    hooks = SettableHooks()
    hooks.notifications = object()  # a router: ncclient's notification queue is never filled
    routed = FakeTransportSession(hooks)
    try:
        assert routed._notification_q is UNUSED_QUEUE and routed._q is not UNUSED_QUEUE
        with pytest.raises(RuntimeError):
            routed._notification_q.put("x")
        assert routed.take_notification(False, None) is None
    finally:
        routed.close_wake_pipe()
