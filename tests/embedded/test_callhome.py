"""Call home (RFC 8071): embedded servers connect to our listener, over SSH and TLS."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import pytest_twisted
from ncclient.transport.errors import AuthenticationError
from twisted.internet import defer
from twisted.internet.defer import CancelledError
from twisted.internet.error import CannotListenError, ConnectError

from ncclient_twisted import callhome, manager, testing
from tests.support.helpers import bounded as _bounded
from tests.support.helpers import reactor, session_threads

WAIT = 60
CREDENTIALS: Dict[str, Any] = dict(username="admin", password="admin", hostkey_verify=False,
                   allow_agent=False, look_for_keys=False, timeout=30)


async def bounded(d: "defer.Deferred[Any]", seconds: float = WAIT) -> Any:
    return await _bounded(d, seconds)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Collect:
    """Collects what a callback receives; ``wait(n)`` fires once it has *n* items."""

    def __init__(self) -> None:
        self.items: List[Any] = []
        self._waiters: List[Tuple[int, "defer.Deferred[List[Any]]"]] = []

    def __call__(self, *args: Any) -> None:
        self.items.append(args[0] if len(args) == 1 else args)
        for entry in list(self._waiters):
            if len(self.items) >= entry[0]:
                self._waiters.remove(entry)
                entry[1].callback(self.items)

    def wait(self, n: int) -> "defer.Deferred[List[Any]]":
        if len(self.items) >= n:
            return defer.succeed(self.items)
        d: "defer.Deferred[List[Any]]" = defer.Deferred()
        self._waiters.append((n, d))
        return d


async def serve_all(n: int, **kw: Any) -> List[testing.NetconfServer]:
    return list(await defer.gatherResults([testing.serve(reactor(), **kw) for _ in range(n)]))


async def stop_all(servers: List[testing.NetconfServer]) -> None:
    await bounded(defer.gatherResults([s.stop() for s in servers]))


@pytest_twisted.ensureDeferred
async def test_twenty_devices_call_home_one_bad_device_does_not_disturb_them(io: str) -> None:
    good = await serve_all(20, config='<system xmlns="urn:example:system"><hostname>dev</hostname></system>')
    (bad,) = await serve_all(1, users={"admin": "something else"})
    fds, threads = open_fds(), session_threads()
    connected, errors = Collect(), Collect()
    listener = callhome.listen(0, interface="127.0.0.1", on_connection=connected,
                               on_error=errors, io=io, **CREDENTIALS)
    managers: List[manager.Manager] = []
    try:
        assert listener.port and listener.listening
        await bounded(bad.call_home("127.0.0.1", listener.port))
        await bounded(defer.gatherResults([s.call_home("127.0.0.1", listener.port) for s in good]))
        managers = await bounded(connected.wait(20))
        ((host, failure),) = await bounded(errors.wait(1))
        assert host == "127.0.0.1" and failure.check(AuthenticationError)
        assert (listener.connections, listener.failures) == (20, 1)
        assert all(isinstance(m, manager.Manager) and m.connected for m in managers)
        # Each manager talks to its own device.
        replies = await bounded(defer.gatherResults([m.get_config(source="running") for m in managers]))
        assert all(b"<hostname>dev</hostname>" in r.xml.encode() for r in replies)
        assert sorted(len(s.sessions) for s in good) == [1] * 20
        assert len(bad.sessions) == 0
    finally:
        await bounded(defer.gatherResults([m.close_session() for m in managers]))
        await bounded(listener.stop())
        await stop_all(good + [bad])
    assert not listener.listening
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", listener.port))
    assert open_fds() <= fds
    assert [t for t in session_threads() if t not in threads] == []


@pytest_twisted.ensureDeferred
async def test_tls_call_home_with_expect(tmp_path: Path, io: str) -> None:
    certs = testing.generate_certificates(tmp_path)
    servers = await serve_all(3, tls=certs)
    kwargs: Dict[str, Any] = dict(certs.client_kwargs())
    listener = callhome.listen(0, transport="tls", interface="127.0.0.1", io=io, **kwargs)
    try:
        expected = [listener.expect("127.0.0.1") for _ in servers]
        other = listener.expect("192.0.2.1")  # nobody calls from there
        for s in servers:
            await bounded(s.call_home("127.0.0.1", listener.port, transport="tls"))
        managers = await bounded(defer.gatherResults(expected))
        assert len(set(map(id, managers))) == 3
        assert {type(m._session).__name__ for m in managers} == (
            {"ReactorSession"} if io == "reactor" else {"ThreadedTLSSession"}
        )
        assert [len(s.sessions) for s in servers] == [1, 1, 1]
        assert all(sess.username == "admin" for s in servers for sess in s.sessions.values())
        for m in managers:
            async with m:
                assert (await bounded(m.get_config(source="running"))).ok
        assert not other.called
    finally:
        await bounded(listener.stop())
        await stop_all(servers)
    with pytest.raises(CancelledError):
        await other


class FakeManager:
    """Stands in for a connected Manager in the unit tests of the hand-over logic."""

    def __init__(self, host: str) -> None:
        self.session_id = "1"
        self.closed = False

    def close_session(self, timeout: Any = None) -> "defer.Deferred[None]":
        self.closed = True
        return defer.succeed(None)


@pytest_twisted.ensureDeferred
async def test_hand_over_order_unclaimed_devices_and_stop() -> None:
    listener = callhome.listen(0, interface="127.0.0.1")
    a, b, c = FakeManager("192.0.2.1"), FakeManager("192.0.2.2"), FakeManager("192.0.2.3")
    waiting_b = listener.expect("192.0.2.2")
    waiting_any = listener.expect()
    cancelled = listener.expect("192.0.2.9")
    cancelled.cancel()
    listener._deliver("192.0.2.2", b)  # type: ignore[arg-type]
    listener._deliver("192.0.2.1", a)  # type: ignore[arg-type]
    assert waiting_b.result is b and waiting_any.result is a
    listener._deliver("192.0.2.9", c)  # type: ignore[arg-type]  # nobody waits: kept
    assert listener.connections == 3
    assert not listener.expect("192.0.2.1").called
    assert (await listener.expect("192.0.2.9")) is c
    late = FakeManager("192.0.2.4")
    listener._deliver("192.0.2.4", late)  # type: ignore[arg-type]
    still_waiting = listener._waiting[0][1]
    await bounded(listener.stop())
    assert late.closed and not (a.closed or b.closed or c.closed)
    for d in (still_waiting, listener.expect()):
        with pytest.raises(CancelledError):
            await d
    await bounded(listener.stop())  # again: harmless
    with pytest.raises(CancelledError):
        await cancelled


def test_listen_refuses_bad_arguments_and_busy_ports() -> None:
    with pytest.raises(ValueError):
        callhome.listen(0, transport="telnet")
    with pytest.raises(ValueError, match="host"):
        callhome.listen(0, host="192.0.2.1")
    listener = callhome.listen(0, interface="127.0.0.1")
    try:
        with pytest.raises(CannotListenError):
            callhome.listen(listener.port, interface="127.0.0.1")
    finally:
        listener.stop()
    assert callhome.DEFAULT_PORTS == {"ssh": 4334, "tls": 4335}


@pytest_twisted.ensureDeferred
async def test_server_call_home_refuses_what_it_cannot_do() -> None:
    (server,) = await serve_all(1)
    try:
        with pytest.raises(ValueError, match="transport"):
            await server.call_home("127.0.0.1", 4334, transport="telnet")
        with pytest.raises(ValueError, match="TLS"):
            await server.call_home("127.0.0.1", 4334, transport="tls")
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
            with pytest.raises(ConnectError):
                await bounded(server.call_home("127.0.0.1", port))
    finally:
        await server.stop()
    with pytest.raises(RuntimeError):
        await server.call_home("127.0.0.1", 4334)
