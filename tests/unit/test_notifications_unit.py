"""Unit tests of notification delivery: router, queues, subscriptions (fake session, Clock)."""

from __future__ import annotations

from typing import Any, List, Optional

from ncclient.transport.errors import SessionCloseError
from ncclient.transport.notify import Notification as NCNotification
from twisted.internet.defer import ensureDeferred
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase

from ncclient_twisted.notifications import NETMOD_NOTIFICATION_NS, SN_NS, YANG_PUSH_NS, Notification
from ncclient_twisted.subscriptions import InterleaveError, SubscriptionTerminatedError
from tests.support.bridge_fakes import FakeSession, fake_manager
from tests.support.logevents import capture_log_events

NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"


def event(i: Any, time: str = "2026-11-22T10:00:00Z") -> NCNotification:
    return NCNotification(
        '<notification xmlns="%s"><eventTime>%s</eventTime><ev xmlns="urn:t"><n>%s</n></ev></notification>'
        % (NOTIF, time, i)
    )


def control(name: str, ns: str = NETMOD_NOTIFICATION_NS, body: str = "") -> NCNotification:
    return NCNotification(
        '<notification xmlns="%s"><eventTime>2026-11-22T11:00:00Z</eventTime><%s xmlns="%s">%s</%s>'
        '</notification>'
        % (NOTIF, name, ns, body, name)
    )


def state(name: str, ident: int, reason: Optional[str] = None) -> NCNotification:
    body = "<id>%d</id>" % ident + ("<reason>%s</reason>" % reason if reason else "")
    return control(name, SN_NS, body)


def number(n: Notification) -> str:
    return n.event.findtext("{urn:t}n")


class NotificationObjectTests(SynchronousTestCase):
    def test_properties(self) -> None:
        n = Notification.adopt(event(1, "2026-01-01T00:00:00Z"))
        self.assertIsInstance(n, NCNotification)
        self.assertEqual(n.event_time, "2026-01-01T00:00:00Z")
        self.assertEqual(n.event_tag, "{urn:t}ev")
        self.assertFalse(n.is_control or n.is_replay_complete or n.is_notification_complete)
        self.assertIsNone(n.subscription_id)
        self.assertIn("<n>1</n>", n.notification_xml)
        self.assertTrue(Notification.adopt(control("replayComplete")).is_replay_complete)
        self.assertTrue(Notification.adopt(control("notificationComplete")).is_notification_complete)
        s = Notification.adopt(state("subscription-terminated", 9, "no-such-subscription"))
        self.assertEqual(
            (s.state_change, s.subscription_id, s.is_control), ("subscription-terminated", 9, True)
        )
        push = Notification.adopt(control("push-update", YANG_PUSH_NS, "<id>4</id>"))
        self.assertEqual((push.subscription_id, push.is_control), (4, False))


class SessionStreamTests(SynchronousTestCase):
    def test_take_notification_gets_them_in_order(self) -> None:
        m, _, _ = fake_manager()
        d = m.take_notification()
        m._router.put(event(1))
        m._router.put(event(2))
        self.assertEqual(number(self.successResultOf(d)), "1")
        self.assertEqual(number(self.successResultOf(m.take_notification())), "2")
        self.assertIsNone(self.successResultOf(m.take_notification(block=False)))

    def test_take_timeout_fires_none_and_leaves_no_timer(self) -> None:
        m, _, reactor = fake_manager()
        d = m.take_notification(timeout=2)
        reactor.advance(1.9)
        self.assertNoResult(d)
        reactor.advance(0.1)
        self.assertIsNone(self.successResultOf(d))
        m._router.put(event(1))
        self.assertEqual(number(self.successResultOf(m.take_notification(timeout=5))), "1")
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_overflow_drops_oldest_counts_and_logs_once_per_burst(self) -> None:
        m, _, _ = fake_manager()  # buffer of 3
        with capture_log_events() as logs:
            for i in range(10):
                m._router.put(event(i))
        self.assertEqual(m.notifications_dropped, 7)
        self.assertEqual(len(logs.records("ncclient_twisted.notifications", LogLevel.warn)), 1)
        self.assertEqual(
            [number(self.successResultOf(m.take_notification())) for _ in range(3)], ["7", "8", "9"]
        )

    def test_callbacks_get_every_one_and_remove_stops_them(self) -> None:
        m, _, _ = fake_manager()
        got: List[str] = []
        handle = m.add_notification_callback(lambda n: got.append(number(n)))
        for i in range(5):
            m._router.put(event(i))
        self.assertEqual(got, ["0", "1", "2", "3", "4"])
        self.assertEqual(m.notifications_dropped, 0)  # not queued while a callback is there
        handle.remove()
        handle.remove()
        m._router.put(event(5))
        self.assertEqual(got, ["0", "1", "2", "3", "4"])
        self.assertEqual(number(self.successResultOf(m.take_notification())), "5")

    def test_a_failing_callback_does_not_stop_the_others(self) -> None:
        m, _, _ = fake_manager()
        got: List[str] = []

        def bad(n: Notification) -> None:
            raise ValueError("callback bug")

        m.add_notification_callback(bad)
        m.add_notification_callback(lambda n: got.append(number(n)))
        with capture_log_events() as logs:
            m._router.put(event(1))
        self.assertEqual(got, ["1"])
        levels = [lvl for _, lvl, _ in logs.records("ncclient_twisted.notifications")]
        self.assertEqual(levels, [LogLevel.error])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    def test_async_iterator_ends_after_notification_complete(self) -> None:
        m, _, _ = fake_manager()
        seen: List[Notification] = []

        async def read() -> None:
            async for n in m.notifications():
                seen.append(n)

        d = ensureDeferred(read())
        m._router.put(event(1))
        m._router.put(control("replayComplete"))
        self.assertNoResult(d)
        m._router.put(control("notificationComplete"))
        self.successResultOf(d)
        self.assertEqual(
            [n.event_tag.split("}")[1] for n in seen], ["ev", "replayComplete", "notificationComplete"]
        )

    def test_iterators_raise_and_takes_fail_when_the_session_ends(self) -> None:
        m, s, _ = fake_manager()
        seen: List[str] = []

        async def read() -> None:
            async for n in m.notifications():
                seen.append(number(n))

        d = ensureDeferred(read())
        waiting = m.take_notification()
        m._router.put(event(1))  # goes to the first waiter: the iterator
        self.assertNoResult(waiting)
        s.die(SessionCloseError(b""))
        self.failureResultOf(d, SessionCloseError)  # an end nobody asked for
        self.assertEqual(seen, ["1"])
        self.failureResultOf(waiting, SessionCloseError)
        self.failureResultOf(m.take_notification(), SessionCloseError)

    def test_buffered_notifications_come_before_the_error_that_ended_the_session(self) -> None:
        m, s, _ = fake_manager()
        m._router.put(event(1))
        m._router.put(event(2))
        s.die(SessionCloseError(b""))
        seen: List[str] = []

        async def read() -> None:
            async for n in m.notifications():
                seen.append(number(n))

        self.failureResultOf(ensureDeferred(read()), SessionCloseError)
        self.assertEqual(seen, ["1", "2"])

    def test_iterators_end_quietly_after_our_own_close(self) -> None:
        m, s, _ = fake_manager()
        m._router.put(event(1))
        m._ended(None)  # what the session's end after close_session() reports
        seen: List[str] = []

        async def read() -> None:
            async for n in m.notifications():
                seen.append(number(n))

        self.successResultOf(ensureDeferred(read()))
        self.assertEqual(seen, ["1"])

    def test_last_event_time_skips_control_notifications(self) -> None:
        m, _, _ = fake_manager()
        self.assertIsNone(m.last_event_time)
        m._router.put(event(1, "2026-01-01T00:00:01Z"))
        m._router.put(control("replayComplete"))
        self.assertEqual(m.last_event_time, "2026-01-01T00:00:01Z")

    def test_last_event_time_when_read_after_a_burst(self) -> None:
        m, _, _ = fake_manager()
        for i in range(5):
            m._router.put(event(i, "2026-01-01T00:00:0%dZ" % i))
        m._router.put(control("replayComplete"))
        m._router.put(state("subscription-suspended", 3))
        self.assertEqual(m.last_event_time, "2026-01-01T00:00:04Z")
        m._router.put(event(9, "2026-01-01T00:00:09Z"))
        self.assertEqual(m.last_event_time, "2026-01-01T00:00:09Z")

    def test_last_event_time_is_not_changed_by_the_application_changing_the_element(self) -> None:
        m, _, _ = fake_manager()
        got: List[Notification] = []
        m.add_notification_callback(got.append)
        m._router.put(event(1, "2026-01-01T00:00:01Z"))
        got[0].notification_ele[0].text = "1999-01-01T00:00:00Z"  # the application's tree
        self.assertEqual(m.last_event_time, "2026-01-01T00:00:01Z")


class SessionListenerTests(SynchronousTestCase):
    """The router is the session's listener: each <notification> is parsed once."""

    def test_router_takes_notifications_from_the_session(self) -> None:
        m, _, _ = fake_manager()
        raw = event(1).notification_xml
        m._router.callback(("{%s}notification" % NOTIF, {}), raw)
        m._router.callback(("{urn:ietf:params:xml:ns:netconf:base:1.0}rpc-reply", {}), "<rpc-reply/>")
        n = self.successResultOf(m.take_notification())
        self.assertIsInstance(n, Notification)
        self.assertIsInstance(n, NCNotification)
        self.assertEqual((n.notification_xml, number(n)), (raw, "1"))
        self.assertIsNone(self.successResultOf(m.take_notification(block=False)))

    def test_an_event_is_known_not_control_without_reading_the_element(self) -> None:
        n = Notification.from_xml(event(1).notification_xml)
        self.assertFalse(n.is_control)
        self.assertFalse(n._read)
        self.assertFalse(n.is_notification_complete or n.is_replay_complete)
        self.assertIsNone(n.state_change)
        self.assertEqual((n.event_tag, n.event_time), ("{urn:t}ev", "2026-11-22T10:00:00Z"))

    def test_control_notifications_are_recognised_however_written(self) -> None:
        prefixed = (
            '<notification xmlns="%s"><eventTime>2026-11-22T11:00:00Z</eventTime>'
            '<x:notificationComplete xmlns:x="%s"/></notification>' % (NOTIF, NETMOD_NOTIFICATION_NS)
        )
        # A character reference in the namespace: the text does not show it, the element does.
        referenced = prefixed.replace("netmod:notification", "netmod:&#110;otification")
        for raw in (prefixed, referenced, control("replayComplete").notification_xml):
            n = Notification.from_xml(raw)
            self.assertTrue(n.is_control, raw)
        self.assertTrue(Notification.from_xml(referenced).is_notification_complete)
        sn = Notification.from_xml(state("subscription-terminated", 4).notification_xml)
        self.assertEqual((sn.state_change, sn.subscription_id), ("subscription-terminated", 4))

    def test_session_replaces_ncclients_notification_handler(self) -> None:
        from ncclient.devices.default import DefaultDeviceHandler
        from ncclient.transport.session import NotificationHandler

        from ncclient_twisted.transport.session_hooks import SessionHooks
        from ncclient_twisted.transport.threads.ssh import ThreadedSSHSession

        m, _, _ = fake_manager()
        hooks = SessionHooks()
        hooks.notifications = m._router
        session = ThreadedSSHSession(DefaultDeviceHandler(), hooks)
        try:
            session.add_listener(NotificationHandler(m._router))  # as ncclient's _post_connect
            self.assertEqual(
                [type(x).__name__ for x in session._listeners], ["NotificationRouter"]
            )
        finally:
            session._wake_r.close()
            session._wake_w.close()


class InterleaveTests(SynchronousTestCase):
    def test_without_interleave_other_rpcs_are_refused_after_subscribing(self) -> None:
        m, s, _ = fake_manager()  # the fake server has :notification but not :interleave
        d = m.create_subscription(stream="NETCONF")
        self.assertIn("NETCONF</", s.sent[-1])
        s.reply(s.last_id())
        self.successResultOf(d)
        self.failureResultOf(m.get_config("running"), InterleaveError)
        self.assertEqual(m.pending_requests, 0)
        closing = m.close_session()
        self.assertIn("close-session", s.sent[-1])
        s.reply(s.last_id())
        self.successResultOf(closing)

    def test_with_interleave_rpcs_go_on(self) -> None:
        m, s, _ = fake_manager()
        s.add_capability("urn:ietf:params:netconf:capability:interleave:1.0")
        d = m.create_subscription()
        s.reply(s.last_id())
        self.successResultOf(d)
        d = m.get_config("running")
        s.reply(s.last_id(), "<data/>")
        self.successResultOf(d)


def establish(m: Any, s: FakeSession, ident: int) -> Any:
    d = m.establish_subscription(stream="NETCONF")
    assert "establish-subscription" in s.sent[-1]
    s.reply(s.last_id(), '<id xmlns="%s">%d</id>' % (SN_NS, ident))
    return d


class SubscriptionTests(SynchronousTestCase):
    def test_single_subscription_gets_event_records_and_ends_on_terminated(self) -> None:
        m, s, _ = fake_manager()
        sub = self.successResultOf(establish(m, s, 22))
        self.assertEqual((sub.id, sub.state), (22, "active"))
        self.assertEqual(m.subscriptions, {22: sub})
        got: List[str] = []

        async def read() -> None:
            async for n in sub:
                got.append(n.state_change or number(n))

        d = ensureDeferred(read())
        m._router.put(event(1))
        m._router.put(state("subscription-suspended", 22, "insufficient-resources"))
        self.assertEqual(sub.state, "suspended")
        m._router.put(state("subscription-resumed", 22))
        self.assertEqual(sub.state, "active")
        ended = sub.when_ended()
        m._router.put(state("subscription-terminated", 22, "sn:filter-unavailable"))
        self.successResultOf(d)
        self.assertEqual(
            got, ["1", "subscription-suspended", "subscription-resumed", "subscription-terminated"]
        )
        self.assertEqual(self.successResultOf(ended), "sn:filter-unavailable")
        self.assertEqual(sub.state, "ended")
        self.assertEqual(m.subscriptions, {})
        f = self.failureResultOf(sub.take_notification(), SubscriptionTerminatedError)
        self.assertEqual(f.value.reason, "sn:filter-unavailable")
        m._router.put(event(2))  # no subscription left: the session's queue
        self.assertEqual(number(self.successResultOf(m.take_notification())), "2")

    def test_two_subscriptions_route_by_id(self) -> None:
        m, s, _ = fake_manager()
        a = self.successResultOf(establish(m, s, 1))
        b = self.successResultOf(establish(m, s, 2))
        got_a: List[Any] = []
        a.add_callback(lambda n: got_a.append(n.subscription_id))
        m._router.put(control("push-update", YANG_PUSH_NS, "<id>2</id>"))
        m._router.put(control("push-update", YANG_PUSH_NS, "<id>1</id>"))
        m._router.put(event(3))  # an id-less record with two subscriptions: the session's
        self.assertEqual(got_a, [1])
        self.assertEqual(self.successResultOf(b.take_notification()).subscription_id, 2)
        self.assertEqual(number(self.successResultOf(m.take_notification())), "3")
        m._router.put(state("subscription-terminated", 1, "killed"))
        self.assertEqual((a.state, b.state), ("ended", "active"))

    def test_notifications_before_the_reply_are_held_for_the_subscription(self) -> None:
        m, s, _ = fake_manager()
        d = m.establish_subscription()
        m._router.put(state("subscription-modified", 5))  # reached the reactor first
        s.reply(s.last_id(), '<id xmlns="%s">5</id>' % SN_NS)
        sub = self.successResultOf(d)
        self.assertEqual(self.successResultOf(sub.take_notification()).state_change, "subscription-modified")

    def test_held_notifications_of_a_failed_establish_go_to_the_session(self) -> None:
        m, s, _ = fake_manager()
        d = m.establish_subscription()
        m._router.put(state("subscription-started", 8))
        s.reply(s.last_id(), '<rpc-error><error-type>application</error-type>'
            '<error-tag>invalid-value</error-tag>'
                '<error-severity>error</error-severity></rpc-error>')
        self.failureResultOf(d)
        self.assertEqual(self.successResultOf(m.take_notification()).subscription_id, 8)

    def test_cancel_deletes_and_ends(self) -> None:
        m, s, _ = fake_manager()
        sub = self.successResultOf(establish(m, s, 3))
        d = sub.cancel()
        self.assertIn("delete-subscription", s.sent[-1])
        self.assertIn(">3<", s.sent[-1])
        s.reply(s.last_id())
        self.successResultOf(d)
        self.assertEqual((sub.state, sub.reason), ("ended", "deleted"))

    def test_modify_and_kill_send_their_rpcs(self) -> None:
        m, s, _ = fake_manager()
        sub = self.successResultOf(establish(m, s, 3))
        d = sub.modify(filter=("xpath", "/t:ev"), namespaces={"t": "urn:t"})
        self.assertIn("modify-subscription", s.sent[-1])
        self.assertIn("stream-xpath-filter", s.sent[-1])
        self.assertIn('xmlns:t="urn:t"', s.sent[-1])
        s.reply(s.last_id())
        self.successResultOf(d)
        d = m.kill_subscription(17)
        self.assertIn("kill-subscription", s.sent[-1])
        s.reply(s.last_id())
        self.successResultOf(d)

    def test_session_end_ends_subscriptions(self) -> None:
        m, s, _ = fake_manager()
        sub = self.successResultOf(establish(m, s, 3))
        waiting = sub.take_notification()
        s.die(SessionCloseError(b""))
        self.failureResultOf(waiting, SessionCloseError)
        self.assertEqual(sub.state, "ended")

    def test_bad_filter_kind_fails_on_the_deferred(self) -> None:
        m, _, _ = fake_manager()
        self.failureResultOf(m.establish_subscription(filter=("regex", "x")), ValueError)
        self.assertEqual((m._router.establishing, m.pending_requests), (0, 0))
