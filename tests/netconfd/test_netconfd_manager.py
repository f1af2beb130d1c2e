"""The manager against a real yuma123 netconfd over OpenSSH on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any, List

import pytest
import pytest_twisted
from ncclient.operations import RaiseMode, RPCError, TimeoutExpiredError
from ncclient.operations.retrieve import GetReply
from ncclient.transport.errors import (
    AuthenticationError,
    SessionCloseError,
    SSHError,
    SSHUnknownHostError,
    TransportError,
)
from twisted.internet import defer, task

from ncclient_twisted import manager
from tests.support.helpers import bounded, session_threads
from tests.support.netconfd import TEST_NS
from tests.support.transports import connect, on_both_transports, time_out_and_cancel


@pytest.fixture
def netconfd(netconfd: Any, io: str) -> Any:
    return on_both_transports(netconfd, io)


BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
#: Request timeout where a test sets one.
WAIT = 8


def config(body: str) -> str:
    return '<config xmlns="%s"><top xmlns="%s">%s</top></config>' % (BASE, TEST_NS, body)


async def ok(d: "defer.Deferred[Any]") -> Any:
    reply = await bounded(d)
    assert reply.ok, reply
    return reply


@pytest_twisted.ensureDeferred
async def test_get_and_get_config_with_subtree_filter(netconfd: Any) -> None:
    async with await connect(netconfd) as m:
        assert m.connected
        assert ":candidate" in m.server_capabilities
        await ok(m.edit_config(target="candidate", config=config("<name>filtered</name><count>3</count>")))
        await ok(m.commit())
        reply = await ok(m.get_config(source="running"))
        assert isinstance(reply, GetReply)
        assert "filtered" in reply.data_xml
        flt = '<top xmlns="%s"><count/></top>' % TEST_NS
        reply = await ok(m.get_config(source="running", filter=("subtree", flt)))
        assert "<count>3</count>" in reply.data_xml
        assert "filtered" not in reply.data_xml
        reply = await ok(m.get(filter=("subtree", flt)))
        assert "<count>3</count>" in reply.data_xml
    assert not m.connected


@pytest_twisted.ensureDeferred
async def test_candidate_validate_commit_discard(netconfd: Any) -> None:
    async with await connect(netconfd) as m:
        async with m.locked("candidate"):
            await ok(m.edit_config(target="candidate", config=config("<name>one</name>")))
            await ok(m.commit())
            await ok(m.edit_config(target="candidate", config=config("<name>two</name>")))
            # (yuma123 2.13 quirk, plain ncclient shows it too: a commit after a
            # validate answers <ok/> but applies nothing; so validate, then discard.)
            await ok(m.validate(source="candidate"))
            cand = await ok(m.get_config(source="candidate"))
            assert "two" in cand.data_xml
            await ok(m.discard_changes())
        cand = await ok(m.get_config(source="candidate"))
        assert "one" in cand.data_xml and "two" not in cand.data_xml


@pytest_twisted.ensureDeferred
async def test_copy_config_and_delete_config(netconfd: Any) -> None:
    async with await connect(netconfd) as m:
        await ok(m.edit_config(target="candidate", config=config("<name>saved</name>")))
        await ok(m.commit())
        await ok(m.copy_config(source="running", target="startup"))
        startup = await ok(m.get_config(source="startup"))
        assert "saved" in startup.data_xml
        await ok(m.delete_config(target="startup"))
        with pytest.raises(RPCError):
            # netconfd refuses to delete running
            await bounded(m.delete_config(target="running"))
        assert m.connected


@pytest_twisted.ensureDeferred
async def test_raise_mode_with_a_real_rpc_error(netconfd: Any) -> None:
    async with await connect(netconfd) as a, await connect(
        netconfd, errors_params={"raise_mode": RaiseMode.NONE}
    ) as b:
        await ok(a.lock("running"))
        try:
            # RaiseMode.NONE: the reply, with its error
            reply = await bounded(b.lock("running"))
            assert not reply.ok
            assert reply.error.tag == "lock-denied"
            # RaiseMode.ERRORS: lock-denied has severity error
            b.raise_mode = RaiseMode.ERRORS
            with pytest.raises(RPCError) as e:
                await bounded(b.lock("running"))
            assert e.value.tag == "lock-denied"
            # RaiseMode.ALL (the default)
            with pytest.raises(RPCError):
                await bounded(a.unlock("startup"))
            # The locked context uses ERRORS whatever the manager's mode.
            b.raise_mode = RaiseMode.NONE
            with pytest.raises(RPCError):
                async with b.locked("running"):
                    pass
        finally:
            await ok(a.unlock("running"))
        assert a.connected and b.connected


@pytest_twisted.ensureDeferred
async def test_many_requests_in_flight(netconfd: Any) -> None:
    async with await connect(netconfd) as m:
        replies = await bounded(
            defer.gatherResults([m.get_config(source="running") for _ in range(300)])
        )
        assert len(replies) == 300 and all(r.ok for r in replies)
        assert m.pending_requests == 0


@pytest_twisted.ensureDeferred
async def test_timeout_then_late_reply_is_dropped_and_session_survives(
    netconfd_private: Any,
) -> None:
    m = await connect(netconfd_private, manager_params={"timeout": 1})
    try:
        os.kill(netconfd_private.netconfd_pid, signal.SIGSTOP)
        try:
            await time_out_and_cancel(m)
        finally:
            os.kill(netconfd_private.netconfd_pid, signal.SIGCONT)
        m.timeout = WAIT
        await ok(m.get_config(source="running"))  # the session goes on
        # The two late replies came before this one's (netconfd answers in order).
        assert m.replies_dropped == 2
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_server_dies_mid_request(netconfd_private: Any) -> None:
    m = await connect(netconfd_private, manager_params={"timeout": None})
    closed = m.when_closed()
    os.kill(netconfd_private.netconfd_pid, signal.SIGSTOP)
    pending = [m.get_config(source="running") for _ in range(5)]
    netconfd_private.kill_netconfd()
    for d in pending:
        with pytest.raises(TransportError):
            await bounded(d, 10)
    reason = await bounded(closed, 10)
    assert isinstance(reason, SessionCloseError)
    assert not m.connected
    with pytest.raises(TransportError):
        await bounded(m.get())
    await bounded(m.close_session().addErrback(lambda _: None))
    assert session_threads() == []


@pytest_twisted.ensureDeferred
async def test_kill_session(netconfd: Any) -> None:
    async with await connect(netconfd) as killer:
        victim = await connect(netconfd, manager_params={"timeout": None})
        closed = victim.when_closed()
        await ok(killer.kill_session(victim.session_id))
        reason = await bounded(closed, 10)
        assert isinstance(reason, SessionCloseError)
        assert not victim.connected
        with pytest.raises(TransportError):
            await bounded(victim.get())
        await bounded(victim.close_session().addErrback(lambda _: None))


@pytest_twisted.ensureDeferred
async def test_close_session_leaves_no_thread(netconfd: Any) -> None:
    before = session_threads()
    m = await connect(netconfd)
    # the session's thread and paramiko's; none on the reactor transport
    assert len(session_threads()) == len(before) + (2 if netconfd.io == "threads" else 0)
    reply = await bounded(m.close_session())
    assert reply.ok
    assert not m.connected
    assert await bounded(m.when_closed()) is None
    assert session_threads() == before
    # Closing again gives the same outcome and does not block.
    assert (await bounded(m.close_session())).ok


@pytest_twisted.ensureDeferred
async def test_close_session_when_server_never_answers(netconfd_private: Any) -> None:
    m = await connect(netconfd_private)
    os.kill(netconfd_private.netconfd_pid, signal.SIGSTOP)
    try:
        with pytest.raises(TimeoutExpiredError):
            await bounded(m.close_session(timeout=0.5), 15)
        assert not m.connected
        assert session_threads() == []
    finally:
        os.kill(netconfd_private.netconfd_pid, signal.SIGCONT)


@pytest_twisted.ensureDeferred
async def test_reactor_keeps_running_while_connecting(netconfd: Any) -> None:
    from twisted.internet import reactor

    ticks: List[float] = []
    loop = task.LoopingCall(lambda: ticks.append(reactor.seconds()))
    loop.start(0.005)
    try:
        m = await connect(netconfd)
    finally:
        loop.stop()
    await bounded(m.close_session())
    assert len(ticks) >= 3
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert max(gaps) < 0.2, gaps


@pytest_twisted.ensureDeferred
async def test_connect_errors_are_ncclients(netconfd: Any, tmp_path: Any) -> None:
    kw = dict(netconfd.connect_kwargs())
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    # Authentication failure: a key the server does not know.
    with pytest.raises(AuthenticationError):
        await bounded(manager.connect(**dict(kw, key_filename=str(other))))
    # Host key verification: pinned to a key that is not the server's.
    other_b64 = (tmp_path / "other_key.pub").read_text().split()[1]
    with pytest.raises(SSHUnknownHostError):
        await bounded(manager.connect(**dict(kw, hostkey_verify=True, hostkey_b64=other_b64)))
    # Connection refused.
    with pytest.raises(SSHError):
        await bounded(manager.connect(**dict(kw, port=_closed_port())))
    assert session_threads() == []


def _closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest_twisted.ensureDeferred
async def test_pinned_host_key_accepted(netconfd: Any) -> None:
    m = await connect(netconfd, hostkey_verify=True, hostkey_b64=netconfd.hostkey_b64)
    await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_environment_refused_by_sshd_is_no_error(netconfd: Any) -> None:
    # OpenSSH refuses env requests that AcceptEnv (not set here) does not name; the
    # client asks for no reply, as paramiko does, so the session goes on.
    async with await connect(netconfd, environment={"NETCONF_TEST": "refused"}) as m:
        await ok(m.get_config(source="running"))


@pytest_twisted.ensureDeferred
async def test_inline_callbacks_style(netconfd: Any) -> None:
    @defer.inlineCallbacks
    def work() -> Any:
        m = yield manager.connect(**netconfd.connect_kwargs())
        try:
            reply = yield m.locked("candidate").run(
                m.edit_config, target="candidate", config=config("<count>9</count>")
            )
            assert reply.ok
        finally:
            yield m.close_session()

    await bounded(work())


SHUTDOWN_SCRIPT = """
import json, sys, threading
from twisted.internet import defer, task
from ncclient_twisted import manager

async def main(reactor):
    kw = json.loads(sys.argv[1])
    ms = await defer.gatherResults([manager.connect(**kw) for _ in range(5)])
    # hold a request in flight and return without closing anything
    ms[0].get_config(source="running").addErrback(lambda f: None)
    reactor.addSystemEventTrigger("after", "shutdown", lambda: print(
        "connected-after-shutdown", sum(m.connected for m in ms), flush=True))

task.react(lambda r: defer.ensureDeferred(main(r)))
"""


def test_reactor_shutdown_closes_sessions_and_exits(netconfd: Any) -> None:
    import json
    import sys
    import time

    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", SHUTDOWN_SCRIPT, json.dumps(netconfd.connect_kwargs())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "connected-after-shutdown 0" in proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert time.monotonic() - start < 15  # wall time is the property: shutdown within 15 s
