"""2,000 sessions with ``io="reactor"`` in this process, against embedded servers in other
processes (so this process's descriptors and CPU are its own): one get-config on each,
no thread per session, one descriptor per session, and none left once all are closed."""

from __future__ import annotations

import contextlib
import resource
import threading
import time
from typing import Any, Dict, Iterator, List

import pytest
import pytest_twisted
from twisted.internet import defer

from ncclient_twisted import manager
from tests.support.helpers import bounded, child_server, open_fds, reactor, wait_until

SESSIONS = 2000
#: Server processes the sessions are spread over (as ``benchmarks/scale.py`` does).
SERVERS = 2
#: Descriptors this process needs besides the sessions' (pytest, the reactor, the pipes
#: to the servers...), with room to spare.
HEADROOM = 256
#: Bounds on the phases (seconds): about 12 s to connect here (2 cores shared with the
#: servers, see benchmarks/SCALE.md), well under a second for the rest.
CONNECT_BOUND = 60
REQUEST_BOUND = 20
CLOSE_BOUND = 20


@contextlib.contextmanager
def descriptor_limit(needed: int) -> Iterator[None]:
    """The soft RLIMIT_NOFILE raised to *needed* (up to the hard limit) for the block;
    the test is skipped when the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(
                "%d sessions need about %d file descriptors; the hard limit (ulimit -Hn) is %d"
                % (SESSIONS, needed, hard)
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def other_threads() -> List[threading.Thread]:
    """Every thread but the reactor's pools' (shared by all sessions, idle threads kept)."""
    return [t for t in threading.enumerate() if not t.name.startswith("PoolThread-")]


@pytest_twisted.ensureDeferred
async def test_two_thousand_sessions_one_process_no_thread_each_no_descriptor_left() -> None:
    r = reactor()
    if type(r).__name__ in ("SelectReactor", "PollReactor"):
        pytest.skip("%d sessions need an epoll/kqueue reactor, not %s" % (SESSIONS, type(r).__name__))
    with descriptor_limit(SESSIONS + open_fds() + HEADROOM):  # the servers inherit it too
        async with contextlib.AsyncExitStack() as stack:
            servers: List[Dict[str, Any]] = [
                await stack.enter_async_context(child_server()) for _ in range(SERVERS)
            ]
            kwargs = [dict(kw, io="reactor", reactor=r) for kw in servers]

            # One session first: what is made on first use (pools, schedulers) exists
            # before the counts.
            first = await bounded(manager.connect(**kwargs[0]))
            await bounded(first.close_session())
            fds_before, threads_before = open_fds(), {t.ident for t in other_threads()}

            start = time.monotonic()
            managers: List[manager.Manager] = await bounded(
                defer.gatherResults(
                    [manager.connect(**kwargs[i % SERVERS]) for i in range(SESSIONS)],
                    consumeErrors=True,
                ),
                CONNECT_BOUND,
            )
            connected = time.monotonic()
            try:
                assert len(managers) == SESSIONS and all(m.connected for m in managers)
                assert {type(m._session).__name__ for m in managers} == {"ReactorSession"}
                assert {t.ident for t in other_threads()} == threads_before, [
                    t.name for t in other_threads()
                ]
                added = open_fds() - fds_before
                # One socket a session (give or take what the rest of the process opened or
                # closed meanwhile: a suite's earlier tests may leave sockets to collect).
                assert SESSIONS - 16 <= added <= SESSIONS + 16, added

                replies = await bounded(
                    defer.gatherResults(
                        [m.get_config(source="running") for m in managers], consumeErrors=True
                    ),
                    REQUEST_BOUND,
                )
                answered = time.monotonic()
                assert len(replies) == SESSIONS and all(reply.ok for reply in replies)
                assert {t.ident for t in other_threads()} == threads_before
            finally:
                failed: List[Any] = []
                await bounded(
                    defer.DeferredList(
                        [m.close_session().addErrback(failed.append) for m in managers]
                    ),
                    CLOSE_BOUND,
                )
            closed = time.monotonic()
            assert not failed, failed[:3]
            assert not any(m.connected for m in managers)
            released = await wait_until(lambda: open_fds() <= fds_before, 10)
            assert released, "descriptors before %d, after %d" % (fds_before, open_fds())
            assert {t.ident for t in other_threads()} == threads_before
            print(
                "\n%d sessions: connect %.1f s, one get-config each %.1f s, close %.1f s"
                % (SESSIONS, connected - start, answered - connected, closed - answered)
            )
