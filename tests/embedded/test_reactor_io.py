"""What only the reactor transport (``io="reactor"``) has or does differently: no thread
per session, each handshake stage failing with ncclient's exception, host keys decided
without a thread (under the peer's address for a ``sock_fd`` without a host), and an
ssh_config ``ProxyCommand`` refused naming ``io="threads"``."""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Any, List

import pytest
import pytest_twisted
from ncclient.transport.errors import AuthenticationError, SSHError, SSHUnknownHostError
from twisted.internet import defer

from ncclient_twisted import HostKeyChangedError, manager, testing
from ncclient_twisted.transport.reactor.ssh import ReusedMACCiphers
from tests.support.helpers import bounded, reactor
from tests.support.hostkeys import write_private_key
from tests.support.transports import connect


async def fails(d: "defer.Deferred[Any]", kind: type) -> BaseException:
    with pytest.raises(kind) as e:
        await bounded(d)
    return e.value


@pytest_twisted.ensureDeferred
async def test_sessions_start_no_thread(server: Any) -> None:
    managers = [await connect(server, io="reactor")]  # the first connect may start the key-loading pool
    before = threading.active_count()
    managers += [await connect(server, io="reactor") for _ in range(10)]
    results = await bounded(defer.gatherResults([m.get_config(source="running") for m in managers]))
    assert all(r.ok for r in results)
    assert threading.active_count() == before
    assert {type(m._session).__name__ for m in managers} == {"ReactorSession"}
    for m in managers:
        await bounded(m.close_session())
    assert not any(m.connected for m in managers)


@pytest_twisted.ensureDeferred
async def test_packets_are_authenticated_by_one_keyed_mac_per_direction(server: Any) -> None:
    m = await connect(server)
    transport = m._session._channel.conn.transport
    ciphers = transport.currentEncryptions
    assert type(ciphers) is ReusedMACCiphers
    assert ciphers._out_hmac is not None and ciphers._in_hmac is not None
    from ncclient_twisted.testing import Fault

    # Many packets each way, each MAC checked by the server and by us.
    server.faults.add(Fault.large_reply("get", 1024 * 1024, count=1))
    config = (
        '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        '<system xmlns="urn:example:system"><hostname>%s</hostname></system></config>' % ("h" * 300_000)
    )
    assert (await bounded(m.edit_config(target="candidate", config=config))).ok
    assert len((await bounded(m.get())).xml) > 1024 * 1024
    await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_tcp_refused_is_an_ssh_error(server: Any) -> None:
    kw = server.connect_kwargs(io="reactor")
    await server.stop()
    error = await fails(manager.connect(**kw), SSHError)
    assert "Could not open socket" in str(error)


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_an_authentication_error(server: Any) -> None:
    error = await fails(
        manager.connect(**server.connect_kwargs(password="wrong", io="reactor")), AuthenticationError
    )
    assert "wrong" not in str(error)


@pytest_twisted.ensureDeferred
async def test_public_key_authentication(tmp_path: Any) -> None:
    key = testing.generate_key("ed25519")
    path = write_private_key(os.path.join(str(tmp_path), "id_ed25519"), key)
    server = await testing.serve(
        reactor(), users={"admin": "not-this"}, authorized_keys={"admin": [key.public_key()]}
    )
    try:
        kw = server.connect_kwargs(key_filename=path, io="reactor")
        kw.pop("password", None)
        m = await bounded(manager.connect(**kw))
        assert (await bounded(m.get_config(source="running"))).ok
        await bounded(m.close_session())
        # A key file that cannot be read is skipped, as ncclient skips it (issue #21).
        kw["key_filename"] = os.path.join(str(tmp_path), "missing")
        error = await fails(manager.connect(**kw), AuthenticationError)
        # Nothing tried with the key (ncclient 0.6.x's empty passphrase is also tried as a
        # password, as ncclient 0.6 does: "tried password" there, "tried nothing" on 0.7).
        assert "publickey" not in str(error).split("; tried", 1)[1]
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_host_keys_unknown_accept_new_then_changed(server: Any, tmp_path: Any) -> None:
    known_hosts = os.path.join(str(tmp_path), "known_hosts")
    strict = dict(hostkey_verify=True, known_hosts=known_hosts)
    await fails(manager.connect(**server.connect_kwargs(io="reactor", **strict)), SSHUnknownHostError)
    m = await connect(server, io="reactor", accept_new=True, **strict)
    await bounded(m.close_session())
    assert server.hostkey_b64 in open(known_hosts).read()
    m = await connect(server, io="reactor", **strict)  # now known
    await bounded(m.close_session())
    other = await testing.serve(reactor(), users={"admin": "admin"}, host_key=testing.generate_key())
    try:
        with open(known_hosts, "w") as f:  # the first server's key, filed under the other's port
            f.write("[%s]:%d ssh-ed25519 %s\n" % (other.host, other.port, server.hostkey_b64))
        error = await fails(
            manager.connect(**other.connect_kwargs(io="reactor", **strict)), HostKeyChangedError
        )
        assert error.known_hosts == known_hosts
    finally:
        await other.stop()


@pytest_twisted.ensureDeferred
async def test_pinned_key_and_unknown_host_cb_with_a_deferred(server: Any, tmp_path: Any) -> None:
    m = await connect(server, io="reactor", hostkey_verify=True, hostkey_b64=server.hostkey_b64)
    await bounded(m.close_session())
    asked: List[str] = []

    def ask(host: str, fingerprint: str) -> "defer.Deferred[bool]":
        asked.append(fingerprint)
        return defer.succeed(True)

    known_hosts = os.path.join(str(tmp_path), "empty")
    m = await connect(server, io="reactor", hostkey_verify=True, known_hosts=known_hosts, unknown_host_cb=ask)
    await bounded(m.close_session())
    assert len(asked) == 1 and asked[0].count(":") == 15  # ncclient's MD5 form


@pytest_twisted.ensureDeferred
async def test_sock_fd_without_a_host_checks_the_host_key_under_the_peer_address(
    server: Any, tmp_path: Any
) -> None:
    known_hosts = os.path.join(str(tmp_path), "known_hosts")
    with open(known_hosts, "w") as f:
        f.write(server.known_hosts_line + "\n")  # [127.0.0.1]:port
    sock = socket.create_connection((server.host, server.port), timeout=5)
    try:
        m = await connect(
            server, io="reactor", host=None, sock_fd=sock.fileno(), hostkey_verify=True,
            known_hosts=known_hosts,
        )
    finally:
        sock.close()
    await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_an_ssh_config_proxy_command_is_refused_naming_io_threads(server: Any, tmp_path: Any) -> None:
    config = os.path.join(str(tmp_path), "ssh_config")
    with open(config, "w") as f:
        f.write("Host nc-proxied\n    HostName 127.0.0.1\n    ProxyCommand nc %h %p\n")
    d = manager.connect(**server.connect_kwargs(io="reactor", host="nc-proxied", ssh_config=config))
    error = await fails(d, NotImplementedError)
    assert "ProxyCommand" in str(error) and "io='threads'" in str(error)
    assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_ssh_config_connect_timeout_bounds_the_handshake_without_a_timeout(
    server: Any, tmp_path: Any
) -> None:
    config = os.path.join(str(tmp_path), "ssh_config")
    with open(config, "w") as f:
        f.write("Host *\n    ConnectTimeout 1\n")
    silent = socket.socket()  # takes the connection (the backlog), never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        port = silent.getsockname()[1]
        kw = server.connect_kwargs(io="reactor", port=port, ssh_config=config, timeout=None)
        error = await fails(manager.connect(**kw), SSHError)
    finally:
        silent.close()
    assert "timed out" in str(error)


@pytest_twisted.ensureDeferred
async def test_an_unknown_io_is_refused_at_the_call(server: Any) -> None:
    with pytest.raises(ValueError, match="io must be"):
        await bounded(manager.connect(**server.connect_kwargs(io="fibres")))


@pytest_twisted.ensureDeferred
async def test_a_large_reply_is_parsed_off_the_reactor_a_small_one_on_it(server: Any) -> None:
    from ncclient.operations.retrieve import GetReply
    from twisted.python.threadable import isInIOThread

    from ncclient_twisted.testing import Fault

    on_reactor: List[bool] = []
    original = GetReply.parse

    def spy(self: Any) -> None:
        if not self._parsed:
            on_reactor.append(bool(isInIOThread()))
        original(self)

    server.faults.add(Fault.large_reply("get", 2 * 1024 * 1024, count=1))
    m = await connect(server, io="reactor")
    GetReply.parse = spy  # type: ignore[method-assign]
    try:
        big = m.get()
        small = m.get_config(source="running")  # behind the big one: waits for it
        replies = await bounded(defer.gatherResults([big, small]))
    finally:
        GetReply.parse = original  # type: ignore[method-assign]
    assert all(r.ok for r in replies) and len(replies[0].data_xml) > 2 * 1024 * 1024
    assert on_reactor == [False, True]
    await bounded(m.close_session())


@pytest.fixture
def ssh_agent(tmp_path: Any) -> Any:
    """An ssh-agent of the test's own, holding one ed25519 key: (socket path, public key)."""
    import shutil
    import subprocess

    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("no ssh-agent here (openssh-client)")
    key = testing.generate_key("ed25519")
    path = write_private_key(os.path.join(str(tmp_path), "id_agent"), key)
    sock = os.path.join(str(tmp_path), "agent.sock")
    # Without -D the agent forks once its socket listens and prints its pid: no waiting.
    started = subprocess.run(["ssh-agent", "-s", "-a", sock], capture_output=True, text=True, timeout=30)
    assert started.returncode == 0, started
    pid = int(started.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        env = {"SSH_AUTH_SOCK": sock}
        added = subprocess.run(["ssh-add", path], env=env, capture_output=True, timeout=30)
        assert added.returncode == 0, added
        yield sock, key.public_key()
    finally:
        os.kill(pid, signal.SIGTERM)


@pytest_twisted.ensureDeferred
async def test_the_ssh_agent_keys_authenticate(ssh_agent: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sock, public = ssh_agent
    server = await testing.serve(reactor(), users={"admin": "not-this"}, authorized_keys={"admin": [public]})
    try:
        monkeypatch.setenv("SSH_AUTH_SOCK", sock)
        kw = server.connect_kwargs(io="reactor", allow_agent=True)
        kw.pop("password", None)
        m = await bounded(manager.connect(**kw))
        assert (await bounded(m.get_config(source="running"))).ok
        await bounded(m.close_session())
        # Without the agent (allow_agent=False) nothing else authenticates.
        kw["allow_agent"] = False
        await fails(manager.connect(**kw), AuthenticationError)
        # An agent that cannot be reached is passed over: the password still works.
        monkeypatch.setenv("SSH_AUTH_SOCK", sock + ".missing")
        m = await connect(server, io="reactor", allow_agent=True, password="not-this")
        await bounded(m.close_session())
    finally:
        await server.stop()


RELAY = """
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def down():
    while True:
        data = s.recv(65536)
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
threading.Thread(target=down, daemon=True).start()
while True:
    data = sys.stdin.buffer.read1(65536)
    if not data:
        break
    s.sendall(data)
"""


@pytest_twisted.ensureDeferred
async def test_io_auto_runs_an_ssh_config_proxy_command_on_the_threads_transport(
    server: Any, tmp_path: Any
) -> None:
    import sys

    relay = os.path.join(str(tmp_path), "relay.py")
    with open(relay, "w") as f:
        f.write(RELAY)
    config = os.path.join(str(tmp_path), "ssh_config")
    with open(config, "w") as f:
        f.write("Host proxied\n    ProxyCommand %s %s %d\n" % (sys.executable, relay, server.port))
    kw = server.connect_kwargs(host="proxied", ssh_config=config)  # io="auto", the default
    m = await bounded(manager.connect(**kw))
    try:
        assert type(m._session).__name__ == "ThreadedSSHSession"  # ncclient's paramiko session
        await bounded(m.get_config(source="running"))
    finally:
        await bounded(m.close_session())
