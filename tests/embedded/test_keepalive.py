"""keepalive=: OpenSSH-style keepalives that end a session whose peer stopped answering."""

from __future__ import annotations

import time
from typing import Any, List

import pytest
import pytest_twisted

from ncclient_twisted import KeepaliveTimeoutError, manager
from ncclient_twisted.transport.keepalive import DeadPeerDetector
from tests.support.helpers import bounded, reactor, wait_until
from tests.support.transports import on_both_transports

# -- unit: the detector's arithmetic ------------------------------------------------------


class Peer:
    def __init__(self) -> None:
        self.now = 100.0
        self.received = 100.0
        self.probes: List[float] = []
        self.answers = True

    def probe(self) -> None:
        self.probes.append(self.now)

    def advance(self, detector: DeadPeerDetector, seconds: float) -> None:
        """Run the session loop for *seconds*, waking only when the detector asks."""
        end = self.now + seconds
        while True:
            wait = detector.timeout(None)
            if self.now + wait > end:
                self.now = end
                return
            self.now += wait
            sent = len(self.probes)
            detector.check()
            if self.answers and len(self.probes) > sent:
                self.received = self.now + 0.01  # the reply, one round trip later


def detector(peer: Peer, interval: float = 10, count_max: int = 3) -> DeadPeerDetector:
    return DeadPeerDetector(interval, lambda: peer.received, peer.probe, count_max, now=lambda: peer.now)


def test_idle_answering_peer_is_probed_once_an_interval() -> None:
    peer = Peer()
    d = detector(peer)
    peer.advance(d, 100)
    assert 9 <= len(peer.probes) <= 10
    assert d.missed <= 1


def test_busy_peer_is_never_probed() -> None:
    peer = Peer()
    d = detector(peer)
    for _ in range(50):
        peer.advance(d, 3)
        peer.received = peer.now  # a reply or notification arrived
    assert peer.probes == []


def test_silent_peer_is_dead_after_count_max_unanswered_probes() -> None:
    peer = Peer()
    d = detector(peer, interval=10, count_max=3)
    peer.advance(d, 25)
    peer.answers = False
    with pytest.raises(KeepaliveTimeoutError) as info:
        peer.advance(d, 1000)
    unanswered = [t for t in peer.probes if t > peer.received]
    assert len(unanswered) == 3
    # As OpenSSH: dead (count_max + 1) intervals after the last thing received.
    assert peer.now - peer.received == pytest.approx(40, abs=0.1)
    assert "did not answer 3 keepalives" in str(info.value)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        DeadPeerDetector(0, lambda: 0.0, lambda: None)
    with pytest.raises(ValueError):
        DeadPeerDetector(1, lambda: 0.0, lambda: None, count_max=0)


# -- against the embedded server, on both transports -----------------------------------------


@pytest.fixture
def server(server: Any, io: str) -> Any:
    return on_both_transports(server, io)


@pytest_twisted.ensureDeferred
async def test_dead_peer_ends_the_session_and_fails_pending_requests(server: Any) -> None:
    m = await bounded(manager.connect(**server.connect_kwargs(keepalive=0.2, keepalive_count_max=2)))
    assert (await bounded(m.get_config(source="running"))).ok
    m.timeout = None  # only the keepalive can end this wait
    closed = m.when_closed()
    server.stop_answering()
    start = time.monotonic()
    pending = m.get()
    with pytest.raises(KeepaliveTimeoutError):
        await bounded(pending)
    reason = await bounded(closed)
    elapsed = time.monotonic() - start
    assert isinstance(reason, KeepaliveTimeoutError)
    assert "did not answer 2 keepalives" in str(reason)
    # Wall time is the property: the transport runs the detector at the interval it was
    # given, (count_max + 1) x interval (its arithmetic is checked on a fake clock above).
    assert 0.4 < elapsed < 5
    assert not m.connected and m.pending_requests == 0
    with pytest.raises(Exception):  # noqa: B017 - any error: the point is that it fails at once
        await bounded(m.get())
    if server.io == "reactor":
        return  # no thread to reap
    # The session's threads are reaped (off the reactor) without anyone calling close.
    session = m._session
    assert await wait_until(lambda: not session.is_alive() and not session.transport.is_alive(), 5)


@pytest_twisted.ensureDeferred
async def test_answering_peer_keeps_an_idle_session_and_is_probed_sparingly(server: Any) -> None:
    m = await bounded(manager.connect(**server.connect_kwargs(keepalive=0.2, keepalive_count_max=1)))
    try:
        start = reactor().seconds()
        keepalive = m._session.keepalive
        # With keepalive_count_max=1, a probe left unanswered for an interval ends the session.
        assert await wait_until(lambda: keepalive.probes_sent >= 3)
        assert m.connected
        # Wall time is the property: about one probe per 0.2 s of silence, not a busy loop.
        assert keepalive.probes_sent <= (reactor().seconds() - start) / 0.2 + 2
        if server.io == "threads":
            # paramiko's transport thread is not woken for keepalives: its socket sleeps long.
            assert m._session.transport.sock.gettimeout() == 60.0
        assert (await bounded(m.get_config(source="running"))).ok
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_a_peer_that_answers_again_in_time_is_kept(server: Any) -> None:
    m = await bounded(manager.connect(**server.connect_kwargs(keepalive=0.2, keepalive_count_max=5)))
    try:
        keepalive = m._session.keepalive
        server.stop_answering()
        silent_from = keepalive.probes_sent
        assert await wait_until(lambda: keepalive.missed >= 2)  # of the 5 it may miss
        server.resume_answering()
        # Kept past the point where 6 probes unanswered would have ended the session.
        assert await wait_until(lambda: keepalive.probes_sent > silent_from + 6 or not m.connected)
        assert m.connected
        assert (await bounded(m.get_config(source="running"))).ok
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_bad_keepalive_is_a_failed_deferred(server: Any) -> None:
    with pytest.raises(ValueError):
        await bounded(manager.connect(**server.connect_kwargs(keepalive=-1)))
    with pytest.raises(ValueError):
        await bounded(manager.connect(**server.connect_kwargs(keepalive=1, keepalive_count_max=0)))
