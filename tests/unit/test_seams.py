"""The seams of a patched ncclient (upstream/ncclient/*.patch), feature-detected in
``_compat``: each taken when present, its workaround kept for released ncclient.

Each detection runs both ways here: the workaround path, and the seam path through a
small test double of what the patch adds. Against the patched ncclient itself
(``nox -s upstream``) the listener tests below also run on ncclient's own seam.
"""

from __future__ import annotations

from typing import Any, List, Tuple, Type

import pytest
from ncclient.manager import make_device_handler
from ncclient.operations.rpc import RPC, RaiseMode, RPCReply, RPCReplyListener
from twisted.trial.unittest import SynchronousTestCase

from ncclient_twisted import _compat
from ncclient_twisted.bridge.listener import DeferredReplyListener, reply_outcome
from ncclient_twisted.manager import Manager
from ncclient_twisted.transport.framing import MalformedReplyError
from tests.support.bridge_fakes import NS, FakeSession, error, fake_manager


class NcclientWithForget(RPCReplyListener):
    """Test double of patch 0001's ``RPCReplyListener.forget`` (same body), recording."""

    forgotten: List[str]

    def forget(self, id: str) -> None:
        self.forgotten.append(id)
        with self._lock:
            _compat.registered_rpcs(self).pop(id, None)


class SeamListener(DeferredReplyListener, NcclientWithForget):
    """Our listener over an ncclient that has ``forget``."""

    ncclient_forgets = True


class WorkaroundListener(DeferredReplyListener):
    """Our listener as on released ncclient (it reaches into the registry)."""

    ncclient_forgets = False


class SessionWithMessageIds(FakeSession):
    """Test double of patch 0009's ``Session.set_message_id_factory`` (same body)."""

    _message_id_factory: Any = None

    def set_message_id_factory(self, factory: Any) -> None:
        self._message_id_factory = factory


class Counter:
    """Test double of patch 0009's ``MessageIdCounter``."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return "c%d" % self.n


class CounterListener(DeferredReplyListener):
    message_ids = Counter


def make(
    cls: Type[DeferredReplyListener], session_cls: Type[FakeSession] = FakeSession
) -> Tuple[Manager, FakeSession, DeferredReplyListener]:
    m, session, _ = fake_manager(listener_class=cls, new_session=lambda dh: session_cls())
    listener: DeferredReplyListener = session.get_listener_instance(RPCReplyListener)
    return m, session, listener


class DetectionTests(SynchronousTestCase):
    def test_forget_detected_from_the_installed_ncclient(self) -> None:
        self.assertEqual(_compat.HAS_LISTENER_FORGET, hasattr(RPCReplyListener, "forget"))
        self.assertEqual(DeferredReplyListener.ncclient_forgets, _compat.HAS_LISTENER_FORGET)

    def test_result_detected_from_the_installed_ncclient(self) -> None:
        self.assertEqual(_compat.HAS_RPC_RESULT, hasattr(RPC, "result"))

    def test_message_id_counter_detected_from_the_installed_ncclient(self) -> None:
        from ncclient.operations import rpc
        from ncclient.transport.session import Session

        found = hasattr(rpc, "MessageIdCounter") and hasattr(Session, "set_message_id_factory")
        self.assertEqual(_compat.MESSAGE_ID_COUNTER is not None, found)
        self.assertIs(DeferredReplyListener.message_ids, _compat.MESSAGE_ID_COUNTER)


class ForgetTests(SynchronousTestCase):
    """A cancelled request is forgotten in both registries; its late reply is dropped."""

    def _cancel_then_reply(self, cls: Type[DeferredReplyListener]) -> DeferredReplyListener:
        m, s, listener = make(cls)
        d = m.get_config(source="running")
        msgid = s.last_id()
        self.assertIn(msgid, _compat.registered_rpcs(listener))
        d.cancel()
        self.failureResultOf(d)
        self.assertNotIn(msgid, _compat.registered_rpcs(listener))
        self.assertEqual(listener.pending, 0)
        s.reply(msgid, "<data/>")  # late: dropped and counted, the session goes on
        self.assertEqual(listener.replies_dropped, 1)
        d2 = m.get_config(source="running")
        s.reply(s.last_id(), "<data/>")
        self.successResultOf(d2)
        return listener

    def test_workaround_reaches_into_the_registry(self) -> None:
        self._cancel_then_reply(WorkaroundListener)

    def test_seam_forgets_through_ncclient(self) -> None:
        listener: Any = self._cancel_then_reply(SeamListener)
        self.assertEqual(len(listener.forgotten), 1)

    def setUp(self) -> None:
        SeamListener.forgotten = []

    @pytest.mark.skipif(
        not _compat.HAS_LISTENER_FORGET,
        reason="released ncclient has no RPCReplyListener.forget (upstream patch 0001): "
        "run by `nox -s upstream` against the patched ncclient",
    )
    def test_installed_ncclient_forget(self) -> None:
        self._cancel_then_reply(DeferredReplyListener)


class RpcWithResult:
    """Test double of an RPC of patch 0008 (``RPC.result()``), recording what it saw."""

    id = "1"
    _huge_tree = False
    _raise_mode = RaiseMode.ALL

    def __init__(self, body: str) -> None:
        self._reply = RPCReply('<rpc-reply %s message-id="1">%s</rpc-reply>' % (NS, body))
        self.saw_parsed: List[bool] = []

    def result(self) -> str:
        self.saw_parsed.append(_compat.reply_parsed(self._reply))
        return "ncclient's outcome"


class ResultTests(SynchronousTestCase):
    """reply_outcome parses the reply itself (in pieces if large, errors mapped), then
    leaves the outcome to ``RPC.result()`` when ncclient has it. (Against the patched
    ncclient, test_bridge's RaiseMode and exemption tests run through the real one.)"""

    def test_seam_leaves_the_outcome_to_ncclient(self) -> None:
        rpc = RpcWithResult(error())
        dh = make_device_handler(None, None)
        self.assertEqual(reply_outcome(rpc, dh, ncclient_result=True), "ncclient's outcome")
        self.assertEqual(rpc.saw_parsed, [True])

    def test_workaround_decides_itself(self) -> None:
        rpc = RpcWithResult(error())
        dh = make_device_handler(None, None)
        with pytest.raises(Exception, match="boom"):
            reply_outcome(rpc, dh, ncclient_result=False)
        self.assertEqual(rpc.saw_parsed, [])

    def test_seam_a_malformed_reply_fails_before_ncclient_is_asked(self) -> None:
        rpc = RpcWithResult("<data></oops>")
        with pytest.raises(MalformedReplyError):
            reply_outcome(rpc, make_device_handler(None, None), ncclient_result=True)
        self.assertEqual(rpc.saw_parsed, [])


class MessageIdTests(SynchronousTestCase):
    """With ncclient's counter, each session gets its own source of message-ids."""

    def test_seam_gives_each_session_a_counter(self) -> None:
        sessions = [make(CounterListener, SessionWithMessageIds)[1] for _ in range(2)]
        factories = [s._message_id_factory for s in sessions]  # type: ignore[attr-defined]
        self.assertIsInstance(factories[0], Counter)
        self.assertIsNot(factories[0], factories[1])

    def test_workaround_leaves_the_session_alone(self) -> None:
        class Uuids(DeferredReplyListener):
            message_ids = None

        _, s, _ = make(Uuids, SessionWithMessageIds)
        self.assertIsNone(s._message_id_factory)  # type: ignore[attr-defined]

    def test_a_session_without_the_seam_is_left_alone(self) -> None:
        m, s, _ = make(CounterListener)  # no set_message_id_factory
        m.get_config(source="running")
        self.assertTrue(s.last_id().startswith("urn:uuid:"))

    @pytest.mark.skipif(
        _compat.MESSAGE_ID_COUNTER is None,
        reason="released ncclient has no MessageIdCounter (upstream patch 0009): "
        "run by `nox -s upstream` against the patched ncclient",
    )
    def test_installed_ncclient_counts(self) -> None:
        m, s, _ = make(DeferredReplyListener, SessionWithMessageIds)
        d1 = m.get_config(source="running")
        d2 = m.get_config(source="running")
        self.assertEqual([s.last_id(0), s.last_id(1)], ["1", "2"])
        s.reply("2", "<data/>")
        s.reply("1", "<data/>")
        self.successResultOf(d1)
        self.successResultOf(d2)
