"""Load and soak, short form (the long form: ``benchmarks/soak.py``, figures in SOAK.md),
on both transports (the ``io`` fixture)."""

from __future__ import annotations

from typing import Any, AsyncIterator, Dict

import pytest_twisted
from twisted.internet import threads

from benchmarks import soak
from tests.support.helpers import bounded, child_server, reactor


@pytest_twisted.async_yield_fixture
async def server(io: str) -> AsyncIterator[Dict[str, Any]]:
    """The soak server in a child process; its ``connect_kwargs`` with this test's ``io``."""
    async with child_server(soak.SERVER_SETUP) as kw:
        yield dict(kw, io=io)


@pytest_twisted.ensureDeferred
async def test_connect_close_cycles_leave_nothing_behind(server: Dict[str, Any]) -> None:
    result = await bounded(soak.cycles_d(server, soak.QUICK["cycles"]), 60)
    assert result["released"], result


@pytest_twisted.ensureDeferred
async def test_requests_with_cancels_and_timeouts(server: Dict[str, Any]) -> None:
    result = await bounded(
        soak.requests_d(
            server, reactor(), soak.QUICK["requests"], soak.QUICK["sessions"], soak.QUICK["rounds"]
        ), 120
    )
    rounds = result["rounds"]
    for rd in rounds:
        assert rd["fired_twice"] == rd["other"] == rd["pending"] == rd["listener_table"] == 0, rd
        assert rd["ok"] + rd["timed_out"] + rd["cancelled"] == rd["requests"], rd  # all fired
        assert rd["timed_out"] and rd["cancelled"] and rd["connected"] == soak.QUICK["sessions"], rd
    # No growth once warm: objects tracked by the GC, and RSS (loosely).
    assert rounds[2]["gc_objects"] - rounds[1]["gc_objects"] < 500, rounds
    assert rounds[2]["rss_kib"] - rounds[1]["rss_kib"] < 8 * 1024, rounds


@pytest_twisted.ensureDeferred
async def test_reactor_stop_with_open_sessions_exits_promptly(server: Dict[str, Any]) -> None:
    result = await bounded(threads.deferToThread(soak.shutdown, server, soak.QUICK["shutdown"]), 90)
    assert result["exit_code"] == 0 and not result["traceback"], result
    assert result["exit_seconds"] < 5, result
