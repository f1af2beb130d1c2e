"""ncclient's connect keywords that need more than a host and port (``bind_addr``,
``environment``, ``sock_fd``, ``ssh_config``, TLS's ``protocol``), on both transports,
against the embedded server."""

from __future__ import annotations

import socket
from typing import Any, AsyncIterator

import pytest
import pytest_twisted
from ncclient.transport.errors import SSHError, TLSError
from twisted.internet import defer

from ncclient_twisted import manager, testing
from tests.conftest import on_both_transports
from tests.support.helpers import bounded, reactor


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> testing.Certificates:
    return testing.generate_certificates(tmp_path_factory.mktemp("pki"))


@pytest_twisted.async_yield_fixture
async def server(certs: testing.Certificates, io: str) -> AsyncIterator[Any]:
    s = await testing.serve(reactor(), users={"admin": "admin"}, tls=certs)
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
