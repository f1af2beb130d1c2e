"""Unit tests of the bridge's own logic: a fake session, time from a task.Clock."""

from __future__ import annotations

from typing import Any, List

import pytest
from ncclient.operations import MissingCapabilityError, RaiseMode, RPCError, TimeoutExpiredError
from ncclient.operations.retrieve import GetReply
from ncclient.transport.errors import SessionCloseError, TransportError
from twisted.internet.defer import CancelledError, ensureDeferred
from twisted.trial.unittest import SynchronousTestCase

from tests.support.bridge_fakes import NS, error, fake_manager


class ReplyRoutingTests(SynchronousTestCase):
    def test_reply_fires_deferred_with_getreply(self) -> None:
        m, s, _ = fake_manager()
        d = m.get_config(source="running")
        self.assertNoResult(d)
        s.reply(s.last_id(), "<data><x>1</x></data>")
        reply = self.successResultOf(d)
        self.assertIsInstance(reply, GetReply)
        self.assertIn("<x>1</x>", reply.data_xml)
        self.assertEqual(m.pending_requests, 0)

    def test_out_of_order_replies_reach_the_right_deferred(self) -> None:
        m, s, _ = fake_manager()
        ds = [m.get(filter=("subtree", "<n%d/>" % i)) for i in range(5)]
        ids = [s.last_id(i) for i in range(5)]
        for i in (3, 0, 4, 1, 2):
            s.reply(ids[i], "<data><v>%d</v></data>" % i)
        for i, d in enumerate(ds):
            self.assertIn("<v>%d</v>" % i, self.successResultOf(d).data_xml)

    def test_unknown_message_id_is_dropped_and_session_goes_on(self) -> None:
        m, s, _ = fake_manager()
        s.reply("urn:uuid:never-sent")
        s.reply(None)
        self.assertEqual(m.replies_dropped, 2)
        d = m.lock()
        s.reply(s.last_id())
        self.successResultOf(d)

    def test_timeout_errbacks_with_timeoutexpired_and_forgets(self) -> None:
        m, s, clock = fake_manager(timeout=5)
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
        m, s, clock = fake_manager(timeout=5)
        m.timeout = None
        d = m.get()
        clock.advance(1000)
        self.assertNoResult(d)
        d.cancel()
        self.failureResultOf(d, CancelledError)

    def test_cancel_errbacks_with_cancelled_and_late_reply_is_dropped(self) -> None:
        m, s, _ = fake_manager()
        d = m.edit_config(target="candidate", config="<config %s><a/></config>" % NS)
        msgid = s.last_id()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(m.pending_requests, 0)
        s.reply(msgid)
        self.assertEqual(m.replies_dropped, 1)

    def test_reply_racing_a_cancel_is_dropped_once(self) -> None:
        # The reply is on its way to the reactor when the caller cancels.
        m, s, _ = fake_manager()
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
        m, s, _ = fake_manager()
        d = m.edit_config(config="<not-config/>")
        self.failureResultOf(d)
        self.assertEqual(m.pending_requests, 0)
        self.assertEqual(len(m._listener._id2rpc), 0)

    def test_unknown_operation_goes_out_as_generic_rpc(self) -> None:
        m, s, _ = fake_manager()
        d = m.get_chassis_inventory()
        self.assertIn("get-chassis-inventory", s.sent[-1])
        s.reply(s.last_id())
        self.assertTrue(self.successResultOf(d).ok)

    def test_operations_table_names_return_deferreds(self) -> None:
        m, s, _ = fake_manager()
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
            m, s, _ = fake_manager(raise_mode=mode)
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
        m, s, _ = fake_manager(raise_mode=RaiseMode.ALL)
        m.raise_mode = RaiseMode.NONE
        d = m.commit()
        s.reply(s.last_id(), error())
        self.assertFalse(self.successResultOf(d).ok)

    def test_single_error_is_ncclients_rpcerror(self) -> None:
        m, s, _ = fake_manager()
        d = m.lock("running")
        s.reply(s.last_id(), error(message="locked by 12", tag="lock-denied"))
        err = self.failureResultOf(d, RPCError).value
        self.assertEqual(err.tag, "lock-denied")
        self.assertEqual(err.message, "locked by 12")

    def test_ignore_errors_exempts(self) -> None:
        m, s, _ = fake_manager(ignore_errors=["harmless*"])
        d = m.commit()
        s.reply(s.last_id(), error(message="harmless thing"))
        self.successResultOf(d)
        d = m.commit()
        s.reply(s.last_id(), error(message="harmless thing") + error(message="real"))
        self.assertEqual(self.failureResultOf(d, RPCError).value.message, "real")


class SessionEndTests(SynchronousTestCase):
    def test_pending_fail_at_once_and_when_closed_fires_with_reason(self) -> None:
        m, s, _ = fake_manager(timeout=None)
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
        m, s, _ = fake_manager()
        s.die(SessionCloseError(b""))
        self.failureResultOf(m.get(), TransportError)


class LockContextTests(SynchronousTestCase):
    def test_run_locks_calls_and_unlocks_even_on_failure(self) -> None:
        m, s, _ = fake_manager()
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
        m, s, _ = fake_manager()

        async def body() -> str:
            async with m.locked("running"):
                return "done"

        d = ensureDeferred(body())
        s.reply(s.last_id())
        self.assertNoResult(d)
        s.reply(s.last_id())
        self.assertEqual(self.successResultOf(d), "done")

    def test_lock_uses_raise_mode_errors_like_ncclient(self) -> None:
        m, s, _ = fake_manager(raise_mode=RaiseMode.NONE)
        d = m.locked("running").acquire()
        s.reply(s.last_id(), error(tag="lock-denied"))
        self.failureResultOf(d, RPCError)

    def test_sync_with_is_refused_clearly(self) -> None:
        m, _, _ = fake_manager()
        with pytest.raises(TypeError):
            with m.locked("running"):
                pass
        with pytest.raises(TypeError):
            with m:
                pass


class VendorOperationTests(SynchronousTestCase):
    def test_vendor_operations_return_deferreds(self) -> None:
        m, s, _ = fake_manager(device_params={"name": "junos"})
        d = m.command("show version")
        self.assertIn("command", s.sent[-1])
        s.reply(s.last_id(), "<output>x</output>")
        self.successResultOf(d)
