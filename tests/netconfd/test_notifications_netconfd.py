"""Notifications from yuma123 netconfd: the NETCONF stream and its config-change event."""

from __future__ import annotations

from typing import Any, List

import pytest
import pytest_twisted
from twisted.internet import defer

from ncclient_twisted import Notification, manager
from tests.support.netconfd import TEST_NS
from tests.support.transports import on_both_transports


@pytest.fixture
def netconfd(netconfd: Any, io: str) -> Any:
    return on_both_transports(netconfd, io)

BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
NC_NOTIFICATIONS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
WAIT = 30


async def bounded(d: "defer.Deferred[Any]", seconds: float = WAIT) -> Any:
    from twisted.internet import reactor

    return await d.addTimeout(seconds, reactor)


def config(body: str) -> str:
    return '<config xmlns="%s"><top xmlns="%s">%s</top></config>' % (BASE, TEST_NS, body)


@pytest_twisted.ensureDeferred
async def test_config_change_notification_after_an_edit(netconfd: Any) -> None:
    listener = await bounded(manager.connect(**netconfd.connect_kwargs()))
    editor = await bounded(manager.connect(**netconfd.connect_kwargs()))
    try:
        assert ":notification" in listener.server_capabilities
        await bounded(listener.create_subscription(stream_name="NETCONF"))
        received: List[Notification] = []
        changed: "defer.Deferred[Notification]" = defer.Deferred()

        def got(n: Notification) -> None:
            received.append(n)
            if n.event_tag == "{%s}netconf-config-change" % NC_NOTIFICATIONS and not changed.called:
                changed.callback(n)

        handle = listener.add_notification_callback(got)
        # each transport's run edits a value of its own: an edit that changes nothing
        # sends no netconf-config-change
        change = config("<name>notified-%s</name>" % netconfd.io)
        await bounded(editor.edit_config(target="candidate", config=change))
        await bounded(editor.commit())
        n = await bounded(changed)
        assert n.event_time and listener.last_event_time == n.event_time
        assert "notified" in n.notification_xml or "top" in n.notification_xml
        # the session takes other RPCs meanwhile when the server interleaves
        if ":interleave" in listener.server_capabilities:
            reply = await bounded(listener.get_config(source="running"))
            assert "notified-%s" % netconfd.io in reply.data_xml
        handle.remove()
    finally:
        await bounded(editor.close_session())
        await bounded(listener.close_session())


@pytest_twisted.ensureDeferred
async def test_take_notification_and_async_iterator_on_netconfd(netconfd: Any) -> None:
    m = await bounded(manager.connect(**netconfd.connect_kwargs()))
    editor = await bounded(manager.connect(**netconfd.connect_kwargs()))
    try:
        await bounded(m.create_subscription())
        assert await bounded(m.take_notification(timeout=0.2)) is None
        change = config("<name>iterated-%s</name>" % netconfd.io)
        await bounded(editor.edit_config(target="candidate", config=change))
        await bounded(editor.commit())

        async def first_change() -> Notification:
            async for n in m.notifications():
                if n.event_tag == "{%s}netconf-config-change" % NC_NOTIFICATIONS:
                    return n
            raise AssertionError("the stream ended")

        n = await bounded(defer.ensureDeferred(first_change()))
        assert not n.is_control
    finally:
        await bounded(editor.close_session())
        await bounded(m.close_session())
