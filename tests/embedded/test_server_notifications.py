"""RFC 5277 notifications, replay and RFC 6470 events, with ncclient's subscription API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, List

import pytest
import pytest_twisted
from lxml import etree
from ncclient.operations.rpc import RPCError
from twisted.internet.task import Clock

from tests.support.server import CONFIG, TIMEOUT, Blocking, fast_ncclient, nc, reactor, running  # noqa: F401

NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NETMOD = "urn:ietf:params:xml:ns:netmod:notification"
EVENTS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def event(n: Any) -> etree._Element:
    """The event element of an ncclient notification (after eventTime)."""
    root = n.notification_ele
    assert root.tag == "{%s}notification" % NOTIF
    assert RFC3339.match(root.findtext("{%s}eventTime" % NOTIF))
    children = [c for c in root if c.tag != "{%s}eventTime" % NOTIF]
    assert len(children) == 1
    return children[0]


def name(n: Any) -> str:
    return etree.QName(event(n)).localname


async def take(nc: Blocking, m: Any) -> Any:
    n = await nc.call(m.take_notification, True, TIMEOUT)
    assert n is not None, "no notification within %s s" % TIMEOUT
    return n


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


LINK_DOWN = "<link-down xmlns='urn:example:events'><if>%s</if></link-down>"
LINK_UP = "<link-up xmlns='urn:example:events'><if>%s</if></link-up>"


@pytest_twisted.ensureDeferred
async def test_subscribe_publish_filter_and_interleave(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as all_events, nc.connect(server) as only_up, \
                nc.connect(server) as only_down:
            await nc.call(all_events.create_subscription)
            up_filter = ("subtree", "<link-up xmlns='urn:example:events'/>")
            await nc.call(only_up.create_subscription, filter=up_filter, stream_name="NETCONF")
            xpath_filter = ("xpath", ({"ev": "urn:example:events"}, "/ev:link-down[ev:if='eth0']"))
            await nc.call(only_down.create_subscription, filter=xpath_filter)
            assert server.sessions[int(only_up.session_id)].subscribed
            server.publish(LINK_DOWN % "eth0")
            server.publish(
                etree.fromstring(LINK_UP % "eth0"), event_time=datetime(2024, 5, 1, tzinfo=timezone.utc)
            )
            first = await take(nc, all_events)
            assert name(first) == "link-down" and event(first).findtext("{urn:example:events}if") == "eth0"
            assert name(await take(nc, all_events)) == "link-up"
            up = await take(nc, only_up)
            assert name(up) == "link-up"
            assert up.notification_ele.findtext("{%s}eventTime" % NOTIF).startswith("2024-05-01T00:00:00")
            assert name(await take(nc, only_down)) == "link-down"
            server.publish(LINK_DOWN % "eth1")  # not selected by the XPath filter
            server.publish(LINK_DOWN % "eth0")
            down = await take(nc, only_down)
            assert event(down).findtext("{urn:example:events}if") == "eth0"
            # Interleave: RPCs still work on a subscribed session.
            assert "router1" in (await nc.call(only_up.get_config, "running")).xml


@pytest_twisted.ensureDeferred
async def test_subscription_errors(nc: Blocking) -> None:
    async with running() as server:
        async with nc.connect(server) as m:
            with pytest.raises(RPCError) as info:
                await nc.call(m.create_subscription, stream_name="NOPE")
            assert info.value.tag == "invalid-value"
            with pytest.raises(RPCError) as info:
                await nc.call(m.create_subscription, filter=("xpath", "/a["))
            assert info.value.tag == "invalid-value"
            future = stamp(datetime.now(timezone.utc) + timedelta(hours=1))
            with pytest.raises(RPCError) as info:
                await nc.call(m.create_subscription, start_time=future)
            assert info.value.tag == "bad-element"
            stop_only = etree.fromstring("<create-subscription xmlns='%s'><stopTime>%s</stopTime>"
                "</create-subscription>" % (NOTIF, future))
            with pytest.raises(RPCError) as info:
                await nc.call(m.dispatch, stop_only)
            assert info.value.tag == "missing-element"
            await nc.call(m.create_subscription)
            with pytest.raises(RPCError) as info:
                await nc.call(m.create_subscription)
            assert info.value.tag == "operation-failed"


@pytest_twisted.ensureDeferred
async def test_replay(nc: Blocking) -> None:
    now = datetime.now(timezone.utc)
    async with running() as server:
        for i, age in enumerate((300, 200, 100)):
            server.publish(LINK_DOWN % ("eth%d" % i), event_time=now - timedelta(seconds=age))
        async with nc.connect(server) as live, nc.connect(server) as bounded:
            await nc.call(live.create_subscription, start_time=stamp(now - timedelta(seconds=250)))
            got: List[str] = []
            for _ in range(3):
                n = await take(nc, live)
                got.append(name(n) if name(n) != "link-down" else event(n).findtext("{urn:example:events}if"))
            assert got == ["eth1", "eth2", "replayComplete"]
            assert event(n).tag == "{%s}replayComplete" % NETMOD
            server.publish(LINK_UP % "eth9")
            assert name(await take(nc, live)) == "link-up"

            await nc.call(bounded.create_subscription, start_time=stamp(now - timedelta(seconds=350)),
                          stop_time=stamp(now - timedelta(seconds=150)))
            names = [name(await take(nc, bounded)) for _ in range(4)]
            assert names == ["link-down", "link-down", "replayComplete", "notificationComplete"]
            assert not server.sessions[int(bounded.session_id)].subscribed
            # The subscription has ended: a new one is allowed.
            await nc.call(bounded.create_subscription)


@pytest_twisted.ensureDeferred
async def test_stop_time_in_the_future(nc: Blocking) -> None:
    clock = Clock()
    clock.advance(1_700_000_000)
    start = datetime.fromtimestamp(clock.seconds() - 10, timezone.utc)
    async with running(clock=clock) as server:
        async with nc.connect(server) as m:
            await nc.call(
                m.create_subscription, start_time=stamp(start), stop_time=stamp(start + timedelta(seconds=15))
            )
            assert name(await take(nc, m)) == "replayComplete"
            server.publish(LINK_DOWN % "eth0")
            assert name(await take(nc, m)) == "link-down"
            clock.advance(6)
            assert name(await take(nc, m)) == "notificationComplete"
            assert not server.sessions[int(m.session_id)].subscribed
    assert clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_config_change_events(nc: Blocking) -> None:
    clock = Clock()
    clock.advance(1_700_000_000)
    change = "<config><top xmlns='urn:example:config'><hostname>%s</hostname></top></config>"
    async with running(config=CONFIG, clock=clock) as server:
        async with nc.connect(server) as watcher, nc.connect(server, username="admin") as editor:
            await nc.call(
                watcher.create_subscription,
                filter=("subtree", "<netconf-config-change xmlns='%s'/>" % EVENTS),
            )
            editor_id = editor.session_id

            await nc.call(editor.edit_config, target="running", config=change % "a")
            n = event(await take(nc, watcher))
            assert n.tag == "{%s}netconf-config-change" % EVENTS
            assert n.findtext("{%s}changed-by/{%s}username" % (EVENTS, EVENTS)) == "admin"
            assert n.findtext("{%s}changed-by/{%s}session-id" % (EVENTS, EVENTS)) == editor_id
            assert n.findtext("{%s}changed-by/{%s}source-host" % (EVENTS, EVENTS)) == "127.0.0.1"
            assert n.findtext("{%s}datastore" % EVENTS) == "running"
            target = n.find("{%s}edit/{%s}target" % (EVENTS, EVENTS))
            assert target is not None and target.text == "/t:top"
            assert target.nsmap["t"] == "urn:example:config"

            await nc.call(editor.edit_config, target="candidate", config=change % "b")
            await nc.call(editor.commit, confirmed=True, timeout="30")
            assert event(await take(nc, watcher)).findtext("{%s}datastore" % EVENTS) == "running"
            await nc.call(editor.copy_config, source="startup", target="running")
            assert event(await take(nc, watcher)).findtext(".//{%s}session-id" % EVENTS) == editor_id

            clock.advance(31)  # the confirmed commit times out: rolled back by the server
            n = event(await take(nc, watcher))
            assert n.find("{%s}changed-by/{%s}server" % (EVENTS, EVENTS)) is not None

            await nc.call(
                editor.create_subscription,
                start_time=stamp(datetime.fromtimestamp(clock.seconds() - 60, timezone.utc)),
            )
            names = [name(await take(nc, editor)) for _ in range(7)]
            assert names == [
                "netconf-config-change",  # edit-config
                "netconf-config-change",  # confirmed commit
                "netconf-confirmed-commit",  # start
                "netconf-config-change",  # copy-config
                "netconf-config-change",  # rollback
                "netconf-confirmed-commit",  # timeout
                "replayComplete",
            ]
