"""The manager against the embedded server, with the faults real devices have."""

from __future__ import annotations

from typing import Any, List

import pytest
import pytest_twisted
from ncclient.operations import RPCError, TimeoutExpiredError
from ncclient.transport.errors import (
    AuthenticationError,
    NetconfFramingError,
    SessionCloseError,
    TransportError,
)
from twisted.internet import defer, task

from ncclient_twisted import manager, testing
from ncclient_twisted.testing import Fault
from tests.support.helpers import WAIT, bounded, child_server, reactor, wait_until
from tests.support.transports import connect, on_both_transports, time_out_and_cancel

CONFIG = (
    '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<system xmlns="urn:example:system"><hostname>%s</hostname></system></config>'
)


@pytest.fixture
def server(server: Any, io: str) -> Any:
    return on_both_transports(server, io)


@pytest_twisted.ensureDeferred
async def test_stray_and_duplicate_replies_do_not_close_the_session(server: Any) -> None:
    server.faults.add(Fault.unknown_message_id("get-config", before=True, count=1))
    server.faults.add(Fault.duplicate_reply("get", count=1))
    async with await connect(server) as m:
        assert (await bounded(m.get_config(source="running"))).ok
        assert (await bounded(m.get())).ok
        assert (await bounded(m.get())).ok
        assert m.replies_dropped == 2
        assert m.connected


@pytest_twisted.ensureDeferred
async def test_timeout_and_cancel_forget_the_request(server: Any) -> None:
    server.faults.add(Fault.delay("get-config", 1.0, count=2))
    async with await connect(server) as m:
        m.timeout = 0.2
        await time_out_and_cancel(m)
        m.timeout = WAIT
        # Both late replies arrive (after 1 s) and are dropped; the session goes on.
        assert await wait_until(lambda: m.replies_dropped == 2)
        assert (await bounded(m.get_config(source="running"))).ok
        assert m.replies_dropped == 2


@pytest_twisted.ensureDeferred
async def test_no_reply_request_times_out_others_go_on(server: Any) -> None:
    server.faults.add(Fault.no_reply("lock", count=1))
    async with await connect(server, timeout=None) as m:
        m.timeout = 0.3
        lost = m.lock("candidate")
        replies = await bounded(defer.gatherResults([m.get() for _ in range(20)]))
        assert all(r.ok for r in replies)
        with pytest.raises(TimeoutExpiredError):
            await lost


@pytest_twisted.ensureDeferred
async def test_close_mid_reply_fails_every_pending_request(server: Any) -> None:
    server.faults.add(Fault.close_mid_reply("get-config", count=1))
    m = await connect(server)
    closed = m.when_closed()
    broken = m.get_config(source="running")
    slow = [m.get() for _ in range(3)]  # answered in order: never
    with pytest.raises(SessionCloseError):
        await bounded(broken)
    for d in slow:
        with pytest.raises(TransportError):
            await bounded(d)
    assert isinstance(await bounded(closed), SessionCloseError)
    assert not m.connected
    assert m.pending_requests == 0


@pytest_twisted.ensureDeferred
async def test_bad_chunk_header_is_a_framing_error(server: Any) -> None:
    server.faults.add(Fault.bad_chunk_header("get", count=1))
    m = await connect(server)
    with pytest.raises(NetconfFramingError):
        await bounded(m.get())
    assert isinstance(await bounded(m.when_closed()), NetconfFramingError)


@pytest_twisted.ensureDeferred
async def test_rpc_error_from_the_server(server: Any) -> None:
    async with await connect(server) as a, await connect(server) as b:
        await bounded(a.lock("running"))
        with pytest.raises(RPCError) as e:
            await bounded(b.lock("running"))
        assert e.value.tag == "lock-denied"


@pytest_twisted.ensureDeferred
async def test_large_reply_is_parsed_off_the_reactor() -> None:
    # The server runs in a child process: its work (building and encrypting 30 MB)
    # must not count against this reactor, which only runs the client.
    size = 30 * 1024 * 1024
    async with child_server("s.faults.add(Fault.large_reply('get', size=%d, count=1))" % size) as kw:
        ticks: List[float] = []
        loop = task.LoopingCall(lambda: ticks.append(reactor().seconds()))
        async with await bounded(manager.connect(**kw)) as m:
            m.huge_tree = True
            loop.start(0.01)
            try:
                reply = await bounded(m.get(), 60)
            finally:
                loop.stop()
            assert reply.ok
            assert len(reply.xml) >= size
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    # Framing and parsing 30 MB happened on the session thread; the reactor kept ticking.
    assert len(ticks) > 5 and max(gaps) < 0.5, max(gaps)


@pytest_twisted.ensureDeferred
async def test_base_10_framing() -> None:
    s = await testing.serve(reactor(), users={"u": "p"}, base_versions=("1.0",))
    try:
        async with await connect(s) as m:
            replies = await bounded(
                defer.gatherResults([m.get_config(source="running") for _ in range(50)])
            )
            assert all(r.ok for r in replies)
    finally:
        await s.stop()


@pytest_twisted.ensureDeferred
async def test_edit_commit_and_config_change_notification(server: Any) -> None:
    async with await connect(server) as m:
        await bounded(m.create_subscription())
        async with m.locked("candidate"):
            await bounded(m.edit_config(target="candidate", config=CONFIG % "edited"))
            await bounded(m.commit())
        running = await bounded(m.get_config(source="running"))
        assert "edited" in running.data_xml
        n = await bounded(m.take_notification(timeout=5))
        assert n is not None and "netconf-config-change" in n.notification_xml
        server.publish('<alarm xmlns="urn:example:alarms"><id>1</id></alarm>')
        n = await bounded(m.take_notification(timeout=5))
        assert n is not None and "alarm" in n.notification_xml
        assert await bounded(m.take_notification(block=False)) is None


@pytest_twisted.ensureDeferred
async def test_kill_session_of_us(server: Any) -> None:
    async with await connect(server) as killer:
        victim = await connect(server, timeout=None)
        server.faults.add(Fault.no_reply("get", count=1))
        pending = victim.get()
        await bounded(killer.kill_session(victim.session_id))
        with pytest.raises(TransportError):
            await bounded(pending)
        assert isinstance(await bounded(victim.when_closed()), SessionCloseError)


@pytest_twisted.ensureDeferred
async def test_password_authentication_failure(server: Any) -> None:
    with pytest.raises(AuthenticationError):
        await bounded(manager.connect(**server.connect_kwargs(password="wrong")))


@pytest_twisted.ensureDeferred
async def test_host_key_pinned_and_unknown(server: Any) -> None:
    from ncclient.transport.errors import SSHUnknownHostError

    m = await connect(server, hostkey_verify=True, hostkey_b64=server.hostkey_b64)
    await bounded(m.close_session())
    seen: List[str] = []

    def refuse(host: str, fingerprint: str) -> bool:
        seen.append(fingerprint)
        return False

    kw = server.connect_kwargs(hostkey_verify=True, unknown_host_cb=refuse)
    with pytest.raises(SSHUnknownHostError):
        await bounded(manager.connect(**kw))
    assert seen == [server.fingerprint]


def test_demo_runs_green() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "ncclient_twisted.demo", "--devices", "5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failures         0" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.threads_only("about paramiko's socket and transport thread")
@pytest_twisted.ensureDeferred
async def test_quiet_socket_keeps_keepalives_and_closes_promptly(server: Any) -> None:
    import threading
    import time

    m = await connect(server, keepalive=1)
    sock = m._session.transport.sock
    # paramiko's 0.1 s poll is replaced by a 60 s sleep: keepalives are the session
    # thread's (see test_keepalive.py), paramiko's thread is not woken for them.
    assert sock.gettimeout() == 60.0
    transport = m._session.transport
    assert await wait_until(lambda: m._session.keepalive.probes_sent >= 2)
    assert transport.is_active() and m.connected  # keepalives went out; nothing broke
    start = time.monotonic()
    await bounded(m.close_session())
    # The transport thread woke at once on close (not after its 1 s socket timeout).
    assert time.monotonic() - start < 0.9
    assert not any(t is transport for t in threading.enumerate())
    m2 = await connect(server)
    assert m2._session.transport.sock.gettimeout() == 60.0
    await bounded(m2.close_session())


@pytest.mark.threads_only("replies are parsed on the reactor thread there")
@pytest_twisted.ensureDeferred
async def test_replies_are_parsed_on_the_session_thread(server: Any) -> None:
    import threading

    from ncclient.operations.retrieve import GetReply

    parsed_on: List[str] = []
    original = GetReply.parse

    def spy(self: Any) -> None:
        if not self._parsed:
            parsed_on.append(threading.current_thread().name)
        original(self)

    async with await connect(server) as m:
        GetReply.parse = spy  # type: ignore[method-assign]
        try:
            reply = await bounded(m.get_config(source="running"))
        finally:
            GetReply.parse = original  # type: ignore[method-assign]
        assert reply.ok
    assert parsed_on == ["ncclient_twisted-session"]
