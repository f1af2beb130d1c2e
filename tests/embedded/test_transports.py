"""TLS (RFC 7589) and Unix-socket sessions against the embedded server."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_twisted
from lxml import etree
from ncclient.transport.errors import TLSError, UnixSocketError
from twisted.internet import defer

from ncclient_twisted import manager, testing
from tests.support.helpers import bounded as _bounded
from tests.support.helpers import reactor, session_threads
from tests.support.transports import on_both_transports

WAIT = 15


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> testing.Certificates:
    return testing.generate_certificates(tmp_path_factory.mktemp("pki"))


@pytest_twisted.async_yield_fixture
async def server(certs: testing.Certificates, tmp_path: Path, io: str) -> AsyncIterator[Any]:
    s = await testing.serve(reactor(), tls=certs, unix_socket=str(tmp_path / "netconf.sock"))
    before = session_threads()
    yield on_both_transports(s, io)
    await s.stop()
    assert not (tmp_path / "netconf.sock").exists()
    # Every session the test opened is gone, thread included.
    assert [t for t in session_threads() if t not in before] == []


async def bounded(d: "defer.Deferred[Any]", seconds: float = WAIT) -> Any:
    return await _bounded(d, seconds)


async def failure_of(d: "defer.Deferred[Any]") -> BaseException:
    try:
        m = await bounded(d)
    except Exception as e:
        return e
    await m.close_session()
    raise AssertionError("connected, but should have failed")


def test_generate_certificates_writes_pem_files(certs: testing.Certificates) -> None:
    for path in (certs.ca_file, certs.server_cert_file, certs.client_cert_file):
        assert Path(path).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    for path in (certs.server_key_file, certs.client_key_file):
        assert Path(path).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert os.stat(path).st_mode & 0o077 == 0
    assert certs.client_kwargs() == {
        "certfile": certs.client_cert_file,
        "keyfile": certs.client_key_file,
        "ca_certs": certs.ca_file,
    }


@pytest_twisted.ensureDeferred
async def test_tls_get_config_and_certificate_name_as_username(server: testing.NetconfServer) -> None:
    m = await bounded(manager.connect_tls(**server.tls_connect_kwargs()))
    async with m:
        assert m.connected and m._session.host == "127.0.0.1"
        reply = await bounded(m.get_config(source="running"))
        assert reply.ok
        (session,) = server.sessions.values()
        assert session.username == "admin"
        assert session.base_version == "1.1"
        # Many requests in flight at once, answered in order of the ids.
        replies = await bounded(defer.gatherResults([m.get() for _ in range(50)]))
        assert all(r.ok for r in replies)
    assert not m.connected
    assert await bounded(m.when_closed()) is None


@pytest_twisted.ensureDeferred
async def test_tls_requests_do_not_wait_for_a_tick(server: testing.NetconfServer) -> None:
    # ncclient's loop looks at its queue every 0.1 s: a median near 50 ms. Ours wakes.
    async with await bounded(manager.connect_tls(**server.tls_connect_kwargs())) as m:
        latencies = []
        for _ in range(15):
            start = time.monotonic()
            await bounded(m.get_config(source="running"))
            latencies.append(time.monotonic() - start)
        assert sorted(latencies)[len(latencies) // 2] < 0.04, latencies


@pytest_twisted.ensureDeferred
async def test_tls_server_closing_ends_the_session(server: testing.NetconfServer) -> None:
    m = await bounded(manager.connect_tls(**server.tls_connect_kwargs()))
    (session,) = server.sessions.values()
    session.disconnect()
    reason = await bounded(m.when_closed())
    assert isinstance(reason, Exception)
    assert not m.connected
    await bounded(m.close_session().addErrback(lambda f: None))


@pytest_twisted.ensureDeferred
async def test_tls_client_certificate_from_another_ca_is_refused(
    server: testing.NetconfServer, certs: testing.Certificates, tmp_path: Path
) -> None:
    stranger = testing.generate_certificates(tmp_path, ca_name="another CA")
    kwargs = server.tls_connect_kwargs(stranger)
    kwargs["ca_certs"] = certs.ca_file  # we trust the server; it does not trust us
    error = await failure_of(manager.connect_tls(**kwargs))
    assert isinstance(error, TLSError), repr(error)
    assert "alert" in str(error).lower() or "handshake" in str(error).lower(), str(error)
    assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_tls_server_certificate_for_another_name_is_refused(
    certs: testing.Certificates, tmp_path: Path, io: str
) -> None:
    other = testing.generate_certificates(tmp_path, server_names=("netconf.example",))
    s = on_both_transports(await testing.serve(reactor(), tls=other), io)
    try:
        error = await failure_of(manager.connect_tls(**s.tls_connect_kwargs()))
        assert isinstance(error, TLSError), repr(error)
        assert "hostname mismatch" in str(error) or "match" in str(error), str(error)
        # The name the certificate has is accepted.
        kwargs = s.tls_connect_kwargs(server_hostname="netconf.example")
        async with await bounded(manager.connect_tls(**kwargs)) as m:
            assert (await bounded(m.get_config(source="running"))).ok
    finally:
        await s.stop()


@pytest_twisted.ensureDeferred
async def test_tls_server_certificate_from_an_unknown_ca_is_refused(
    server: testing.NetconfServer, tmp_path: Path
) -> None:
    stranger = testing.generate_certificates(tmp_path, ca_name="another CA")
    kwargs = server.tls_connect_kwargs(ca_certs=stranger.ca_file)
    error = await failure_of(manager.connect_tls(**kwargs))
    assert isinstance(error, TLSError) and "certificate verify failed" in str(error), str(error)


@pytest_twisted.ensureDeferred
async def test_tls_bad_arguments_and_no_server(server: testing.NetconfServer, tmp_path: Path) -> None:
    kwargs = server.tls_connect_kwargs()
    del kwargs["certfile"]
    assert "Missing client certificate" in str(await failure_of(manager.connect_tls(**kwargs)))
    kwargs = server.tls_connect_kwargs(certfile=str(tmp_path / "missing.pem"))
    assert isinstance(await failure_of(manager.connect_tls(**kwargs)), TLSError)
    kwargs = server.tls_connect_kwargs(port=server.port)  # the SSH port: no TLS there
    error = await failure_of(manager.connect_tls(**kwargs))
    assert isinstance(error, TLSError), repr(error)
    await server.stop()
    error = await failure_of(manager.connect_tls(**server.tls_connect_kwargs()))
    assert isinstance(error, TLSError) and "Could not open socket" in str(error)


@pytest_twisted.ensureDeferred
async def test_uds_get_config(server: testing.NetconfServer) -> None:
    async with await bounded(manager.connect_uds(**server.uds_connect_kwargs())) as m:
        assert (await bounded(m.get_config(source="running"))).ok
        (session,) = server.sessions.values()
        assert session.username  # the peer's login name
        await bounded(m.edit_config(
            '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            '<system xmlns="urn:example:system"><hostname>uds</hostname></system></config>',
            target="running",
        ))
        assert b"<hostname>uds</hostname>" in etree.tostring(server.get_config())
    assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_uds_no_socket_is_unixsocketerror(tmp_path: Path) -> None:
    error = await failure_of(manager.connect_uds(path=str(tmp_path / "nothing.sock"), timeout=5))
    assert isinstance(error, UnixSocketError), repr(error)


@pytest_twisted.ensureDeferred
async def test_without_ncclient_tls_support_it_is_notimplementederror(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As with an ncclient older than 0.6.14: our TLS/UDS module cannot be imported.
    monkeypatch.setitem(sys.modules, "ncclient_twisted.transport.threads.sockets", None)
    for connect in (manager.connect_tls, manager.connect_uds):
        with pytest.raises(NotImplementedError, match="ncclient"):
            await connect(host="127.0.0.1", certfile="x", path="/nonexistent")


@pytest.mark.parametrize("transport", ["tls", "uds"])
@pytest_twisted.ensureDeferred
async def test_large_request_and_reply_through_a_full_socket(
    server: testing.NetconfServer, transport: str
) -> None:
    # A 4 MB edit-config fills the kernel's buffers: the session thread waits for the
    # socket to be writable (and goes on reading) instead of spinning or blocking.
    kwargs = server.tls_connect_kwargs() if transport == "tls" else server.uds_connect_kwargs()
    connect = manager.connect_tls if transport == "tls" else manager.connect_uds
    items = "".join("<item><name>n%d</name><v>%s</v></item>" % (i, "x" * 200) for i in range(20000))
    config = (
        '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        '<big xmlns="urn:example:big">%s</big></config>' % items
    )
    async with await bounded(connect(**kwargs)) as m:
        pings = [m.get_config(source="running", filter=("subtree", '<nothing xmlns="urn:x"/>'))
                 for _ in range(5)]
        assert (await bounded(m.edit_config(config, target="running"), 60)).ok
        assert all(r.ok for r in await bounded(defer.gatherResults(pings)))
        reply = await bounded(m.get_config(source="running"), 60)
        assert reply.data_xml.count("<item>") + reply.data_xml.count(":item>") >= 20000


@pytest_twisted.ensureDeferred
async def test_serve_fails_cleanly_when_a_listener_cannot_start(
    certs: testing.Certificates, tmp_path: Path
) -> None:
    # The Unix socket's directory does not exist: serve fails, the TCP ports it opened close.
    readers = set(reactor().getReaders())
    with pytest.raises(Exception):  # noqa: B017 - the OS's error; the test is about the cleanup
        await testing.serve(reactor(), tls=certs, unix_socket=str(tmp_path / "no" / "sock"))
    assert set(reactor().getReaders()) == readers
