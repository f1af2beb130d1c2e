"""Unit tests of the bridge's own logic: a fake session, time from a task.Clock."""

from __future__ import annotations

import re
import threading
from typing import Any, Callable, List, Optional

import pytest
from ncclient.capabilities import Capabilities
from ncclient.manager import make_device_handler
from ncclient.operations import MissingCapabilityError, RaiseMode, RPCError, TimeoutExpiredError
from ncclient.operations.retrieve import GetReply
from ncclient.transport.errors import SessionCloseError, TransportError
from ncclient.xml_ import parse_root
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ncclient_twisted.bridge.handoff import Handoff
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import Runtime
from ncclient_twisted.manager import Manager
from ncclient_twisted.notifications import NotificationQueue
from ncclient_twisted.subscriptions import NotificationRouter

CAPS = [
    "urn:ietf:params:netconf:base:1.0",
    "urn:ietf:params:netconf:base:1.1",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:startup:1.0",
    "urn:ietf:params:netconf:capability:notification:1.0",
]
NS = 'xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"'


class FakeReactor(Clock):
    """A Clock that runs callFromThread calls at once (the 'session thread' is the test)."""

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kw: Any) -> None:
        f(*args, **kw)


class InlineRuntime(Runtime):
    """Runs 'blocking' work at once, in the test's thread."""

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "Deferred[Any]":
        return maybeDeferred(fn, *args, **kwargs)


class FakeSession:
    """Just what ncclient's RPCs and our manager use of a session."""

    def __init__(self) -> None:
        self._listeners: set = set()
        self._lock = threading.Lock()
        self.sent: List[str] = []
        self.server_capabilities = Capabilities(CAPS)
        self._server_capabilities = self.server_capabilities
        self._client_capabilities = Capabilities(CAPS)
        self.connected = True
        self.id = "7"
        self.host = "fake"
        self.ended = False
        self.end_reason: Optional[Exception] = None
        self.bytes_received = self.bytes_sent = 0
        self._closing = threading.Event()
        self._end: List[Callable[[Optional[Exception]], None]] = []

    #: As a session's thread would, the fake runs a submitted job at once.
    submit_always = False
    jobs_outstanding = False

    def submit(self, job: Any) -> None:
        job.run()

    def mark_closing(self) -> None:
        self._closing.set()

    def add_listener(self, listener: Any) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: Any) -> None:
        self._listeners.discard(listener)

    def get_listener_instance(self, cls: type) -> Any:
        for listener in self._listeners:
            if isinstance(listener, cls):
                return listener
        return None

    def close(self) -> None:
        self.connected = False

    def add_end_callback(self, fn: Callable[[Optional[Exception]], None]) -> None:
        self._end.append(fn)

    def send(self, message: str) -> None:
        if not self.connected:
            raise TransportError("Not connected to NETCONF server")
        self.sent.append(message)

    # -- test helpers --
    def last_id(self, index: int = -1) -> str:
        m = re.search(r'message-id="([^"]+)"', self.sent[index])
        assert m is not None
        return m.group(1)

    def reply(self, msgid: Optional[str], body: str = "<ok/>") -> None:
        attr = ' message-id="%s"' % msgid if msgid is not None else ""
        raw = "<rpc-reply %s%s>%s</rpc-reply>" % (NS, attr, body)
        for listener in list(self._listeners):
            listener.callback(parse_root(raw), raw)

    def die(self, reason: Optional[Exception]) -> None:
        self.connected = False
        self.ended = True
        self.end_reason = reason
        for listener in list(self._listeners):
            listener.errback(reason) if reason else None
        for fn in self._end:
            fn(reason)


def error(severity: str = "error", message: str = "boom", tag: str = "operation-failed") -> str:
    return (
        "<rpc-error><error-type>application</error-type><error-tag>%s</error-tag>"
        "<error-severity>%s</error-severity><error-message>%s</error-message></rpc-error>"
        % (tag, severity, message)
    )


def make(
    timeout: Optional[float] = 30,
    raise_mode: int = RaiseMode.ALL,
    device_params: Any = None,
    ignore_errors: Any = None,
    listener_class: "type[DeferredReplyListener]" = DeferredReplyListener,
    session_class: "Optional[type[FakeSession]]" = None,
) -> "tuple[Manager, FakeSession, FakeReactor]":
    reactor = FakeReactor()
    session = (session_class or FakeSession)()
    dh = make_device_handler(device_params, ignore_errors)
    handoff = Handoff(reactor)
    listener = listener_class.install(session, dh, reactor, handoff)
    m = Manager(
        session,  # type: ignore[arg-type]
        dh,
        timeout=timeout,
        raise_mode=raise_mode,
        reactor=reactor,
        listener=listener,
        notifications=NotificationRouter(reactor, NotificationQueue(reactor, 3), 3, handoff),
        runtime=InlineRuntime(reactor),
    )
    return m, session, reactor


class ReplyRoutingTests(SynchronousTestCase):
    def test_reply_fires_deferred_with_getreply(self) -> None:
        m, s, _ = make()
        d = m.get_config(source="running")
        self.assertNoResult(d)
        s.reply(s.last_id(), "<data><x>1</x></data>")
        reply = self.successResultOf(d)
        self.assertIsInstance(reply, GetReply)
        self.assertIn("<x>1</x>", reply.data_xml)
        self.assertEqual(m.pending_requests, 0)

    def test_out_of_order_replies_reach_the_right_deferred(self) -> None:
        m, s, _ = make()
        ds = [m.get(filter=("subtree", "<n%d/>" % i)) for i in range(5)]
        ids = [s.last_id(i) for i in range(5)]
        for i in (3, 0, 4, 1, 2):
            s.reply(ids[i], "<data><v>%d</v></data>" % i)
        for i, d in enumerate(ds):
            self.assertIn("<v>%d</v>" % i, self.successResultOf(d).data_xml)

    def test_unknown_message_id_is_dropped_and_session_goes_on(self) -> None:
        m, s, _ = make()
        s.reply("urn:uuid:never-sent")
        s.reply(None)
        self.assertEqual(m.replies_dropped, 2)
        d = m.lock()
        s.reply(s.last_id())
        self.successResultOf(d)

    def test_timeout_errbacks_with_timeoutexpired_and_forgets(self) -> None:
        m, s, clock = make(timeout=5)
        d = m.get()
        msgid = s.last_id()
        clock.advance(4.9)
        self.assertNoResult(d)
        clock.advance(0.2)
        self.failureResultOf(d, TimeoutExpiredError)
        self.assertEqual(m.pending_requests, 0)
        s.reply(msgid)  # the late reply
        self.assertEqual(m.replies_dropped, 1)
        d2 = m.get()
        s.reply(s.last_id(), "<data/>")
        self.successResultOf(d2)

    def test_timeout_attribute_changes_later_requests(self) -> None:
        m, s, clock = make(timeout=5)
        m.timeout = None
        d = m.get()
        clock.advance(1000)
        self.assertNoResult(d)
        d.cancel()
        self.failureResultOf(d, CancelledError)

    def test_cancel_errbacks_with_cancelled_and_late_reply_is_dropped(self) -> None:
        m, s, _ = make()
        d = m.edit_config(target="candidate", config="<config %s><a/></config>" % NS)
        msgid = s.last_id()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(m.pending_requests, 0)
        s.reply(msgid)
        self.assertEqual(m.replies_dropped, 1)

    def test_reply_racing_a_cancel_is_dropped_once(self) -> None:
        # The reply is on its way to the reactor when the caller cancels.
        m, s, _ = make()
        reactor = m._reactor
        queued: List[Any] = []
        reactor.callFromThread = lambda f, *a, **k: queued.append((f, a, k))  # type: ignore
        d = m.get()
        s.reply(s.last_id(), "<data/>")
        d.cancel()
        for f, a, k in queued:
            f(*a, **k)
        self.failureResultOf(d, CancelledError)
        self.assertEqual(m.replies_dropped, 1)

    def test_request_that_cannot_be_built_fails_and_leaks_nothing(self) -> None:
        m, s, _ = make()
        d = m.edit_config(config="<not-config/>")
        self.failureResultOf(d)
        self.assertEqual(m.pending_requests, 0)
        self.assertEqual(len(m._listener._id2rpc), 0)

    def test_unknown_operation_goes_out_as_generic_rpc(self) -> None:
        m, s, _ = make()
        d = m.get_chassis_inventory()
        self.assertIn("get-chassis-inventory", s.sent[-1])
        s.reply(s.last_id())
        self.assertTrue(self.successResultOf(d).ok)

    def test_operations_table_names_return_deferreds(self) -> None:
        m, s, _ = make()
        # A capability check failing is a failed Deferred, not an exception.
        d = m.poweroff_machine()
        self.failureResultOf(d, MissingCapabilityError)
        self.assertEqual(s.sent, [])
        self.assertEqual(m.pending_requests, 0)


class RaiseModeTests(SynchronousTestCase):
    CASES = [
        # (raise_mode, errors in reply, should fail)
        (RaiseMode.ALL, [error("error")], True),
        (RaiseMode.ALL, [error("warning")], True),
        (RaiseMode.ERRORS, [error("error")], True),
        (RaiseMode.ERRORS, [error("warning")], False),
        (RaiseMode.ERRORS, [error("warning"), error("error")], True),  # not only the first
        (RaiseMode.NONE, [error("error")], False),
        (RaiseMode.NONE, [error("error"), error("error")], False),
    ]

    def test_table(self) -> None:
        for mode, errors, fails in self.CASES:
            m, s, _ = make(raise_mode=mode)
            d = m.commit()
            s.reply(s.last_id(), "".join(errors))
            if fails:
                f = self.failureResultOf(d, RPCError)
                if len(errors) > 1:
                    self.assertEqual(len(f.value.errlist), len(errors))
            else:
                reply = self.successResultOf(d)
                self.assertFalse(reply.ok)
                self.assertEqual(len(reply.errors), len(errors))

    def test_raise_mode_attribute(self) -> None:
        m, s, _ = make(raise_mode=RaiseMode.ALL)
        m.raise_mode = RaiseMode.NONE
        d = m.commit()
        s.reply(s.last_id(), error())
        self.assertFalse(self.successResultOf(d).ok)

    def test_single_error_is_ncclients_rpcerror(self) -> None:
        m, s, _ = make()
        d = m.lock("running")
        s.reply(s.last_id(), error(message="locked by 12", tag="lock-denied"))
        err = self.failureResultOf(d, RPCError).value
        self.assertEqual(err.tag, "lock-denied")
        self.assertEqual(err.message, "locked by 12")

    def test_ignore_errors_exempts(self) -> None:
        m, s, _ = make(ignore_errors=["harmless*"])
        d = m.commit()
        s.reply(s.last_id(), error(message="harmless thing"))
        self.successResultOf(d)
        d = m.commit()
        s.reply(s.last_id(), error(message="harmless thing") + error(message="real"))
        self.assertEqual(self.failureResultOf(d, RPCError).value.message, "real")


class SessionEndTests(SynchronousTestCase):
    def test_pending_fail_at_once_and_when_closed_fires_with_reason(self) -> None:
        m, s, _ = make(timeout=None)
        ds = [m.get() for _ in range(3)]
        closed = m.when_closed()
        reason = SessionCloseError(b"")
        s.die(reason)
        for d in ds:
            self.assertIs(self.failureResultOf(d, SessionCloseError).value, reason)
        self.assertIs(self.successResultOf(closed), reason)
        self.assertIs(self.successResultOf(m.when_closed()), reason)
        self.assertFalse(m.connected)
        self.assertEqual(m.pending_requests, 0)

    def test_requests_after_the_end_fail_at_once(self) -> None:
        m, s, _ = make()
        s.die(SessionCloseError(b""))
        self.failureResultOf(m.get(), TransportError)


class LockContextTests(SynchronousTestCase):
    def test_run_locks_calls_and_unlocks_even_on_failure(self) -> None:
        m, s, _ = make()
        calls: List[str] = []

        def body() -> None:
            calls.append("body")
            raise ValueError("inside")

        d = m.locked("candidate").run(body)
        self.assertIn(":lock>", s.sent[-1])
        s.reply(s.last_id())
        self.assertEqual(calls, ["body"])
        self.assertIn(":unlock>", s.sent[-1])
        s.reply(s.last_id())
        self.failureResultOf(d, ValueError)

    def test_async_with(self) -> None:
        m, s, _ = make()

        async def body() -> str:
            async with m.locked("running"):
                return "done"

        d = ensureDeferred(body())
        s.reply(s.last_id())
        self.assertNoResult(d)
        s.reply(s.last_id())
        self.assertEqual(self.successResultOf(d), "done")

    def test_lock_uses_raise_mode_errors_like_ncclient(self) -> None:
        m, s, _ = make(raise_mode=RaiseMode.NONE)
        d = m.locked("running").acquire()
        s.reply(s.last_id(), error(tag="lock-denied"))
        self.failureResultOf(d, RPCError)

    def test_sync_with_is_refused_clearly(self) -> None:
        m, _, _ = make()
        with pytest.raises(TypeError):
            with m.locked("running"):
                pass
        with pytest.raises(TypeError):
            with m:
                pass


class VendorOperationTests(SynchronousTestCase):
    def test_vendor_operations_return_deferreds(self) -> None:
        m, s, _ = make(device_params={"name": "junos"})
        d = m.command("show version")
        self.assertIn("command", s.sent[-1])
        s.reply(s.last_id(), "<output>x</output>")
        self.successResultOf(d)
