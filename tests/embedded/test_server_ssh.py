"""The SSH side of the test server, checked with ncclient/paramiko."""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path
from typing import List, Tuple

import ncclient
import pytest
import pytest_twisted
from cryptography.hazmat.primitives import serialization
from ncclient.transport.errors import AuthenticationError, SSHUnknownHostError
from twisted.internet.defer import gatherResults

from ncclient_twisted import testing
from tests.support.hostkeys import write_private_key
from tests.support.server import TIMEOUT, Blocking, fast_ncclient, nc, reactor, running  # noqa: F401

EXPECTED_CAPABILITIES = [
    "urn:ietf:params:netconf:base:1.0",
    "urn:ietf:params:netconf:base:1.1",
    "urn:ietf:params:netconf:capability:writable-running:1.0",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:startup:1.0",
    "urn:ietf:params:netconf:capability:notification:1.0",
    "urn:ietf:params:netconf:capability:interleave:1.0",
]


@pytest_twisted.ensureDeferred
async def test_password_login_hello_and_sessions(nc: Blocking) -> None:
    async with running(
        users={"admin": "secret", "bob": "pw"}, extra_capabilities=["urn:example:cap?x=1"]
    ) as server:
        assert server.host == "127.0.0.1" and server.port > 0
        async with nc.connect(server) as m1, nc.connect(server, username="bob") as m2:
            caps = list(m1.server_capabilities)
            for cap in EXPECTED_CAPABILITIES + ["urn:example:cap?x=1"]:
                assert cap in caps
            assert caps == server.capabilities
            ids = {int(m1.session_id), int(m2.session_id)}
            assert set(server.sessions) == ids and len(ids) == 2
            session = server.sessions[int(m2.session_id)]
            assert session.username == "bob" and session.source_host == "127.0.0.1"
            assert session.base_version == "1.1"
            assert "urn:ietf:params:netconf:base:1.1" in session.client_capabilities
            closed = session.when_closed()
        await closed.addTimeout(TIMEOUT, reactor)
        assert session.closed


@pytest.mark.parametrize("username,password", [("admin", "wrong"), ("nobody", "admin")])
@pytest_twisted.ensureDeferred
async def test_bad_credentials(nc: Blocking, username: str, password: str) -> None:
    async with running() as server:
        with pytest.raises(AuthenticationError):
            async with nc.connect(server, username=username, password=password):
                pass  # pragma: no cover
        assert server.sessions == {}


@pytest.mark.skipif(
    tuple(int(x) for x in ncclient.__version__.split(".")[:2]) < (0, 7),
    reason="ncclient 0.6.x cannot open a key_filename without a password (fixed in 0.7.0)",
)
@pytest_twisted.ensureDeferred
async def test_public_key_users(nc: Blocking, tmp_path: Path) -> None:
    ed = testing.generate_key("ed25519")
    ec = testing.generate_key("ecdsa")
    stranger = testing.generate_key("ed25519")
    openssh_line = ec.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    async with running(
        users={"admin": "admin"},
        authorized_keys={"alice": [ed.public_key()], "carol": [openssh_line + " carol@example"]},
    ) as server:
        ed_file, ec_file = write_private_key(tmp_path / "ed", ed), write_private_key(tmp_path / "ec", ec)
        async with nc.connect(server, username="alice", key_filename=ed_file) as m:
            assert server.sessions[int(m.session_id)].username == "alice"
        async with nc.connect(server, username="carol", key_filename=ec_file) as m:
            assert server.sessions[int(m.session_id)].username == "carol"
        stranger_file = write_private_key(tmp_path / "x", stranger)
        with pytest.raises(AuthenticationError):
            async with nc.connect(server, username="alice", key_filename=stranger_file):
                pass  # pragma: no cover
        with pytest.raises(AuthenticationError):  # carol's key is not alice's
            async with nc.connect(server, username="alice", key_filename=str(tmp_path / "ec")):
                pass  # pragma: no cover


@pytest_twisted.ensureDeferred
async def test_fingerprint_seen_by_unknown_host_cb(nc: Blocking, tmp_path: Path) -> None:
    seen: List[Tuple[str, str]] = []

    def unknown_host_cb(host: str, fingerprint: str) -> bool:
        seen.append((host, fingerprint))
        return True

    async with running() as server:
        assert len(server.fingerprint.split(":")) == 16
        async with nc.connect(server, hostkey_verify=True, unknown_host_cb=unknown_host_cb,
                              ssh_config=str(_empty_ssh_config(tmp_path))) as m:
            remote = m._session.transport.get_remote_server_key()
            assert remote.fingerprint == server.fingerprint_sha256
            assert base64.b64encode(remote.asbytes()).decode() == server.hostkey_b64
        assert seen == [("127.0.0.1", server.fingerprint)]


def _empty_ssh_config(tmp_path: Path, known_hosts: str = "") -> Path:
    hosts = tmp_path / "known_hosts"
    hosts.write_text(known_hosts)
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  UserKnownHostsFile %s\n" % hosts)
    return config


@pytest_twisted.ensureDeferred
async def test_hostkey_b64_and_known_hosts(nc: Blocking, tmp_path: Path) -> None:
    async with running() as server:
        async with nc.connect(server, hostkey_verify=True, hostkey_b64=server.hostkey_b64) as m:
            assert m.connected
        other = testing.NetconfServer(reactor, host_key=testing.generate_key())
        with pytest.raises(SSHUnknownHostError):
            async with nc.connect(server, hostkey_verify=True, hostkey_b64=other.hostkey_b64):
                pass  # pragma: no cover
        config = _empty_ssh_config(tmp_path, server.known_hosts_line + "\n")
        async with nc.connect(server, hostkey_verify=True, ssh_config=str(config)) as m:
            assert m.connected


@pytest_twisted.ensureDeferred
async def test_host_key_from_file_and_sharing(nc: Blocking, tmp_path: Path) -> None:
    key = testing.generate_key("ecdsa")
    path = tmp_path / "host_key"
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    async with running(host_key=str(path)) as from_file, running() as a, running() as b:
        assert a.hostkey_b64 == b.hostkey_b64  # one shared key per process by default
        assert from_file.hostkey_b64 != a.hostkey_b64
        assert from_file.known_hosts_line.split()[1] == "ecdsa-sha2-nistp256"
        async with nc.connect(from_file, hostkey_verify=True, hostkey_b64=from_file.hostkey_b64) as m:
            assert m._session.transport.get_remote_server_key().get_name() == "ecdsa-sha2-nistp256"


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
        return True
    except OSError:
        return False


@pytest_twisted.ensureDeferred
async def test_stop_drops_connections(nc: Blocking) -> None:
    server = await testing.serve(reactor)
    try:
        async with nc.connect(server) as m:
            session = server.sessions[int(m.session_id)]
            await server.stop().addTimeout(TIMEOUT, reactor)
            assert session.closed and server.sessions == {}
            # The client sees the connection go away.
            await nc.call(m._session.join, TIMEOUT)
            assert not m.connected
        assert not await nc.call(_port_open, server.port)
        await server.stop().addTimeout(TIMEOUT, reactor)  # idempotent
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_two_hundred_servers(nc: Blocking) -> None:
    started = time.monotonic()
    servers = await gatherResults(
        [testing.serve(reactor, config="<a xmlns='urn:a'>%d</a>" % i) for i in range(200)]
    )
    try:
        assert len({s.port for s in servers}) == 200
        async with nc.connect(servers[0]) as m0, nc.connect(servers[199]) as m199:
            assert "<a xmlns=\"urn:a\">0</a>" in (await nc.call(m0.get_config, "running")).xml
            assert "<a xmlns=\"urn:a\">199</a>" in (await nc.call(m199.get_config, "running")).xml
    finally:
        await gatherResults([s.stop() for s in servers]).addTimeout(TIMEOUT, reactor)
    assert time.monotonic() - started < 20  # wall time is the property: no hang
