"""ncclient's connect keywords that need more than a host and port (``bind_addr``,
``environment``, ``sock_fd``, ``ssh_config``, TLS's ``protocol``), on both transports,
against the embedded server."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any, AsyncIterator, Tuple

import pytest
import pytest_twisted
from ncclient.transport.errors import SSHError, SSHUnknownHostError, TLSError
from twisted.internet import defer

from ncclient_twisted import manager, testing
from tests.support.helpers import bounded, reactor
from tests.support.hostkeys import write_private_key
from tests.support.transports import on_both_transports


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> testing.Certificates:
    return testing.generate_certificates(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def alice_key(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Any, str]:
    """Alice's key, and its private key file."""
    key = testing.generate_key("ed25519")
    return key, write_private_key(tmp_path_factory.mktemp("keys") / "alice", key)


@pytest_twisted.async_yield_fixture
async def server(certs: testing.Certificates, alice_key: Tuple[Any, str], io: str) -> AsyncIterator[Any]:
    s = await testing.serve(
        reactor(),
        users={"admin": "admin", "alice": "alice's password"},
        authorized_keys={"alice": [alice_key[0].public_key()]},
        tls=certs,
    )
    yield on_both_transports(s, io)
    await s.stop()


async def failure_of(d: "defer.Deferred[Any]") -> BaseException:
    try:
        m = await bounded(d)
    except Exception as e:
        return e
    await bounded(m.close_session())
    raise AssertionError("connected, but should have failed")


def local_address() -> str:
    """A loopback address other than the server's where one can be bound (Linux: all of
    127/8), so that the server seeing it shows the bind; else 127.0.0.1."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


# -- bind_addr -------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_ssh_bind_addr_is_the_source_address_the_server_sees(server: Any) -> None:
    address = local_address()
    async with await bounded(manager.connect(**server.connect_kwargs(bind_addr=address))) as m:
        assert (await bounded(m.get_config(source="running"))).ok
        (session,) = server.sessions.values()
        assert session.source_host == address


@pytest_twisted.ensureDeferred
async def test_tls_bind_addr_is_the_source_address_the_server_sees(server: Any) -> None:
    address = local_address()
    async with await bounded(manager.connect_tls(**server.tls_connect_kwargs(bind_addr=address))) as m:
        assert (await bounded(m.get_config(source="running"))).ok
        (session,) = server.sessions.values()
        assert session.source_host == address


@pytest_twisted.ensureDeferred
async def test_a_bind_addr_that_is_not_local_cannot_open_the_socket(server: Any) -> None:
    not_local = "192.0.2.1"  # TEST-NET-1: no interface has it, the bind fails at once
    error = await failure_of(manager.connect(**server.connect_kwargs(bind_addr=not_local)))
    assert isinstance(error, SSHError) and "Could not open socket" in str(error), repr(error)
    error = await failure_of(manager.connect_tls(**server.tls_connect_kwargs(bind_addr=not_local)))
    assert isinstance(error, TLSError) and "Could not open socket" in str(error), repr(error)


# -- environment -----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_environment_is_sent_before_the_subsystem(server: Any) -> None:
    environment = {"LANG": "C.UTF-8", "NETCONF_TEST": "tr\u00e8s"}
    async with await bounded(manager.connect(**server.connect_kwargs(environment=environment))) as m:
        assert (await bounded(m.get_config(source="running"))).ok
        (session,) = server.sessions.values()
        assert session.environment == environment


@pytest_twisted.ensureDeferred
async def test_environment_of_the_wrong_kind_is_a_type_error_at_the_call(server: Any) -> None:
    for environment in (["LANG=C"], {"LANG": 1}):
        error = await failure_of(manager.connect(**server.connect_kwargs(environment=environment)))
        assert isinstance(error, TypeError) and "environment" in str(error), repr(error)
    assert server.sessions == {}


# -- sock_fd ---------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_sock_fd_runs_ssh_over_a_socket_connected_by_the_caller(server: Any) -> None:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    try:
        d = manager.connect(**server.connect_kwargs(host=None, sock_fd=sock.fileno()))
        m = await bounded(d)
    finally:
        sock.close()  # the session runs on a duplicate of the descriptor
    async with m:
        assert (await bounded(m.get_config(source="running"))).ok
        (session,) = server.sessions.values()
        assert session.source_host == "127.0.0.1"
    assert not m.connected


@pytest_twisted.ensureDeferred
async def test_sock_fd_that_is_no_socket_fails(server: Any, tmp_path: Any) -> None:
    with open(tmp_path / "file", "w") as f:
        error = await failure_of(manager.connect(**server.connect_kwargs(host=None, sock_fd=f.fileno())))
    assert isinstance(error, OSError), repr(error)
    assert server.sessions == {}


# -- ssh_config ------------------------------------------------------------------------


def ssh_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return str(path)


@pytest_twisted.ensureDeferred
async def test_ssh_config_hostname_user_and_compression_apply_not_port(server: Any, tmp_path: Path) -> None:
    config = ssh_config(
        tmp_path,
        "Host nc-alias\n"
        "    HostName 127.0.0.1\n"
        "    User alice\n"
        "    Port 1\n"  # not applied, as in ncclient: the connect's port holds
        "    Compression yes\n",
    )
    kw = server.connect_kwargs(host="nc-alias", password="alice's password", ssh_config=config)
    del kw["username"]  # the config's User
    async with await bounded(manager.connect(**kw)) as m:
        assert (await bounded(m.get_config(source="running"))).ok
        (session,) = server.sessions.values()
        assert session.username == "alice"


@pytest_twisted.ensureDeferred
async def test_ssh_config_identity_files_unreadable_ones_skipped(
    server: Any, alice_key: Tuple[Any, str], tmp_path: Path
) -> None:
    config = ssh_config(
        tmp_path,
        "Host nc-alias\n"
        "    HostName 127.0.0.1\n"
        "    IdentityFile %s\n"
        "    IdentityFile %s\n" % (tmp_path / "missing", alice_key[1]),
    )
    kw = server.connect_kwargs(host="nc-alias", username="alice", ssh_config=config)
    kw.pop("password")
    async with await bounded(manager.connect(**kw)) as m:
        assert (await bounded(m.get_config(source="running"))).ok


@pytest_twisted.ensureDeferred
async def test_ssh_config_user_known_hosts_file(server: Any, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    config = ssh_config(
        tmp_path, "Host nc-alias\n    HostName 127.0.0.1\n    UserKnownHostsFile %s\n" % known_hosts
    )
    kw = server.connect_kwargs(host="nc-alias", ssh_config=config, hostkey_verify=True)
    known_hosts.write_text("")
    error = await failure_of(manager.connect(**kw))
    assert isinstance(error, SSHUnknownHostError), repr(error)
    known_hosts.write_text(server.known_hosts_line + "\n")  # [127.0.0.1]:port: the HostName's
    async with await bounded(manager.connect(**kw)) as m:
        assert m.connected


@pytest_twisted.ensureDeferred
async def test_ssh_config_proxy_command_is_not_used_with_a_socket(server: Any, tmp_path: Path) -> None:
    config = ssh_config(tmp_path, "Host *\n    ProxyCommand false\n")
    sock = socket.create_connection((server.host, server.port), timeout=5)
    try:
        m = await bounded(manager.connect(**server.connect_kwargs(sock_fd=sock.fileno(), ssh_config=config)))
    finally:
        sock.close()
    async with m:
        assert (await bounded(m.get_config(source="running"))).ok


@pytest_twisted.ensureDeferred
async def test_ssh_config_file_missing_is_an_os_error(server: Any, tmp_path: Path) -> None:
    error = await failure_of(manager.connect(**server.connect_kwargs(ssh_config=str(tmp_path / "none"))))
    assert isinstance(error, FileNotFoundError), repr(error)


# -- TLS protocol ----------------------------------------------------------------------


@pytest_twisted.async_yield_fixture
async def tls13_only(certs: testing.Certificates) -> AsyncIterator[int]:
    """A TLS server that takes TLS 1.3 only (and says nothing after the handshake)."""
    from twisted.internet import protocol
    from twisted.internet import ssl as twisted_ssl
    from twisted.protocols.tls import TLSMemoryBIOFactory

    with open(certs.server_cert_file, "rb") as f, open(certs.server_key_file, "rb") as k:
        server_cert = twisted_ssl.PrivateCertificate.loadPEM(f.read() + b"\n" + k.read())
    options = twisted_ssl.CertificateOptions(
        privateKey=server_cert.privateKey.original,
        certificate=server_cert.original,
        raiseMinimumTo=twisted_ssl.TLSVersion.TLSv1_3,
    )
    factory = TLSMemoryBIOFactory(options, False, protocol.Factory.forProtocol(protocol.Protocol))
    port = reactor().listenTCP(0, factory, interface="127.0.0.1")
    yield port.getHost().port
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_tls_protocol_client_and_tls_1_2_connect(server: Any) -> None:
    for protocol in (ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLSv1_2):
        async with await bounded(manager.connect_tls(**server.tls_connect_kwargs(protocol=protocol))) as m:
            assert (await bounded(m.get_config(source="running"))).ok


@pytest_twisted.ensureDeferred
async def test_tls_protocol_tls_1_2_is_no_more_than_1_2(server: Any, tls13_only: int) -> None:
    kw = server.tls_connect_kwargs(port=tls13_only, protocol=ssl.PROTOCOL_TLSv1_2, timeout=5)
    error = await failure_of(manager.connect_tls(**kw))
    assert isinstance(error, TLSError) and "handshake" in str(error).lower(), repr(error)


@pytest_twisted.ensureDeferred
async def test_tls_protocol_for_servers_or_not_a_protocol_fails(server: Any) -> None:
    kw = server.tls_connect_kwargs(protocol=ssl.PROTOCOL_TLS_SERVER)
    assert isinstance(await failure_of(manager.connect_tls(**kw)), TLSError)
    kw = server.tls_connect_kwargs(protocol=99)
    assert isinstance(await failure_of(manager.connect_tls(**kw)), ValueError)
    assert server.sessions == {}
