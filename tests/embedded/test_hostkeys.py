"""Host keys: known_hosts with [host]:port, pins, accept-new, changed keys, unknown_host_cb.

Against the embedded server (whose key we choose); against netconfd behind OpenSSH in
tests/netconfd/test_hostkeys_netconfd.py.
"""

from __future__ import annotations

import os
import threading
from typing import Any, List, Tuple

import paramiko
import pytest
import pytest_twisted
from ncclient.transport.errors import SSHUnknownHostError
from twisted.conch.ssh import keys as conch_keys
from twisted.internet import defer, task

import ncclient_twisted
from ncclient_twisted import manager, testing
from ncclient_twisted.transport.hostkeys import (
    HostKeyUnknownError,
    PortAwareHostKeys,
    fingerprint_sha256,
    store_host_key,
)
from tests.support.helpers import bounded, reactor
from tests.support.hostkeys import other_key_line


def kwargs(server: testing.NetconfServer, **kw: Any) -> Any:
    return server.connect_kwargs(hostkey_verify=True, **kw)


async def connect_ok(server: testing.NetconfServer, **kw: Any) -> None:
    m = await bounded(manager.connect(**kwargs(server, **kw)))
    assert m.connected
    await bounded(m.close_session())


async def connect_fails(server: testing.NetconfServer, **kw: Any) -> Any:
    with pytest.raises(SSHUnknownHostError) as info:
        m = await bounded(manager.connect(**kwargs(server, **kw)))
        await bounded(m.close_session())
    return info.value


def no_leak(e: Exception, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in str(e) and secret not in repr(e)


# -- the embedded server -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_unknown_host_is_refused(server: Any, tmp_path: Any) -> None:
    e = await connect_fails(server, known_hosts=str(tmp_path / "missing"))
    assert type(e) is HostKeyUnknownError  # an SSHUnknownHostError, as ncclient raises
    assert e.fingerprint == server.fingerprint  # ncclient's MD5 form, kept
    assert str(e) == (
        "Unknown host key for %s port %d: the server offers ssh-ed25519 key %s, which is not in %s; "
        "pass known_hosts= a file that lists it, accept_new=True to store it on first use, "
        "or hostkey_b64= to pin it"
        % (server.host, server.port, server.fingerprint_sha256, tmp_path / "missing")
    )


@pytest_twisted.ensureDeferred
async def test_default_known_hosts_with_bracketed_port(server: Any, tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "known_hosts").write_text(server.known_hosts_line + "\n")
    await connect_ok(server)
    # OpenSSH files a non-22 port's key under [host]:port only: a plain entry does not count
    # (ncclient accepts it, so a key stored for port 22 would vouch for every port).
    (tmp_path / ".ssh" / "known_hosts").write_text(
        "%s ssh-ed25519 %s\n" % (server.host, server.hostkey_b64)
    )
    e = await connect_fails(server)
    assert type(e) is HostKeyUnknownError


@pytest_twisted.ensureDeferred
async def test_own_known_hosts_file(server: Any, tmp_path: Any) -> None:
    path = tmp_path / "devices_known_hosts"
    path.write_text("# devices\n" + other_key_line("[192.0.2.1]:830")[0] + server.known_hosts_line + "\n")
    await connect_ok(server, known_hosts=str(path))


@pytest_twisted.ensureDeferred
async def test_a_line_that_is_not_text_is_skipped(server: Any, tmp_path: Any) -> None:
    path = tmp_path / "devices_known_hosts"
    path.write_bytes(b"\xff\xfe garbage \x80\n" + server.known_hosts_line.encode() + b"\n")
    await connect_ok(server, known_hosts=str(path))


@pytest_twisted.ensureDeferred
async def test_pinned_key(server: Any, tmp_path: Any) -> None:
    await connect_ok(server, hostkey_b64=server.hostkey_b64, known_hosts=str(tmp_path / "none"))
    _, wrong = other_key_line("x")
    e = await connect_fails(server, hostkey_b64=wrong)
    assert isinstance(e, ncclient_twisted.HostKeyChangedError)
    assert e.known_hosts is None and "pinned" in str(e)
    # A pin mismatch is refused even when unknown_host_cb would accept anything.
    e = await connect_fails(server, hostkey_b64=wrong, unknown_host_cb=lambda h, fp: True)
    assert isinstance(e, ncclient_twisted.HostKeyChangedError)


@pytest_twisted.ensureDeferred
async def test_changed_key_is_refused_loudly(server: Any, tmp_path: Any) -> None:
    path = tmp_path / "known_hosts"
    line, old_b64 = other_key_line("[%s]:%d" % (server.host, server.port))
    path.write_text(line)
    for extra in ({}, {"accept_new": True}, {"unknown_host_cb": lambda h, fp: True}):
        e = await connect_fails(server, known_hosts=str(path), **extra)
        assert isinstance(e, ncclient_twisted.HostKeyChangedError)
        assert isinstance(e, manager.HostKeyChangedError)
        assert (e.host, e.port, e.key_type) == (server.host, server.port, "ssh-ed25519")
        assert e.fingerprint_sha256 == server.fingerprint_sha256
        text = str(e)
        for part in (
            "CHANGED", server.host, str(server.port), "ssh-ed25519", server.fingerprint_sha256, str(path)
        ):
            assert part in text
        no_leak(e, server.hostkey_b64, old_b64, "admin")
    assert path.read_text() == line  # nothing was written


@pytest_twisted.ensureDeferred
async def test_accept_new_stores_the_key_then_refuses_a_changed_one(server: Any, tmp_path: Any) -> None:
    path = tmp_path / "state" / "known_hosts"  # neither the file nor its directory exist yet
    await connect_ok(server, known_hosts=str(path), accept_new=True)
    assert path.read_text() == server.known_hosts_line + "\n"
    assert not [p for p in path.parent.iterdir() if p.name != "known_hosts"]  # no temp file left
    await connect_ok(server, known_hosts=str(path))  # now known, accept_new or not
    await connect_ok(server, known_hosts=str(path), accept_new=True)
    assert path.read_text() == server.known_hosts_line + "\n"  # not stored twice

    # The device comes back on the same port with another key.
    port = server.port
    await server.stop()
    other = await testing.serve(reactor(), port=port, host_key=testing.generate_key())
    try:
        e = await connect_fails(other, known_hosts=str(path), accept_new=True)
        assert isinstance(e, ncclient_twisted.HostKeyChangedError)
        assert e.fingerprint_sha256 == other.fingerprint_sha256
        assert path.read_text() == server.known_hosts_line + "\n"
    finally:
        await other.stop()


@pytest_twisted.ensureDeferred
async def test_accept_new_appends_and_keeps_the_file_mode(server: Any, tmp_path: Any) -> None:
    path = tmp_path / "known_hosts"
    first = other_key_line("[192.0.2.1]:830")[0].rstrip("\n")  # no final newline
    path.write_text(first)
    os.chmod(path, 0o644)
    await connect_ok(server, known_hosts=str(path), accept_new=True)
    assert path.read_text() == first + "\n" + server.known_hosts_line + "\n"
    assert os.stat(path).st_mode & 0o777 == 0o644


@pytest_twisted.ensureDeferred
async def test_concurrent_accept_new_store_one_line(server: Any, tmp_path: Any) -> None:
    path = tmp_path / "known_hosts"
    ms = await bounded(
        defer.gatherResults(
            [manager.connect(**kwargs(server, known_hosts=str(path), accept_new=True)) for _ in range(6)],
            consumeErrors=True,
        )
    )
    await bounded(defer.gatherResults([m.close_session() for m in ms]))
    assert path.read_text() == server.known_hosts_line + "\n"


@pytest_twisted.ensureDeferred
async def test_unknown_host_cb_runs_on_the_reactor_and_may_return_a_deferred(
    server: Any, tmp_path: Any
) -> None:
    calls: List[Tuple[str, str, bool]] = []
    answers = iter([False, True, True])

    def cb(host: str, fingerprint: str) -> "defer.Deferred[bool]":
        calls.append((host, fingerprint, threading.current_thread() is threading.main_thread()))
        # Answer later, from the reactor: the handshake thread waits, the reactor does not.
        return task.deferLater(reactor(), 0.05, lambda: next(answers))

    path = tmp_path / "known_hosts"
    e = await connect_fails(server, known_hosts=str(path), unknown_host_cb=cb)
    assert type(e) is HostKeyUnknownError
    await connect_ok(server, known_hosts=str(path), unknown_host_cb=cb)
    assert not path.exists()  # accepted, not stored: accept_new was not given
    await connect_ok(server, known_hosts=str(path), unknown_host_cb=cb, accept_new=True)
    assert path.read_text() == server.known_hosts_line + "\n"
    assert calls == [(server.host, server.fingerprint, True)] * 3
    await connect_ok(server, known_hosts=str(path), unknown_host_cb=cb)  # known: not asked
    assert len(calls) == 3


@pytest_twisted.ensureDeferred
async def test_unknown_host_cb_plain_bool_and_exception(server: Any, tmp_path: Any) -> None:
    path = str(tmp_path / "known_hosts")
    await connect_ok(server, known_hosts=path, unknown_host_cb=lambda h, fp: True)

    def broken(host: str, fingerprint: str) -> bool:
        raise RuntimeError("policy service down")

    with pytest.raises(RuntimeError, match="policy service down"):
        await bounded(manager.connect(**kwargs(server, known_hosts=path, unknown_host_cb=broken)))


@pytest_twisted.ensureDeferred
async def test_hostkey_verify_false_checks_nothing(server: Any, tmp_path: Any) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(other_key_line("[%s]:%d" % (server.host, server.port))[0])
    m = await bounded(
        manager.connect(**server.connect_kwargs(hostkey_verify=False, known_hosts=str(path), accept_new=True))
    )
    await bounded(m.close_session())
    assert path.read_text().count("\n") == 1


# -- unit ----------------------------------------------------------------------------------


def test_port_22_uses_the_plain_name(tmp_path: Any) -> None:
    key = paramiko.Ed25519Key(data=conch_keys.Key(testing.generate_key()).public().blob())
    path = str(tmp_path / "known_hosts")
    store_host_key(path, "router1", 22, key)
    store_host_key(path, "router1", 830, key)
    with open(path) as f:
        assert [line.split()[0] for line in f] == ["router1", "[router1]:830"]
    keys22, keys830 = PortAwareHostKeys(22, path), PortAwareHostKeys(830, path)
    assert keys22.check("router1", key) and not keys22.check("[router1]:22", key)
    assert keys830.check("[router1]:830", key) and not keys830.check("router1", key)
    assert fingerprint_sha256(key).startswith("SHA256:") and "=" not in fingerprint_sha256(key)


class ImmediateReactor:
    def callFromThread(self, f: Any, *args: Any) -> None:
        f(*args)


def test_unknown_host_cb_without_an_answer_is_a_refusal() -> None:
    import time

    from ncclient_twisted.transport.hostkeys import HostKeyPolicy

    never: List["defer.Deferred[bool]"] = []

    def cb(host: str, fingerprint: str) -> "defer.Deferred[bool]":
        never.append(defer.Deferred())
        return never[-1]

    policy = HostKeyPolicy(ImmediateReactor(), 830, user_cb=cb, answer_timeout=0.3)
    start = time.monotonic()
    assert policy._ask("192.0.2.1", "aa:bb") is False
    assert 0.25 < time.monotonic() - start < 3  # a thread's real wait (answer_timeout)
    assert never[0].called  # cancelled: a late answer goes nowhere
    never[0].addErrback(lambda f: None)
    # Reactor shutdown: no waiting out the bound.
    policy = HostKeyPolicy(ImmediateReactor(), 830, user_cb=cb, answer_timeout=60)
    policy.shutting_down.set()
    start = time.monotonic()
    assert policy._ask("192.0.2.1", "aa:bb") is False
    assert time.monotonic() - start < 3  # wall time is the property: no wait at shutdown
    never[1].addErrback(lambda f: None)
