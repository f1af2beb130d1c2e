"""The NETCONF operations, driven by plain ncclient."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from lxml import etree
from ncclient.operations.rpc import RPCError

from tests.support.server import (  # noqa: F401
    BASE_NS,
    CONFIG,
    EX,
    TIMEOUT,
    Blocking,
    fast_ncclient,
    mtus,
    nc,
    reactor,
    running,
    texts,
    xml_of,
)

STATE = """
<top xmlns="urn:example:config">
  <interfaces>
    <interface><name>eth0</name><oper-status>up</oper-status></interface>
  </interfaces>
  <uptime>42</uptime>
</top>
"""


def cfg(body: str) -> str:
    return (
        '<config xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
        '<top xmlns="urn:example:config">%s</top></config>' % body
    )


def iface(name: str, mtu: int, op: str = "") -> str:
    attr = ' nc:operation="%s"' % op if op else ""
    return "<interfaces><interface%s><name>%s</name><mtu>%d</mtu></interface></interfaces>" % (
        attr, name, mtu
    )


def info_text(err: RPCError, name: str) -> str:
    return etree.fromstring(err.info.encode()).findtext(".//{%s}%s" % (BASE_NS, name))


async def rpc_error(nc: Blocking, func: Any, *args: Any, **kwargs: Any) -> RPCError:
    with pytest.raises(RPCError) as info:
        await nc.call(func, *args, **kwargs)
    return info.value


@pytest_twisted.ensureDeferred
async def test_get_merges_state_and_filters(nc: Blocking) -> None:
    async with running(config=CONFIG, state=STATE) as server:
        async with nc.connect(server) as m:
            data = xml_of(await nc.call(m.get))
            assert texts(data, "//ex:interface[ex:name='eth0']/ex:oper-status") == ["up"]
            assert texts(data, "//ex:interface[ex:name='eth0']/ex:mtu") == ["1500"]
            assert texts(data, "//ex:uptime") == ["42"]
            config = xml_of(await nc.call(m.get_config, "running"))
            assert texts(config, "//ex:oper-status") == []

            subtree = (
                "<top xmlns='urn:example:config'><interfaces><interface><name>eth1</name></interface>"
                "</interfaces></top>"
            )
            filtered = xml_of(await nc.call(m.get, filter=("subtree", subtree)))
            assert texts(filtered, "//ex:name") == ["eth1"] and texts(filtered, "//ex:uptime") == []

            xpath = ({"ex": EX}, "/ex:top/ex:interfaces/ex:interface[ex:mtu > 2000]/ex:name")
            filtered = xml_of(await nc.call(m.get_config, "running", filter=("xpath", xpath)))
            assert texts(filtered, "//ex:name") == ["eth1"] and texts(filtered, "//ex:mtu") == []

            server.set_state("<top xmlns='urn:example:config'><uptime>43</uptime></top>")
            assert texts(xml_of(await nc.call(m.get)), "//ex:uptime") == ["43"]


@pytest_twisted.ensureDeferred
async def test_get_config_sources_and_bad_source(nc: Blocking) -> None:
    async with running(config=CONFIG, startup=False) as server:
        async with nc.connect(server) as m:
            assert mtus(await nc.call(m.get_config, "candidate")) == {"eth0": "1500", "eth1": "9000"}
            err = await rpc_error(nc, m.dispatch, etree.fromstring(
                "<get-config xmlns='%s'><source><startup/></source></get-config>" % BASE_NS))
            assert (err.tag, err.type) == ("invalid-value", "protocol")
            err = await rpc_error(nc, m.dispatch, etree.fromstring("<get-config xmlns='%s'/>" % BASE_NS))
            assert err.tag == "missing-element"


@pytest_twisted.ensureDeferred
async def test_candidate_edit_commit_discard_validate(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as m:
            await nc.call(
                m.edit_config, target="candidate", config=cfg(iface("eth0", 1400) + iface("eth2", 1))
            )
            assert mtus(await nc.call(m.get_config, "candidate")) == {
                "eth0": "1400", "eth1": "9000", "eth2": "1"
            }
            assert mtus(await nc.call(m.get_config, "running"))["eth0"] == "1500"
            assert (await nc.call(m.validate, source="candidate")).ok
            assert (await nc.call(m.validate, source=etree.fromstring(cfg("<hostname>x</hostname>")))).ok
            assert (await nc.call(m.commit)).ok
            assert mtus(await nc.call(m.get_config, "running")) == {
                "eth0": "1400", "eth1": "9000", "eth2": "1"
            }
            assert mtus(server.get_config("running")) == {"eth0": "1400", "eth1": "9000", "eth2": "1"}

            await nc.call(m.edit_config, target="candidate", config=cfg(iface("eth1", 1)))
            assert (await nc.call(m.discard_changes)).ok
            assert mtus(await nc.call(m.get_config, "candidate"))["eth1"] == "9000"


@pytest_twisted.ensureDeferred
async def test_edit_running_and_every_operation(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as m:
            edit = lambda config, **kw: nc.call(m.edit_config, target="running", config=config, **kw)  # noqa: E731
            await edit(cfg(iface("eth0", 1400)))
            assert mtus(await nc.call(m.get_config, "running"))["eth0"] == "1400"
            # The candidate had no changes of its own, so it follows running.
            assert mtus(await nc.call(m.get_config, "candidate"))["eth0"] == "1400"

            await edit(cfg(
                '<interfaces><interface nc:operation="replace"><name>eth1</name></interface></interfaces>'
            ))
            assert mtus(server.get_config())["eth1"] is None

            await edit(cfg(iface("eth3", 3, "create")))
            err = await rpc_error(nc, m.edit_config, target="running", config=cfg(iface("eth3", 4, "create")))
            assert (err.tag, err.type, err.severity) == ("data-exists", "application", "error")

            await edit(cfg(iface("eth3", 0, "delete")))
            err = await rpc_error(nc, m.edit_config, target="running", config=cfg(iface("eth3", 0, "delete")))
            assert err.tag == "data-missing"
            await edit(cfg(iface("eth3", 0, "remove")))  # removing something absent is fine

            await edit(
                cfg("<hostname>ignored</hostname>" + iface("eth0", 1, "merge")), default_operation="none"
            )
            data = server.get_config()
            assert texts(data, "//ex:hostname") == ["router1"] and mtus(data)["eth0"] == "1"

            await edit(cfg("<hostname>only</hostname>"), default_operation="replace")
            data = server.get_config()
            assert texts(data, "//ex:hostname") == ["only"] and mtus(data) == {}


@pytest_twisted.ensureDeferred
async def test_test_and_error_options(nc: Blocking) -> None:
    bad = cfg(
        "<hostname>changed</hostname>"
        + iface("eth0", 1, "create") + iface("nope", 1, "delete") + iface("eth7", 7)
    )
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as m:
            await nc.call(
                m.edit_config,
                target="running",
                config=cfg("<hostname>tested</hostname>"),
                test_option="test-only",
            )
            assert texts(server.get_config(), "//ex:hostname") == ["router1"]

            err = await rpc_error(
                nc, m.edit_config, target="running", config=bad, error_option="rollback-on-error"
            )
            assert err.tag == "data-exists"
            assert texts(server.get_config(), "//ex:hostname") == ["router1"]

            err = await rpc_error(
                nc, m.edit_config, target="running", config=bad, error_option="continue-on-error"
            )
            assert sorted(e.tag for e in err.errlist) == ["data-exists", "data-missing"]
            data = server.get_config()
            assert texts(data, "//ex:hostname") == ["changed"] and mtus(data)["eth7"] == "7"

            server.set_config(CONFIG)
            err = await rpc_error(nc, m.edit_config, target="running", config=bad)  # stop-on-error
            data = server.get_config()
            assert texts(data, "//ex:hostname") == ["changed"] and "eth7" not in mtus(data)

            err = await rpc_error(nc, m.dispatch, etree.fromstring(
                "<edit-config xmlns='%s'><target><running/></target>"
                "<default-operation>bogus</default-operation>"
                "<config/></edit-config>" % BASE_NS))
            assert (err.tag, err.type) == ("invalid-value", "protocol")


@pytest_twisted.ensureDeferred
async def test_copy_and_delete_config(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as m:
            await nc.call(m.edit_config, target="running", config=cfg(iface("eth0", 1)))
            assert mtus(await nc.call(m.get_config, "startup"))["eth0"] == "1500"
            await nc.call(m.copy_config, source="running", target="startup")
            assert mtus(await nc.call(m.get_config, "startup"))["eth0"] == "1"
            await nc.call(
                m.copy_config, source="<source>%s</source>" % cfg(iface("inline", 5)), target="candidate"
            )
            assert mtus(await nc.call(m.get_config, "candidate")) == {"inline": "5"}
            await nc.call(m.copy_config, source="candidate", target="running")
            assert mtus(server.get_config("running")) == {"inline": "5"}
            err = await rpc_error(nc, m.copy_config, source="running", target="running")
            assert err.tag == "invalid-value"

            assert (await nc.call(m.delete_config, target="startup")).ok
            assert mtus(await nc.call(m.get_config, "startup")) == {}
            err = await rpc_error(nc, m.delete_config, target="running")
            assert (err.tag, err.type) == ("invalid-value", "protocol")


@pytest_twisted.ensureDeferred
async def test_locks(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as a, nc.connect(server) as b:
            a_id = int(a.session_id)
            assert (await nc.call(a.lock, "candidate")).ok
            assert server.locks["candidate"] == a_id
            err = await rpc_error(nc, b.lock, "candidate")
            assert (err.tag, err.type) == ("lock-denied", "protocol")
            assert info_text(err, "session-id") == str(a_id)
            err = await rpc_error(nc, a.lock, "candidate")  # even the owner cannot lock twice
            assert err.tag == "lock-denied"
            err = await rpc_error(nc, b.edit_config, target="candidate", config=cfg(iface("eth0", 1)))
            assert err.tag == "in-use"
            err = await rpc_error(nc, b.unlock, "candidate")
            assert err.tag == "operation-failed"
            err = await rpc_error(nc, b.unlock, "running")  # not locked at all
            assert err.tag == "operation-failed"
            # Uncommitted changes under a lock are discarded when it goes.
            await nc.call(a.edit_config, target="candidate", config=cfg(iface("eth0", 2)))
            assert (await nc.call(a.unlock, "candidate")).ok
            assert mtus(server.get_config("candidate"))["eth0"] == "1500"
            assert server.locks["candidate"] is None

            await nc.call(a.lock, "running")
            err = await rpc_error(nc, b.edit_config, target="running", config=cfg(iface("eth0", 1)))
            assert err.tag == "in-use"
            session = server.sessions[a_id]
        await session.when_closed().addTimeout(TIMEOUT, reactor)
        assert server.locks == {"running": None, "candidate": None, "startup": None}


@pytest_twisted.ensureDeferred
async def test_lock_refused_while_candidate_has_foreign_changes(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as a, nc.connect(server) as b:
            await nc.call(a.edit_config, target="candidate", config=cfg(iface("eth0", 1)))
            err = await rpc_error(nc, b.lock, "candidate")
            assert (err.tag, err.type) == ("in-use", "protocol")
            assert (await nc.call(a.lock, "candidate")).ok  # its own changes do not block a
            await nc.call(a.discard_changes)
            await nc.call(a.unlock, "candidate")
            assert (await nc.call(b.lock, "candidate")).ok


@pytest_twisted.ensureDeferred
async def test_kill_session(nc: Blocking) -> None:
    async with running(config=CONFIG) as server:
        async with nc.connect(server) as victim, nc.connect(server) as killer:
            victim_id = int(victim.session_id)
            await nc.call(victim.lock, "running")
            err = await rpc_error(nc, killer.kill_session, killer.session_id)
            assert err.tag == "invalid-value"
            err = await rpc_error(nc, killer.kill_session, "9999")
            assert err.tag == "invalid-value"
            closed = server.sessions[victim_id].when_closed()
            assert (await nc.call(killer.kill_session, str(victim_id))).ok
            assert server.locks["running"] is None  # released at once
            await closed.addTimeout(TIMEOUT, reactor)
            await nc.call(victim._session.join, TIMEOUT)  # the victim's connection is gone
            assert not victim.connected
            assert (await nc.call(killer.lock, "running")).ok


@pytest_twisted.ensureDeferred
async def test_without_writable_running_or_candidate(nc: Blocking) -> None:
    async with running(config=CONFIG, writable_running=False, candidate=False) as server:
        assert not any(":writable-running" in c or ":candidate" in c for c in server.capabilities)
        async with nc.connect(server) as m:
            err = await rpc_error(nc, m.dispatch, etree.fromstring(
                "<edit-config xmlns='%s'><target><running/></target><config/></edit-config>" % BASE_NS))
            assert err.tag == "operation-not-supported"
            err = await rpc_error(nc, m.dispatch, etree.fromstring("<commit xmlns='%s'/>" % BASE_NS))
            assert err.tag == "operation-not-supported"


@pytest_twisted.ensureDeferred
async def test_server_side_config_api(nc: Blocking) -> None:
    async with running() as server:
        server.set_config("<top xmlns='urn:example:config'><hostname>new</hostname></top>")
        async with nc.connect(server) as m:
            assert texts(xml_of(await nc.call(m.get_config, "running")), "//ex:hostname") == ["new"]
            assert texts(xml_of(await nc.call(m.get_config, "candidate")), "//ex:hostname") == ["new"]
            server.set_config(None, "startup")
            assert texts(xml_of(await nc.call(m.get_config, "startup")), "//ex:hostname") == []
